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

echo "== runtime policy: 1,000,000 ima-ng entries judged against a 100,000-path policy, one core"
taskset -c 0 "$build/bench/policy-bench" | tail -4

echo "== attestation rounds: quote + 20 new IMA entries + 100,000-path policy + golden boot PCRs, one core"
taskset -c 0 "$build/bench/round-bench" --data tests/data/round | tail -2

echo "== quote verification (verifier side), one core: a real swtpm quote from tests/data/tpm"
taskset -c 0 "$build/bench/quote-verify-bench" --data tests/data/tpm --count 50000 | tail -1
taskset -c 0 "$build/bench/quote-verify-bench" --data tests/data/tpm --ak ak-rsa --quote quote-rsa --count 20000 | tail -1

echo "== driftwatch-verifier under load: 100 and 1,000 simulated gateways over HTTPS with mutual TLS, 20 new IMA"
echo "   entries per round, 100,000- and 1,000-path runtime policies (the load generator shares the machine)"
DW_BUILD="$build" bash bench/verifier-load.sh

echo "== gateway quote latency on swtpm: driftwatch tpm quote beside tpm2_quote (same AK, PCRs, nonce)"
. tests/swtpm.sh
swtpm_start "$tmp/tpm" >/dev/null
trap 'swtpm_stop; rm -rf "$tmp"' EXIT
"$build/driftwatch" tpm enroll --tcti "$SWTPM_TCTI" >/dev/null
tpm2_readpublic -T "$SWTPM_TCTI" -c 0x81010002 -o "$tmp/ak.pub" >/dev/null 2>&1
nonce=00112233445566778899aabbccddeeff
n=50
time_loop() { # time_loop LABEL CMD... : mean wall time of n runs, in ms
        local label=$1 t0 t1
        shift
        t0=$(date +%s%N)
        for _ in $(seq $n); do "$@" >/dev/null 2>&1 || { echo "$label failed"; return 1; }; done
        t1=$(date +%s%N)
        echo "$label: $(( (t1 - t0) / n / 1000 )) us per quote (mean of $n, process start and TCTI connect included)"
}
time_loop "driftwatch tpm quote" "$build/driftwatch" tpm quote --tcti "$SWTPM_TCTI" --nonce $nonce \
        --attest "$tmp/q.attest" --signature "$tmp/q.sig" --pcrs-out "$tmp/q.pcrs"
time_loop "tpm2_quote          " tpm2_quote -T "$SWTPM_TCTI" -c 0x81010002 -l sha256:0,1,2,3,4,5,6,7,10 \
        -q $nonce -m "$tmp/t.attest" -s "$tmp/t.sig" -o "$tmp/t.pcrs"

echo "== eBPF: exec of an unknown file -> the verifier's verdict untrusted naming it (swtpm, verifier, monitor; root)"
if [ "$(id -u)" = 0 ]; then
        DW_BUILD="$build" bash bench/ebpf-verdict.sh 100
else
        echo "skipped: needs root (BPF)"
fi

echo "== driftwatch-monitor: CPU and memory idle and at 1,000 IMA entries/s; signed events/s end to end"
DW_BUILD="$build" bash bench/monitor.sh 15

echo "== driftwatch-monitor: resident memory on Debian's kernel (qemu), after the real-kernel test's flow"
DW_BUILD="$build" bash bench/monitor-kernel.sh

echo "== allowlists: policy create --from-tree beside find | xargs sha256sum; 1,000,000-path policy load"
DW_BUILD="$build" bash bench/policy-create.sh
