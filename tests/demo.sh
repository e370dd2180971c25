#!/usr/bin/env bash
# make demo: the whole product end to end on one machine. A TPM (swtpm with an EK certificate, unless told to use
# the machine's own), the verifier on loopback, the monitor following an IMA log (the simulator's, unless the kernel
# has IMA), enrollment, a trusted round, then an unknown binary executed: the monitor's alert and the verifier's
# verdict turning untrusted, naming it. Stops everything it started; exit 0 only if every step happened.
#
# Environment: DW_BUILD (default ./build), DW_DEMO_KEEP=1 keeps the work directory, DW_DEMO_TIMEOUT (seconds a
# step may take, default 30).
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DW_BUILD:-$SRC/build}
STEP_TIMEOUT=${DW_DEMO_TIMEOUT:-30}
WORK=$(mktemp -d /tmp/driftwatch-demo.XXXXXX)
VERIFIER=$BUILD/driftwatch-verifier MONITOR=$BUILD/driftwatch-monitor CLI=$BUILD/driftwatch
GC=$BUILD/tests/tools/gateway-client SIM=$BUILD/tests/tools/ima-sim
VPID= MPID= STEPS_OK=0 STEPS=0
GW=demo-gateway

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
info() { printf '   %s\n' "$*"; }
step_ok() { STEPS=$((STEPS + 1)) STEPS_OK=$((STEPS_OK + 1)); printf '   \033[32mok\033[0m   %s\n' "$*"; }
step_fail() {
        STEPS=$((STEPS + 1))
        printf '   \033[31mFAIL\033[0m %s\n' "$*"
        [ -s "$WORK/monitor.log" ] && { echo "   --- monitor log (last lines):"; tail -15 "$WORK/monitor.log" | sed 's/^/   /'; }
        [ -s "$WORK/verifier.log" ] && { echo "   --- verifier log (last lines):"; tail -5 "$WORK/verifier.log" | sed 's/^/   /'; }
        exit 1
}

cleanup() {
        local rc=$?
        [ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
        [ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
        swtpm_stop 2>/dev/null
        if [ "${DW_DEMO_KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
        echo
        if [ "$rc" -eq 0 ]; then echo "demo: all $STEPS_OK steps as expected"; else echo "demo: FAILED ($STEPS_OK of $STEPS steps as expected)"; fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
        local limit=$1 i
        shift
        for i in $(seq $((limit * 10))); do
                "$@" && return 0
                sleep 0.1
        done
        return 1
}

api() { curl -sS --cacert "$WORK/v/ca.pem" -H "Authorization: Bearer $ADMIN" "$@"; }
gateway_status() { api "$URL/v1/gateways/$GW" 2>/dev/null | jq -r '.status // empty'; }
status_is() { [ "$(gateway_status)" = "$1" ]; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

for bin in "$VERIFIER" "$MONITOR" "$CLI" "$GC" "$SIM"; do
        [ -x "$bin" ] || { echo "demo: $bin is not built (run make demo, which builds it)"; exit 1; }
done
[ "$(id -u)" = 0 ] || echo "demo: not root; fine for the simulator, but the real TPM and IMA need root"

# ---- what this machine has ----------------------------------------------------------------------------------------
say "What this machine has"
if [ -r /sys/kernel/security/ima/binary_runtime_measurements ]; then
        info "the kernel has IMA; the demo still uses the IMA simulator, so that it can execute an unknown binary"
        info "without touching this machine's own measurement list"
else
        info "the kernel has no IMA (/sys/kernel/security/ima is missing): using the IMA simulator (tests/tools/ima-sim),"
        info "which appends real-format entries to a log and extends the TPM's PCR 10 in lockstep, as the kernel does"
fi
if [ -e /dev/tpmrm0 ]; then
        info "this machine has a TPM (/dev/tpmrm0); the demo uses a software TPM so it never changes the real one"
else
        info "no TPM (/dev/tpmrm0 is missing): using swtpm, a software TPM with an EK certificate from its own CA"
fi
info "storage: SQLite (the verifier's embedded default); work directory $WORK"

# ---- the TPM --------------------------------------------------------------------------------------------------------
say "Starting a TPM"
. "$SRC/tests/swtpm.sh"
swtpm_start "$WORK/tpm" || step_fail "swtpm did not start"
T=$SWTPM_TCTI
cat "$SWTPM_CA_DIR/issuercert.pem" "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" >"$WORK/ekca.pem"
"$GC" --tcti "$T" firmware --boot-log "$SRC/tests/data/round/bios.log" >/dev/null 2>"$WORK/err" ||
        step_fail "the firmware boot log could not be extended into the TPM: $(cat "$WORK/err")"
step_ok "swtpm at $T; PCRs 0-7 hold a real firmware's measurements (tests/data/round/bios.log)"

# ---- IMA: what the gateway ran since boot --------------------------------------------------------------------------
say "The gateway boots: IMA measures what it runs"
IMA=$WORK/binary_runtime_measurements
"$SIM" --tcti "$T" --log "$IMA" boot-aggregate measure /bin/true measure /bin/ls measure /bin/cat \
        measure /bin/date >/dev/null 2>"$WORK/err" || step_fail "IMA simulator: $(cat "$WORK/err")"
step_ok "$("$CLI" ima show "$IMA" | grep -c .) entries in the measurement list; PCR 10 extended in lockstep"

# ---- the verifier ---------------------------------------------------------------------------------------------------
say "Starting driftwatch-verifier"
"$VERIFIER" --config /dev/null --state-dir "$WORK/v" --listen 127.0.0.1 --port 0 --port-file "$WORK/v.port" \
        --ek-ca-bundle "$WORK/ekca.pem" 2>"$WORK/verifier.log" &
VPID=$!
wait_for "$STEP_TIMEOUT" test -s "$WORK/v.port" || step_fail "the verifier did not start"
PORT=$(cat "$WORK/v.port")
URL=https://127.0.0.1:$PORT
ADMIN=$(cat "$WORK/v/admin.token")
step_ok "listening on $URL (mutual TLS, its own CA in $WORK/v/ca.pem, SQLite in $WORK/v)"

# The allowlist: the binaries this gateway is supposed to run, with their digests.
jq -n --arg t "sha256:$(sha256 /bin/true)" --arg l "sha256:$(sha256 /bin/ls)" --arg c "sha256:$(sha256 /bin/cat)" \
        --arg d "sha256:$(sha256 /bin/date)" \
        '{driftwatch_runtime_policy: 1, meta: {name: "gateway-base"},
          digests: {"/bin/true": [$t], "/bin/ls": [$l], "/bin/cat": [$c], "/bin/date": [$d]}}' >"$WORK/policy.json"
api -X POST --data-binary "@$WORK/policy.json" "$URL/v1/admin/policies/runtime/base" >/dev/null &&
        api -X PUT -d '{"runtime": "base"}' "$URL/v1/admin/groups/default/policies" >/dev/null ||
        step_fail "the runtime policy could not be uploaded"
step_ok "runtime policy 'base' (4 allowed executables) assigned to every gateway"

# ---- the monitor ----------------------------------------------------------------------------------------------------
say "Starting driftwatch-monitor on the gateway"
cat >"$WORK/monitor.conf" <<EOF
[Monitor]
GatewayId=$GW
StateDirectory=$WORK/m-state
RuntimeDirectory=$WORK/m-run
RequoteIntervalSec=5
RequoteJitterSec=1
RuntimePolicy=$WORK/policy.json

[Verifier]
URL=$URL
CAFile=$WORK/v/ca.pem

[TPM]
TCTI=$T

[IMA]
Log=$IMA
PollIntervalMSec=200
BootLog=$SRC/tests/data/round/bios.log
EOF
"$MONITOR" --config "$WORK/monitor.conf" 2>"$WORK/monitor.log" &
MPID=$!
wait_for "$STEP_TIMEOUT" grep -q 'ALERT enrolled' "$WORK/monitor.log" ||
        step_fail "the monitor did not enroll"
step_ok "enrolled: EK certificate checked against swtpm's CA, AK activated, TLS client certificate issued"
wait_for "$STEP_TIMEOUT" status_is trusted || step_fail "the gateway did not become trusted (status: $(gateway_status))"
step_ok "first attestation round: trusted (quote, boot log, IMA log and allowlist all check out)"

# ---- drift ------------------------------------------------------------------------------------------------------
say "Someone runs an unknown binary on the gateway"
mkdir -p "$WORK/opt"
cp /bin/true "$WORK/opt/backdoor"
printf 'not in any allowlist' >>"$WORK/opt/backdoor"
"$WORK/opt/backdoor"
"$SIM" --tcti "$T" --log "$IMA" measure "$WORK/opt/backdoor" >/dev/null 2>"$WORK/err" ||
        step_fail "IMA simulator: $(cat "$WORK/err")"
info "executed $WORK/opt/backdoor; IMA measured it (sha256:$(sha256 "$WORK/opt/backdoor" | cut -c1-16)...)"
wait_for "$STEP_TIMEOUT" grep -q 'ALERT ima_policy_violation' "$WORK/monitor.log" ||
        step_fail "the monitor raised no alert"
step_ok "the monitor's alert (MESSAGE_ID=72c69cc8e3944a51a062d9e23cb6da45, also in journald where it runs):"
grep 'ALERT ima_policy_violation' "$WORK/monitor.log" | head -1 | sed 's/^/        /'
wait_for "$STEP_TIMEOUT" status_is untrusted || step_fail "the verdict did not turn untrusted (status: $(gateway_status))"
api "$URL/v1/gateways/$GW" >"$WORK/gw.json"
REASON=$(jq -r '[.last_verdict.reasons[]? | select(.kind == "runtime_policy")][0] | "\(.path) \(.rule)"' "$WORK/gw.json")
[ "$REASON" = "$WORK/opt/backdoor not_in_allowlist" ] ||
        step_fail "untrusted, but not for the right reason: $(jq -c . "$WORK/gw.json" | head -c 600)"
step_ok "the verifier's verdict: untrusted — runtime_policy: $REASON"

# ---- where to look ----------------------------------------------------------------------------------------------
say "Where to look"
info "gateway state:   curl --cacert $WORK/v/ca.pem -H 'Authorization: Bearer <admin token>' $URL/v1/gateways/$GW"
info "live verdicts:   curl -N --cacert ... $URL/v1/stream        metrics: $URL/metrics"
info "alerts:          journalctl -x -t driftwatch-monitor   (MESSAGE_ID=72c69cc8e3944a51a062d9e23cb6da45 for this one)"
if ! [ -S /run/systemd/journal/socket ]; then
        info "                 (journald is not running on this machine: the monitor also printed its alerts to stderr)"
fi
info "the rest of this run: DW_DEMO_KEEP=1 make demo keeps $WORK"
exit 0
