#!/usr/bin/env bash
# driftwatch policy merge|diff|sign|verify|canonical|import-keylime|export-keylime: merging, reviewing (human and
# JSON, exit 0/1), signing with ECDSA P-256 and RSA keys (enveloped and detached), verification by us and by openssl
# over the documented canonical form, a tampered signed policy refused; Keylime's format both ways and back.
. "$(dirname "$0")/lib.sh"

H64() { printf "%064d" "$1"; }
H40() { printf "%040d" "$1"; }

cat >"$TMP/a.json" <<EOF
{"driftwatch_runtime_policy": 1, "meta": {"name": "base", "version": "1"},
 "digests": {"/usr/bin/ls": ["sha256:$(H64 1)"], "/usr/bin/cat": ["SHA256:$(H64 2)", "sha256:$(H64 2)"],
             "/usr/bin/old": ["sha1:$(H40 3)"]},
 "excludes": ["^/tmp/"], "ima_buf": {".ima": ["sha256:$(H64 4)"]}}
EOF
cat >"$TMP/b.json" <<EOF
{"driftwatch_runtime_policy": 1, "meta": {"name": "app"},
 "digests": {"/usr/bin/ls": ["sha256:$(H64 5)"], "/opt/app/run": ["sha512:$(printf '%0128d' 6)"]},
 "excludes": ["^/tmp/", "^/var/log/"], "options": {"allow_violations": true}}
EOF

# ---- merge ----
assert_exit "merge" 0 "$DW" policy merge -o "$TMP/m.json" "$TMP/a.json" "$TMP/b.json"
assert_eq "merge: digests united" "2 1 1" \
        "$(jq -r '[(.digests["/usr/bin/ls"] | length), (.digests["/usr/bin/cat"] | length), (.digests["/opt/app/run"] | length)] | join(" ")' "$TMP/m.json")"
assert_eq "merge: excludes united, order kept" '["^/tmp/","^/var/log/"]' "$(jq -c .excludes "$TMP/m.json")"
assert_eq "merge: options" '{"allow_violations":true,"require_signatures":false}' "$(jq -c .options "$TMP/m.json")"
assert_eq "merge: meta" "base driftwatch policy merge 2" \
        "$(jq -r '.meta | "\(.name) \(.generator) \(.merged_from | length)"' "$TMP/m.json")"
assert_exit "merge: output validates" 0 "$DW" policy validate "$TMP/m.json"

# ---- diff ----
assert_exit "diff: same policy" 0 "$DW" policy diff "$TMP/a.json" "$TMP/a.json"
assert_grep "diff: same" "^same: 0 added, 0 removed, 0 changed$" "$TMP/out"
assert_exit "diff: different" 1 "$DW" policy diff "$TMP/a.json" "$TMP/b.json"
assert_grep "diff: added path" "^\+ /opt/app/run sha512:" "$TMP/out"
assert_grep "diff: removed path" "^- /usr/bin/old sha1:" "$TMP/out"
assert_grep "diff: changed path" "^~ /usr/bin/ls \+sha256:0+5 -sha256:0+1$" "$TMP/out"
assert_grep "diff: removed ima_buf name" "^- ima_buf .ima sha256:" "$TMP/out"
assert_grep "diff: option" "^~ option allow_violations false -> true$" "$TMP/out"
assert_grep "diff: summary" "^different: 1 added, 3 removed, 1 changed$" "$TMP/out"
assert_exit "diff --json: different" 1 "$DW" policy diff --json "$TMP/a.json" "$TMP/b.json"
assert_eq "diff --json: shape" "false 1 3 1 /opt/app/run /usr/bin/ls" \
        "$(jq -r '"\(.same) \(.counts.added) \(.counts.removed) \(.counts.changed) \(.digests.added | keys[0]) \(.digests.changed | keys[0])"' "$TMP/out")"
assert_eq "diff --json: excludes" '{"added":["^/var/log/"],"removed":[]}' "$(jq -c .excludes "$TMP/out")"
assert_exit "diff: bad input" 2 "$DW" policy diff "$TMP/a.json" "$TMP/nope.json"

# ---- sign and verify ----
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/ec.key" 2>/dev/null
openssl pkey -in "$TMP/ec.key" -pubout -out "$TMP/ec.pub"
openssl genrsa -out "$TMP/rsa.key" 2048 2>/dev/null
openssl pkey -in "$TMP/rsa.key" -pubout -out "$TMP/rsa.pub"
for k in ec rsa; do
        assert_exit "$k: sign" 0 "$DW" policy sign --key "$TMP/$k.key" -o "$TMP/s-$k.json" "$TMP/m.json"
        assert_exit "$k: verify" 0 "$DW" policy verify --pubkey "$TMP/$k.pub" "$TMP/s-$k.json"
        assert_grep "$k: valid" "s-$k.json: valid: signed by key [0-9a-f]{64}" "$TMP/out"
        assert_exit "$k: the signed policy loads as any other" 0 "$DW" policy validate "$TMP/s-$k.json"
        # Anyone can check it with openssl over the canonical form (which jq -cSj prints too, for such policies).
        "$DW" policy canonical "$TMP/s-$k.json" >"$TMP/canon"
        jq -cSj 'del(.meta.signature)' "$TMP/s-$k.json" >"$TMP/canon-jq"
        assert_eq "$k: canonical form = jq -cSj" "$(sha256sum <"$TMP/canon")" "$(sha256sum <"$TMP/canon-jq")"
        jq -r .meta.signature.value "$TMP/s-$k.json" | base64 -d >"$TMP/sig"
        assert_exit "$k: openssl verifies the enveloped signature" 0 openssl dgst -sha256 -verify "$TMP/$k.pub" \
                -signature "$TMP/sig" "$TMP/canon"
        assert_eq "$k: keyid is the SHA-256 of the DER public key" \
                "$(openssl pkey -pubin -in "$TMP/$k.pub" -outform DER | sha256sum | cut -d' ' -f1)" \
                "$(jq -r .meta.signature.keyid "$TMP/s-$k.json")"
        # Reformatting does not matter; changing content does.
        jq . "$TMP/s-$k.json" >"$TMP/reformatted.json"
        assert_exit "$k: reformatted still valid" 0 "$DW" policy verify --pubkey "$TMP/$k.pub" "$TMP/reformatted.json"
        jq '.digests["/usr/bin/evil"] = ["sha256:'"$(H64 9)"'"]' "$TMP/s-$k.json" >"$TMP/tampered.json"
        assert_exit "$k: tampered refused" 1 "$DW" policy verify --pubkey "$TMP/$k.pub" "$TMP/tampered.json"
        assert_grep "$k: tampered: clear error" "mismatch: .*changed after it was signed" "$TMP/out"
        jq '.options.allow_violations = false' "$TMP/s-$k.json" >"$TMP/tampered2.json"
        assert_exit "$k: option changed refused" 1 "$DW" policy verify --pubkey "$TMP/$k.pub" "$TMP/tampered2.json"
        jq '.meta.name = "renamed"' "$TMP/s-$k.json" >"$TMP/tampered3.json"
        assert_exit "$k: meta changed refused" 1 "$DW" policy verify --pubkey "$TMP/$k.pub" "$TMP/tampered3.json"
done
assert_exit "wrong key" 1 "$DW" policy verify --pubkey "$TMP/rsa.pub" "$TMP/s-ec.json"
assert_grep "wrong key named" "wrong_key: signed by key [0-9a-f]{64}, not by this key" "$TMP/out"
assert_exit "unsigned" 1 "$DW" policy verify --pubkey "$TMP/ec.pub" "$TMP/m.json"
assert_grep "unsigned named" "unsigned: the policy is not signed" "$TMP/out"
jq '.meta.signature.value = "!!"' "$TMP/s-ec.json" >"$TMP/malformed.json"
assert_exit "malformed signature" 1 "$DW" policy verify --pubkey "$TMP/ec.pub" "$TMP/malformed.json"

assert_exit "detached: sign" 0 "$DW" policy sign --detached --key "$TMP/ec.key" -o "$TMP/m.sig" "$TMP/m.json"
"$DW" policy canonical -o "$TMP/m.canon" "$TMP/m.json"
assert_exit "detached: openssl verifies" 0 openssl dgst -sha256 -verify "$TMP/ec.pub" -signature "$TMP/m.sig" \
        "$TMP/m.canon"
assert_exit "detached: verify" 0 "$DW" policy verify --pubkey "$TMP/ec.pub" --signature "$TMP/m.sig" "$TMP/m.json"
assert_exit "detached: other policy refused" 1 "$DW" policy verify --pubkey "$TMP/ec.pub" --signature "$TMP/m.sig" \
        "$TMP/a.json"
openssl dgst -sha256 -sign "$TMP/rsa.key" -out "$TMP/m-rsa.sig" "$TMP/m.canon"
assert_exit "detached: openssl's signature verified by us" 0 "$DW" policy verify --pubkey "$TMP/rsa.pub" \
        --signature "$TMP/m-rsa.sig" "$TMP/m.json"

openssl genpkey -algorithm ed25519 -out "$TMP/ed.key" 2>/dev/null
assert_exit "unsupported key type" 2 "$DW" policy sign --key "$TMP/ed.key" -o "$TMP/x.json" "$TMP/m.json"
assert_exit "not a key" 2 "$DW" policy sign --key "$TMP/m.json" -o "$TMP/x.json" "$TMP/m.json"
jq '.meta.ratio = 1.5' "$TMP/m.json" >"$TMP/real.json"
assert_exit "a number JCS would write otherwise" 2 "$DW" policy sign --key "$TMP/ec.key" -o "$TMP/x.json" "$TMP/real.json"
assert_grep "number: where" "real.json: \\\$.meta.ratio: a number" "$TMP/err"
assert_eq "bad input: nothing written" no "$([ -e "$TMP/x.json" ] && echo yes || echo no)"

# ---- Keylime ----
b64=$(openssl pkey -pubin -in "$TMP/ec.pub" -outform DER | base64 -w0)
vk=$(jq -cn --arg k "$b64" '{".ima": ({pubkeys: [$k], keyids: [305419896]} | tojson)} | tojson')
jq -n --argjson vk "$vk" --arg a "$(printf 'a%.0s' {1..64})" --arg b "$(printf 'b%.0s' {1..40})" \
        --arg c "$(printf 'c%.0s' {1..128})" --arg e "$(printf 'e%.0s' {1..64})" '
  {meta: {version: 1, generator: 1, timestamp: "2024-05-01 10:00:00"}, release: 7,
   digests: {"/usr/bin/ls": [$a, $b], "/usr/lib/x.so": [$c], "boot_aggregate": [$b]},
   excludes: ["/tmp/.*", "\\d+\\.log$", "/var/(?:log|cache)/", "/home/[^/]+/\\.cache/", "foo{,3}x", "a.*?b"],
   keyrings: {".ima": [$e]}, ima: {ignored_keyrings: [".builtin_trusted_keys"], log_hash_alg: "sha256",
   dm_policy: null}, "ima-buf": {"kernel_version": [$a]}, "verification-keys": $vk}' >"$TMP/kl.json"
assert_exit "keylime: import" 0 "$DW" policy import-keylime -o "$TMP/k1.json" "$TMP/kl.json"
assert_grep "keylime: boot_aggregate dropped with a warning" "warning: .*boot_aggregate.*dropped" "$TMP/err"
assert_eq "keylime: algorithms from the length" "sha1 sha256 sha512" \
        "$(jq -r '[.digests[][] | split(":")[0]] | sort | join(" ")' "$TMP/k1.json")"
assert_eq "keylime: excludes converted" \
        '["/tmp/.*","[0-9]+\\.log$","/var/(log|cache)/","/home/[^/]+/\\.cache/","foo{0,3}x","a.*b","^\\.builtin_trusted_keys$"]' \
        "$(jq -c .excludes "$TMP/k1.json")"
assert_eq "keylime: keyrings and ima-buf into ima_buf" ".ima kernel_version" "$(jq -r '.ima_buf | keys | join(" ")' "$TMP/k1.json")"
assert_eq "keylime: verification key with its keyid" "12345678" "$(jq -r '.keys[0].keyid' "$TMP/k1.json")"
assert_exit "keylime: export" 0 "$DW" policy export-keylime -o "$TMP/kl2.json" "$TMP/k1.json"
assert_eq "keylime: exported shape" "1 7 sha256 .ima kernel_version" \
        "$(jq -r '"\(.meta.version) \(.release) \(.ima.log_hash_alg) \(.keyrings | keys[0]) \(.["ima-buf"] | keys[0])"' "$TMP/kl2.json")"
assert_eq "keylime: digests as Keylime has them (without boot_aggregate)" \
        "$(jq -cS '.digests | del(.boot_aggregate) | map_values(sort)' "$TMP/kl.json")" \
        "$(jq -cS '.digests | map_values(sort)' "$TMP/kl2.json")"
assert_exit "keylime: round trip imports again" 0 "$DW" policy import-keylime -o "$TMP/k2.json" "$TMP/kl2.json"
assert_exit "keylime: round trip is the same policy" 0 "$DW" policy diff "$TMP/k1.json" "$TMP/k2.json"
if command -v python3 >/dev/null; then
        assert_exit "keylime: exported excludes compile as Python regexes, combined as Keylime does" 0 python3 -c '
import json, re, sys
x = json.load(open(sys.argv[1]))["excludes"]
r = re.compile("(" + ")|(".join(x) + ")")
assert r.match("/tmp/a") and r.match("12.log") and r.match("/var/cache/x") and not r.match("/usr/bin/ls")' \
                "$TMP/kl2.json"
fi
jq '.excludes += ["(?=lookahead)"]' "$TMP/kl.json" >"$TMP/kl-bad.json"
assert_exit "keylime: unconvertible exclude refused" 2 "$DW" policy import-keylime -o "$TMP/x.json" "$TMP/kl-bad.json"
assert_grep "keylime: names the exclude" 'kl-bad.json: \$\.excludes\[6\]: "\(\?=lookahead\)": ' "$TMP/err"
assert_exit "keylime: --drop-bad-excludes" 0 "$DW" policy import-keylime --drop-bad-excludes -o "$TMP/k3.json" \
        "$TMP/kl-bad.json"
assert_grep "keylime: dropped with a warning" "warning: \\\$.excludes\[6\].*left out" "$TMP/err"
jq '.meta.version = 2' "$TMP/kl.json" >"$TMP/kl-v2.json"
assert_exit "keylime: other version refused" 2 "$DW" policy import-keylime -o "$TMP/x.json" "$TMP/kl-v2.json"
jq '.digests["/x"] = ["abc"]' "$TMP/kl.json" >"$TMP/kl-hex.json"
assert_exit "keylime: bad digest refused" 2 "$DW" policy import-keylime -o "$TMP/x.json" "$TMP/kl-hex.json"
assert_grep "keylime: bad digest named" 'kl-hex.json: \$\.digests\["/x"\]: item 0' "$TMP/err"
jq '.options.require_signatures = true | .keys = []' "$TMP/k1.json" >"$TMP/req.json"
assert_exit "keylime: require_signatures not exportable" 2 "$DW" policy export-keylime -o "$TMP/x.json" "$TMP/req.json"
assert_exit "keylime: --lossy" 0 "$DW" policy export-keylime --lossy -o "$TMP/x2.json" "$TMP/req.json"
assert_eq "keylime: bad input wrote nothing" no "$([ -e "$TMP/x.json" ] && echo yes || echo no)"
