#!/usr/bin/env bash
# Runs every tests/shell/test-*.sh. Each test file is a bash script that sources tests/shell/lib.sh and calls
# `ok`/`fail` (via the assert helpers); this runner adds the counts up and prints the closing line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export DW_SRCDIR=${DW_SRCDIR:-$(cd "$here/.." && pwd)}
export DW_BUILD=${DW_BUILD:-$DW_SRCDIR/build}
export DW_TESTDATA=${DW_TESTDATA:-$DW_SRCDIR/../shared/testdata}

passed=0 failed=0
for t in "$here"/shell/test-*.sh; do
        name=$(basename "$t" .sh)
        results=$(mktemp)
        echo "== $name"
        DW_RESULTS=$results bash "$t"
        rc=$?
        p=$(grep -c '^PASS' "$results" || true)
        f=$(grep -c '^FAIL' "$results" || true)
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
                echo "FAIL: $name exited $rc outside an assertion"
                f=$((f + 1))
        fi
        passed=$((passed + p)) failed=$((failed + f))
        rm -f "$results"
done
echo "shell: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
