#!/usr/bin/env bash
# driftwatch-verifier against gateways with real software TPMs (swtpm), through tests/tools/gateway-client: the
# firmware's boot log replayed into the TPM, IMA entries from the IMA simulator extended into PCR 10 in lockstep.
# Enrollment (and its refusals), rounds judged trusted with a token that verifies offline, an unknown executable
# and tampered or dropped log entries judged untrusted with the right reasons, replayed and stale nonces refused,
# client certificates bound to their gateway, a verifier restart that resumes without any entry sent again, the
# read API, the event stream and the deadline that makes a silent gateway unknown.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"

VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier} # the ASan+UBSan build under make check
VERIFIER_HOST=localhost
SETTINGS=(--set nonce_lifetime=3s --set attestation_deadline=4s --set max_request_size=1M) # every start
GC_BIN=$DW_BUILD/tests/tools/gateway-client
SIM=$DW_BUILD/tests/tools/ima-sim
BOOT_LOG=$REAL/binary_bios_measurements # a real firmware's (SeaBIOS) boot event log
VPID= SSE_PID= PID_B=

require_tools swtpm swtpm_setup tpm2_pcrread curl openssl jq basenc || exit 0
require_built "$VERIFIER" "$GC_BIN" "$SIM" || exit 0

cleanup() {
        [ -n "$SSE_PID" ] && kill "$SSE_PID" 2>/dev/null
        stop_verifier
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

# attest ID NAME WANT_EXIT ARGS...: one round of gateway ID with its IMA log; the answer is kept in $TMP/round.json.
attest() {
        local id=$1 name=$2 want=$3 rc
        shift 3
        gc "$id" "$T" attest --ima-log "$TMP/ima-$id.bin" --boot-log "$BOOT_LOG" "$@"
        rc=$?
        cp "$TMP/out" "$TMP/round.json"
        if [ "$rc" -eq "$want" ]; then ok "$name"; else fail "$name: exit $rc, wanted $want: $(head -c 800 "$TMP/out") $(head -c 300 "$TMP/err")"; fi
}

round() { jq -r "$1" "$TMP/round.json"; }

api() {
        curl -sS --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$@"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# Base64url without padding to bytes.
b64url_dec() {
        local s
        s=$(printf '%s' "$1" | tr '_-' '/+')
        while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
        printf '%s' "$s" | base64 -d
}
hex2bin() { tr -d ' \n' | tr 'a-f' 'A-F' | basenc --base16 -d; }
bin2hex() { basenc --base16 -w0 | tr 'A-F' 'a-f'; }

# An ASN.1 DER INTEGER of a big-endian unsigned hex number.
der_int() {
        local h=$1
        while [ "${h:0:2}" = 00 ] && [ ${#h} -gt 2 ]; do h=${h:2}; done
        [ $((16#${h:0:1})) -ge 8 ] && h=00$h
        printf '02%02x%s' $((${#h} / 2)) "$h"
}

# verify_token TOKEN JWKS: the ES256 signature with openssl, against a PEM built from the JWK (no driftwatch code).
verify_token() {
        local token=$1 jwks=$2 h c s x y sig r sv body
        IFS=. read -r h c s <<<"$token"
        x=$(b64url_dec "$(jq -r '.keys[0].x' "$jwks")" | bin2hex)
        y=$(b64url_dec "$(jq -r '.keys[0].y' "$jwks")" | bin2hex)
        printf '3059301306072a8648ce3d020106082a8648ce3d03010703420004%s%s' "$x" "$y" | hex2bin >"$TMP/jwk.der"
        openssl pkey -pubin -inform DER -in "$TMP/jwk.der" -out "$TMP/jwk.pem" 2>/dev/null
        sig=$(b64url_dec "$s" | bin2hex)
        r=$(der_int "${sig:0:64}")
        sv=$(der_int "${sig:64:64}")
        body="$r$sv"
        printf '30%02x%s' $((${#body} / 2)) "$body" | hex2bin >"$TMP/jwt.sig"
        printf '%s.%s' "$h" "$c" >"$TMP/jwt.signed"
        openssl dgst -sha256 -verify "$TMP/jwk.pem" -signature "$TMP/jwt.sig" "$TMP/jwt.signed" 2>&1
}

# ---- setup: a TPM that booted (the firmware's log extended into it), IMA running, a verifier ------------------
if ! swtpm_start "$TMP/tpm-a"; then
        fail "swtpm did not start"
        exit 0
fi
T=$SWTPM_TCTI
cat "$SWTPM_CA_DIR/issuercert.pem" "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" >"$TMP/ekca.pem"
assert_exit "firmware: the boot log is extended into the TPM" 0 "$GC_BIN" --tcti "$T" firmware --boot-log "$BOOT_LOG"
assert_exit "IMA: boot_aggregate and three files" 0 "$SIM" --tcti "$T" --log "$TMP/ima-gw1.bin" boot-aggregate \
        measure /bin/true measure /bin/ls measure /bin/cat
start_verifier "${SETTINGS[@]}"
if [ -z "$PORT" ]; then
        fail "the verifier did not start: $(tail -3 "$TMP/v.log")"
        exit 0
fi
curl -sSN --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/stream" >"$TMP/sse.out" 2>/dev/null &
SSE_PID=$!

# ---- enrollment ----------------------------------------------------------------------------------------------------
test_enrollment() {
        gc gw1 "$T" enroll
        assert_eq "enroll gw1" 0 $?
        assert_eq "the client certificate chains to the verifier's CA" "$TMP/gw-gw1/tls.pem: OK" \
                "$(openssl verify -CAfile "$CA" "$TMP/gw-gw1/tls.pem" 2>&1)"
        assert_eq "... is bound to the gateway id" "URI:urn:driftwatch:gateway:gw1" \
                "$(openssl x509 -in "$TMP/gw-gw1/tls.pem" -noout -ext subjectAltName | tail -1 | tr -d ' ')"
        assert_eq "... for TLS clients" "TLS Web Client Authentication" \
                "$(openssl x509 -in "$TMP/gw-gw1/tls.pem" -noout -ext extendedKeyUsage | tail -1 | sed 's/^ *//')"
        assert_eq "the PCR selection to quote" "sha256:0,1,2,3,4,5,6,7,8,9,10" "$(jq -r .pcr_selection "$TMP/out")"
        api "$URL/v1/gateways/gw1" >"$TMP/gw.json"
        assert_eq "gw1 is listed, unknown until its first round" unknown "$(jq -r .status "$TMP/gw.json")"
        assert_grep "the enrollment is logged" '"event":"enrollment","gateway":"gw1","step":"activate","result":"ok"' \
                "$TMP/v.log"

        cp "$TMP/gw-gw1/tls.pem" "$TMP/gw1-first.pem"
        cp "$TMP/gw-gw1/tls.key" "$TMP/gw1-first.key"
        gc gw1 "$T" enroll
        assert_eq "the same TPM (same EK and AK) may enroll again: a new client certificate" 0 $?
        assert_eq "... the old certificate is no longer accepted" client-certificate-unknown \
                "$(curl -s --cacert "$CA" --cert "$TMP/gw1-first.pem" --key "$TMP/gw1-first.key" -X POST -d '{}' \
                        "$URL/v1/gateways/gw1/nonce" | jq -r .error)"

        mkdir -p "$TMP/gw-gw1-ak2"
        "$GC_BIN" --verifier "$URL" --ca "$CA" --tcti "$T" --state "$TMP/gw-gw1-ak2" --id gw1 --ak-handle 0x81010010 \
                enroll >"$TMP/out" 2>"$TMP/err"
        assert_eq "re-enrollment with another AK is refused" 1 $?
        assert_eq "... with 409 ak-mismatch" ak-mismatch "$(jq -r .error "$TMP/out")"
        "$GC_BIN" --verifier "$URL" --ca "$CA" --tcti "$T" --state "$TMP/gw-gw1-ak2" --id gw1b --ak-handle 0x81010002 \
                enroll >"$TMP/out" 2>"$TMP/err"
        assert_eq "the same EK under another gateway id is refused" ek-in-use "$(jq -r .error "$TMP/out")"

        if swtpm_start_b; then
                gc gw2 "$T_B" enroll
                assert_eq "a TPM whose EK certificate is from an unknown CA is refused" 1 $?
                assert_eq "... 403 ek-certificate-invalid" ek-certificate-invalid "$(jq -r .error "$TMP/out")"
                assert_grep "... naming the reason" 'unknown-issuer' "$TMP/out"
        fi
        assert_grep "refusals are logged" '"event":"enrollment","gateway":"gw1","step":"enroll","result":"ak-mismatch"' \
                "$TMP/v.log"
}

# A second swtpm with a CA of its own (not in the verifier's bundle).
swtpm_start_b() {
        local save_pid=$SWTPM_PID save_tcti=$SWTPM_TCTI
        if ! swtpm_start "$TMP/tpm-b"; then
                fail "second swtpm did not start"
                return 1
        fi
        T_B=$SWTPM_TCTI PID_B=$SWTPM_PID
        SWTPM_PID=$save_pid SWTPM_TCTI=$save_tcti
        return 0
}

# ---- policies ------------------------------------------------------------------------------------------------------
runtime_policy() {
        jq -n --arg t "sha256:$(sha256 /bin/true)" --arg l "sha256:$(sha256 /bin/ls)" --arg c "sha256:$(sha256 /bin/cat)" \
                --arg d "sha256:$(sha256 /bin/date)" "$@" \
                '{driftwatch_runtime_policy: 1, meta: {name: "gateway-base"},
                  digests: ({"/bin/true": [$t], "/bin/ls": [$l], "/bin/cat": [$c], "/bin/date": [$d]} + $extra)}'
}

boot_policy() {
        local pcrs
        pcrs=$(tpm2_pcrread -T "$T" sha256:0,1,2,3,4,5,6,7 | awk '/^ +[0-9]+ *:/ { gsub(":", "", $1); printf "%s\"%s\": \"%s\"", sep, $1, tolower(substr($NF, 3)); sep = ", " }')
        printf '{"driftwatch_boot_policy": 1, "pcrs": {"sha256": {%s}}}' "$pcrs"
}

# ---- rounds --------------------------------------------------------------------------------------------------------
test_rounds() {
        local next token nonce

        attest gw1 "a round without any runtime policy" 1
        assert_eq "... is untrusted: policy_missing" policy_missing "$(round '.reasons[0].kind')"
        assert_eq "... and nothing is consumed: the next round starts at 0 again" 0 "$(round .next.ima_from)"

        runtime_policy --argjson extra '{}' >"$TMP/policy.json"
        api -X POST --data-binary "@$TMP/policy.json" "$URL/v1/admin/policies/runtime/base" >"$TMP/body"
        assert_eq "runtime policy uploaded" 1 "$(jq .version "$TMP/body")"
        boot_policy >"$TMP/boot.json"
        api -X POST --data-binary "@$TMP/boot.json" "$URL/v1/admin/policies/boot/fw" >"$TMP/body"
        assert_eq "boot policy (golden PCRs 0-7) uploaded" 1 "$(jq .version "$TMP/body")"
        api -X PUT -d '{"runtime": "base", "boot": "fw"}' "$URL/v1/admin/groups/default/policies" >/dev/null

        attest gw1 "a clean gateway is trusted" 0 --save-request "$TMP/req1.json"
        assert_eq "... every check passed" "passed passed passed passed passed passed" \
                "$(round '.report.checks | "\(.quote) \(.boot_log) \(.boot_policy) \(.boot_aggregate) \(.ima) \(.runtime_policy)"')"
        assert_eq "... the boot log was sent (first round of the boot)" true "$(round .sent.boot_log)"
        assert_eq "... all 4 entries consumed" "4 4" "$(round '"\(.report.ima.consumed) \(.next.ima_from)"')"
        assert_eq "... no boot log needed next time" false "$(round .next.boot_log_required)"

        token=$(round .token)
        curl -sS --cacert "$CA" "$URL/.well-known/driftwatch/jwks.json" >"$TMP/jwks.json"
        assert_eq "the token verifies offline with openssl against the published JWK" "Verified OK" \
                "$(verify_token "$token" "$TMP/jwks.json")"
        b64url_dec "$(cut -d. -f1 <<<"$token")" >"$TMP/jwt.header"
        b64url_dec "$(cut -d. -f2 <<<"$token")" >"$TMP/jwt.claims"
        assert_eq "token header: ES256 with the JWK's kid" "ES256 $(jq -r '.keys[0].kid' "$TMP/jwks.json")" \
                "$(jq -r '"\(.alg) \(.kid)"' "$TMP/jwt.header")"
        assert_eq "token: EAR profile" "tag:github.com,2023:veraison/ear" "$(jq -r .eat_profile "$TMP/jwt.claims")"
        assert_eq "token: the gateway" gw1 "$(jq -r .sub "$TMP/jwt.claims")"
        assert_eq "token: ear.status affirming" affirming "$(jq -r '.submods.gw1["ear.status"]' "$TMP/jwt.claims")"
        assert_eq "token: trustworthiness vector" '{"instance-identity":2,"hardware":2,"executables":2,"configuration":2}' \
                "$(jq -c '.submods.gw1["ear.trustworthiness-vector"]' "$TMP/jwt.claims")"
        nonce=$(jq -r .nonce "$TMP/req1.json")
        assert_eq "token: eat_nonce is the round's nonce" "$nonce" \
                "$(b64url_dec "$(jq -r .eat_nonce "$TMP/jwt.claims")" | bin2hex)"
        assert_eq "token: verifier id and expiry" true \
                "$(jq '(.exp > .iat) and (.["ear.verifier-id"].developer == "driftwatch")' "$TMP/jwt.claims")"
        printf 'x' | dd of="$TMP/jwt.signed" bs=1 seek=20 conv=notrunc 2>/dev/null
        assert_eq "a tampered token does not verify" "Verification failure" \
                "$(openssl dgst -sha256 -verify "$TMP/jwk.pem" -signature "$TMP/jwt.sig" "$TMP/jwt.signed" 2>&1 | head -1)"

        "$SIM" --tcti "$T" --log "$TMP/ima-gw1.bin" measure /bin/ls measure /bin/date >/dev/null
        attest gw1 "the next round, with two new entries, is trusted" 0
        assert_eq "... only the new entries were sent" "4 2" "$(round '"\(.sent.ima_first_index) \(.sent.ima_entries)"')"
        assert_eq "... no boot log this time" false "$(round .sent.boot_log)"
        assert_eq "... none skipped (nothing sent twice)" 0 "$(round .report.ima.skipped)"

        # Replayed and stale nonces.
        gc gw1 "$T" post-attest "$TMP/req1.json"
        assert_eq "a replayed request is refused" 1 $?
        assert_eq "... 409 nonce-reused" nonce-reused "$(jq -r .error "$TMP/out")"
        assert_eq "... and judged untrusted" untrusted "$(jq -r .verdict "$TMP/out")"
        gc gw1 "$T" nonce --out "$TMP/nonce.json"
        sleep 4
        attest gw1 "evidence for an expired nonce is refused" 1 --nonce-file "$TMP/nonce.json"
        assert_eq "... 409 nonce-expired" nonce-expired "$(round .error)"
        attest gw1 "the next fresh round is trusted again" 0

        # Client certificates are bound to their gateway.
        cp -r "$TMP/gw-gw1" "$TMP/gw-gw9"
        gc gw9 "$T" nonce --out "$TMP/nonce9.json"
        assert_eq "gw1's certificate is refused for another gateway's URL" 1 $?
        assert_eq "... 403 client-certificate-mismatch" client-certificate-mismatch \
                "$(jq -r .error "$TMP/out" 2>/dev/null)"
}

test_malformed() {
        local auth=(--cert "$TMP/gw-gw1/tls.pem" --key "$TMP/gw-gw1/tls.key")

        assert_eq "attest: malformed JSON is 400" "400 malformed-json" \
                "$(curl -s --cacert "$CA" "${auth[@]}" -d '{"nonce":' -w ' %{http_code}' "$URL/v1/gateways/gw1/attest" |
                        sed 's/^\(.*\) \([0-9]*\)$/\2 \1/' | { read -r code json; echo "$code $(jq -r .error <<<"$json")"; })"
        assert_eq "attest: missing quote is 400" "400 malformed-evidence" \
                "$(curl -s --cacert "$CA" "${auth[@]}" -d "{\"nonce\": \"$(printf '%064d' 0)\"}" -w ' %{http_code}' \
                        "$URL/v1/gateways/gw1/attest" |
                        sed 's/^\(.*\) \([0-9]*\)$/\2 \1/' | { read -r code json; echo "$code $(jq -r .error <<<"$json")"; })"
        jq '.quote.attest = "not base64!"' "$TMP/req1.json" >"$TMP/bad.json"
        assert_eq "attest: bad base64 is 400" "400 malformed-evidence" \
                "$(curl -s --cacert "$CA" "${auth[@]}" --data-binary "@$TMP/bad.json" -w ' %{http_code}' \
                        "$URL/v1/gateways/gw1/attest" |
                        sed 's/^\(.*\) \([0-9]*\)$/\2 \1/' | { read -r code json; echo "$code $(jq -r .error <<<"$json")"; })"
        head -c 1200000 /dev/zero | base64 -w0 | jq -Rs '{nonce: "00", ima: {first_index: 0, entries: .}}' >"$TMP/big.json"
        assert_eq "attest: a body over max_request_size is 413" 413 \
                "$(curl -s -o /dev/null --cacert "$CA" "${auth[@]}" --data-binary "@$TMP/big.json" -w '%{http_code}' \
                        "$URL/v1/gateways/gw1/attest")"
}

# ---- what makes a gateway untrusted --------------------------------------------------------------------------------
test_untrusted() {
        local evil tampered size

        evil=$(printf 'evil' | sha256sum | cut -d' ' -f1)
        cp "$TMP/ima-gw1.bin" "$TMP/ima-before-evil.bin"
        "$SIM" --tcti "$T" --log "$TMP/ima-gw1.bin" digest /usr/bin/evil "$evil" >/dev/null

        # A tampered entry (its file digest changed, its template digest not) and a dropped entry, judged before the
        # honest log of the same state.
        tampered=$TMP/ima-tampered.bin
        cp "$TMP/ima-gw1.bin" "$tampered"
        size=$(stat -c %s "$TMP/ima-before-evil.bin")
        printf 'X' | dd of="$tampered" bs=1 seek=$((size + 80)) conv=notrunc 2>/dev/null
        gc gw1 "$T" attest --ima-log "$tampered" --boot-log "$BOOT_LOG"
        cp "$TMP/out" "$TMP/round.json"
        assert_eq "a tampered entry: untrusted" untrusted "$(round .verdict)"
        assert_eq "... ima_digest_mismatch at its index" "ima_digest_mismatch 6" \
                "$(round '[.reasons[] | select(.kind == "ima_digest_mismatch")][0] | "\(.kind) \(.index)"')"
        # The gateway hides the entry of the unknown executable: its log stops before it.
        cp "$TMP/ima-before-evil.bin" "$TMP/ima-dropped.bin"
        gc gw1 "$T" attest --ima-log "$TMP/ima-dropped.bin" --boot-log "$BOOT_LOG"
        cp "$TMP/out" "$TMP/round.json"
        assert_eq "a dropped entry (the log hides the last one): untrusted" untrusted "$(round .verdict)"
        assert_eq "... the log does not replay to the quoted PCR 10" ima_log_mismatch "$(round '.reasons[0].kind')"
        assert_eq "... not sticky" false "$(round '.reasons[0].sticky')"

        attest gw1 "an unknown executable: untrusted" 1
        assert_eq "... naming it, its digest and the rule" "runtime_policy /usr/bin/evil sha256:$evil not_in_allowlist" \
                "$(round '[.reasons[] | select(.kind == "runtime_policy")][0] | "\(.kind) \(.path) \(.digest) \(.rule)"')"
        assert_eq "... at its index" 6 "$(round '[.reasons[] | select(.kind == "runtime_policy")][0].index')"
        assert_eq "... no token" null "$(round .token)"
        attest gw1 "the failure is sticky: the next (clean) round stays untrusted" 1
        assert_eq "... listing it as earlier" "true /usr/bin/evil" "$(round '.reasons[0] | "\(.earlier) \(.path)"')"

        # The admin allows it (policy version 2) and acknowledges: the next round is trusted, attestation not reset.
        runtime_policy --argjson extra "{\"/usr/bin/evil\": [\"sha256:$evil\"]}" >"$TMP/policy2.json"
        api -X POST --data-binary "@$TMP/policy2.json" "$URL/v1/admin/policies/runtime/base" >"$TMP/body"
        assert_eq "policy version 2" 2 "$(jq .version "$TMP/body")"
        api -X POST -d '{}' "$URL/v1/admin/gateways/gw1/acknowledge" >"$TMP/body"
        assert_eq "acknowledged" 1 "$(jq .cleared "$TMP/body")"
        "$SIM" --tcti "$T" --log "$TMP/ima-gw1.bin" measure /bin/true >/dev/null
        attest gw1 "after the acknowledgement, the next round is trusted" 0
        assert_eq "... the policy change applied without a reset: only the new entry was sent" "7 1" \
                "$(round '"\(.sent.ima_first_index) \(.sent.ima_entries)"')"
}

# ---- restart ------------------------------------------------------------------------------------------------------
test_restart() {
        local before_next rounds_before

        attest gw1 "a round before the restart" 0
        before_next=$(round .next.ima_from)
        rounds_before=$(round .round)
        stop_verifier
        assert_eq "the verifier stops cleanly" 0 "$VRC"
        "$SIM" --tcti "$T" --log "$TMP/ima-gw1.bin" measure /bin/ls measure /bin/cat measure /bin/true >/dev/null
        kill "$SSE_PID" 2>/dev/null
        printf 'bootstrap-token-for-the-fleet\n' >"$TMP/enroll.token"
        start_verifier "${SETTINGS[@]}" --set enrollment_token_file="$TMP/enroll.token"
        curl -sSN --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/stream" >>"$TMP/sse.out" 2>/dev/null &
        SSE_PID=$!
        attest gw1 "after a restart, the next round is trusted" 0
        assert_eq "... it resumes where it was: entries sent from the persisted index" "$before_next" \
                "$(round .sent.ima_first_index)"
        assert_eq "... only the 3 new entries were sent" 3 "$(round .sent.ima_entries)"
        assert_eq "... entries sent again: zero" 0 "$(round .report.ima.skipped)"
        assert_eq "... no boot log asked again" false "$(round .sent.boot_log)"
        assert_eq "... the round counter continues" $((rounds_before + 1)) "$(round .round)"

        # With a bootstrap token configured, enrollment needs it.
        gc gw1 "$T" enroll
        assert_eq "enrollment without the bootstrap token is refused" 1 $?
        assert_eq "... 401 bearer-token-required" bearer-token-required "$(jq -r .error "$TMP/out")"
        gc gw1 "$T" enroll --token "$TMP/enroll.token"
        assert_eq "enrollment with the bootstrap token" 0 $?
        attest gw1 "after re-enrolling (new client certificate), rounds go on" 0
        assert_eq "... from where they were" 0 "$(round .report.ima.skipped)"
}

# ---- read API, metrics, stream, deadline --------------------------------------------------------------------------
test_read() {
        api "$URL/v1/gateways" >"$TMP/gws.json"
        assert_eq "GET /v1/gateways: gw1 trusted" trusted "$(jq -r '.gateways[] | select(.id == "gw1") | .status' "$TMP/gws.json")"
        assert_eq "... with its last verdict" trusted \
                "$(jq -r '.gateways[] | select(.id == "gw1") | .last_verdict.verdict' "$TMP/gws.json")"
        api "$URL/v1/gateways/gw1/verdicts?limit=100" >"$TMP/verdicts.json"
        assert_eq "verdict history: the unknown executable is there" /usr/bin/evil \
                "$(jq -r '[.verdicts[].reasons[] | select(.kind == "runtime_policy")][0].path' "$TMP/verdicts.json")"
        assert_eq "... and the replayed and the expired nonce" "nonce-expired nonce-reused" \
                "$(jq -r '[.verdicts[].reasons[] | select(.kind == "nonce") | .rule] | join(" ")' "$TMP/verdicts.json")"
        api "$URL/metrics" >"$TMP/metrics"
        assert_grep "metrics: trusted gateways" '^driftwatch_gateways\{status="trusted"\} 1$' "$TMP/metrics"
        assert_grep "metrics: rounds" '^driftwatch_rounds_total\{verdict="trusted"\} [1-9]' "$TMP/metrics"
        assert_grep "metrics: latency" '^driftwatch_verification_seconds_count [1-9]' "$TMP/metrics"

        sleep 10
        api "$URL/v1/gateways/gw1" >"$TMP/gw.json"
        assert_eq "a gateway silent past attestation_deadline becomes unknown" unknown "$(jq -r .status "$TMP/gw.json")"
        assert_eq "... with the reason" no_fresh_evidence "$(jq -r '.last_verdict.reasons[0].kind' "$TMP/gw.json")"
        kill "$SSE_PID" 2>/dev/null
        SSE_PID=
        curl -sSN --max-time 2 --cacert "$CA" -H "Authorization: Bearer $ADMIN" -H "Last-Event-ID: 0" \
                "$URL/v1/stream" >"$TMP/sse-replay.out" 2>/dev/null
        assert_grep "a client reconnecting with Last-Event-ID gets what it missed" '^id: 1$' "$TMP/sse-replay.out"
        assert_grep "the event stream carried the change to trusted" '"gateway":"gw1".*"verdict":"trusted"' "$TMP/sse.out"
        assert_grep "... to untrusted" '"gateway":"gw1".*"verdict":"untrusted"' "$TMP/sse.out"
        assert_grep "... to unknown" '"previous":"trusted","verdict":"unknown"' "$TMP/sse.out"
        assert_grep "... as SSE events" '^event: verdict$' "$TMP/sse.out"
        assert_grep "decisions are logged" '"event":"verdict","gateway":"gw1","verdict":"untrusted"' "$TMP/v.log"
        assert_eq "no nonce appears in the log" 0 "$(grep -c "$(jq -r .nonce "$TMP/req1.json")" "$TMP/v.log")"
}

# ---- moving and removing a gateway ---------------------------------------------------------------------------------
test_admin_gateway() {
        api -X PUT -d '{"group": "edge"}' "$URL/v1/admin/gateways/gw1/group" >/dev/null
        api "$URL/v1/admin/groups" >"$TMP/groups.json"
        assert_eq "a gateway moved to another group" 1 "$(jq '.groups.edge.gateways' "$TMP/groups.json")"
        attest gw1 "a group without a runtime policy: its gateways' rounds are not judged" 1
        assert_eq "... policy_missing" policy_missing "$(round '.reasons[0].kind')"
        api -X PUT -d '{"runtime": {"name": "base", "version": 2}}' "$URL/v1/admin/gateways/gw1/policies" >/dev/null
        attest gw1 "a gateway's own assignment applies at the next round" 0
        assert_eq "... pinned to version 2" "runtime:base@2" \
                "$(b64url_dec "$(round .token | cut -d. -f2)" | jq -r '.submods.gw1["ear.appraisal-policy-id"]')"

        api -X DELETE "$URL/v1/admin/gateways/gw1" >"$TMP/body"
        assert_eq "an administrator removes a gateway" removed "$(jq -r .status "$TMP/body")"
        assert_eq "... it is gone" 404 "$(api -o /dev/null -w '%{http_code}' "$URL/v1/gateways/gw1")"
        gc gw1 "$T" nonce --out "$TMP/nonce-gone.json"
        assert_eq "... and its client certificate is no longer accepted" client-certificate-unknown \
                "$(jq -r .error "$TMP/out" 2>/dev/null)"
}

test_enrollment
test_rounds
test_malformed
test_untrusted
test_restart
test_read
test_admin_gateway
