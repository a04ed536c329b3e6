# Run by `cmake --install` (install(CODE) in CMakeLists.txt sets SLB_ETC_SRC, SLB_ETC_OUT and
# SLB_SBINDIR first) for the files whose place depends on the install prefix. That prefix is
# known only now: `cmake --install build --prefix DIR` replaces the configured one, so paths
# computed at configure time would point outside DIR.
#
#   prefix            binary          configuration           unit
#   /usr (the .deb)   /usr/sbin/slb   /etc/slb/slb.conf       /usr/lib/systemd/system/slb.service
#   DIR (any other)   DIR/sbin/slb    DIR/etc/slb/slb.conf    DIR/lib/systemd/system/slb.service
#
# slb-ready-watch@.service and slb-nhgroup-sync@.service go beside slb.service, running
# sbin/slb-ready-watch and sbin/slb-nhgroup-sync with the optional
# etc/slb/ready-watch-INSTANCE.env and etc/slb/nhgroup-sync-INSTANCE.env (none is installed:
# the defaults fit most hosts).
#
# /usr keeps its configuration in /etc, as GNUInstallDirs and the FHS have it; cpack installs
# with the prefix CPACK_PACKAGING_INSTALL_PREFIX (/usr) into a staging DESTDIR, so the package
# gets /etc/slb/slb.conf this way. Every other prefix keeps everything under itself.
#
# An existing slb.conf is never replaced: it is the operator's (nginx's `make install` keeps
# nginx.conf the same way). DESTDIR is prepended by file(INSTALL) and checked here alike.
string(REGEX REPLACE "/+$" "" prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr" OR prefix STREQUAL "")
	set(etc /etc)
else()
	set(etc ${prefix}/etc)
endif()
if(IS_ABSOLUTE "${SLB_SBINDIR}")
	set(sbin ${SLB_SBINDIR})
else()
	set(sbin ${prefix}/${SLB_SBINDIR})
endif()

# The names slb.service.in uses.
set(CMAKE_INSTALL_FULL_SBINDIR ${sbin})
set(CMAKE_INSTALL_FULL_SYSCONFDIR ${etc})
if(IS_ABSOLUTE "${SLB_DATAROOTDIR}")
	set(SLB_DOCDIR ${SLB_DATAROOTDIR}/doc/slb)
else()
	set(SLB_DOCDIR ${prefix}/${SLB_DATAROOTDIR}/doc/slb)
endif()
configure_file(${SLB_ETC_SRC}/slb.service.in ${SLB_ETC_OUT}/slb.service @ONLY)
configure_file(${SLB_ETC_SRC}/slb-ready-watch@.service.in ${SLB_ETC_OUT}/slb-ready-watch@.service @ONLY)
configure_file(${SLB_ETC_SRC}/slb-nhgroup-sync@.service.in ${SLB_ETC_OUT}/slb-nhgroup-sync@.service @ONLY)
file(INSTALL ${SLB_ETC_OUT}/slb.service ${SLB_ETC_OUT}/slb-ready-watch@.service
	${SLB_ETC_OUT}/slb-nhgroup-sync@.service DESTINATION ${prefix}/lib/systemd/system)

if(EXISTS "$ENV{DESTDIR}${etc}/slb/slb.conf")
	message(STATUS "Keeping: $ENV{DESTDIR}${etc}/slb/slb.conf (an install never replaces a configuration)")
else()
	file(INSTALL ${SLB_ETC_SRC}/slb.conf DESTINATION ${etc}/slb)
endif()
