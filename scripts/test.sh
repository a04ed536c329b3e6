#!/usr/bin/env bash
# Installs dependencies, builds slb with warnings as errors and runs every test (ctest).
# With --full, or when CI=true (as in CI), then runs scripts/ci-extra.sh: sanitizer builds
# (ASan+UBSan, TSan) and a minute of fuzzing per parser, about 5 more minutes. CI=true also
# makes Criterion required at configure time and fails the run on a skipped test whose reason
# is not in tests/ci-allowed-skips (docs/testing.md).
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
# Tests raise their own descriptor limits; the hard limit must allow it (10,200 for the 10,000
# clients of test_faults_limits): raise it when it is lower and we may (root).
hard=$(ulimit -Hn)
if [[ $hard != unlimited ]] && ((hard < 20000)); then
	ulimit -Hn 20000 2>/dev/null || echo "descriptor hard limit $hard: tests that need more will skip" >&2
fi
# Two at a time: most integration tests wait on timers and peers more than they use a CPU.
# Skipped tests log their reason (build/test-skips.log); skips.sh counts them, and with CI=true
# fails the run on any skip that tests/ci-allowed-skips does not allow.
rm -f build/test-skips.log
rc=0
ctest --test-dir build --output-on-failure --timeout 300 -j2 || rc=1
scripts/skips.sh build/test-skips.log || rc=1
if [[ $rc -ne 0 ]]; then
	exit $rc
fi
if $full; then
	scripts/ci-extra.sh
fi
