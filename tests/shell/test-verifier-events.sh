#!/usr/bin/env bash
# driftwatch-verifier's runtime events against a gateway with a real software TPM (swtpm): batches signed by the
# TPM's certified event key (recorded by tests/tools/gateway-client events --record, which extends their heads into
# the TPM's NV index; tests/tools/event-chain-check makes the fork and the other TPM's batch) are posted with the gateway's client certificate, accepted in order and readable through GET /v1/events
# and the event stream; a gap, a tampered batch, a fork, a batch of another chain and a batch signed by another TPM's
# key are refused and recorded as untrusted verdicts, those that show tampering (fork, bad signature, chain mismatch)
# as sticky failures that keep gw1 untrusted until acknowledged; a batch dropped after it was extended into the NV
# index is found by the NV_Certify of the next attestation round; and a quote by another TPM's AK under gw1's
# certificate is untrusted.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"

VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier} # the ASan+UBSan build under make check
GC_BIN=$DW_BUILD/tests/tools/gateway-client
SIM=$DW_BUILD/tests/tools/ima-sim
EC=$DW_BUILD/tests/tools/event-chain-check
BOOT_LOG=$REAL/binary_bios_measurements
KEY_NONCE=00112233445566778899aabbccddeeff
VPID= SSE_PID= PID_B= T_B=

require_tools swtpm swtpm_setup tpm2_pcrread curl openssl jq sqlite3 || exit 0
require_built "$VERIFIER" "$GC_BIN" "$SIM" "$EC" || exit 0

start_verifier() {
        rm -f "$TMP/v.port"
        "$VERIFIER" --config /dev/null --state-dir "$TMP/v" --listen 127.0.0.1 --port 0 --port-file "$TMP/v.port" \
                --ek-ca-bundle "$TMP/ekca.pem" --set nonce_lifetime=30s --set max_request_size=1M "$@" \
                2>>"$TMP/v.log" &
        VPID=$!
        for _ in $(seq 200); do
                [ -s "$TMP/v.port" ] && break
                kill -0 $VPID 2>/dev/null || break
                sleep 0.05
        done
        PORT=$(cat "$TMP/v.port" 2>/dev/null)
        URL=https://localhost:$PORT
        CA=$TMP/v/ca.pem
        ADMIN=$(cat "$TMP/v/admin.token" 2>/dev/null)
}

cleanup() {
        [ -n "$SSE_PID" ] && kill "$SSE_PID" 2>/dev/null
        if [ -n "$VPID" ]; then
                kill "$VPID" 2>/dev/null
                wait "$VPID"
        fi
        swtpm_stop
        [ -n "$PID_B" ] && kill "$PID_B" 2>/dev/null
        rm -rf "$TMP"
}
trap cleanup EXIT

# gc ID TCTI ARGS...: the gateway client of gateway ID (state in $TMP/gw-ID); output in $TMP/out, $TMP/err.
gc() {
        local id=$1 tcti=$2
        shift 2
        "$GC_BIN" --verifier "$URL" --ca "$CA" --tcti "$tcti" --state "$TMP/gw-$id" --id "$id" "$@" \
                >"$TMP/out" 2>"$TMP/err"
}

# attest NAME WANT_EXIT TCTI ARGS...: one round of gw1; the answer in $TMP/round.json.
attest() {
        local name=$1 want=$2 tcti=$3 rc
        shift 3
        gc gw1 "$tcti" attest --ima-log "$TMP/ima-gw1.bin" --boot-log "$BOOT_LOG" "$@"
        rc=$?
        cp "$TMP/out" "$TMP/round.json"
        if [ "$rc" -eq "$want" ]; then ok "$name"; else fail "$name: exit $rc, wanted $want: $(head -c 800 "$TMP/out") $(head -c 300 "$TMP/err")"; fi
}

round() { jq -r "$1" "$TMP/round.json"; }

api() { curl -sS --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$@"; }

# post FILE: posts a batch with gw1's client certificate; "HTTP-CODE ERROR-OR-VERDICT NEXT_SEQ", the body in
# $TMP/post.json.
post() {
        local code
        code=$(curl -s -o "$TMP/post.json" -w '%{http_code}' --cacert "$CA" --cert "$TMP/gw-gw1/tls.pem" \
                --key "$TMP/gw-gw1/tls.key" --data-binary "@$1" "$URL/v1/gateways/gw1/events")
        echo "$code $(jq -r '.error // .verdict' "$TMP/post.json") $(jq -r '.next_seq // .expected_seq' "$TMP/post.json")"
}

# record N: gw1's gateway client records N batches of 2 events (continuing its chain); E=$TMP/gw-gw1/batch-SEQ.json.
record() {
        gc gw1 "$T" events --record "$1"
        assert_eq "gateway-client records $1 signed batch(es)" "0 $1" "$? $(wc -l <"$TMP/out")"
}

# make DIR TCTI BATCHES EVENTS: batches of a chain of gw1 kept in DIR/chain, by event-chain-check.
make_batches() {
        if ! "$EC" gateway "$2" "$1" gw1 $KEY_NONCE "$3" "$4" >"$TMP/ec.out" 2>"$TMP/ec.err"; then
                fail "event-chain-check gateway: $(cat "$TMP/ec.err")"
        fi
}

last_reason() {
        api "$URL/v1/gateways/gw1/verdicts?limit=1" | jq -r '.verdicts[0] | "\(.verdict) \(.reasons[0].kind)"'
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# ---- setup ---------------------------------------------------------------------------------------------------------
if ! swtpm_start "$TMP/tpm-a"; then
        fail "swtpm did not start"
        exit 0
fi
T=$SWTPM_TCTI
cat "$SWTPM_CA_DIR/issuercert.pem" "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" >"$TMP/ekca.pem"
assert_exit "firmware: the boot log is extended into the TPM" 0 "$GC_BIN" --tcti "$T" firmware --boot-log "$BOOT_LOG"
assert_exit "IMA: boot_aggregate and a file" 0 "$SIM" --tcti "$T" --log "$TMP/ima-gw1.bin" boot-aggregate \
        measure /bin/true
start_verifier
if [ -z "$PORT" ]; then
        fail "the verifier did not start: $(tail -3 "$TMP/v.log")"
        exit 0
fi
curl -sSN --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/stream" >"$TMP/sse.out" 2>/dev/null &
SSE_PID=$!

gc gw1 "$T" enroll
assert_eq "enroll gw1" 0 $?
jq -n --arg t "sha256:$(sha256 /bin/true)" '{driftwatch_runtime_policy: 1, meta: {name: "base"},
        digests: {"/bin/true": [$t]}}' >"$TMP/policy.json"
api -X POST --data-binary "@$TMP/policy.json" "$URL/v1/admin/policies/runtime/base" >/dev/null
api -X PUT -d '{"runtime": "base"}' "$URL/v1/admin/groups/default/policies" >/dev/null
attest "a round without event-chain evidence is trusted" 0 "$T"

# ---- accepted batches, the read API ------------------------------------------------------------------------------
E=$TMP/gw-gw1
record 3
assert_eq "batch 0-1 is accepted: next_seq 2" "200 ok 2" "$(post "$E/batch-0.json")"
assert_eq "batch 2-3: next_seq 4" "200 ok 4" "$(post "$E/batch-2.json")"
assert_eq "batch 4-5: next_seq 6" "200 ok 6" "$(post "$E/batch-4.json")"
assert_eq "batch 4-5 again is a duplicate, answered 200" "200 duplicate 6" "$(post "$E/batch-4.json")"
gc gw1 "$T" events --batch-json "$E/batch-4.json"
assert_eq "gateway-client events --batch-json posts a batch" "0 duplicate" "$? $(jq -r .verdict "$TMP/out")"

api "$URL/v1/events?gateway=gw1" >"$TMP/ev.json"
assert_eq "GET /v1/events: the 6 events, newest first" "6 5 0" \
        "$(jq -r '"\(.events | length) \(.events[0].seq) \(.events[-1].seq)"' "$TMP/ev.json")"
assert_eq "... with kind, severity, fields and the chain's epoch" "drift_exec warning /usr/local/bin/tool-0 true" \
        "$(jq -r '.events[-1] | "\(.kind) \(.severity) \(.fields.path) \(.reset_count >= 0)"' "$TMP/ev.json")"
assert_eq "kind filter" "6 0" "$(api "$URL/v1/events?gateway=gw1&kind=drift_exec" | jq '.events | length') $(
        api "$URL/v1/events?gateway=gw1&kind=monitor_start" | jq '.events | length')"
assert_eq "limit" 2 "$(api "$URL/v1/events?limit=2" | jq '.events | length')"
assert_eq "since (Unix seconds, an hour ago)" 6 \
        "$(api "$URL/v1/events?since=$(($(date +%s) - 3600))" | jq '.events | length')"
assert_eq "since (RFC 3339, in an hour): none" 0 \
        "$(api "$URL/v1/events?since=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" | jq '.events | length')"
assert_eq "until (RFC 3339, 2001): none" 0 "$(api "$URL/v1/events?until=2001-01-01T00:00:00Z" | jq '.events | length')"
assert_eq "another gateway's filter: none" 0 "$(api "$URL/v1/events?gateway=gw2" | jq '.events | length')"
assert_eq "a bad limit is 400" 400 \
        "$(api -o /dev/null -w '%{http_code}' "$URL/v1/events?limit=100000")"
assert_eq "a bad time is 400" 400 "$(api -o /dev/null -w '%{http_code}' "$URL/v1/events?since=yesterday")"
assert_eq "the read API needs a token" 401 \
        "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$URL/v1/events")"
assert_eq "posting needs the gateway's client certificate" 401 \
        "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --data-binary "@$E/batch-1.json" \
                "$URL/v1/gateways/gw1/events")"

attest "a round with the NV certification of the event chain is trusted" 0 "$T" --nv-certify
assert_eq "... the event chain was checked" "passed ok" "$(round '"\(.report.checks.event_chain) \(.report.event_chain.nv)"')"

# ---- a gap --------------------------------------------------------------------------------------------------------
record 2
assert_eq "batch 8-9 before batch 6-7: 409 event_chain_gap (expected seq 6)" "409 event_chain_gap 6" \
        "$(post "$E/batch-8.json")"
assert_eq "... recorded as an untrusted verdict with that reason" "untrusted event_chain_gap" "$(last_reason)"
assert_eq "... gw1 is untrusted" untrusted "$(api "$URL/v1/gateways/gw1" | jq -r .status)"
assert_eq "... nothing of it was stored" 6 "$(api "$URL/v1/events?gateway=gw1" | jq '.events | length')"
assert_eq "batch 6-7 then is accepted" "200 ok 8" "$(post "$E/batch-6.json")"
assert_eq "... and batch 8-9" "200 ok 10" "$(post "$E/batch-8.json")"
attest "a gap is not sticky: the next round is trusted" 0 "$T"

# ---- tampered, bad signature --------------------------------------------------------------------------------------
record 1
jq -c '.events[0].fields.pid += 1' "$E/batch-10.json" >"$TMP/tampered.json"
assert_eq "a tampered event: 409 event_chain_chain_mismatch" "409 event_chain_chain_mismatch" \
        "$(post "$TMP/tampered.json" | cut -d' ' -f1-2)"
assert_eq "... recorded untrusted" "untrusted event_chain_chain_mismatch" "$(last_reason)"
jq -c --arg s "$(jq -r .signature "$E/batch-8.json")" '.signature = $s' "$E/batch-10.json" >"$TMP/resigned.json"
assert_eq "another batch's signature: 409 event_chain_bad_signature" "409 event_chain_bad_signature" \
        "$(post "$TMP/resigned.json" | cut -d' ' -f1-2)"
assert_eq "malformed JSON: 400 event_chain_bad_encoding" "400 event_chain_bad_encoding" \
        "$(printf '{"version": 1' >"$TMP/bad.json"; post "$TMP/bad.json" | cut -d' ' -f1-2)"

B_OK=0
save_pid=$SWTPM_PID save_tcti=$SWTPM_TCTI
if swtpm_start "$TMP/tpm-b"; then
        T_B=$SWTPM_TCTI PID_B=$SWTPM_PID B_OK=1
else
        fail "second swtpm did not start"
fi
SWTPM_PID=$save_pid SWTPM_TCTI=$save_tcti
if [ $B_OK = 1 ]; then
        mkdir -p "$TMP/ec-b"
        make_batches "$TMP/ec-b" "$T_B" 1 2
        assert_eq "a batch signed by another TPM's event key: 409 event_chain_bad_signature" \
                "409 event_chain_bad_signature" "$(post "$TMP/ec-b/batch-1.json" | cut -d' ' -f1-2)"
        assert_eq "... recorded untrusted" "untrusted event_chain_bad_signature" "$(last_reason)"
fi
assert_eq "none of the refused batches was stored" 10 "$(api "$URL/v1/events?gateway=gw1" | jq '.events | length')"
assert_eq "a tampered batch's reason is sticky, counted in the next round" "true $(($(api "$URL/v1/gateways/gw1" |
        jq .rounds) + 1))" "$(post "$TMP/tampered.json" >/dev/null; jq -r '.reasons[0] | "\(.sticky) \(.round)"' "$TMP/post.json")"
assert_eq "... a malformed batch's is not" false \
        "$(post "$TMP/bad.json" >/dev/null; jq -r '.reasons[0].sticky' "$TMP/post.json")"

# ---- tampering is sticky: the next (clean) rounds stay untrusted until an administrator acknowledges ---------------
attest "after a tampered batch and a bad signature, a clean round stays untrusted" 1 "$T"
assert_eq "... listing them as earlier sticky failures" "event_chain_bad_signature event_chain_chain_mismatch" \
        "$(round '[.reasons[] | select(.earlier and .sticky) | .kind] | unique | join(" ")')"
assert_eq "... with the batch's first sequence number and the verdict as rule" "10 chain_mismatch" \
        "$(round '[.reasons[] | select(.kind == "event_chain_chain_mismatch")][0] | "\(.index) \(.rule)"')"
assert_eq "... not the malformed batch's" 0 "$(round '[.reasons[] | select(.kind == "event_chain_bad_encoding")] | length')"
assert_eq "... and no token" null "$(round .token)"
attest "the next round too" 1 "$T"
assert_eq "... the gateway is untrusted" untrusted "$(api "$URL/v1/gateways/gw1" | jq -r .status)"
api -X POST "$URL/v1/admin/gateways/gw1/acknowledge" >"$TMP/ack.json"
assert_eq "an administrator acknowledges them" "$((3 + B_OK))" "$(jq .cleared "$TMP/ack.json")"
attest "after the acknowledgement, the next round is trusted" 0 "$T"

# ---- a batch dropped after it was extended into the NV index ------------------------------------------------------
attest "batch 10-11 was extended but never sent: the NV certification finds it" 1 "$T" --nv-certify
assert_eq "... untrusted: event_chain_mismatch" "untrusted true" \
        "$(round '"\(.verdict) \([.reasons[].kind] | index("event_chain_mismatch") != null)"')"
assert_eq "... no token" null "$(round .token)"
assert_eq "batch 10-11 sent late is accepted" "200 ok 12" "$(post "$E/batch-10.json")"
attest "... and the next round with the NV certification is trusted again" 0 "$T" --nv-certify

# ---- a fork: a second chain in the same TPM epoch (the monitor lost its chain and started again) -----------------
assert_eq "all 12 events are stored once" "12 12" "$(api "$URL/v1/events?gateway=gw1" |
        jq -r '"\(.events | length) \([.events[].seq] | unique | length)"')"
mkdir -p "$TMP/ec-fork"
make_batches "$TMP/ec-fork" "$T" 1 2
assert_eq "a second chain of the same TPM epoch: 409 event_chain_fork" "409 event_chain_fork" \
        "$(post "$TMP/ec-fork/batch-1.json" | cut -d' ' -f1-2)"
assert_eq "... recorded untrusted" "untrusted event_chain_fork" "$(last_reason)"
attest "a fork is sticky: the next round is untrusted" 1 "$T"
assert_eq "... for it" "event_chain_fork true true" \
        "$(round '[.reasons[] | select(.kind == "event_chain_fork")][0] | "\(.kind) \(.sticky) \(.earlier)"')"
api -X POST -d "{\"through_round\": $(($(round .round) - 1))}" "$URL/v1/admin/gateways/gw1/acknowledge" >"$TMP/ack.json"
assert_eq "acknowledging through the round before it leaves it" 0 "$(jq .cleared "$TMP/ack.json")"
api -X POST -d "{\"through_round\": $(round .round)}" "$URL/v1/admin/gateways/gw1/acknowledge" >"$TMP/ack.json"
assert_eq "acknowledging through the round that listed it first clears it" 1 "$(jq .cleared "$TMP/ack.json")"
attest "then the next round is trusted" 0 "$T"

# ---- another chain's batch (wrong_chain) is not sticky ---------------------------------------------------------------
mkdir -p "$TMP/ec-other"
if "$EC" gateway "$T" "$TMP/ec-other" gw9 $KEY_NONCE 1 2 >"$TMP/ec.out" 2>"$TMP/ec.err"; then
        assert_eq "a batch of another gateway's chain: 409 event_chain_wrong_chain" "409 event_chain_wrong_chain" \
                "$(post "$TMP/ec-other/batch-1.json" | cut -d' ' -f1-2)"
        assert_eq "... not sticky" false "$(jq -r '.reasons[0].sticky' "$TMP/post.json")"
        attest "... the next round is trusted" 0 "$T"
else
        fail "event-chain-check gateway gw9: $(cat "$TMP/ec.err")"
fi

# ---- a quote by another TPM's AK under gw1's certificate ----------------------------------------------------------
if [ $B_OK = 1 ]; then
        attest "a quote by another TPM's AK, gw1's certificate and nonce: untrusted" 1 "$T_B"
        assert_eq "... for the quote's bad signature" "untrusted quote bad-signature" \
                "$(round '"\(.verdict) \(.reasons[0].kind) \(.reasons[0].rule)"')"
fi

# ---- the event stream ---------------------------------------------------------------------------------------------
sleep 0.3
assert_grep "the events are on the stream (event: runtime-event)" '^event: runtime-event$' "$TMP/sse.out"
assert_grep "... with gateway, seq and kind" '"gateway":"gw1".*"seq":5|"seq":5.*"gateway":"gw1"' "$TMP/sse.out"
assert_grep "the refusals are verdicts on the stream" '"verdict":"untrusted".*"kind":"event_chain_gap"' "$TMP/sse.out"
assert_grep "the refusals are logged" '"event":"event-batch-refused","gateway":"gw1","verdict":"gap"' "$TMP/v.log"
assert_eq "the verifier logged no error" 0 "$(grep -c '"level":"error"' "$TMP/v.log")"

# ---- shutdown: clean (under ASan, no leak) ------------------------------------------------------------------------
kill "$VPID" 2>/dev/null
wait "$VPID"
VRC=$? VPID=
assert_eq "the verifier stops cleanly (exit 0, no sanitizer report)" 0 "$VRC"
[ "$VRC" -ne 0 ] && grep -A12 -m1 'ERROR: \|SUMMARY' "$TMP/v.log" | head -40

# ---- retention: events after event_retention, nonces nonce_retention after their expiry ---------------------------
db() { sqlite3 "$TMP/v/verifier.db" "$1"; }

# wait_for NAME SQL WANT: polls the database for up to 12 s.
wait_for() {
        local got
        for _ in $(seq 60); do
                got=$(db "$2")
                [ "$got" = "$3" ] && break
                sleep 0.2
        done
        assert_eq "$1" "$3" "$got"
}

assert_eq "the schema has version 6 (events_received index)" "6 1" \
        "$(db 'SELECT version FROM schema_version') $(db "SELECT count(*) FROM sqlite_master WHERE name = 'events_received'")"
assert_eq "used nonces are kept in order of expiry (the key starts with it)" 1 \
        "$(db "SELECT count(*) FROM sqlite_master WHERE name = 'used_nonces' AND sql LIKE '%WITHOUT ROWID%'")"
assert_eq "events kept so far" 12 "$(db "SELECT count(*) FROM events WHERE gateway_id = 'gw1'")"
sleep 1
start_verifier --set event_retention=3s --set nonce_retention=1s --set nonce_lifetime=2s
wait_for "with event_retention=3s, the cleanup deletes the events received earlier" \
        "SELECT count(*) FROM events" 0
sleep 0.3
assert_grep "... and logs what it deleted" '"event":"cleanup".*"events":[1-9]' "$TMP/v.log"
record 1
assert_eq "a new batch is accepted" "200 ok 14" "$(post "$E/batch-12.json")"
assert_eq "... its events are kept" 2 "$(api "$URL/v1/events?gateway=gw1" | jq '.events | length')"
wait_for "... for event_retention (3 s), then deleted by the periodic cleanup" "SELECT count(*) FROM events" 0
assert_eq "... while the event-chain state stays: the next batch follows on" "200 ok 16" \
        "$(record 1 >/dev/null; post "$E/batch-14.json")"
attest "a round (nonce_lifetime 2 s)" 0 "$T" --save-request "$TMP/req.json"
nonce_row="SELECT count(*) FROM used_nonces WHERE nonce = x'$(jq -r .nonce "$TMP/req.json")'"
assert_eq "its nonce is recorded as used" 1 "$(db "$nonce_row")"
gc gw1 "$T" post-attest "$TMP/req.json"
assert_eq "... so its replay is refused: nonce-reused" nonce-reused "$(jq -r .error "$TMP/out")"
wait_for "... the used nonce is deleted nonce_retention (1 s) after it expired" "$nonce_row" 0
gc gw1 "$T" post-attest "$TMP/req.json"
assert_eq "... a replay after that is still refused" true \
        "$(jq -r '.error | . == "nonce-reused" or . == "nonce-unknown"' "$TMP/out")"

# ---- removing a gateway removes everything of it, in one transaction ------------------------------------------------
kill "$VPID" 2>/dev/null
wait "$VPID"
VPID=
start_verifier
attest "a round (verdicts, a used nonce)" 0 "$T"
assert_eq "a batch (events)" "200 ok 18" "$(record 1 >/dev/null; post "$E/batch-16.json")"
gw1_rows() {
        db "SELECT (SELECT count(*) FROM gateways WHERE id = 'gw1') || ' ' || (SELECT count(*) FROM verdicts WHERE
            gateway_id = 'gw1') || ' ' || (SELECT count(*) FROM events WHERE gateway_id = 'gw1') || ' ' || (SELECT
            count(*) FROM event_state WHERE gateway_id = 'gw1') || ' ' || (SELECT count(*) FROM assignments WHERE
            target = 'gw1')"
}
api -X PUT -d '{"runtime": "base"}' "$URL/v1/admin/gateways/gw1/policies" >/dev/null
assert_eq "gw1 has a row, verdicts, events, an event-chain state and an assignment" "1 true 2 1 1" \
        "$(gw1_rows | awk '{ print $1, ($2 > 0 ? "true" : "false"), $3, $4, $5 }')"
assert_eq "DELETE /v1/admin/gateways/gw1" removed "$(api -X DELETE "$URL/v1/admin/gateways/gw1" | jq -r .status)"
assert_eq "... removes its row, verdicts, events, event-chain state and assignment" "0 0 0 0 0" "$(gw1_rows)"
assert_eq "... its events are no longer served" 0 "$(api "$URL/v1/events?gateway=gw1" | jq '.events | length')"
assert_eq "deleting it again: 404 unknown-gateway" unknown-gateway \
        "$(api -X DELETE "$URL/v1/admin/gateways/gw1" | jq -r .error)"
assert_eq "the verifier logged no error" 0 "$(grep -c '"level":"error"' "$TMP/v.log")"
kill "$VPID" 2>/dev/null
wait "$VPID"
VRC=$? VPID=
assert_eq "the verifier stops cleanly" 0 "$VRC"
[ "$VRC" -ne 0 ] && grep -A12 -m1 'ERROR: \|SUMMARY' "$TMP/v.log" | head -40
true
