#!/usr/bin/env bash
# driftwatch-monitor's resident memory on a gateway's kernel: Debian 12's own kernel (6.1) under qemu, the monitor
# running from its ext4 root with IMA, the TPM (swtpm) and the BPF LSM tier, after the real-kernel test's flow
# (enrollment, rounds, drift, a violation, the IMA cross-check). The machine's own kernel maps shared libraries
# differently (large folios): bench/monitor.sh measures there.
#
#   DW_BUILD=build bash bench/monitor-kernel.sh
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export DW_SRCDIR=$SRC
export DW_BUILD=${DW_BUILD:-$SRC/build}
export DW_TESTDATA=${DW_TESTDATA:-$SRC/../shared/testdata}
export DW_VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier}
out=$(mktemp)
results=$(mktemp)
trap 'rm -f "$out" "$results"' EXIT
DW_KERNEL_MEASURE=$out DW_RESULTS=$results bash "$SRC/tests/shell/test-real-kernel.sh" >/dev/null 2>&1
if [ ! -s "$out" ]; then
        echo "monitor-kernel: no measurement (the guest run failed: $(grep -c '^FAIL' "$results") failures)"
        exit 1
fi
echo "driftwatch-monitor in Debian's kernel under qemu (/proc/PID/status, smaps_rollup; kB):"
sed 's/^/  /' "$out"
