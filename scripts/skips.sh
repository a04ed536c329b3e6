#!/usr/bin/env bash
# Prints the skipped tests of a run, counted by reason, from the log the tests append to
# (SLB_SKIP_LOG: one "reason<TAB>test<TAB>message" line per skip; tests/integration/helpers/
# testskip.h). With CI=true, exits 1 when a reason is not in tests/ci-allowed-skips: CI has
# every dependency, so a skip there hides a test that should have run.
# Usage: scripts/skips.sh LOG [LABEL]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

log=$1
label=${2:-tests}
allowed=tests/ci-allowed-skips

if [[ ! -s $log ]]; then
	printf 'skips (%s): none\n' "$label"
	exit 0
fi
printf 'skips (%s): %d\n' "$label" "$(wc -l <"$log")"
cut -f1 "$log" | sort | uniq -c | while read -r count reason; do
	printf '  %-22s %3d: %s\n' "$reason" "$count" "$(awk -F'\t' -v r="$reason" '$1 == r { print $2 }' "$log" |
		sort -u | paste -sd, - | sed 's/,/, /g')"
done
[[ "${CI:-}" == "true" ]] || exit 0
rc=0
while IFS=$'\t' read -r reason test msg; do
	if ! grep -q "^${reason}"$'\t' "$allowed"; then
		printf 'FAIL in CI: %s was skipped (%s: %s), and %s does not allow it\n' "$test" "$reason" "$msg" "$allowed"
		rc=1
	fi
done <"$log"
exit $rc
