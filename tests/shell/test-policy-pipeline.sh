#!/usr/bin/env bash
# ima-policy/manifest-pipeline.sh offline: create from an image, diff against the previous release, sign and
# verify, check sample gateway logs; a sample log the new policy would turn untrusted stops it before publishing.
. "$(dirname "$0")/lib.sh"

PIPE=$DW_SRCDIR/ima-policy/manifest-pipeline.sh
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $(($1 >> 24)); }
hexesc() { sed 's/../\\x&/g'; }
ima_ng_line() {
        {
                printf "$(le32 40)"; printf 'sha256:\0'; printf "$(printf %s "$2" | hexesc)"
                printf "$(le32 $((${#1} + 1)))"; printf '%s\0' "$1"
        } >"$TMP/td"
        echo "10 $(sha1sum "$TMP/td" | cut -d' ' -f1) ima-ng sha256:$2 $1"
}

mkdir -p "$TMP/img/usr/bin" "$TMP/samples" "$TMP/rel"
printf 'v1\n' >"$TMP/img/usr/bin/app"
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/key.pem" 2>/dev/null
export DRIFTWATCH=$DW
assert_exit "pipeline: release 1" 0 bash "$PIPE" --image "$TMP/img" --name gw --version 1 --key "$TMP/key.pem" \
        --out "$TMP/rel"
assert_exit "pipeline: release 1 verifies" 0 "$DW" policy verify --pubkey "$TMP/rel/gw.pub.pem" "$TMP/rel/gw-1.signed.json"

printf 'v2\n' >"$TMP/img/usr/bin/app"
ima_ng_line /usr/bin/app "$(sha256sum "$TMP/img/usr/bin/app" | cut -d' ' -f1)" >"$TMP/samples/gw-new_ascii_runtime_measurements"
assert_exit "pipeline: release 2, sample logs trusted" 0 bash "$PIPE" --image "$TMP/img" --name gw --version 2 \
        --key "$TMP/key.pem" --out "$TMP/rel" --previous "$TMP/rel/gw-1.json" --sample-logs "$TMP/samples"
assert_grep "pipeline: diff kept for review" "^~ /usr/bin/app " "$TMP/rel/gw-2.diff.txt"
assert_grep "pipeline: samples checked" "every sample log is trusted" "$TMP/out"

ima_ng_line /usr/bin/app "$(printf 'v1\n' | sha256sum | cut -d' ' -f1)" >"$TMP/samples/gw-old_ascii_runtime_measurements"
assert_exit "pipeline: a gateway still on v1 stops it" 1 bash "$PIPE" --image "$TMP/img" --name gw --version 3 \
        --key "$TMP/key.pem" --out "$TMP/rel" --sample-logs "$TMP/samples"
assert_grep "pipeline: names the log" "would be untrusted: .*gw-old" "$TMP/out"
