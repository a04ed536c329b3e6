#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR (prefix /usr, as the .deb does) and checks that
# every file an operator needs is there and usable: the three binaries, the systemd unit
# (which systemd-analyze verify accepts), the example configuration (which slb
# --check-config accepts as shipped) and the man page, which must document every flag that
# `slb --help` lists and no flag that slb lacks, and the scale-out files (docs/scale-out.md):
# slb-ready-watch and slb-nhgroup-sync, their systemd units (verified too) and the bird2
# example configs. Then installs with --prefix into a scratch
# directory: nothing is written outside it, the unit there runs that prefix's binary, and a
# second install keeps an edited slb.conf. Last, the .deb: lintian reports no error, it holds
# the gzipped man page, copyright and changelog, keeps slb.conf as a conffile, and its
# maintainer scripts tell systemd (run against a stand-in systemctl).
# Nothing is skipped: a missing tool is a failure that names the package to install
# (scripts/install-deps.sh installs them all).
# Usage: check_install.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: check_install.sh BUILD_DIR}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail() { echo "check_install: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || fail "$1 not found: install $2 (scripts/install-deps.sh)"; }
need systemd-analyze systemd
need cpack cmake
need dpkg-deb dpkg
need lintian lintian
need unshare util-linux
need ip iproute2

DESTDIR=$dest cmake --install "$build" --prefix /usr >/dev/null
for f in usr/sbin/slb usr/bin/slb-backend usr/bin/slb-agent usr/sbin/slb-ready-watch usr/sbin/slb-nhgroup-sync; do
	[[ -x $dest/$f ]] || fail "$f missing or not executable"
done
for f in usr/lib/systemd/system/slb.service etc/slb/slb.conf usr/share/man/man8/slb.8.gz usr/share/doc/slb/copyright \
	usr/share/doc/slb/changelog.gz usr/lib/systemd/system/slb-ready-watch@.service \
	usr/lib/systemd/system/slb-nhgroup-sync@.service \
	usr/share/doc/slb/examples/bird/router.conf usr/share/doc/slb/examples/bird/slb-host.conf; do
	[[ -s $dest/$f ]] || fail "$f missing or empty"
done

slb=$dest/usr/sbin/slb
"$slb" --version >/dev/null || fail "installed slb does not run"
# The shipped example must validate as shipped. --check-config binds every port of the file,
# and on a shared machine another program may hold one (8080, 9001): it runs in a network
# namespace of its own, where nothing else listens, so no failure has to be tolerated.
conf=$dest/etc/slb/slb.conf
unshare -n true 2>/dev/null || fail "cannot make a network namespace (unshare -n) to check slb.conf in: run as root"
out=$(unshare -n sh -c 'ip link set lo up && exec "$0" --check-config -c "$1"' "$slb" "$conf" 2>&1) ||
	fail "shipped slb.conf does not validate: $out"
[[ $out == "configuration OK" ]] || fail "--check-config of the shipped slb.conf said: $out"

# The unit's commands point at installed files.
unit=$dest/usr/lib/systemd/system/slb.service
grep -q '^ExecStart=/usr/sbin/slb ' "$unit" || fail "unit does not start /usr/sbin/slb"
grep -q '^ExecReload=' "$unit" || fail "unit has no ExecReload"
# verify checks that the commands exist on this root: point them at the DESTDIR copy.
sed "s#/usr/sbin/slb#$slb#g" "$unit" >"$dest/slb.service"
systemd-analyze verify --man=no "$dest/slb.service" || fail "systemd-analyze verify rejects the unit"
# The ready watcher's unit (docs/scale-out.md): runs the installed script, verified as an
# instance (a template alone is not), and the script runs (its usage on no arguments).
watch_unit=$dest/usr/lib/systemd/system/slb-ready-watch@.service
grep -q '^ExecStart=/usr/sbin/slb-ready-watch ${READY_URL} ${BIRD_SOCKET} %i ' "$watch_unit" ||
	fail "slb-ready-watch@.service does not run /usr/sbin/slb-ready-watch"
sed "s#/usr/sbin/slb-ready-watch#$dest/usr/sbin/slb-ready-watch#g" "$watch_unit" >"$dest/slb-ready-watch@slb_vip.service"
systemd-analyze verify --man=no "$dest/slb-ready-watch@slb_vip.service" ||
	fail "systemd-analyze verify rejects slb-ready-watch@.service"
rc=0
"$dest/usr/sbin/slb-ready-watch" >/dev/null 2>&1 || rc=$?
((rc == 2)) || fail "the installed slb-ready-watch does not run (usage exit 2 expected, got $rc)"
# The router's next-hop group sync, the same way; an instance is a service address. A bad
# address is refused with its usage too.
sync_unit=$dest/usr/lib/systemd/system/slb-nhgroup-sync@.service
grep -q '^ExecStart=/usr/sbin/slb-nhgroup-sync %i ${BIRD_SOCKET} ' "$sync_unit" ||
	fail "slb-nhgroup-sync@.service does not run /usr/sbin/slb-nhgroup-sync"
sed "s#/usr/sbin/slb-nhgroup-sync#$dest/usr/sbin/slb-nhgroup-sync#g" "$sync_unit" >"$dest/slb-nhgroup-sync@192.0.2.10.service"
systemd-analyze verify --man=no "$dest/slb-nhgroup-sync@192.0.2.10.service" ||
	fail "systemd-analyze verify rejects slb-nhgroup-sync@.service"
for args in "" "not-an-address /run/bird/bird.ctl"; do
	rc=0
	# shellcheck disable=SC2086 # the arguments are words
	"$dest/usr/sbin/slb-nhgroup-sync" $args >/dev/null 2>&1 || rc=$?
	((rc == 2)) || fail "the installed slb-nhgroup-sync $args: usage exit 2 expected, got $rc"
done

# --prefix DIR: every file lands under DIR and the unit runs DIR's binary with DIR's
# configuration; nothing outside DIR is written (the manifest, and no file named *slb* newer
# than the install on the host's system directories); a second install keeps an operator's
# edit of the configuration.
prefix=$dest/prefix
touch "$dest/before-install"
cmake --install "$build" --prefix "$prefix" >/dev/null
while read -r f; do
	[[ $f == "$prefix"/* ]] || fail "--prefix $prefix installed $f"
done <"$build/install_manifest.txt"
outside=$(find /etc /usr /opt /srv /var/lib -newer "$dest/before-install" -name '*slb*' 2>/dev/null || true)
[[ -z $outside ]] || fail "--prefix $prefix wrote outside it: $outside"
for f in sbin/slb bin/slb-ctl lib/systemd/system/slb.service etc/slb/slb.conf share/man/man8/slb.8.gz \
	sbin/slb-ready-watch lib/systemd/system/slb-ready-watch@.service share/doc/slb/examples/bird/router.conf \
	sbin/slb-nhgroup-sync lib/systemd/system/slb-nhgroup-sync@.service; do
	[[ -s $prefix/$f ]] || fail "--prefix: $f missing under $prefix"
done
grep -q "^ExecStart=$prefix/sbin/slb -c $prefix/etc/slb/slb.conf " "$prefix/lib/systemd/system/slb.service" ||
	fail "the unit under $prefix does not run $prefix/sbin/slb -c $prefix/etc/slb/slb.conf"
grep -q "^ExecStart=$prefix/sbin/slb-ready-watch " "$prefix/lib/systemd/system/slb-ready-watch@.service" ||
	fail "slb-ready-watch@.service under $prefix does not run $prefix/sbin/slb-ready-watch"
grep -q "^ExecStart=$prefix/sbin/slb-nhgroup-sync " "$prefix/lib/systemd/system/slb-nhgroup-sync@.service" ||
	fail "slb-nhgroup-sync@.service under $prefix does not run $prefix/sbin/slb-nhgroup-sync"
grep '^Exec' "$prefix/lib/systemd/system/slb.service" | grep -q -e '/usr/sbin/slb' -e ' /etc/slb' &&
	fail "the unit under $prefix names the files of prefix /usr"
echo '# edited by the operator' >>"$prefix/etc/slb/slb.conf"
cmake --install "$build" --prefix "$prefix" >/dev/null
grep -q '^# edited by the operator$' "$prefix/etc/slb/slb.conf" || fail "a second install replaced the edited slb.conf"

# Man page <-> --help, both ways.
help_flags=$("$slb" --help | grep -o -- '^  -\{1,2\}[a-z-]*\(, --[a-z-]*\)\?' | grep -o -- '--[a-z-]*' | sort -u)
man_text=$(MANWIDTH=200 man -l "$dest/usr/share/man/man8/slb.8.gz" 2>/dev/null || zcat "$dest/usr/share/man/man8/slb.8.gz")
for f in $help_flags; do
	grep -q -- "$f" <<<"$man_text" || fail "man page does not document $f"
done
for f in $(grep -o -- '--[a-z][a-z-]*' <<<"$man_text" | sort -u); do
	grep -qx -- "$f" <<<"$help_flags" || fail "man page documents $f, which slb --help does not list"
done

# The .deb, as cpack builds it (prefix /usr into a staging DESTDIR).
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$dest/deb" >"$dest/cpack.log" 2>&1 ||
	fail "cpack failed: $(tail -5 "$dest/cpack.log")"
deb=$(echo "$dest"/deb/slb_*.deb)
[[ -f $deb ]] || fail "cpack made no slb_*.deb in $dest/deb"
lint=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v 'running with root privileges' || true)
grep -q '^E: ' <<<"$lint" && fail "lintian reports errors on the .deb:
$lint"
[[ -z $lint ]] || echo "check_install: lintian (warnings only):
$lint"
files=$(dpkg-deb --contents "$deb")
for f in ./usr/sbin/slb ./usr/lib/systemd/system/slb.service ./etc/slb/slb.conf ./usr/share/man/man8/slb.8.gz \
	./usr/share/doc/slb/copyright ./usr/share/doc/slb/changelog.gz ./usr/sbin/slb-ready-watch \
	./usr/lib/systemd/system/slb-ready-watch@.service ./usr/share/doc/slb/examples/bird/slb-host.conf \
	./usr/sbin/slb-nhgroup-sync ./usr/lib/systemd/system/slb-nhgroup-sync@.service; do
	grep -q " $f\$" <<<"$files" || fail ".deb lacks $f"
done
mkdir "$dest/control"
dpkg-deb --control "$deb" "$dest/control"
grep -qx /etc/slb/slb.conf "$dest/control/conffiles" || fail ".deb does not keep /etc/slb/slb.conf as a conffile"
version=$(dpkg-deb --field "$deb" Version)
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/slb/changelog.gz | zcat | head -1 | grep -q "^slb ($version) " ||
	fail "the changelog's latest entry is not version $version (cmake/debian/changelog)"

# The maintainer scripts, each run as dpkg runs it, in a mount namespace whose /run says that
# systemd runs (/run/systemd/system), with a systemctl and deb-systemd-invoke that only log
# their arguments: install and removal must tell systemd, an upgrade must not stop slb.
fake=$dest/fakebin
mkdir "$fake"
for tool in systemctl deb-systemd-invoke; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$tool" "$dest" >"$fake/$tool"
	chmod +x "$fake/$tool"
done
unshare -m true 2>/dev/null || fail "cannot make a mount namespace (unshare -m) to run the maintainer scripts in: run as root"
maint() { # SCRIPT ARGS...: prints the calls the script made
	rm -f "$dest/calls"
	unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system &&
		PATH="$0:$PATH" exec sh -e "$@"' "$fake" "$dest/control/$1" "${@:2}" >/dev/null ||
		fail "maintainer script $* failed"
	cat "$dest/calls" 2>/dev/null || true
}
[[ $(maint postinst configure) == "systemctl --system daemon-reload" ]] ||
	fail "postinst configure does not run systemctl daemon-reload (it ran: $(maint postinst configure))"
[[ $(maint prerm remove) == "systemctl stop slb-ready-watch@*.service slb-nhgroup-sync@*.service
deb-systemd-invoke stop slb.service" ]] || fail "prerm remove does not stop the ready watchers and group syncs, then slb"
[[ -z $(maint prerm upgrade 0.1.0) ]] || fail "prerm upgrade touches the running slb"
[[ $(maint postrm remove) == "systemctl --system daemon-reload" ]] ||
	fail "postrm remove does not run systemctl daemon-reload"
echo "check_install: every file in place, man page matches --help, the .deb passes lintian"
