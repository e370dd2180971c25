#!/usr/bin/env bash
# `make check-kernel`: runs tests/shell/test-real-kernel.sh alone, as tests/run-shell-tests.sh runs every shell test
# (same environment: DW_SRCDIR, DW_BUILD, DW_VERIFIER, DW_MONITOR), and prints the closing line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export DW_SRCDIR=${DW_SRCDIR:-$(cd "$here/../.." && pwd)}
export DW_BUILD=${DW_BUILD:-$DW_SRCDIR/build}
export DW_TESTDATA=${DW_TESTDATA:-$DW_SRCDIR/../shared/testdata}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
echo "== test-real-kernel"
start=$(date +%s)
DW_RESULTS=$results bash "$DW_SRCDIR/tests/shell/test-real-kernel.sh"
rc=$?
p=$(grep -c '^PASS' "$results")
f=$(grep -c '^FAIL' "$results")
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL: test-real-kernel exited $rc outside an assertion"
        f=$((f + 1))
fi
echo "kernel: $p passed, $f failed ($(($(date +%s) - start)) s)"
[ "$f" -eq 0 ]
