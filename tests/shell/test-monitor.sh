#!/usr/bin/env bash
# driftwatch-monitor end to end, against a real verifier and a software TPM (swtpm), following the IMA simulator's
# log: enrollment and a trusted round; an unknown binary → the local alert and `untrusted` at the verifier within
# one round; a forged log entry and a PCR extended behind the log's back → PCR mismatch alerts; the verifier down
# for a while → every event arrives afterwards, sequence numbers contiguous; SIGKILL mid-stream → nothing lost or
# duplicated; SIGHUP reload; bad configuration refused with FILE:LINE.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"

VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier}
MONITOR=${DW_MONITOR:-$DW_BUILD/driftwatch-monitor}
SIM=$DW_BUILD/tests/tools/ima-sim
GC_BIN=$DW_BUILD/tests/tools/gateway-client
GEN=$DW_BUILD/tests/tools/ima-gen
BOOT_LOG=$DW_SRCDIR/tests/data/round/bios.log
VPID= MPID= PORT=
GW=gw-mon

require_built "$VERIFIER" "$MONITOR" "$SIM" "$GC_BIN" || exit 0

start_monitor() {
        "$MONITOR" --config "$TMP/monitor.conf" "$@" 2>>"$TMP/m.log" &
        MPID=$!
}

stop_monitor() {
        [ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
        MRC=$?
        MPID=
}

cleanup() {
        stop_monitor
        stop_verifier
        swtpm_stop
        rm -rf "$TMP"
}
trap cleanup EXIT

wait_for() {
        local limit=$1
        shift
        for _ in $(seq $((limit * 10))); do
                "$@" && return 0
                sleep 0.1
        done
        return 1
}

api() { curl -sS --cacert "$TMP/v/ca.pem" -H "Authorization: Bearer $ADMIN" "$@"; }
status_is() { [ "$(api "$URL/v1/gateways/$GW" 2>/dev/null | jq -r '.status // empty')" = "$1" ]; }
alert_count() { grep -c "ALERT $1 " "$TMP/m.log"; }
alerts_at_least() { [ "$(alert_count "$1")" -ge "$2" ]; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
# The sequence numbers of the events the verifier holds for the gateway, one per line, ascending.
event_seqs() { api "$URL/v1/events?gateway=$GW&limit=1000" | jq -r '.events[].seq' | sort -n; }
events_contiguous() {
        local seqs n first last
        seqs=$(event_seqs)
        n=$(grep -c . <<<"$seqs")
        first=$(head -1 <<<"$seqs")
        last=$(tail -1 <<<"$seqs")
        [ "$n" -gt 0 ] && [ "$first" = 0 ] && [ "$last" = $((n - 1)) ] && [ "$(uniq <<<"$seqs" | grep -c .)" = "$n" ]
}

# ---- setup ----------------------------------------------------------------------------------------------------------
if ! swtpm_start "$TMP/tpm"; then
        fail "swtpm did not start"
        exit 0
fi
T=$SWTPM_TCTI
cat "$SWTPM_CA_DIR/issuercert.pem" "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" >"$TMP/ekca.pem"
"$GC_BIN" --tcti "$T" firmware --boot-log "$BOOT_LOG" >/dev/null
IMA=$TMP/ima.bin
"$SIM" --tcti "$T" --log "$IMA" boot-aggregate measure /bin/true measure /bin/ls >/dev/null
start_verifier
if [ -z "$PORT" ]; then
        fail "the verifier did not start: $(tail -3 "$TMP/v.log")"
        exit 0
fi
jq -n --arg t "sha256:$(sha256 /bin/true)" --arg l "sha256:$(sha256 /bin/ls)" --arg c "sha256:$(sha256 /bin/cat)" \
        '{driftwatch_runtime_policy: 1, meta: {name: "base"},
          digests: {"/bin/true": [$t], "/bin/ls": [$l], "/bin/cat": [$c]}}' >"$TMP/policy.json"
api -X POST --data-binary "@$TMP/policy.json" "$URL/v1/admin/policies/runtime/base" >/dev/null
api -X PUT -d '{"runtime": "base"}' "$URL/v1/admin/groups/default/policies" >/dev/null

write_config() {
        cat >"$TMP/monitor.conf" <<EOF
# test configuration
[Monitor]
GatewayId=$GW
StateDirectory=$TMP/m-state
RuntimeDirectory=$TMP/m-run
RequoteIntervalSec=${1:-3}
RequoteJitterSec=0
RuntimePolicy=$TMP/policy.json
LogLevel=debug

[Verifier]
URL=$URL
CAFile=$TMP/v/ca.pem
RetryMaxSec=1

[TPM]
TCTI=$T

[IMA]
Log=$IMA
PollIntervalMSec=100
BootLog=$BOOT_LOG

[Events]
BatchDelayMSec=50
EOF
}
write_config

# ---- bad configuration ----------------------------------------------------------------------------------------------
test_bad_config() {
        printf '[Monitor]\nRequoteIntervalSec=soon\n' >"$TMP/bad.conf"
        assert_exit "a bad value is refused at start (exit 2)" 2 "$MONITOR" --config "$TMP/bad.conf"
        assert_grep "... naming FILE:LINE and the key" "bad.conf:2.*RequoteIntervalSec" "$TMP/err"
        assert_exit "a missing config named with --config is refused" 2 "$MONITOR" --config "$TMP/none.conf"
        assert_exit "--check-config prints the effective configuration" 0 "$MONITOR" --config "$TMP/monitor.conf" \
                --check-config --set IMA.Log=/tmp/other.log
        assert_grep "... with --set overrides applied" "^Log=/tmp/other.log" "$TMP/out"
}

# ---- enrollment, a trusted round, drift ------------------------------------------------------------------------------
test_trusted_then_drift() {
        start_monitor
        wait_for 30 grep -q 'ALERT enrolled' "$TMP/m.log"
        assert_eq "the monitor enrolls on first start" 0 $?
        assert_eq "... and saves its TLS client certificate" "$TMP/m-state/tls.pem: OK" \
                "$(openssl verify -CAfile "$TMP/v/ca.pem" "$TMP/m-state/tls.pem" 2>&1)"
        wait_for 30 status_is trusted
        assert_eq "the first round makes the gateway trusted" 0 $?
        assert_grep "the boot event log is read at start and replays to the TPM's PCRs 0-7" \
                "boot event log: [0-9]+ events replay to the TPM's PCRs 0-7 \(sha256\)" "$TMP/m.log"
        assert_grep "each round carries the eBPF coverage; the verifier says what was TPM-backed and what not" \
                'evidence \{"tpm_backed":\["quote",[^]]*"ima","runtime_policy"[^]]*\],"runtime_hooks":\{[^}]*"exec":"(lsm|fentry|tracepoint)"[^}]*\},"runtime_hooks_tpm_backed":false\}' \
                "$TMP/m.log"
        assert_eq "... and the verdict history keeps it" "true true false" \
                "$(api "$URL/v1/gateways/$GW/verdicts?limit=1" | jq -r '.verdicts[0].evidence |
                        [(.tpm_backed | index("quote") != null), (.runtime_hooks.exec != null),
                         .runtime_hooks_tpm_backed] | map(tostring) | join(" ")')"
        assert_grep "the start is an alert with its MESSAGE_ID" \
                "ALERT monitor_started \[b2ea9dae9bb342bb9c38d426b5942c82\]" "$TMP/m.log"

        "$SIM" --tcti "$T" --log "$IMA" measure /bin/cat >/dev/null
        sleep 1
        assert_eq "an allowed binary raises no alert" 0 "$(alert_count ima_policy_violation)"
        cp /bin/true "$TMP/unknown-tool"
        printf 'x' >>"$TMP/unknown-tool"
        "$SIM" --tcti "$T" --log "$IMA" measure "$TMP/unknown-tool" >/dev/null
        wait_for 10 alerts_at_least ima_policy_violation 1
        assert_eq "an unknown binary: a local alert at once" 0 $?
        assert_grep "... naming its path, digest and rule" \
                "ALERT ima_policy_violation .*path=$TMP/unknown-tool digest=sha256:$(sha256 "$TMP/unknown-tool") rule=not_in_allowlist" \
                "$TMP/m.log"
        wait_for 10 status_is untrusted
        assert_eq "... and untrusted at the verifier within one round (drift re-quotes at once)" 0 $?
        assert_eq "... for that path" "$TMP/unknown-tool not_in_allowlist" \
                "$(api "$URL/v1/gateways/$GW" | jq -r '[.last_verdict.reasons[] | select(.kind == "runtime_policy")][0] | "\(.path) \(.rule)"')"
        wait_for 10 grep -q 'ALERT verdict_changed .*untrusted' "$TMP/m.log"
        assert_eq "the monitor reports the verdict change" 0 $?
        wait_for 10 events_contiguous
        assert_eq "its runtime events reach the verifier, signed and chained (sequence from 0, no gap)" 0 $?
        assert_eq "... the drift event among them" 1 \
                "$(api "$URL/v1/events?gateway=$GW&kind=ima_policy_violation" | jq '.events | length')"
}

# ---- the verifier asks for a round -----------------------------------------------------------------------------------
test_challenge() {
        local before
        before=$(grep -c 'the verifier asked for a round' "$TMP/m.log")
        api -X POST -d '{"reason": "test"}' "$URL/v1/admin/gateways/$GW/challenge" >"$TMP/out"
        assert_eq "an admin challenges the gateway" true "$(jq -r .challenged "$TMP/out")"
        wait_for 5 challenged_since "$before"
        assert_eq "the monitor's long poll gets it at once and runs a round" 0 $?
}
challenged_since() { [ "$(grep -c 'the verifier asked for a round' "$TMP/m.log")" -gt "$1" ]; }

# ---- PCR mismatch ---------------------------------------------------------------------------------------------------
test_pcr_mismatch() {
        local before
        before=$(alert_count pcr_mismatch)
        tpm2_pcrextend -T "$T" "10:sha256=$(printf '%064d' 7)" 2>/dev/null
        wait_for 15 alerts_at_least pcr_mismatch $((before + 1))
        assert_eq "PCR 10 extended behind the log's back: pcr_mismatch alert" 0 $?
        assert_grep "... with the bank, expected and actual values" \
                "ALERT pcr_mismatch .*pcr=10 bank=sha256 expected=[0-9a-f]{64} actual=[0-9a-f]{64}" "$TMP/m.log"
}

# ---- the verifier down, SIGKILL, reload -----------------------------------------------------------------------------
test_verifier_down() {
        stop_verifier
        for i in 1 2 3; do
                "$SIM" --tcti "$T" --log "$IMA" digest "/usr/local/bin/offline-$i" "$(printf '%064d' $i)" >/dev/null
        done
        wait_for 15 grep -q 'ALERT verifier_unreachable' "$TMP/m.log"
        assert_eq "the verifier down: an alert, events spooled" 0 $?
        wait_for 10 alerts_at_least ima_policy_violation 4
        spool_count() { ls "$TMP/m-state/spool" | grep -c '\.rec$'; }
        spool_nonempty() { [ "$(spool_count)" -ge 1 ]; }
        wait_for 5 spool_nonempty
        assert_eq "... batches wait in the spool" 0 $?
        start_verifier
        wait_for 20 events_contiguous
        assert_eq "the verifier back: every event arrives, sequence numbers contiguous" 0 $?
        spool_empty() { [ -z "$(ls "$TMP/m-state/spool" | grep '\.rec$')" ]; }
        wait_for 10 spool_empty
        assert_eq "... and the spool drains" 0 $?
        spool_empty || ls -la "$TMP/m-state/spool"
        assert_eq "... the three offline drifts are there" 3 \
                "$(api "$URL/v1/events?gateway=$GW&kind=ima_policy_violation&limit=100" | jq '[.events[] | select(.fields.path | tostring | test("offline"))] | length')"
}

test_sigkill() {
        local i
        for i in $(seq 1 20); do
                "$SIM" --tcti "$T" --log "$IMA" digest "/usr/local/bin/burst-$i" "$(printf '%064d' $((100 + i)))" >/dev/null
                [ "$i" = 10 ] && kill -KILL "$MPID"
        done
        wait "$MPID" 2>/dev/null
        MPID=
        start_monitor
        wait_for 30 events_contiguous
        assert_eq "SIGKILL mid-stream and a restart: events still contiguous (nothing lost or duplicated)" 0 $?
        sleep 2
        assert_eq "... no sequence number twice" "" "$(event_seqs | uniq -d)"
        assert_grep "... the chain continues after the restart" "event chain: continued" "$TMP/m.log"
}

test_reload() {
        local before
        before=$(alert_count config_reloaded)
        kill -HUP "$MPID"
        wait_for 10 alerts_at_least config_reloaded $((before + 1))
        assert_eq "SIGHUP reloads the configuration" 0 $?
        sed -i 's/^RequoteIntervalSec=.*/RequoteIntervalSec=never/' "$TMP/monitor.conf"
        kill -HUP "$MPID"
        wait_for 10 grep -q 'new configuration is refused' "$TMP/m.log"
        assert_eq "a bad configuration on reload is refused, the old one stays" 0 $?
        kill -0 "$MPID" 2>/dev/null
        assert_eq "... and the monitor keeps running" 0 $?
        write_config
        stop_monitor
        assert_eq "SIGTERM: a clean stop (exit 0)" 0 "$MRC"
        assert_grep "... with a stop alert" "ALERT monitor_stopped" "$TMP/m.log"
}

test_bad_config
test_trusted_then_drift
test_challenge
test_pcr_mismatch
test_verifier_down
test_sigkill
test_reload
