#!/usr/bin/env bash
# Installs dependencies, builds slb with warnings as errors and runs every test (ctest).
# With --full, or when CI=true (as in CI), then runs scripts/ci-extra.sh: sanitizer builds
# (ASan+UBSan, TSan) and a minute of fuzzing per parser, about 5 more minutes.
# Usage: scripts/test.sh [--full]   (from anywhere; builds in build/, and build-asan,
#                                    build-tsan, build-fuzz for --full)
set -euo pipefail
cd "$(dirname "$0")/.."

full=false
case "${1:-}" in
--full) full=true ;;
"") ;;
*)
	echo "usage: $0 [--full]" >&2
	exit 2
	;;
esac
if [[ "${CI:-}" == "true" ]]; then
	full=true
fi

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLB_WERROR=ON
cmake --build build -j"$(nproc)"
# Tests raise their own descriptor limits; the hard limit must allow it.
# Two at a time: most integration tests wait on timers and peers more than they use a CPU.
ctest --test-dir build --output-on-failure --timeout 300 -j2
if $full; then
	scripts/ci-extra.sh
fi
