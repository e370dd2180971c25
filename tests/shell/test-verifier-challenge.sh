#!/usr/bin/env bash
# driftwatch-verifier's verifier-initiated challenges for push-model gateways, with a gateway enrolled from a real
# software TPM (swtpm) through tests/tools/gateway-client, polled with curl and the gateway's client certificate:
# a long poll that ends with no challenge after its wait, an administrator's challenge that wakes a waiting poll at
# once with its reason, a challenge raised before the poll delivered at once and only once, the refusals (another
# gateway's certificate, no certificate, a bad wait, an unknown gateway, a bad reason), challenges raised by policy
# assignments and new policy versions (not for a gateway pinned to a version), the round that answers a challenge,
# a shutdown that does not wait for long polls, and a restart that forgets what was pending.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"

VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier} # the ASan+UBSan build under make check
VERIFIER_HOST=localhost
GC_BIN=$DW_BUILD/tests/tools/gateway-client
SIM=$DW_BUILD/tests/tools/ima-sim
BOOT_LOG=$REAL/binary_bios_measurements
VPID= POLL_PID=

require_tools swtpm swtpm_setup curl openssl jq || exit 0
require_built "$VERIFIER" "$GC_BIN" "$SIM" || exit 0

cleanup() {
        [ -n "$POLL_PID" ] && kill "$POLL_PID" 2>/dev/null
        stop_verifier
        swtpm_stop
        rm -rf "$TMP"
}
trap cleanup EXIT

gc() {
        local id=$1
        shift
        "$GC_BIN" --verifier "$URL" --ca "$CA" --tcti "$T" --state "$TMP/gw-$id" --id "$id" "$@" \
                >"$TMP/out" 2>"$TMP/err"
}

api() { curl -sS --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$@"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# poll ID QUERY [CERT-ID]: gw CERT-ID's long poll on gateway ID's URL; "HTTP-CODE challenge reason", the body in
# $TMP/poll.json.
poll() {
        local id=$1 query=$2 cert=${3:-$1} code
        rm -f "$TMP/poll.json"
        code=$(curl -s -o "$TMP/poll.json" -w '%{http_code}' --cacert "$CA" --cert "$TMP/gw-$cert/tls.pem" \
                --key "$TMP/gw-$cert/tls.key" "$URL/v1/gateways/$id/challenge$query")
        echo "$code $(jq -r '"\(if .challenge == null then .error else .challenge end) \(.reason // "-")"' \
                "$TMP/poll.json" 2>/dev/null)"
}

# challenge ID [BODY]: an administrator's challenge; "HTTP-CODE challenged-or-error".
challenge() {
        local code
        code=$(api -o "$TMP/ch.json" -w '%{http_code}' -X POST ${2:+-d "$2"} "$URL/v1/admin/gateways/$1/challenge")
        echo "$code $(jq -r '.challenged // .error' "$TMP/ch.json" 2>/dev/null)"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# ---- setup: a TPM that booted, IMA running, a verifier, gw1 enrolled --------------------------------------------
if ! swtpm_start "$TMP/tpm"; then
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
gc gw1 enroll
assert_eq "enroll gw1" 0 $?

# ---- long polls -------------------------------------------------------------------------------------------------
test_poll() {
        local t0 t1

        t0=$(now_ms)
        assert_eq "a long poll without a challenge answers false ..." "200 false -" "$(poll gw1 '?wait=2')"
        t1=$(now_ms)
        assert_eq "... after its wait (2 s)" true "$([ $((t1 - t0)) -ge 1900 ] && [ $((t1 - t0)) -lt 5000 ] &&
                echo true || echo "false: $((t1 - t0)) ms")"
        t0=$(now_ms)
        assert_eq "wait=0 answers at once" "200 false -" "$(poll gw1 '?wait=0')"
        t1=$(now_ms)
        assert_eq "... without waiting" true "$([ $((t1 - t0)) -lt 1500 ] && echo true || echo "$((t1 - t0)) ms")"

        # An administrator's challenge during a long poll wakes it.
        poll gw1 '?wait=30' >"$TMP/poll.result" &
        POLL_PID=$!
        sleep 1.5
        assert_eq "the poll is still waiting" true "$(kill -0 $POLL_PID 2>/dev/null && echo true)"
        t0=$(now_ms)
        assert_eq "an administrator challenges gw1: 202" "202 true" \
                "$(challenge gw1 '{"reason": "operator asked: check now"}')"
        wait $POLL_PID
        t1=$(now_ms)
        POLL_PID=
        assert_eq "... the waiting poll answers within a second" true \
                "$([ $((t1 - t0)) -lt 1000 ] && echo true || echo "$((t1 - t0)) ms")"
        assert_eq "... with challenge true and the reason" "200 true operator asked: check now" "$(cat "$TMP/poll.result")"
        assert_eq "... and when it was asked for (RFC 3339)" true \
                "$(jq -r '.requested | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' "$TMP/poll.json")"
        assert_eq "... delivered once: the next poll gets none" "200 false -" "$(poll gw1 '?wait=0')"

        # A challenge raised before the poll is delivered at once, and once.
        assert_eq "a challenge without a body: 202" "202 true" "$(challenge gw1)"
        t0=$(now_ms)
        assert_eq "the next poll (wait=20) gets it: reason admin" "200 true admin" "$(poll gw1 '?wait=20')"
        t1=$(now_ms)
        assert_eq "... at once" true "$([ $((t1 - t0)) -lt 1500 ] && echo true || echo "$((t1 - t0)) ms")"
        assert_eq "... and only once" "200 false -" "$(poll gw1 '?wait=1')"
        assert_eq "two challenges before a poll are delivered as one, with the latest reason" "200 true second" \
                "$(challenge gw1 '{"reason": "first"}' >/dev/null; challenge gw1 '{"reason": "second"}' >/dev/null
                   poll gw1 '?wait=0')"
        assert_eq "... once" "200 false -" "$(poll gw1 '?wait=0')"
        assert_eq "the default wait is 25 s: a challenge 1 s into it is delivered" "200 true default" \
                "$( (sleep 1; challenge gw1 '{"reason": "default"}' >/dev/null) & poll gw1 '')"
}

# ---- refusals ----------------------------------------------------------------------------------------------------
test_refusals() {
        local long

        assert_eq "gw1's certificate on another gateway's URL: 403 client-certificate-mismatch" \
                "403 client-certificate-mismatch -" "$(poll gw2 '?wait=0' gw1)"
        assert_eq "no client certificate: 401 client-certificate-required" "401 client-certificate-required" \
                "$(curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$CA" "$URL/v1/gateways/gw1/challenge?wait=0") $(
                        jq -r .error "$TMP/body")"
        for w in 61 -1 abc 1.5 ''; do
                assert_eq "wait=$w: 400 invalid-argument" "400 invalid-argument -" "$(poll gw1 "?wait=$w")"
        done
        assert_eq "... with a detail" "wait: expected 0-60 (seconds)" "$(jq -r .detail "$TMP/poll.json")"
        assert_eq "a challenge for an unknown gateway: 404 unknown-gateway" "404 unknown-gateway" "$(challenge gw9)"
        long=$(printf 'x%.0s' $(seq 201))
        assert_eq "a reason over 200 characters: 400" "400 malformed-request" \
                "$(challenge gw1 "{\"reason\": \"$long\"}")"
        assert_eq "200 characters are fine" "202 true" "$(challenge gw1 "{\"reason\": \"${long:1}\"}")"
        assert_eq "... (delivered)" "200 true ${long:1}" "$(poll gw1 '?wait=0')"
        assert_eq "an empty reason: 400" "400 malformed-request" "$(challenge gw1 '{"reason": ""}')"
        assert_eq "a reason with a control character: 400" "400 malformed-request" \
                "$(challenge gw1 '{"reason": "a\nb"}')"
        assert_eq "a reason that is not a string: 400" "400 malformed-request" "$(challenge gw1 '{"reason": 7}')"
        assert_eq "malformed JSON: 400" "400 malformed-json" "$(challenge gw1 '{"reason": ')"
        assert_eq "the admin endpoint needs the admin token" 401 \
                "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -X POST "$URL/v1/admin/gateways/gw1/challenge")"
        assert_eq "none of the refusals left a challenge" "200 false -" "$(poll gw1 '?wait=0')"
}

# ---- policy changes ----------------------------------------------------------------------------------------------
test_policy() {
        jq -n --arg t "sha256:$(sha256 /bin/true)" '{driftwatch_runtime_policy: 1, digests: {"/bin/true": [$t]}}' \
                >"$TMP/policy.json"
        api -X POST --data-binary "@$TMP/policy.json" "$URL/v1/admin/policies/runtime/base" >"$TMP/body"
        assert_eq "a new policy (version 1)" 1 "$(jq .version "$TMP/body")"
        assert_eq "... is assigned to nobody: no challenge" "200 false -" "$(poll gw1 '?wait=0')"

        api -X PUT -d '{"runtime": "base"}' "$URL/v1/admin/groups/default/policies" >/dev/null
        assert_eq "assigning a policy to gw1's group challenges gw1" "200 true policy-changed" "$(poll gw1 '?wait=5')"
        assert_grep "... and the admin log says how many were challenged" '"action":"assign".*"challenged":1|"challenged":1.*"action":"assign"' "$TMP/v.log"
        gc gw1 attest --ima-log "$TMP/ima-gw1.bin" --boot-log "$BOOT_LOG"
        assert_eq "the gateway answers with a round: trusted" "0 trusted" "$? $(jq -r .verdict "$TMP/out")"

        api -X POST --data-binary "@$TMP/policy.json" "$URL/v1/admin/policies/runtime/base" >"$TMP/body"
        assert_eq "a new version of the group's policy (version 2) ..." 2 "$(jq .version "$TMP/body")"
        assert_eq "... challenges gw1, which follows the latest" "200 true policy-changed" "$(poll gw1 '?wait=5')"

        api -X PUT -d '{"runtime": {"name": "base", "version": 2}}' "$URL/v1/admin/gateways/gw1/policies" >/dev/null
        assert_eq "gw1's own assignment (pinned to version 2) challenges it" "200 true policy-changed" \
                "$(poll gw1 '?wait=5')"
        api -X POST --data-binary "@$TMP/policy.json" "$URL/v1/admin/policies/runtime/base" >"$TMP/body"
        assert_eq "a version 3 ..." 3 "$(jq .version "$TMP/body")"
        assert_eq "... does not challenge gw1, pinned to version 2" "200 false -" "$(poll gw1 '?wait=0')"
        api -X PUT -d '{"runtime": null}' "$URL/v1/admin/groups/default/policies" >/dev/null
        assert_eq "neither does a change of its group's assignment (its own wins)" "200 false -" \
                "$(poll gw1 '?wait=0')"
        api -X PUT -d '{"runtime": "base"}' "$URL/v1/admin/gateways/gw1/policies" >/dev/null
        assert_eq "following the latest again: challenged" "200 true policy-changed" "$(poll gw1 '?wait=0')"
        api -X POST --data-binary "@$TMP/policy.json" "$URL/v1/admin/policies/runtime/base" >/dev/null
        assert_eq "and the next version challenges it" "200 true policy-changed" "$(poll gw1 '?wait=0')"
        gc gw1 attest --ima-log "$TMP/ima-gw1.bin" --boot-log "$BOOT_LOG"
        assert_eq "the round after it is judged with the new version" "0 runtime:base@4" \
                "$? $(jq -r '.token | split(".")[1] | gsub("-"; "+") | gsub("_"; "/") | @base64d | fromjson |
                        .submods.gw1["ear.appraisal-policy-id"]' "$TMP/out" 2>/dev/null)"
}

# ---- shutdown and restart ----------------------------------------------------------------------------------------
test_shutdown() {
        local t0 t1

        poll gw1 '?wait=60' >"$TMP/poll.result" &
        POLL_PID=$!
        sleep 1.5
        t0=$(now_ms)
        stop_verifier
        t1=$(now_ms)
        assert_eq "SIGTERM with a long poll waiting: the verifier stops at once" true \
                "$([ $((t1 - t0)) -lt 3000 ] && echo true || echo "$((t1 - t0)) ms")"
        assert_eq "... cleanly (exit 0, no sanitizer report)" 0 "$VRC"
        wait $POLL_PID
        POLL_PID=
        assert_eq "... and the poll ended with no challenge (or its connection was closed)" true \
                "$(grep -qxE '200 false -|000 ?' "$TMP/poll.result" && echo true || cat "$TMP/poll.result")"

        start_verifier
        assert_eq "a challenge before a restart ..." "202 true" "$(challenge gw1 '{"reason": "lost"}')"
        stop_verifier
        start_verifier
        assert_eq "... is forgotten by the restarted verifier (pending challenges live in memory)" "200 false -" \
                "$(poll gw1 '?wait=0')"
        api -X DELETE "$URL/v1/admin/gateways/gw1" >/dev/null
        assert_eq "a removed gateway cannot be challenged" "404 unknown-gateway" "$(challenge gw1)"
        assert_grep "challenges are logged" '"event":"admin".*"action":"challenge"' "$TMP/v.log"
        assert_eq "the verifier logged no error" 0 "$(grep -c '"level":"error"' "$TMP/v.log")"
        stop_verifier
        assert_eq "the verifier stops cleanly" 0 "$VRC"
        [ "$VRC" -ne 0 ] && grep -A12 -m1 'ERROR: \|SUMMARY' "$TMP/v.log" | head -40
}

test_poll
test_refusals
test_policy
test_shutdown
true
