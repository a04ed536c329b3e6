#!/usr/bin/env bash
# ctest's entry for the dashboard browser test: checks that node and Debian's chromium are
# there, installs puppeteer-core from the lock file with `npm ci` into the build tree (once per
# lock file), and runs dashboard_test.mjs. Exit 77 (ctest: skipped) with the reason when no
# browser can be started; the reason also goes to $SLB_SKIP_LOG, so a CI run (CI=true) fails
# on it (scripts/skips.sh). Usage: run.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
here=$src/tests/browser
work=$build/browser-test
chromium=${SLB_CHROMIUM:-/usr/bin/chromium}

# skip REASON MESSAGE: says why, logs it as testskip.h does, exits 77.
skip() {
	echo "SKIP $1: $2"
	if [[ -n "${SLB_SKIP_LOG:-}" ]]; then
		printf '%s\tbrowser/dashboard\t%s\n' "$1" "$2" >>"$SLB_SKIP_LOG"
	fi
	exit 77
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	skip missing-program "node and npm are not installed (scripts/install-deps.sh installs them)"
fi
if [[ ! -x $chromium ]]; then
	skip missing-program "no chromium at $chromium (scripts/install-deps.sh installs Debian's chromium)"
fi
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/dashboard_test.mjs" "$work/"
if ! cmp -s "$here/package-lock.json" "$work/node_modules/.slb-installed-lock"; then
	# --ignore-scripts: puppeteer-core downloads nothing, and nothing else may run at install
	if ! (cd "$work" && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts >npm.log 2>&1); then
		tail -5 "$work/npm.log"
		skip npm-install-failed "npm ci could not install puppeteer-core (offline?); its log: $work/npm.log"
	fi
	cp "$here/package-lock.json" "$work/node_modules/.slb-installed-lock"
fi
cd "$work" && SLB_BIN_DIR=$build SLB_SCREENSHOT=$build/dashboard.png SLB_CHROMIUM=$chromium exec node dashboard_test.mjs
