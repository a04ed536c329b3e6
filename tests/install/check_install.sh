#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR (prefix /usr, as the .deb does) and checks that
# every file an operator needs is there and usable: the three binaries, the systemd unit,
# the example configuration (which slb --check-config accepts as shipped) and the man page,
# which must document every flag that `slb --help` lists and no flag that slb lacks. Then
# installs with --prefix into a scratch directory: nothing is written outside it, the unit
# there runs that prefix's binary, and a second install keeps an edited slb.conf.
# Usage: check_install.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: check_install.sh BUILD_DIR}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail() { echo "check_install: $*" >&2; exit 1; }

DESTDIR=$dest cmake --install "$build" --prefix /usr >/dev/null
for f in usr/sbin/slb usr/bin/slb-backend usr/bin/slb-agent; do
	[[ -x $dest/$f ]] || fail "$f missing or not executable"
done
for f in usr/lib/systemd/system/slb.service etc/slb/slb.conf usr/share/man/man8/slb.8; do
	[[ -s $dest/$f ]] || fail "$f missing or empty"
done

slb=$dest/usr/sbin/slb
"$slb" --version >/dev/null || fail "installed slb does not run"
# The shipped example must validate. Its ports may be bound by something else on a shared
# machine, so only an address-in-use complaint is tolerated.
if ! out=$("$slb" --check-config -c "$dest/etc/slb/slb.conf" 2>&1); then
	grep -qv 'in use' <<<"$out" && fail "shipped slb.conf does not validate: $out"
fi

# The unit's commands point at installed files.
unit=$dest/usr/lib/systemd/system/slb.service
grep -q '^ExecStart=/usr/sbin/slb ' "$unit" || fail "unit does not start /usr/sbin/slb"
grep -q '^ExecReload=' "$unit" || fail "unit has no ExecReload"
if command -v systemd-analyze >/dev/null; then
	# verify checks that the commands exist on this root: point them at the DESTDIR copy.
	sed "s#/usr/sbin/slb#$slb#g" "$unit" >"$dest/slb.service"
	systemd-analyze verify --man=no "$dest/slb.service" || fail "systemd-analyze verify rejects the unit"
fi

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
for f in sbin/slb bin/slb-ctl lib/systemd/system/slb.service etc/slb/slb.conf share/man/man8/slb.8; do
	[[ -s $prefix/$f ]] || fail "--prefix: $f missing under $prefix"
done
grep -q "^ExecStart=$prefix/sbin/slb -c $prefix/etc/slb/slb.conf " "$prefix/lib/systemd/system/slb.service" ||
	fail "the unit under $prefix does not run $prefix/sbin/slb -c $prefix/etc/slb/slb.conf"
grep '^Exec' "$prefix/lib/systemd/system/slb.service" | grep -q -e '/usr/sbin/slb' -e ' /etc/slb' &&
	fail "the unit under $prefix names the files of prefix /usr"
echo '# edited by the operator' >>"$prefix/etc/slb/slb.conf"
cmake --install "$build" --prefix "$prefix" >/dev/null
grep -q '^# edited by the operator$' "$prefix/etc/slb/slb.conf" || fail "a second install replaced the edited slb.conf"

# Man page <-> --help, both ways.
help_flags=$("$slb" --help | grep -o -- '^  -\{1,2\}[a-z-]*\(, --[a-z-]*\)\?' | grep -o -- '--[a-z-]*' | sort -u)
man_text=$(MANWIDTH=200 man -l "$dest/usr/share/man/man8/slb.8" 2>/dev/null || cat "$dest/usr/share/man/man8/slb.8")
for f in $help_flags; do
	grep -q -- "$f" <<<"$man_text" || fail "man page does not document $f"
done
for f in $(grep -o -- '--[a-z][a-z-]*' <<<"$man_text" | sort -u); do
	grep -qx -- "$f" <<<"$help_flags" || fail "man page documents $f, which slb --help does not list"
done
echo "check_install: every file in place, man page matches --help"
