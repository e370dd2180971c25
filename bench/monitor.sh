#!/usr/bin/env bash
# driftwatch-monitor's cost on a gateway, against a real verifier and swtpm: resident memory and CPU while idle and
# while the IMA log grows by 1,000 entries/s (the IMA simulator extends the swtpm's PCR 10 for each, as the kernel
# does; the monitor follows, replays, judges each entry against the policy and cross-checks PCR 10 once a second),
# then signed runtime events per second end to end (bench/event-pipeline: recorder → TPM2_Sign → spool → NV extend
# → POST → the verifier verifies and stores each event).
#
#   DW_BUILD=build [DW_DRIFT=no] bash bench/monitor.sh [SECONDS]     (DW_DRIFT=no: eBPF drift detection off)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DW_BUILD:-$SRC/build}
SECS=${1:-20}
TMP=$(mktemp -d)
VPID= MPID=
. "$SRC/tests/swtpm.sh"
cleanup() {
        [ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
        [ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
        swtpm_stop
        rm -rf "$TMP"
}
trap cleanup EXIT
sha256() { sha256sum "$1" | cut -d' ' -f1; }
wait_for() { for _ in $(seq 300); do "$@" && return 0; sleep 0.1; done; return 1; }

swtpm_start "$TMP/tpm" >/dev/null
T=$SWTPM_TCTI
cat "$SWTPM_CA_DIR/issuercert.pem" "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" >"$TMP/ekca.pem"
"$BUILD/tests/tools/gateway-client" --tcti "$T" firmware --boot-log "$SRC/tests/data/round/bios.log" >/dev/null
"$BUILD/tests/tools/ima-sim" --tcti "$T" --log "$TMP/ima.bin" boot-aggregate measure /bin/true >/dev/null
"$BUILD/driftwatch-verifier" --config /dev/null --state-dir "$TMP/v" --listen 127.0.0.1 --port 0 \
        --port-file "$TMP/v.port" --ek-ca-bundle "$TMP/ekca.pem" --log-level warning 2>"$TMP/v.log" &
VPID=$!
wait_for test -s "$TMP/v.port"
URL=https://127.0.0.1:$(cat "$TMP/v.port")
ADMIN=$(cat "$TMP/v/admin.token")
# The load generator (the IMA simulator) is a known program of this gateway: allowed, so that its executions, which
# the monitor's eBPF programs see, raise no drift alert (and no round) of their own. The measuring loops below run no
# other program (bash builtins only).
SIM=$(realpath "$BUILD/tests/tools/ima-sim")
jq -n --arg t "sha256:$(sha256 /bin/true)" --arg sim "$SIM" --arg s "sha256:$(sha256 "$SIM")" \
        '{driftwatch_runtime_policy: 1, digests: {"/bin/true": [$t], ($sim): [$s]}}' >"$TMP/policy.json"
mkfifo "$TMP/nap"
exec 9<>"$TMP/nap"
nap() { read -rt "$1" -u 9 || true; }           # sleep without executing a program
now_ns() { local t=${EPOCHREALTIME/./}; echo $((10#$t * 1000)); }
curl -sS --cacert "$TMP/v/ca.pem" -H "Authorization: Bearer $ADMIN" --data-binary "@$TMP/policy.json" \
        "$URL/v1/admin/policies/runtime/base" >/dev/null
curl -sS --cacert "$TMP/v/ca.pem" -H "Authorization: Bearer $ADMIN" -X PUT -d '{"runtime": "base"}' \
        "$URL/v1/admin/groups/default/policies" >/dev/null
cat >"$TMP/monitor.conf" <<EOF
[Monitor]
GatewayId=bench-gw
StateDirectory=$TMP/m-state
RuntimeDirectory=$TMP/m-run
RuntimePolicy=$TMP/policy.json
[Verifier]
URL=$URL
CAFile=$TMP/v/ca.pem
[TPM]
TCTI=$T
[IMA]
Log=$TMP/ima.bin
BootLog=$SRC/tests/data/round/bios.log
[Drift]
Enable=${DW_DRIFT:-yes}
EOF
"$BUILD/driftwatch-monitor" --config "$TMP/monitor.conf" 2>"$TMP/m.log" &
MPID=$!
trusted() {
        curl -sS --cacert "$TMP/v/ca.pem" -H "Authorization: Bearer $ADMIN" "$URL/v1/gateways/bench-gw" 2>/dev/null |
                jq -e '.status == "trusted"' >/dev/null
}
wait_for trusted || { echo "the monitor did not get trusted: $(tail -3 "$TMP/m.log")"; exit 1; }

ticks() { # utime + stime (builtins only: an awk here would be an execution the monitor reacts to)
        local f
        read -r -a f <"/proc/$MPID/stat"
        echo $((f[13] + f[14]))
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$MPID/status"; }
# Beside RSS: the peak RSS so far (VmHWM), PSS (shared pages divided among the processes mapping them), the private pages (what only the monitor
# holds: its heap, stacks, ring buffer, and library pages no other process maps) and the anonymous memory.
mem_detail() {
        awk '/^VmHWM:/ {printf "peak %.1f MiB, ", $2 / 1024}' "/proc/$MPID/status"
        awk '/^Pss:/ {pss = $2} /^Private_(Clean|Dirty):/ {priv += $2} /^Anonymous:/ {anon = $2}
             END { printf "PSS %.1f MiB, private %.1f MiB, anonymous %.1f MiB", pss / 1024, priv / 1024, anon / 1024 }' \
                "/proc/$MPID/smaps_rollup"
}
hz=$(getconf CLK_TCK)

measure() { # LABEL: CPU over $SECS seconds and RSS at the end (the caller runs the load meanwhile)
        local t0=$1 label=$2 t1
        t1=$(ticks)
        awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$SECS" -v rss="$(rss_kib)" -v l="$label" -v d="$(mem_detail)" \
                'BEGIN { printf "%s: %.2f%% of a core, RSS %.1f MiB (%s)\n", l, (b - a) * 100 / hz / s, rss / 1024, d }'
}

nap 2
t0=$(ticks)
nap "$SECS"
measure "$t0" "driftwatch-monitor idle (${SECS} s, rounds every 30 s)"

# 1,000 entries/s: 100 entries every 100 ms, allowed by the policy (no alerts: the steady state of a busy gateway).
args=()
for _ in $(seq 100); do args+=(digest /bin/true "$(sha256 /bin/true)"); done
before=$(grep -c . <<<"$("$BUILD/driftwatch" ima show "$TMP/ima.bin")")
t0=$(ticks)
end=$(($(now_ns) + SECS * 1000000000))
while [ "$(now_ns)" -lt "$end" ]; do
        next=$(($(now_ns) + 100000000))
        "$SIM" --tcti "$T" --log "$TMP/ima.bin" "${args[@]}" >/dev/null
        now=$(now_ns)
        [ "$now" -lt "$next" ] && nap "$(printf '0.%06d' $(((next - now) / 1000)))"
done
measure "$t0" "driftwatch-monitor ingesting IMA entries"
after=$(grep -c . <<<"$("$BUILD/driftwatch" ima show "$TMP/ima.bin")")
echo "  ($((after - before)) entries in ${SECS} s = $(((after - before) / SECS)) entries/s; PCR 10 mismatch alerts: $(grep -c 'ALERT pcr_mismatch' "$TMP/m.log" || true))"

kill "$MPID" && wait "$MPID" 2>/dev/null
MPID=
for batch in 256 1024; do
        "$BUILD/bench/event-pipeline" --tcti "$T" --verifier "$URL" --ca "$TMP/v/ca.pem" --state "$TMP/m-state" \
                --runtime-dir "$TMP/m-run" --id bench-gw --events 200000 --batch $batch
done
