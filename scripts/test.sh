#!/usr/bin/env bash
# Installs dependencies, builds slb with warnings as errors and runs every test (ctest).
# Usage: scripts/test.sh            (from anywhere; builds in build/)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLB_WERROR=ON
cmake --build build -j"$(nproc)"
# Tests raise their own descriptor limits; the hard limit must allow it.
ctest --test-dir build --output-on-failure --timeout 300
