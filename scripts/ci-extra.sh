#!/usr/bin/env bash
# The slow checks that run after the normal suite: scripts/test.sh calls this when CI=true
# (so .ci/run does) or when given --full. About 5 minutes on 2 CPUs. Steps:
#   asan  clang + ASan/UBSan build in build-asan; the whole ctest suite under it
#   tsan  clang + TSan build of slb in build-tsan, driven by the integration tests of build/
#         (uninstrumented: Criterion cannot start under TSan; SLB_CI_HOST_BUILD names another
#         dir); plus the unit tests that have their own main under TSan (TEST_UNDER_TSAN)
#   fuzz  libFuzzer build in build-fuzz; each harness fuzzes for FUZZ_SECONDS (default 60)
#         from its seeds in tests/fuzz/corpus/<name>, all at once
# Any sanitizer report fails the step: reports go to files (log_path) so that one in a child
# process whose exit code no test looks at is still seen. Tests run with SLB_SANITIZER set to
# address or thread, for the few assertions a sanitizer makes meaningless (ASan's quarantine
# keeps freed memory, so RSS grows; everything is several times slower). Skipped tests are
# counted by reason after the asan and tsan steps (scripts/skips.sh), and with CI=true a skip
# that tests/ci-allowed-skips does not allow fails the step. Every step runs; the script fails
# when any did. Usage: scripts/ci-extra.sh [asan] [tsan] [fuzz]   (none: all)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
HOST_BUILD=${SLB_CI_HOST_BUILD:-build} # the uninstrumented build whose integration tests drive TSan
JOBS=$(nproc)
failed=()
timings=()

say() {
	printf '\n== ci-extra: %s\n' "$*"
}

# Prints the sanitizer reports left in dir and returns 1 when there is any.
reports_in() {
	local dir=$1 f found=0

	for f in "$dir"/*; do
		[[ -e "$f" ]] || continue
		found=1
		printf -- '---- %s\n' "$f"
		cat "$f"
	done
	return $found
}

configure_build() {
	local dir=$1
	shift
	local targets=()

	while [[ $# -gt 0 && "$1" != "--" ]]; do
		targets+=("$1")
		shift
	done
	shift
	if [[ ${#targets[@]} -gt 0 ]]; then
		targets=(--target "${targets[@]}")
	fi
	CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLB_WERROR=ON "$@" >/dev/null &&
		cmake --build "$dir" -j"$JOBS" "${targets[@]}"
}

step_asan() {
	local logs=$PWD/build-asan/sanitizer-logs

	configure_build build-asan -- -DSLB_SANITIZE=address,undefined || return 1
	# Two at a time, as the plain suite: ASan slows every process several times, so the timed
	# tests (the scale-out join, an agent's health checks, a takeover under load) run alone
	# (RUN_SERIAL in a sanitizer build: tests/CMakeLists.txt) and budgets stretch (testwait).
	rm -rf "$logs" build-asan/test-skips.log && mkdir -p "$logs"
	SLB_SANITIZER=address ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$logs/asan" \
		UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan" \
		ctest --test-dir build-asan --output-on-failure --timeout 300 -j2
	local rc=$?
	reports_in "$logs" || rc=1
	scripts/skips.sh build-asan/test-skips.log asan || rc=1
	return $rc
}

# Runs a unit test that has its own main under TSan (in build-tsan/tests); a skip (77) must say
# "SKIP reason: why" on its output, which goes to the skip log like a Criterion skip's.
run_tsan_unit() {
	local t=$1 skips=$2 out status

	out=$(cd build-tsan/tests && "./$t" 2>&1)
	status=$?
	printf '%s\n' "$out"
	if [[ $status -eq 77 ]]; then
		sed -n "s/^SKIP \([a-z-]*\): \(.*\)/\1\t$t\t\2/p" <<<"$out" | grep . >>"$skips" ||
			printf 'unexplained\t%s\tskipped without a "SKIP reason: why" line\n' "$t" >>"$skips"
	fi
	return $status
}

# The normal build's integration tests (not instrumented) against TSan builds of the binaries
# they start: a race makes slb exit with 66 at once, and leaves its report in $logs.
step_tsan() {
	local logs=$PWD/build-tsan/sanitizer-logs tsan_bin=$PWD/build-tsan/bin rc=0 t name status
	local skips=$PWD/build-tsan/test-skips.log units=()

	for t in tests/unit/test_*.c; do
		if grep -q 'TEST_UNDER_TSAN' "$t"; then
			units+=("unit_$(basename "$t" .c)")
		fi
	done
	configure_build build-tsan slb "${units[@]}" -- -DSLB_SANITIZE=thread || return 1
	if [[ ! -f "$HOST_BUILD/CMakeCache.txt" ]]; then
		cmake -S . -B "$HOST_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLB_WERROR=ON >/dev/null || return 1
	fi
	cmake --build "$HOST_BUILD" -j"$JOBS" || return 1
	# The tests' SLB_BIN_DIR: slb under TSan, the single-threaded demo tools as they are (TSan
	# has nothing to find there, and would only slow the tests' backends down).
	rm -rf "$tsan_bin" && mkdir -p "$tsan_bin"
	for t in "$HOST_BUILD"/*; do
		if [[ -f "$t" && -x "$t" ]]; then
			ln -s "$(realpath "$t")" "$tsan_bin/"
		fi
	done
	ln -sf "$PWD/build-tsan/slb" "$tsan_bin/slb"
	rm -rf "$logs" "$skips" && mkdir -p "$logs"
	export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 log_path=$logs/tsan"
	for t in "${units[@]}" $(cd "$HOST_BUILD/tests" && ls integration_test_* 2>/dev/null); do
		if [[ $t == unit_* ]]; then
			run_tsan_unit "$t" "$skips"
		else
			(cd "$HOST_BUILD/tests" && SLB_SANITIZER=thread SLB_BIN_DIR="$tsan_bin" SLB_SKIP_LOG="$skips" \
				"./$t" --jobs 1)
		fi
		status=$?
		case $status in
		0) name=passed ;;
		77) name=skipped ;;
		*) name="FAILED ($status)" rc=1 ;;
		esac
		printf 'tsan: %-40s %s\n' "$t" "$name"
	done
	unset TSAN_OPTIONS
	reports_in "$logs" || rc=1
	scripts/skips.sh "$skips" tsan || rc=1
	return $rc
}

step_fuzz() {
	local work=$PWD/build-fuzz/fuzz-run rc=0 src name pids=() names=() targets=()

	for src in tests/fuzz/fuzz_*.c; do
		targets+=("$(basename "$src" .c)")
	done
	configure_build build-fuzz "${targets[@]}" -- -DSLB_FUZZ=ON || return 1
	rm -rf "$work"
	for src in tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c)
		name=${name#fuzz_}
		mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
		# New inputs go to the first directory, a scratch one: the seeds stay as committed.
		ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
			"build-fuzz/tests/fuzz/fuzz_$name" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$name/artifacts/" \
			"$work/$name/corpus" "tests/fuzz/corpus/$name" >"$work/$name.log" 2>&1 &
		pids+=($!)
		names+=("$name")
	done
	for i in "${!pids[@]}"; do
		name=${names[$i]}
		if wait "${pids[$i]}"; then
			printf 'fuzz: %-12s %s\n' "$name" "$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
				"$work/$name.log" | awk '{print $2 " runs, no crash"}')"
			continue
		fi
		rc=1
		printf 'fuzz: %-12s CRASHED; log %s\n' "$name" "$work/$name.log"
		grep -E -A40 '^==[0-9]+==|^SUMMARY|Test unit written' "$work/$name.log" | head -80
		printf 'reproduce: build-fuzz/tests/fuzz/fuzz_%s %s/*; add the input to tests/fuzz/corpus/%s/\n' \
			"$name" "$work/$name/artifacts" "$name"
	done
	return $rc
}

steps=("$@")
if [[ ${#steps[@]} -eq 0 ]]; then
	steps=(asan tsan fuzz)
fi
for s in "${steps[@]}"; do
	case $s in
	asan | tsan | fuzz) ;;
	*)
		echo "usage: $0 [asan] [tsan] [fuzz]" >&2
		exit 2
		;;
	esac
	say "$s"
	start=$SECONDS
	if ! "step_$s"; then
		failed+=("$s")
	fi
	timings+=("$s $((SECONDS - start))s")
done
say "times: ${timings[*]}"
if [[ ${#failed[@]} -gt 0 ]]; then
	say "FAILED: ${failed[*]}"
	exit 1
fi
say "all passed"
