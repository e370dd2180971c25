#!/usr/bin/env bash
# eBPF drift detection's cost and speed, on this machine's kernel, as root (docs/benchmarks.md):
#   - exec-heavy overhead: N fork+exec of /usr/bin/true (allowed by the policy) with driftwatch-monitor stopped and
#     running, alternately, ROUNDS times each; the monitor's CPU while it watches them;
#   - detection latency: an unknown executable, executed, until its drift_exec alert is written (hashing included:
#     each is a new file);
#   - a storm of tamper events (one thread chmod-ing a protected file) and the events the kernel lost meanwhile.
# swtpm, the verifier and the IMA simulator as in tests/shell/test-ebpf.sh; the normal (not sanitizer) builds.
#
#   make BUILD=build all build/bench/ebpf-exec-loop build/tests/tools/ima-sim build/tests/tools/gateway-client
#   DW_BUILD=build bash bench/ebpf-exec.sh [N] [ROUNDS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DW_BUILD:-$SRC/build}
N=${1:-20000}
ROUNDS=${2:-3}
LAT=${LAT:-200}
STORM=${STORM:-1000000}
RING=${RING:-1M} # RingBufferSize= (the default is 1M)
LOOP=$BUILD/bench/ebpf-exec-loop
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
[ "$(id -u)" = 0 ] || { echo "bench/ebpf-exec.sh: needs root (BPF)"; exit 1; }

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
TRUE=$(readlink -f /usr/bin/true)
jq -n --arg t "sha256:$(sha256 "$TRUE")" --arg p "$TRUE" '{driftwatch_runtime_policy: 1, digests: {($p): [$t]}}' \
        >"$TMP/policy.json"
mkdir -p "$TMP/protected" "$TMP/bin"
echo x >"$TMP/protected/f"
cat >"$TMP/monitor.conf" <<EOF
[Monitor]
GatewayId=bench-ebpf
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
ProtectedPaths=$TMP/protected
RingBufferSize=$RING
EOF

monitor_start() {
        "$BUILD/driftwatch-monitor" --config "$TMP/monitor.conf" 2>>"$TMP/m.log" &
        MPID=$!
        wait_for grep -q "ALERT monitor_started" "$TMP/m.log" || { echo "the monitor did not start"; exit 1; }
        sleep 1
}
monitor_stop() {
        kill "$MPID" && wait "$MPID" || true
        MPID=
        : >"$TMP/m.log"
}
ticks() { awk '{print $14 + $15}' "/proc/$MPID/stat"; }
seconds() { sed -n 's/.* in \([0-9.]*\) s .*/\1/p'; }
cpu() { sed -n 's/.*, cpu \([0-9.]*\) s$/\1/p'; }

echo "== $N fork+exec of $TRUE (allowed), monitor off and on alternately, $ROUNDS rounds"
: >"$TMP/runs"
for r in $(seq "$ROUNDS"); do
        "$LOOP" run "$N" "$TRUE" >"$TMP/out"
        off=$(seconds <"$TMP/out") offcpu=$(cpu <"$TMP/out")
        monitor_start
        t0=$(ticks)
        "$LOOP" run "$N" "$TRUE" >"$TMP/out"
        t1=$(ticks)
        on=$(seconds <"$TMP/out") oncpu=$(cpu <"$TMP/out")
        mon=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", (b - a) / hz }')
        monitor_stop
        echo "round $r: wall off $off s, on $on s; cpu off $offcpu s, on $oncpu s + monitor $mon s"
        echo "$off $on $offcpu $oncpu $mon" >>"$TMP/runs"
done
# Medians of each column; the CPU overhead counts the monitor's own CPU too.
awk -v n="$N" '{ for (i = 1; i <= 5; i++) v[i, NR] = $i }
        END {
                for (i = 1; i <= 5; i++) {
                        for (a = 1; a <= NR; a++) for (b = a + 1; b <= NR; b++)
                                if (v[i, b] < v[i, a]) { t = v[i, a]; v[i, a] = v[i, b]; v[i, b] = t }
                        m[i] = v[i, int((NR + 1) / 2)]
                }
                printf "median wall: off %.3f s, on %.3f s: %+.2f%%\n", m[1], m[2], (m[2] - m[1]) * 100 / m[1]
                printf "median cpu: off %.3f s, on %.3f s + monitor %.3f s: %+.2f%% (%.1f us of CPU per exec)\n",
                       m[3], m[4], m[5], (m[4] + m[5] - m[3]) * 100 / m[3], (m[4] + m[5] - m[3]) * 1e6 / n
        }' "$TMP/runs"

monitor_start
echo "== detection latency"
"$LOOP" latency "$LAT" "$TMP/bin" "$TMP/m.log"
echo "== tamper event storm, RingBufferSize=$RING"
"$LOOP" storm "$STORM" "$TMP/protected/f"
sleep 2.5
lost=$(sed -n 's/.*rule=events_lost lost=\([0-9]*\).*/\1/p' "$TMP/m.log" | awk '{ s += $1 } END { print s + 0 }')
echo "events lost in the kernel (reported as drift_kernel events_lost): $lost of $STORM"
