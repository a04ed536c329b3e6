#!/usr/bin/env bash
# Installs what slb needs to build, test and benchmark on Debian 12, with apt-get.
# Idempotent: packages already present are skipped, and apt-get update runs only when
# something is missing. Usage: scripts/install-deps.sh [--bench]
set -euo pipefail

# To build: liburing (the workers' io_uring), jemalloc (the allocator of every binary),
# libsodium (heartbeat MACs, the admin token, maglev's SipHash), libinih (the config file),
# libsystemd (sd_notify), libjansson (below), scdoc (below); libcriterion-dev for the tests.
# clang and libclang-rt-14-dev (sanitizer and libFuzzer runtimes; only a Recommends of clang)
# are for scripts/ci-extra.sh; iproute2 and nftables (network namespaces, packet loss) for
# tests/integration/test_faults_network.c; apache2-utils (ab, an HTTP/1.0 keep-alive client)
# for tests/integration/test_keep_alive.c; scdoc builds the man page (docs/slb.8.scd); nginx
# and haproxy (real PROXY protocol peers) for tests/integration/test_proxy_protocol.c;
# libjansson-dev for the admin API's JSON bodies and slb-ctl; chromium (headless) for
# tests/browser, the dashboard test, driven from Node with puppeteer-core, which
# tests/browser/run.sh installs from its lock file with npm ci; bird2 (BGP with ECMP between
# namespaces) for tests/integration/test_scale_out.c; python3 for tests/bench (the benchmark's
# summary) and the benchmark itself; lintian (Debian's package checker) and systemd
# (systemd-analyze verify of the unit) for tests/install/check_install.sh; openssl (the CLI:
# certificates, s_server backends, s_client) and curl for tests/integration/test_sni.c and
# scripts/capture-clienthello.sh.
packages=(build-essential cmake pkg-config liburing-dev libjemalloc-dev libsodium-dev libinih-dev libsystemd-dev
	libcriterion-dev curl openssl
	libjansson-dev
	clang libclang-rt-14-dev
	iproute2 nftables
	apache2-utils
	scdoc
	nginx haproxy
	chromium
	bird2
	python3
	lintian systemd)
# Debian's nodejs and npm, unless a node with npm is there already (for example NodeSource's,
# whose nodejs package bundles npm and conflicts with Debian's npm).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	packages+=(nodejs npm)
fi
if [[ "${1:-}" == "--bench" ]]; then
	packages+=(wrk libnginx-mod-stream gnuplot-nox)
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
