#!/usr/bin/env bash
# make bench: every benchmark, with the peer run on the same input where there is one. Figures go to
# docs/benchmarks.md by hand, with the command that produced them.
set -euo pipefail
build=${DW_BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== IMA replay: 1,000,000-entry ima-ng log, template digest check + sha1 and sha256 banks, one core"
taskset -c 0 "$build/bench/ima-replay-bench" --entries 1000000 --runs 3 --write "$tmp/log.bin"

echo "== the same through the CLI (file read + replay of all four banks under both rules)"
/usr/bin/time -f "driftwatch ima replay: %e s, max RSS %M KiB" taskset -c 0 \
        "$build/driftwatch" ima replay --json "$tmp/log.bin" >"$tmp/replay.json"
/usr/bin/time -f "driftwatch ima replay --banks sha1,sha256: %e s, max RSS %M KiB" taskset -c 0 \
        "$build/driftwatch" ima replay --banks sha1,sha256 --json "$tmp/log.bin" >"$tmp/replay2.json"

if command -v evmctl >/dev/null; then
        echo "== peer: evmctl ima_measurement (ima-evm-utils) on the same log, sha256 bank"
        # evmctl reads a full sysfs-style PCR file: PCR 10 from our replay, the others zero.
        pcr10=$(jq -r '.pcrs.sha256["10"]' "$tmp/replay.json")
        for i in $(seq 0 23); do
                v=$(printf '%064d' 0); [ "$i" -eq 10 ] && v=$pcr10
                printf 'PCR-%02d: %s\n' "$i" "$v"
        done >"$tmp/pcrs"
        /usr/bin/time -o "$tmp/evm.time" -f "evmctl ima_measurement: %e s, max RSS %M KiB" taskset -c 0 \
                evmctl ima_measurement --ignore-violations --pcrs "sha256,$tmp/pcrs" "$tmp/log.bin" \
                >"$tmp/evm.out" 2>&1 || true
        cat "$tmp/evm.time"
        grep -q 'Matched per TPM bank' "$tmp/evm.out" && echo "evmctl agrees with our PCR 10" \
                || echo "evmctl did not match: $(tail -2 "$tmp/evm.out")"
fi
