#!/usr/bin/env bash
# driftwatch policy impact (and ima-policy/manifest-pipeline.sh, which runs it before publishing) against a real
# driftwatch-verifier and three gateways with their own software TPMs
# (swtpm, tests/tools/gateway-client, IMA entries from the IMA simulator): a dry run of a new runtime policy version
# predicts which gateways turn untrusted (an executable the new allowlist drops, even though it ran before the
# change) and which turn trusted (a software update rolled out before its allowlist); then the policy is pushed, one
# round per gateway runs, and each verdict and failure is the predicted one, without any acknowledgement. Impact
# changes nothing; bad input (a malformed policy, an unknown version, no admin token) is refused clearly; exit codes
# 0/1/2.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"

VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier}
GC_BIN=$DW_BUILD/tests/tools/gateway-client
SIM=$DW_BUILD/tests/tools/ima-sim
BOOT_LOG=$REAL/binary_bios_measurements
VPID=
declare -A TCTI TPM_PID

require_tools swtpm swtpm_setup curl openssl jq || exit 0
require_built "$VERIFIER" "$GC_BIN" "$SIM" || exit 0

cleanup() {
        stop_verifier
        for id in "${!TPM_PID[@]}"; do
                SWTPM_PID=${TPM_PID[$id]} swtpm_stop
        done
        rm -rf "$TMP"
}
trap cleanup EXIT

# gc ID ARGS...: gateway ID's client (state in $TMP/gw-ID); output in $TMP/out, $TMP/err.
gc() {
        local id=$1
        shift
        "$GC_BIN" --verifier "$URL" --ca "$CA" --tcti "${TCTI[$id]}" --state "$TMP/gw-$id" --id "$id" "$@" \
                >"$TMP/out" 2>"$TMP/err"
}

# attest ID: one round; the answer in $TMP/round-ID.json.
attest() {
        gc "$1" attest --ima-log "$TMP/ima-$1.bin" --boot-log "$BOOT_LOG"
        cp "$TMP/out" "$TMP/round-$1.json"
}

measure() {
        local id=$1
        shift
        "$SIM" --tcti "${TCTI[$id]}" --log "$TMP/ima-$id.bin" "$@" >/dev/null
}

api() { curl -sS --cacert "$CA" -H "Authorization: Bearer $(cat "$TOKEN")" "$@"; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
hash_of() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

TOOL=$(hash_of "tool 1.0")    # /usr/bin/tool: allowed by version 1, dropped by version 2
APP1=$(hash_of "app 1.0")     # /usr/bin/app: version 1.0 allowed by policy version 1
APP2=$(hash_of "app 2.0")     # ... the update to 2.0, rolled out before its allowlist (policy version 2)

# policy VERSION_TAG EXTRA_JSON: the fleet's allowlist (gateway-base).
policy() {
        jq -n --arg t "sha256:$(sha256 /bin/true)" --arg l "sha256:$(sha256 /bin/ls)" --arg c "sha256:$(sha256 /bin/cat)" \
                --arg v "$1" --argjson extra "$2" \
                '{driftwatch_runtime_policy: 1, meta: {name: "base", version: $v},
                  digests: ({"/bin/true": [$t], "/bin/ls": [$l], "/bin/cat": [$c]} + $extra)}'
}

# ---- setup: three gateways with their own TPM, each booted and running different files; a verifier -------------
: >"$TMP/ekca.pem"
for id in gwa gwb gwc; do
        if ! swtpm_start "$TMP/tpm-$id"; then
                fail "swtpm for $id did not start"
                exit 0
        fi
        TCTI[$id]=$SWTPM_TCTI
        TPM_PID[$id]=$SWTPM_PID
        SWTPM_PID=
        cat "$SWTPM_CA_DIR/issuercert.pem" "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" >>"$TMP/ekca.pem"
        "$GC_BIN" --tcti "${TCTI[$id]}" firmware --boot-log "$BOOT_LOG" >/dev/null 2>&1 ||
                fail "firmware: the boot log is extended into $id's TPM"
done
measure gwa boot-aggregate measure /bin/true measure /bin/ls
measure gwb boot-aggregate measure /bin/true digest /usr/bin/tool "$TOOL" measure /bin/cat
measure gwc boot-aggregate measure /bin/true digest /usr/bin/app "$APP1"

VERIFIER_HOST=localhost start_verifier --set nonce_lifetime=30s --set attestation_deadline=10m
if [ -z "$PORT" ]; then
        fail "the verifier did not start: $(tail -3 "$TMP/v.log")"
        exit 0
fi
TOKEN=$TMP/v/admin.token
remote=(--verifier "$URL" --ca "$CA" --token-file "$TOKEN")

for id in gwa gwb gwc; do
        gc "$id" enroll
        assert_eq "enroll $id" 0 $?
done
policy 1 "{\"/usr/bin/tool\": [\"sha256:$TOOL\"], \"/usr/bin/app\": [\"sha256:$APP1\"]}" >"$TMP/v1.json"
assert_exit "push policy version 1" 0 "$DW" policy push "${remote[@]}" "$TMP/v1.json"
api -X PUT -d '{"runtime": "base"}' "$URL/v1/admin/groups/default/policies" >/dev/null

for id in gwa gwb gwc; do
        attest $id
        assert_eq "$id is trusted under version 1" trusted "$(jq -r .verdict "$TMP/round-$id.json")"
done

# ---- the update before its allowlist: gwc runs app 2.0 -> untrusted, sticky --------------------------------------
measure gwc digest /usr/bin/app "$APP2"
attest gwc
assert_eq "gwc ran app 2.0 (not in version 1): untrusted" "untrusted /usr/bin/app digest_mismatch" \
        "$(jq -r '"\(.verdict) \([.reasons[] | select(.kind == "runtime_policy")][0] | "\(.path) \(.rule)")"' "$TMP/round-gwc.json")"
measure gwc measure /bin/ls
attest gwc
assert_eq "... sticky: the next clean round stays untrusted (earlier)" "untrusted true" \
        "$(jq -r '"\(.verdict) \([.reasons[] | select(.kind == "runtime_policy")][0].earlier)"' "$TMP/round-gwc.json")"
measure gwa measure /bin/cat
attest gwa
assert_eq "gwa's next round is trusted" trusted "$(jq -r .verdict "$TMP/round-gwa.json")"

# ---- impact of version 2: drops /usr/bin/tool, allows app 2.0 -----------------------------------------------------
policy 2 "{\"/usr/bin/app\": [\"sha256:$APP1\", \"sha256:$APP2\"]}" >"$TMP/v2.json"
api "$URL/v1/gateways" | jq -S '[.gateways[] | {id, status, rounds, ima_next_index}]' >"$TMP/before.json"
api "$URL/v1/admin/policies" >"$TMP/policies-before.json"

assert_exit "impact of version 2: some gateway would be untrusted (exit 1)" 1 "$DW" policy impact "${remote[@]}" \
        --json "$TMP/v2.json"
cp "$TMP/out" "$TMP/impact.json"
assert_eq "... the gateways a push would affect: all three" "gwa gwb gwc" \
        "$(jq -r '[.gateways[].id] | sort | join(" ")' "$TMP/impact.json")"
assert_eq "... as the next version of base" "base 2 true" \
        "$(jq -r '.policy | "\(.name) \(.version) \(.draft)"' "$TMP/impact.json")"
assert_eq "... gwa stays trusted" "trusted trusted" \
        "$(jq -r '.gateways[] | select(.id == "gwa") | "\(.current) \(.predicted)"' "$TMP/impact.json")"
assert_eq "... gwb turns untrusted: the tool it ran before the change" \
        "trusted untrusted 2 /usr/bin/tool sha256:$TOOL not_in_allowlist" \
        "$(jq -r '.gateways[] | select(.id == "gwb") | "\(.current) \(.predicted) \(.failures[0] | "\(.index) \(.path) \(.digest) \(.reason)")"' "$TMP/impact.json")"
assert_eq "... gwc turns trusted: its update is allowed now" "untrusted trusted 0" \
        "$(jq -r '.gateways[] | select(.id == "gwc") | "\(.current) \(.predicted) \(.failures | length)"' "$TMP/impact.json")"
assert_eq "... judged against every entry of their boot" "4 4 5" \
        "$(jq -r '[.gateways[] | .entries] | join(" ")' <(jq '.gateways |= sort_by(.id)' "$TMP/impact.json"))"
assert_eq "... summary" '{"gateways":3,"turn_trusted":1,"turn_untrusted":1,"unchanged":1,"untrusted":1}' \
        "$(jq -cS .summary "$TMP/impact.json")"

assert_exit "impact, human output (exit 1)" 1 "$DW" policy impact "${remote[@]}" "$TMP/v2.json"
assert_grep "... one line for the gateway that turns untrusted, naming the file" \
        "^gwb: trusted -> untrusted: /usr/bin/tool sha256:$TOOL not_in_allowlist \(entry 2\)$" "$TMP/out"
assert_grep "... one for the gateway that turns trusted" "^gwc: untrusted -> trusted$" "$TMP/out"
assert_eq "... none for the unchanged one" 0 "$(grep -c '^gwa' "$TMP/out")"
assert_grep "... then the summary" \
        "^runtime:base@2: 3 gateways: 1 turn untrusted, 1 turn trusted, 1 unchanged; 1 untrusted after$" "$TMP/out"
assert_exit "impact limited to gwa and gwc: none would be untrusted (exit 0)" 0 "$DW" policy impact "${remote[@]}" \
        --gateway gwa --gateway gwc "$TMP/v2.json"
assert_grep "... two gateways" "2 gateways: 0 turn untrusted, 1 turn trusted, 1 unchanged; 0 untrusted after" \
        "$TMP/out"
assert_exit "impact on a group's gateways" 1 "$DW" policy impact "${remote[@]}" --group default --json "$TMP/v2.json"
assert_eq "... the group's three" 3 "$(jq .summary.gateways "$TMP/out")"
assert_exit "impact of the stored version 1 (what they are judged against): nothing changes" 1 "$DW" policy impact \
        "${remote[@]}" --json --ref base@1
assert_eq "... predicted as now" "gwa:trusted gwb:trusted gwc:untrusted" \
        "$(jq -r '[.gateways[] | "\(.id):\(.predicted)"] | sort | join(" ")' "$TMP/out")"
assert_eq "... not judged again" "false false false" "$(jq -r '[.gateways[].rejudged] | join(" ")' "$TMP/out")"

api "$URL/v1/gateways" | jq -S '[.gateways[] | {id, status, rounds, ima_next_index}]' >"$TMP/after.json"
assert_eq "impact changed no gateway" "$(cat "$TMP/before.json")" "$(cat "$TMP/after.json")"
assert_eq "... and stored no policy" "$(jq -cS . "$TMP/policies-before.json")" \
        "$(api "$URL/v1/admin/policies" | jq -cS .)"

# ---- bad input -----------------------------------------------------------------------------------------------------
printf '{"driftwatch_runtime_policy": 1, "digests": {"/x": ["sha256:zz"]}}' >"$TMP/bad.json"
assert_exit "a malformed policy is refused before asking (exit 2)" 2 "$DW" policy impact "${remote[@]}" "$TMP/bad.json"
assert_grep "... naming where" 'bad.json.*digests' "$TMP/err"
assert_exit "an unknown stored version (exit 2)" 2 "$DW" policy impact "${remote[@]}" --ref base@9
assert_grep "... the verifier says so" 'HTTP 404: unknown-policy: no runtime policy .base. of that version' "$TMP/err"
printf 'not the token\n' >"$TMP/bad.token"
assert_exit "a wrong admin token (exit 2)" 2 "$DW" policy impact --verifier "$URL" --ca "$CA" \
        --token-file "$TMP/bad.token" "$TMP/v2.json"
assert_grep "... refused by the verifier" 'HTTP 40[13]' "$TMP/err"
assert_exit "an unknown gateway in scope (exit 2)" 2 "$DW" policy impact "${remote[@]}" --gateway nosuch "$TMP/v2.json"
assert_grep "... named" 'unknown-gateway: no gateway nosuch' "$TMP/err"
assert_exit "neither a policy nor --ref (exit 2)" 2 "$DW" policy impact "${remote[@]}"
assert_exit "no --verifier (exit 2)" 2 "$DW" policy impact --token-file "$TOKEN" "$TMP/v2.json"
I=$URL/v1/admin/policies/runtime/impact
assert_eq "API: no admin token: 401" 401 \
        "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -d '{"ref": {"name": "base"}}' "$I")"
assert_eq "API: malformed JSON: 400 malformed-json" "400 malformed-json" \
        "$(api -o "$TMP/body" -w '%{http_code}' -d '{"policy":' "$I") $(jq -r .error "$TMP/body")"
assert_eq "API: both policy and ref: 400" "400 malformed-request" \
        "$(api -o "$TMP/body" -w '%{http_code}' -d '{"policy": {}, "ref": {"name": "base"}}' "$I") $(jq -r .error "$TMP/body")"
assert_eq "API: an invalid policy document: 400 invalid-policy, where" "400 invalid-policy" \
        "$(api -o "$TMP/body" -w '%{http_code}' --data-binary "{\"policy\": $(cat "$TMP/bad.json")}" "$I") $(jq -r .error "$TMP/body")"
assert_grep "... naming the value" 'digests' "$TMP/body"
assert_eq "API: a draft without a name and no scope: 400" "400 malformed-request" \
        "$(api -o "$TMP/body" -w '%{http_code}' -d '{"policy": {"driftwatch_runtime_policy": 1}}' "$I") $(jq -r .error "$TMP/body")"
assert_eq "API: an unknown member: 400" 400 \
        "$(api -o /dev/null -w '%{http_code}' -d '{"ref": {"name": "base"}, "scopes": {}}' "$I")"
assert_eq "API: a bad scope: 400" 400 \
        "$(api -o /dev/null -w '%{http_code}' -d '{"ref": {"name": "base"}, "scope": {"gateways": [1]}}' "$I")"

# ---- push version 2, one round per gateway: exactly the predicted verdicts and failures ---------------------------
assert_exit "push version 2" 0 "$DW" policy push "${remote[@]}" "$TMP/v2.json"
for id in gwa gwb gwc; do
        attest $id
        assert_eq "$id: the round's verdict is the predicted one" \
                "$(jq -r ".gateways[] | select(.id == \"$id\") | .predicted" "$TMP/impact.json")" \
                "$(jq -r .verdict "$TMP/round-$id.json")"
        assert_eq "$id: ... and its runtime failures are the predicted ones" \
                "$(jq -c ".gateways[] | select(.id == \"$id\") | [.failures[] | {index, path, digest, reason}]" "$TMP/impact.json")" \
                "$(jq -c '[.reasons[] | select(.kind == "runtime_policy") | {index, path, digest, reason: .rule}]' "$TMP/round-$id.json")"
        assert_eq "$id: ... judged again under version 2" "runtime:base@2" "$(jq -r .report.rejudge.policy "$TMP/round-$id.json")"
done
assert_eq "gwb: the tool is this round's failure (not an earlier one)" "false true" \
        "$(jq -r '[.reasons[] | select(.kind == "runtime_policy")][0] | "\(.earlier) \(.sticky)"' "$TMP/round-gwb.json")"
assert_eq "gwc: trusted again without an acknowledgement, with a token" "trusted true" \
        "$(jq -r '"\(.verdict) \(.token != null)"' "$TMP/round-gwc.json")"
assert_eq "... its status" trusted "$(api "$URL/v1/gateways/gwc" | jq -r .status)"

# The next round judges only the new entry: no second re-judge.
measure gwc measure /bin/cat
attest gwc
assert_eq "gwc's next round: trusted, not judged again, one entry sent" "trusted null 1" \
        "$(jq -r '"\(.verdict) \(.report.rejudge) \(.sent.ima_entries)"' "$TMP/round-gwc.json")"
assert_exit "impact of version 2 now: the gateways are judged against it already (exit 1: gwb)" 1 "$DW" policy impact \
        "${remote[@]}" --json --ref base@2
assert_eq "... predicted as they are" "gwa:trusted:false gwb:untrusted:false gwc:trusted:false" \
        "$(jq -r '[.gateways[] | "\(.id):\(.predicted):\(.rejudged)"] | sort | join(" ")' "$TMP/out")"

# ---- removing a gateway removes its kept entries ------------------------------------------------------------------
api -X DELETE "$URL/v1/admin/gateways/gwb" >/dev/null
assert_exit "after gwb is removed, impact of version 2 covers the two others (exit 0)" 0 "$DW" policy impact \
        "${remote[@]}" --json --ref base@2
assert_eq "... gwa and gwc" "gwa gwc" "$(jq -r '[.gateways[].id] | sort | join(" ")' "$TMP/out")"
if command -v sqlite3 >/dev/null; then
        assert_eq "... no entry of gwb is kept" 0 \
                "$(sqlite3 "file:$TMP/v/verifier.db?mode=ro" "SELECT count(*) FROM gateway_entries WHERE gateway_id = 'gwb'")"
        assert_eq "... records shared by gateways are kept once" \
                "$(sqlite3 "file:$TMP/v/verifier.db?mode=ro" "SELECT count(DISTINCT hash) FROM gateway_entries")" \
                "$(sqlite3 "file:$TMP/v/verifier.db?mode=ro" "SELECT count(*) FROM ima_records")"
fi

# ---- the manifest pipeline (ima-policy/manifest-pipeline.sh) online: impact decides whether it publishes ------------
# gwa ran true, ls, cat; gwc also app 1.0 then 2.0. A release image with app 2.0 only would make gwc untrusted.
mkdir -p "$TMP/image/bin" "$TMP/image/usr/bin"
cp /bin/true /bin/ls /bin/cat "$TMP/image/bin/"
printf 'app 2.0' >"$TMP/image/usr/bin/app"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/release.key" 2>/dev/null
pipe=(env DRIFTWATCH="$DW" bash "$DW_SRCDIR/ima-policy/manifest-pipeline.sh" --image "$TMP/image" --name base
        --key "$TMP/release.key" --verifier "$URL" --token-file "$TOKEN" --cacert "$CA" --group default)
assert_exit "pipeline: an image without app 1.0, which gwc ran this boot: stopped before publishing (exit 1)" 1 \
        "${pipe[@]}" --version 3 --out "$TMP/rel3"
assert_grep "... the impact step names the gateway and the file" "^gwc: trusted -> untrusted: /usr/bin/app sha256:$APP1" \
        "$TMP/out"
assert_grep "... and says why it stopped" "predicts gateways turning untrusted.*not published" "$TMP/err"
assert_eq "... nothing was published" 2 "$(api "$URL/v1/admin/policies" | jq '.runtime.base.latest')"
jq -n --arg a "sha256:$APP1" '{driftwatch_runtime_policy: 1, digests: {"/usr/bin/app": [$a]}}' >"$TMP/app1.json"
assert_exit "pipeline: the same image with app 1.0 merged in (--base): published (exit 0)" 0 \
        "${pipe[@]}" --version 3 --out "$TMP/rel3b" --base "$TMP/app1.json"
assert_grep "... the impact step predicted no untrusted gateway" "0 untrusted after" "$TMP/out"
assert_grep "... published as version 3 and the group pinned to it" "group default now follows base version 3" "$TMP/out"
for id in gwa gwc; do
        attest $id
        assert_eq "$id: trusted under the released policy, as predicted" "trusted runtime:base@3" \
                "$(jq -r '"\(.verdict) \(.report.rejudge.policy)"' "$TMP/round-$id.json")"
done

stop_verifier
assert_eq "the verifier stops cleanly" 0 "$VRC"
assert_eq "... with no sanitizer report in its log" 0 "$(grep -c 'runtime error\|AddressSanitizer\|LeakSanitizer' "$TMP/v.log")"
