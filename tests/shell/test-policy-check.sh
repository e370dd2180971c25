#!/usr/bin/env bash
# driftwatch policy check|validate: the real kernel's log and ima-gen's logs judged against policies built from
# their own entries (with jq, from `ima show --json`), exit codes 0/1/2, the JSON shape, and ima-sig entries signed by
# evmctl, verified by us and by evmctl ima_measurement --verify-sig.
. "$(dirname "$0")/lib.sh"

GEN=$DW_BUILD/tests/tools/ima-gen
KEYS=$DW_SRCDIR/tests/data/policy

# policy_of LOG [JQ-FILTER-ON-THE-POLICY]: a policy accepting every file digest and buffer of LOG.
policy_of() {
        local log=$1 extra=${2:-.}
        "$DW" ima show --json "$log" | jq "$(cat <<'EOF'
[.entries[] | select((.violation | not) and .name != "boot_aggregate" and .digest != null)] as $e
| {driftwatch_runtime_policy: 1,
   meta: {name: "from the log itself", version: "1", created: "2026-11-23T10:00:00Z", generator: "jq"},
   digests: (reduce ($e[] | select(.buf == null)) as $x ({}; .[$x.name] += [$x.digest_alg + ":" + $x.digest])),
   ima_buf: (reduce ($e[] | select(.buf != null)) as $x ({}; .[$x.name] += [$x.digest_alg + ":" + $x.digest]))}
EOF
)" | jq "$extra"
}

# check_json NAME WANT-EXIT POLICY LOG [OPTIONS...]: runs check --json, keeps the output in $TMP/check.json.
check_json() {
        local name=$1 want=$2 policy=$3 log=$4
        shift 4
        assert_exit "$name: exit $want" "$want" "$DW" policy check --json --policy "$policy" --ima-log "$log" "$@"
        cp "$TMP/out" "$TMP/check.json"
}

# The shape of the JSON: the verdict, the entry count, and each failure's fields and types.
assert_shape() {
        if jq -e '(.verdict == "trusted" or .verdict == "untrusted") and (.entries | type) == "number"
                  and (.failures | type) == "array" and (.counts | type) == "object"
                  and ((.failures | length) == 0) == (.verdict == "trusted")
                  and all(.failures[]; (.index | type) == "number" and (.path | type) == "string"
                          and (.digest | type) == "string" and (.reason | type) == "string"
                          and (.detail | type) == "string")
                  and ([.counts[]] | add) == .entries' "$TMP/check.json" >/dev/null; then
                ok "$1: JSON shape"
        else
                fail "$1: JSON shape: $(head -c 400 "$TMP/check.json")"
        fi
}

# ---- the real kernel's log ----

policy_of "$REAL/binary_runtime_measurements" >"$TMP/real.json"
policy_of "$REAL/binary_runtime_measurements" '.options.allow_violations = true' >"$TMP/real-allow.json"
policy_of "$REAL/binary_runtime_measurements" 'del(.digests["/mnt/bin/hello.sh"])' >"$TMP/real-no-hello.json"
policy_of "$REAL/binary_runtime_measurements" \
        '.options.allow_violations = true | .digests["/mnt/lib/crc7.ko"] = ["sha256:" + ("0" * 64)]' \
        >"$TMP/real-crc7.json"
policy_of "$REAL/binary_runtime_measurements" \
        'del(.digests["/mnt/bin/hello.sh"]) | .excludes = ["^/mnt/bin/h", "^/mnt/etc/motd$"]' >"$TMP/real-excl.json"

for f in binary_runtime_measurements ascii_runtime_measurements; do
        log=$REAL/$f
        check_json "$f: own policy, violation refused" 1 "$TMP/real.json" "$log"
        assert_shape "$f: untrusted"
        assert_eq "$f: verdict" untrusted "$(jq -r .verdict "$TMP/check.json")"
        assert_eq "$f: entries" 11 "$(jq -r .entries "$TMP/check.json")"
        assert_eq "$f: the one failure" "9 /mnt/etc/motd violation sha256:$(printf '%064d' 0)" \
                "$(jq -r '.failures[] | "\(.index) \(.path) \(.reason) \(.digest)"' "$TMP/check.json")"
        assert_eq "$f: counts" '{"accept":9,"boot_aggregate":1,"violation":1}' "$(jq -c .counts "$TMP/check.json")"

        check_json "$f: allow_violations" 0 "$TMP/real-allow.json" "$log"
        assert_shape "$f: trusted"
        assert_eq "$f: trusted verdict" "trusted 0" "$(jq -r '"\(.verdict) \(.failures | length)"' "$TMP/check.json")"
        assert_eq "$f: violation_allowed counted" 1 "$(jq -r .counts.violation_allowed "$TMP/check.json")"

        check_json "$f: one path removed" 1 "$TMP/real-no-hello.json" "$log"
        assert_eq "$f: the removed path is named" "2 /mnt/bin/hello.sh not_in_allowlist" \
                "$(jq -r '.failures[] | select(.reason != "violation") | "\(.index) \(.path) \(.reason)"' \
                        "$TMP/check.json")"

        check_json "$f: a changed digest" 1 "$TMP/real-crc7.json" "$log"
        crc7=sha256:53573125af25e0952542b6a7f680c66f821b89b90090ec47695c4c880eeac642
        assert_eq "$f: digest_mismatch names path and digest" "7 /mnt/lib/crc7.ko digest_mismatch $crc7" \
                "$(jq -r '.failures[] | "\(.index) \(.path) \(.reason) \(.digest)"' "$TMP/check.json")"

        check_json "$f: excludes" 0 "$TMP/real-excl.json" "$log"
        assert_eq "$f: excluded counted" 2 "$(jq -r .counts.excluded "$TMP/check.json")"
done

# Text output: one line per failure, then the verdict.
assert_exit "text output: exit 1" 1 "$DW" policy check --policy "$TMP/real.json" \
        --ima-log "$REAL/ascii_runtime_measurements"
assert_grep "text: the failure line" "^entry 9: /mnt/etc/motd sha256:0{64}: violation: " "$TMP/out"
assert_grep "text: the verdict line" "^untrusted: 11 entries, 1 failure \(accept 9, boot_aggregate 1, violation 1\)$" \
        "$TMP/out"
assert_exit "text output: trusted" 0 "$DW" policy check --policy "$TMP/real-allow.json" \
        --ima-log "$REAL/binary_runtime_measurements"
assert_grep "text: trusted" "^trusted: 11 entries, 0 failures" "$TMP/out"

# ---- ima-gen: every template, buffers, violations ----

for fmt in binary ascii; do
        "$GEN" --format $fmt --rounds 3 "$TMP/gen.$fmt" || fail "ima-gen --format $fmt"
        "$DW" ima show --json $([ $fmt = ascii ] && echo --ascii) "$TMP/gen.$fmt" >"$TMP/gen-show.json"
        n=$(jq '.entries | length' "$TMP/gen-show.json")
        jq "$(cat <<'EOF'
[.entries[] | select((.violation | not) and .digest != null)] as $e
| {driftwatch_runtime_policy: 1,
   digests: (reduce ($e[] | select(.buf == null)) as $x ({}; .[$x.name] += [$x.digest_alg + ":" + $x.digest])),
   ima_buf: (reduce ($e[] | select(.buf != null)) as $x ({}; .[$x.name] += [$x.digest_alg + ":" + $x.digest]))}
EOF
)" "$TMP/gen-show.json" >"$TMP/gen-policy.json"
        fmtopt=$([ $fmt = ascii ] && echo --ascii || echo --binary)
        check_json "ima-gen $fmt: violations refused" 1 "$TMP/gen-policy.json" "$TMP/gen.$fmt" $fmtopt
        assert_shape "ima-gen $fmt"
        assert_eq "ima-gen $fmt: entries" "$n" "$(jq -r .entries "$TMP/check.json")"
        assert_eq "ima-gen $fmt: only the 3 violations fail" "violation violation violation" \
                "$(jq -r '[.failures[].reason] | join(" ")' "$TMP/check.json")"
        assert_eq "ima-gen $fmt: buffers judged as ima-buf" 3 \
                "$(jq -r '[.entries[] | select(.buf != null)] | length' "$TMP/gen-show.json")"

        jq '.options.allow_violations = true' "$TMP/gen-policy.json" >"$TMP/gen-allow.json"
        check_json "ima-gen $fmt: trusted" 0 "$TMP/gen-allow.json" "$TMP/gen.$fmt" $fmtopt
        assert_shape "ima-gen $fmt: trusted"

        # Buffers are not files: moving the ima_buf names into digests makes them unknown buffers.
        jq '.options.allow_violations = true | .digests += .ima_buf | del(.ima_buf)' "$TMP/gen-policy.json" \
                >"$TMP/gen-nobuf.json"
        check_json "ima-gen $fmt: ima_buf_unknown" 1 "$TMP/gen-nobuf.json" "$TMP/gen.$fmt" $fmtopt
        assert_eq "ima-gen $fmt: 3 unknown buffers" "ima_buf_unknown ima_buf_unknown ima_buf_unknown" \
                "$(jq -r '[.failures[].reason] | join(" ")' "$TMP/check.json")"

        # Signatures required: ima-gen's ima-sig signatures are not real ones, every other file is unsigned.
        jq '.options = {allow_violations: true, require_signatures: true}' "$TMP/gen-policy.json" >"$TMP/gen-req.json"
        check_json "ima-gen $fmt: require_signatures" 1 "$TMP/gen-req.json" "$TMP/gen.$fmt" $fmtopt
        assert_eq "ima-gen $fmt: bad_signature for each ima-sig/ima-sigv2/ima-modsig entry" 9 \
                "$(jq -r '.counts.bad_signature' "$TMP/check.json")"
        assert_grep "ima-gen $fmt: unsigned files" '"unsigned":' "$TMP/check.json"
done

# ---- ima-sig entries signed by evmctl ----

le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $(($1 >> 24)); }
hexesc() { sed 's/../\\x&/g'; }
# ima_sig_entry NAME SHA256-HEX SIG-HEX: the template data of an ima-sig entry into $TMP/td, as the kernel hashes it.
ima_sig_entry() {
        local name=$1 dhex=$2 shex=$3
        {
                printf "$(le32 40)"
                printf 'sha256:\0'
                printf "$(printf %s "$dhex" | hexesc)"
                printf "$(le32 $((${#name} + 1)))"
                printf '%s\0' "$name"
                printf "$(le32 $((${#shex} / 2)))"
                printf "$(printf %s "$shex" | hexesc)"
        } >"$TMP/td"
}
# ascii_line NAME SHA256-HEX SIG-HEX and binary_entry NAME SHA256-HEX SIG-HEX: the entry in either log format.
ascii_line() {
        ima_sig_entry "$@"
        echo "10 $(sha1sum "$TMP/td" | cut -d' ' -f1) ima-sig sha256:$2 $1 $3"
}
binary_entry() {
        ima_sig_entry "$@"
        printf "$(le32 10)"
        printf "$(sha1sum "$TMP/td" | cut -d' ' -f1 | hexesc)"
        printf "$(le32 7)ima-sig"
        printf "$(le32 "$(stat -c %s "$TMP/td")")"
        cat "$TMP/td"
}

if command -v evmctl >/dev/null; then
        printf 'a signed gateway binary\n' >"$TMP/signed"
        evmctl ima_sign --key "$KEYS/rsa.key" --hashalgo sha256 --sigfile "$TMP/signed" >/dev/null 2>&1
        cp "$TMP/signed" "$TMP/signed-ec"
        evmctl ima_sign --key "$KEYS/ec.key" --hashalgo sha256 --sigfile "$TMP/signed-ec" >/dev/null 2>&1
        d=$(sha256sum "$TMP/signed" | cut -d' ' -f1)
        s=$(od -An -v -tx1 "$TMP/signed.sig" | tr -d ' \n')
        se=$(od -An -v -tx1 "$TMP/signed-ec.sig" | tr -d ' \n')
        [ "${d:0:1}" = e ] && bad="f${d:1}" || bad="e${d:1}" # another digest
        {
                ascii_line /usr/bin/signed "$d" "$s"
                ascii_line /usr/bin/signed-ec "$d" "$se"
        } >"$TMP/sig_ascii"
        ascii_line /usr/bin/tampered "$bad" "$s" >"$TMP/tampered_ascii"
        {
                binary_entry /usr/bin/signed "$d" "$s"
                binary_entry /usr/bin/signed-ec "$d" "$se"
        } >"$TMP/sig_binary"

        jq -n --rawfile rsa "$KEYS/rsa.pub.pem" --rawfile ec "$KEYS/ec.pub.pem" \
                '{driftwatch_runtime_policy: 1, keys: [{pem: $rsa, name: "rsa"}, {pem: $ec}],
                  options: {require_signatures: true}}' >"$TMP/keys.json"
        jq -n --rawfile ec "$KEYS/ec.pub.pem" \
                '{driftwatch_runtime_policy: 1, keys: [{pem: $ec}], options: {require_signatures: true}}' \
                >"$TMP/ec-only.json"
        check_json "evmctl-signed ascii log, both keys" 0 "$TMP/keys.json" "$TMP/sig_ascii" --ascii
        assert_eq "evmctl-signed: two accepted" 2 "$(jq -r .counts.accept "$TMP/check.json")"
        check_json "evmctl-signed binary log, both keys" 0 "$TMP/keys.json" "$TMP/sig_binary" --binary
        check_json "evmctl-signed, RSA key unknown" 1 "$TMP/ec-only.json" "$TMP/sig_binary" --binary
        assert_eq "evmctl-signed: unknown key is bad_signature, naming the path" "/usr/bin/signed bad_signature" \
                "$(jq -r '.failures[] | "\(.path) \(.reason)"' "$TMP/check.json")"
        check_json "evmctl signature over another digest" 1 "$TMP/keys.json" "$TMP/tampered_ascii" --ascii
        assert_grep "tampered: does not verify" \
                '"reason":"bad_signature","detail":"signature by key [0-9a-f]{8} does not verify"' "$TMP/check.json"

        # The peer on the same binary log (plus the tampered entry): evmctl ima_measurement --verify-sig with the
        # keys as DER certificates (what it reads), which it looks up by the same key ids.
        binary_entry /usr/bin/tampered "$bad" "$s" >>"$TMP/sig_binary"
        check_json "binary log with a tampered entry" 1 "$TMP/keys.json" "$TMP/sig_binary" --binary
        "$DW" policy check --json --policy "$TMP/keys.json" --ima-log "$TMP/sig_binary" --binary |
                jq -r '.failures[] | "\(.path) \(.reason)"' >"$TMP/ours"
        "$DW" ima replay --json "$TMP/sig_binary" >"$TMP/r.json"
        for i in $(seq 0 23); do
                v=$(printf '%064d' 0)
                [ "$i" -eq 10 ] && v=$(jq -r '.pcrs.sha256["10"]' "$TMP/r.json")
                printf 'PCR-%02d: %s\n' "$i" "$v"
        done >"$TMP/pcrs"
        openssl req -new -x509 -key "$KEYS/rsa.key" -subj /CN=rsa -days 1 -outform DER -out "$TMP/rsa.der" 2>/dev/null
        openssl req -new -x509 -key "$KEYS/ec.key" -subj /CN=ec -days 1 -outform DER -out "$TMP/ec.der" 2>/dev/null
        evmctl -v ima_measurement --pcrs "sha256,$TMP/pcrs" --verify-sig --key "$TMP/rsa.der,$TMP/ec.der" \
                "$TMP/sig_binary" 2>&1 | grep -E ': verification (is OK|failed)' >"$TMP/evm"
        assert_eq "evmctl --verify-sig: the same two good signatures" \
                "/usr/bin/signed: verification is OK
/usr/bin/signed-ec: verification is OK" "$(grep OK "$TMP/evm")"
        assert_eq "evmctl --verify-sig fails the tampered entry" "/usr/bin/tampered bad_signature" \
                "$(sed -n 's/: verification failed.*/ bad_signature/p' "$TMP/evm")"
        assert_eq "and so do we, that entry only" "/usr/bin/tampered bad_signature" "$(cat "$TMP/ours")"
else
        ok "evmctl not installed: signed-log checks skipped"
fi

# ---- bad input: exit 2, one line naming the file ----

assert_exit "missing --ima-log" 2 "$DW" policy check --policy "$TMP/real.json"
assert_exit "unknown verb" 2 "$DW" policy frobnicate
assert_exit "no such policy" 2 "$DW" policy check --policy "$TMP/nope.json" \
        --ima-log "$REAL/ascii_runtime_measurements"
assert_grep "no such policy: named" "nope.json: cannot read" "$TMP/err"

printf '{"driftwatch_runtime_policy": 1,\n "digests": {\n  "/a": ["sha256:00"\n}\n' >"$TMP/syntax.json"
assert_exit "policy syntax error" 2 "$DW" policy check --policy "$TMP/syntax.json" \
        --ima-log "$REAL/ascii_runtime_measurements"
assert_grep "syntax error: file, line and column" "^driftwatch: .*syntax.json: line 4, column [0-9]+: " "$TMP/err"
assert_eq "syntax error: one line" 1 "$(wc -l <"$TMP/err")"

jq '.digests["/mnt/bin/busybox"][0] = "sha256:abc"' "$TMP/real.json" >"$TMP/value.json"
assert_exit "policy value error" 2 "$DW" policy check --policy "$TMP/value.json" \
        --ima-log "$REAL/ascii_runtime_measurements"
assert_grep "value error: JSON path and why" \
        'value.json: \$\.digests\["/mnt/bin/busybox"\]\[0\]: sha256 digest has 3 hex digits, expected 64$' "$TMP/err"
jq '.driftwatch_runtime_policy = 2' "$TMP/real.json" >"$TMP/v2.json"
assert_exit "policy from the future" 2 "$DW" policy validate "$TMP/v2.json"
assert_grep "version named" "format version 2 is not supported" "$TMP/err"

head -c 150 "$REAL/binary_runtime_measurements" >"$TMP/cut_bin"
assert_exit "log cut mid-entry" 2 "$DW" policy check --policy "$TMP/real.json" --ima-log "$TMP/cut_bin" --binary
assert_grep "cut log: entry and offset" "cut_bin: entry 1 at byte offset 101: " "$TMP/err"
cp "$REAL/binary_runtime_measurements" "$TMP/flip_bin"
printf '\x00' | dd of="$TMP/flip_bin" bs=1 seek=60 conv=notrunc status=none
assert_exit "template digest mismatch" 2 "$DW" policy check --json --policy "$TMP/real.json" --ima-log "$TMP/flip_bin"
assert_grep "mismatch: entry 0" "flip_bin: entry 0 at byte offset 0: .*digest" "$TMP/err"
assert_eq "bad input: nothing on stdout" 0 "$(wc -c <"$TMP/out")"

# ---- validate ----

assert_exit "validate" 0 "$DW" policy validate "$TMP/real-excl.json"
assert_grep "validate: summary" '^  7 paths, 8 digests, 2 excludes, 0 keys, 0 ima_buf names$' "$TMP/out"
assert_exit "validate --json" 0 "$DW" policy validate --json "$TMP/real.json"
assert_eq "validate --json: counts" "from the log itself 8 9" "$(jq -r '"\(.name) \(.paths) \(.digests)"' "$TMP/out")"
assert_exit "validate the documented example" 0 "$DW" policy validate "$KEYS/example.json"
assert_grep "example: summary" '"gateway-base" version 2026.11.3$' "$TMP/out"
