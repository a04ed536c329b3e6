#!/usr/bin/env bash
# Installs what slb needs to build, test and benchmark on Debian 12, with apt-get.
# Idempotent: packages already present are skipped, and apt-get update runs only when
# something is missing. Usage: scripts/install-deps.sh [--bench]
set -euo pipefail

# clang and libclang-rt-14-dev (sanitizer and libFuzzer runtimes; only a Recommends of clang)
# are for scripts/ci-extra.sh; iproute2 and nftables (network namespaces, packet loss) for
# tests/integration/test_faults_network.c; apache2-utils (ab, an HTTP/1.0 keep-alive client)
# for tests/integration/test_keep_alive.c; bird2 (BGP with ECMP between namespaces) and curl (the
# /ready watcher) for tests/integration/test_scale_out.c.
packages=(build-essential cmake pkg-config liburing-dev libjemalloc-dev libsodium-dev libinih-dev libcriterion-dev curl
	clang libclang-rt-14-dev
	iproute2 nftables
	apache2-utils
	bird2)
if [[ "${1:-}" == "--bench" ]]; then
	packages+=(wrk haproxy nginx libnginx-mod-stream gnuplot-nox)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	SUDO=sudo
else
	SUDO=
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
