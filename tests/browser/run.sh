#!/usr/bin/env bash
# ctest's entry for the dashboard browser test: checks that node and Debian's chromium are
# there, installs puppeteer-core from the lock file with `npm ci` into the build tree (once per
# lock file), and runs dashboard_test.mjs. Exit 77 (ctest: skipped) with the reason when no
# browser can be started. Usage: run.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
here=$src/tests/browser
work=$build/browser-test
chromium=${SLB_CHROMIUM:-/usr/bin/chromium}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "SKIP: node and npm are not installed (scripts/install-deps.sh installs them)"
	exit 77
fi
if [[ ! -x $chromium ]]; then
	echo "SKIP: no chromium at $chromium (scripts/install-deps.sh installs Debian's chromium)"
	exit 77
fi
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/dashboard_test.mjs" "$work/"
if ! cmp -s "$here/package-lock.json" "$work/node_modules/.slb-installed-lock"; then
	# --ignore-scripts: puppeteer-core downloads nothing, and nothing else may run at install
	if ! (cd "$work" && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts >npm.log 2>&1); then
		echo "SKIP: npm ci could not install puppeteer-core (offline?):"
		tail -5 "$work/npm.log"
		exit 77
	fi
	cp "$here/package-lock.json" "$work/node_modules/.slb-installed-lock"
fi
cd "$work" && SLB_BIN_DIR=$build SLB_SCREENSHOT=$build/dashboard.png SLB_CHROMIUM=$chromium exec node dashboard_test.mjs
