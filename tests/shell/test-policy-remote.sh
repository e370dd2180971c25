#!/usr/bin/env bash
# driftwatch policy push|assign against a real driftwatch-verifier: a policy built from a tree is uploaded as a new
# version and assigned to a group and to a gateway, exactly as the admin API then reports; refusals (a bad token, a
# policy the verifier would refuse, an unreachable verifier, bad options) are clear and exit non-zero.
. "$(dirname "$0")/lib.sh"

VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier}
VPID=
cleanup() {
        [ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
        rm -rf "$TMP"
}
trap cleanup EXIT

"$VERIFIER" --config /dev/null --state-dir "$TMP/v" --listen 127.0.0.1 --port 0 --port-file "$TMP/v.port" \
        2>"$TMP/v.log" &
VPID=$!
for _ in $(seq 200); do [ -s "$TMP/v.port" ] && break; sleep 0.05; done
if [ ! -s "$TMP/v.port" ]; then
        fail "the verifier did not start: $(tail -3 "$TMP/v.log")"
        exit 0
fi
URL=https://127.0.0.1:$(cat "$TMP/v.port")
CA=$TMP/v/ca.pem
TOKEN=$TMP/v/admin.token
api() { curl -sS --cacert "$CA" -H "Authorization: Bearer $(cat "$TOKEN")" "$@"; }
remote=(--verifier "$URL" --ca "$CA" --token-file "$TOKEN")

mkdir -p "$TMP/tree/usr/bin"
cp /bin/true /bin/ls "$TMP/tree/usr/bin/"
"$DW" policy create --from-tree "$TMP/tree" --name gw-image -o "$TMP/p1.json" 2>"$TMP/err"

assert_exit "push a policy built from a tree" 0 "$DW" policy push "${remote[@]}" --name base "$TMP/p1.json"
assert_grep "... says what it did" "pushed .* as runtime policy 'base'" "$TMP/out"
assert_eq "the verifier holds it as version 1" 1 "$(api "$URL/v1/admin/policies" | jq '.runtime.base.latest')"
api "$URL/v1/admin/policies/runtime/base" >"$TMP/stored.json"
assert_eq "... with the same paths" "$(jq -cS '.digests | keys' "$TMP/p1.json")" "$(jq -cS '.digests | keys' "$TMP/stored.json")"
assert_exit "push again: version 2 (--json prints the verifier's answer)" 0 "$DW" policy push "${remote[@]}" --json \
        --name base "$TMP/p1.json"
assert_eq "... the answer names the version" 2 "$(jq .version "$TMP/out")"

assert_exit "assign the latest version to a group" 0 "$DW" policy assign "${remote[@]}" --group default --name base
assert_eq "... the group follows it" base \
        "$(api "$URL/v1/admin/groups" | jq -r '[.. | objects | select(has("runtime")) | .runtime | if type == "object" then .name else . end][0]')"
assert_exit "assign a pinned version to a group" 0 "$DW" policy assign "${remote[@]}" --group default --name base \
        --version 1
assert_exit "assign to an unknown gateway is refused by the verifier (exit 1)" 1 "$DW" policy assign "${remote[@]}" \
        --gateway nosuch --name base
assert_grep "... with its answer" "error" "$TMP/out"

printf 'not the token\n' >"$TMP/bad.token"
assert_exit "a wrong admin token is refused (exit 1)" 1 "$DW" policy push --verifier "$URL" --ca "$CA" \
        --token-file "$TMP/bad.token" --name base "$TMP/p1.json"
printf '{"driftwatch_runtime_policy": 1, "digests": {"/x": ["sha256:zz"]}}' >"$TMP/bad.json"
assert_exit "a policy that does not load is refused before upload (exit 2)" 2 "$DW" policy push "${remote[@]}" \
        --name base "$TMP/bad.json"
assert_grep "... naming where" 'bad.json' "$TMP/err"
assert_eq "... and nothing was uploaded" 2 "$(api "$URL/v1/admin/policies" | jq '.runtime.base.latest')"
assert_exit "an http:// URL is refused (exit 2)" 2 "$DW" policy push --verifier "http://127.0.0.1:1" \
        --token-file "$TOKEN" --name base "$TMP/p1.json"
assert_exit "an unreachable verifier (exit 2)" 2 "$DW" policy push --verifier "https://127.0.0.1:1" --ca "$CA" \
        --token-file "$TOKEN" --name base "$TMP/p1.json"
assert_exit "a bad policy name (exit 2)" 2 "$DW" policy push "${remote[@]}" --name '../x' "$TMP/p1.json"
assert_exit "assign needs --gateway or --group (exit 2)" 2 "$DW" policy assign "${remote[@]}" --name base
assert_exit "a bad version (exit 2)" 2 "$DW" policy assign "${remote[@]}" --group default --name base --version 0

# ---- a verifier that requires signed runtime policies -------------------------------------------------------------
kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/admin.key" 2>/dev/null
openssl pkey -in "$TMP/admin.key" -pubout -out "$TMP/admin.pub" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/other.key" 2>/dev/null
rm -f "$TMP/v.port"
"$VERIFIER" --config /dev/null --state-dir "$TMP/v" --listen 127.0.0.1 --port 0 --port-file "$TMP/v.port" \
        --set "policy_signing_keys=$TMP/admin.pub" 2>>"$TMP/v.log" &
VPID=$!
for _ in $(seq 200); do [ -s "$TMP/v.port" ] && break; sleep 0.05; done
URL=https://127.0.0.1:$(cat "$TMP/v.port")
remote=(--verifier "$URL" --ca "$CA" --token-file "$TOKEN")

"$DW" policy sign --key "$TMP/admin.key" -o "$TMP/signed.json" "$TMP/p1.json" >/dev/null 2>&1
assert_exit "a policy signed by the admin key is accepted" 0 "$DW" policy push "${remote[@]}" --name signed \
        "$TMP/signed.json"
assert_exit "an unsigned policy is refused (exit 1)" 1 "$DW" policy push "${remote[@]}" --name signed "$TMP/p1.json"
assert_eq "... 403 policy-signature-invalid" policy-signature-invalid "$(jq -r .error "$TMP/out")"
assert_grep "... saying it is unsigned" unsigned "$TMP/out"
jq '.digests |= with_entries(.value = ["sha256:" + ("0" * 64)])' "$TMP/signed.json" >"$TMP/tampered.json"
assert_exit "a signed policy changed after signing is refused" 1 "$DW" policy push "${remote[@]}" --name signed \
        "$TMP/tampered.json"
assert_grep "... as changed after signing" mismatch "$TMP/out"
"$DW" policy sign --key "$TMP/other.key" -o "$TMP/other.json" "$TMP/p1.json" >/dev/null 2>&1
assert_exit "a policy signed by another key is refused" 1 "$DW" policy push "${remote[@]}" --name signed \
        "$TMP/other.json"
assert_grep "... naming the reason" wrong_key "$TMP/out"
assert_eq "only the signed upload was stored" 1 "$(api "$URL/v1/admin/policies" | jq '.runtime.signed.latest')"
printf '{"driftwatch_boot_policy": 1, "pcrs": {}}' >"$TMP/boot.json"
assert_eq "boot policies are not concerned" 201 "$(api -o /dev/null -w '%{http_code}' -X POST \
        --data-binary "@$TMP/boot.json" "$URL/v1/admin/policies/boot/fw")"
