#!/usr/bin/env bash
# Detection latency from an exec to the verifier's verdict (docs/benchmarks.md, eBPF section), on this machine's
# kernel, as root: swtpm, the verifier and driftwatch-monitor (eBPF on, a runtime policy at the monitor and at the
# verifier allowing `true`), then N times: a new unknown executable (a copy of /usr/bin/true plus 4 bytes, so its
# digest is new) is measured and executed; the time until the verifier's event stream (`GET /v1/stream`, read as it
# arrives) publishes the gateway's verdict turning `untrusted` naming that file. Between iterations an admin
# acknowledges the sticky runtime-policy failure and challenges the gateway; its next round makes it trusted again,
# then SETTLE ms of quiet (longer than the IMA follower's poll and the event batch delay: each iteration starts
# from an idle monitor).
#
# Without IMA in the kernel the measurement is the IMA simulator's (tests/tools/ima-sim `measure FILE`: the entry
# appended to the log and swtpm's PCR 10 extended, as the kernel does inside execve), run immediately before the exec
# and timed as part of it.
#
#   make BUILD=build all build/bench/ebpf-exec-loop build/tests/tools/ima-sim build/tests/tools/gateway-client
#   DW_BUILD=build bash bench/ebpf-verdict.sh [N]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DW_BUILD:-$SRC/build}
N=${1:-100}
SETTLE=${SETTLE:-1500} # ms of quiet after the gateway is trusted again
LOOP=$BUILD/bench/ebpf-exec-loop
GW=bench-verdict
TMP=$(mktemp -d)
VPID= MPID= SPID=
. "$SRC/tests/swtpm.sh"
SWTPM_PID= # not a caller's (bench/run.sh exports its own)
cleanup() {
        set +e # curl ends with its signal's status: stop everything anyway
        [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
        [ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
        [ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
        swtpm_stop
        if [ -n "${KEEP:-}" ]; then echo "kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
sha256() { sha256sum "$1" | cut -d' ' -f1; }
wait_for() { for _ in $(seq 300); do "$@" && return 0; sleep 0.1; done; return 1; }
[ "$(id -u)" = 0 ] || { echo "bench/ebpf-verdict.sh: needs root (BPF)"; exit 1; }

swtpm_start "$TMP/tpm" >/dev/null
T=$SWTPM_TCTI
cat "$SWTPM_CA_DIR/issuercert.pem" "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" >"$TMP/ekca.pem"
"$BUILD/tests/tools/gateway-client" --tcti "$T" firmware --boot-log "$SRC/tests/data/round/bios.log" >/dev/null
"$BUILD/tests/tools/ima-sim" --tcti "$T" --log "$TMP/ima.bin" boot-aggregate measure /bin/true >/dev/null
"$BUILD/driftwatch-verifier" --config /dev/null --state-dir "$TMP/v" --listen 127.0.0.1 --port 0 \
        --port-file "$TMP/v.port" --ek-ca-bundle "$TMP/ekca.pem" --log-level "${VLOG:-warning}" 2>"$TMP/v.log" &
VPID=$!
wait_for test -s "$TMP/v.port"
URL=https://127.0.0.1:$(cat "$TMP/v.port")
ADMIN=$(cat "$TMP/v/admin.token")
api() { curl -sS --cacert "$TMP/v/ca.pem" -H "Authorization: Bearer $ADMIN" "$@"; }
# The IMA log names /bin/true, the exec events the kernel's path (merged /usr): both allowed.
TRUE=$(readlink -f /usr/bin/true)
jq -n --arg t "sha256:$(sha256 "$TRUE")" --arg p "$TRUE" \
        '{driftwatch_runtime_policy: 1, meta: {name: "base"}, digests: {($p): [$t], "/bin/true": [$t]}}' \
        >"$TMP/policy.json"
api -X POST --data-binary "@$TMP/policy.json" "$URL/v1/admin/policies/runtime/base" >/dev/null
api -X PUT -d '{"runtime": "base"}' "$URL/v1/admin/groups/default/policies" >/dev/null
mkdir -p "$TMP/protected" "$TMP/bin"
# The monitor's local copy excludes every path but the bench's directory: what the rest of this shared machine
# executes (builds, tests, this script's curl and jq) raises no drift and no round of its own. Excludes are POSIX
# EREs matched from the start, without lookahead: "not under DIR/" is one pattern per character of DIR/ (the same
# prefix, then another character or the end).
BIN=$TMP/bin/
excludes=()
for ((i = 0; i < ${#BIN}; i++)); do
        pre=$(sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"${BIN:0:i}")
        c=${BIN:i:1}
        excludes+=("^$pre([^$c]|\$)")
done
jq --args '. + {excludes: $ARGS.positional}' "${excludes[@]}" <"$TMP/policy.json" >"$TMP/local-policy.json"
cat >"$TMP/monitor.conf" <<EOF
[Monitor]
GatewayId=$GW
StateDirectory=$TMP/m-state
RuntimeDirectory=$TMP/m-run
RuntimePolicy=$TMP/local-policy.json
LogLevel=debug
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
EOF
# The monitor's output, each line stamped (CLOCK_REALTIME, µs) as it arrives: where the time goes, with KEEP=1.
"$BUILD/driftwatch-monitor" --config "$TMP/monitor.conf" 2> >(while IFS= read -r l; do
        printf '%s %s\n' "$EPOCHREALTIME" "$l"; done >"$TMP/m.log") &
MPID=$!
trusted() { api "$URL/v1/gateways/$GW" 2>/dev/null | jq -e '.status == "trusted"' >/dev/null; }
wait_for trusted || { echo "the monitor did not get trusted: $(tail -3 "$TMP/m.log")"; exit 1; }
wait_for grep -q "ALERT monitor_started" "$TMP/m.log" || { echo "the monitor did not start"; exit 1; }
sleep 2

# Acknowledge (again when a round committed meanwhile: 409 concurrent-round), then challenge.
cat >"$TMP/reset.sh" <<EOF
for _ in \$(seq 50); do
        code=\$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$TMP/v/ca.pem" -H "Authorization: Bearer $ADMIN" \\
                -X POST "$URL/v1/admin/gateways/$GW/acknowledge")
        [ "\$code" = 409 ] || break
        sleep 0.01
done
[ "\$code" = 200 ] || { echo "acknowledge: HTTP \$code" >&2; exit 1; }
curl -sSf --cacert "$TMP/v/ca.pem" -H "Authorization: Bearer $ADMIN" -X POST -d '{"reason": "bench"}' \\
        "$URL/v1/admin/gateways/$GW/challenge" >/dev/null
EOF
mkfifo "$TMP/stream"
curl -sSN --cacert "$TMP/v/ca.pem" -H "Authorization: Bearer $ADMIN" "$URL/v1/stream" >"$TMP/stream" &
SPID=$!
echo "== exec -> verifier verdict, $N unknown executables ($SETTLE ms of quiet between)"
if ! "$LOOP" verdict "$N" "$SETTLE" "$TMP/bin" "$GW" "bash $TMP/reset.sh" \
        "$BUILD/tests/tools/ima-sim" --tcti "$T" --log "$TMP/ima.bin" measure <"$TMP/stream" 2>"$TMP/iterations"; then
        tail -3 "$TMP/iterations"
        exit 1
fi
# Where the time goes: the monitor's drift_exec alert for each file (its output stamped as it arrived) splits each
# sample into exec -> alert (fork and execve, the eBPF event, the hashing, the judging) and alert -> verdict (the
# round: nonce, quote and NV certification on swtpm, the POST, the verifier's judging, the stream).
awk '
        function sort(v, n,   i, j, t) {
                for (i = 1; i <= n; i++)
                        for (j = i + 1; j <= n; j++)
                                if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        }
        function show(what, v, n) {
                sort(v, n)
                printf "  %s: p50 %.2f ms, p90 %.2f ms, max %.2f ms\n", what, v[int(n / 2) + 1],
                       v[int(n * 9 / 10) + 1], v[n]
        }
        FNR == NR { # the monitor: "STAMP driftwatch-monitor: ALERT drift_exec [ID]: DIR/verdict-I executed by ..."
                if ($0 ~ /ALERT drift_exec/ && match($0, "bin/verdict-[0-9]+ executed")) {
                        i = substr($0, RSTART + 12, RLENGTH - 21)
                        if (!(i in alert))
                                alert[i] = $1
                }
                next
        }
        { # the samples: "I: TOTAL ms (measure SIM, exec EXEC; started at STAMP); ..."
                i = $1 + 0; total = $2; sim = $5 + 0; start = $10 + 0
                if (!(i in alert)) { missing++; next }
                n++
                exec_alert[n] = (alert[i] - start) * 1000 - sim
                alert_verdict[n] = total - (alert[i] - start) * 1000
        }
        END {
                if (!n)
                        exit
                show("fork+exec -> drift_exec alert", exec_alert, n)
                show("drift_exec alert -> verdict on the stream (the round)", alert_verdict, n)
                if (missing)
                        printf "  (%d samples without a drift_exec alert)\n", missing
        }' "$TMP/m.log" "$TMP/iterations"
api "$URL/v1/gateways/$GW/verdicts?limit=1000" |
        jq -r '[.verdicts[] | select(.verdict == "untrusted") | .latency_ms] | sort |
                "  the verifier judging each untrusted round (latency_ms): p50 \(.[length / 2 | floor]) ms," +
                " max \(.[-1]) ms"'
echo "  slowest: $(sort -t' ' -k2 -rn "$TMP/iterations" | head -3 | sed 's/; trusted.*//' | tr '\n' ';')"
others=$(grep 'ALERT drift_' "$TMP/m.log" | grep -vc "bin/verdict-[0-9]* executed" || true)
echo "  rounds the monitor ran: $(grep -c 'round: ' "$TMP/m.log"); other drift alerts meanwhile (each a round): $others"
