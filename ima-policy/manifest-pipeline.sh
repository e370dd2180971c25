#!/usr/bin/env bash
# The manifest pipeline: run by a build system after a signed firmware/rootfs build, it turns the built image into a
# signed runtime policy, shows what changed since the last release, checks which gateways it would turn untrusted,
# and only then publishes it. See ima-policy/README.md ("The manifest pipeline").
#
#   manifest-pipeline.sh --image DIR --name NAME --version V --key KEY.pem [--out DIR] [--previous POLICY]
#                        [--exclude GLOB]... [--sample-logs DIR] [--base POLICY]...
#                        [--verifier URL --token-file F [--cacert CA.pem] [--group G]]
#
# Steps (each stops the pipeline on failure, exit 1; nothing is published before every check passed):
#   1. create   driftwatch policy create --from-tree IMAGE (+ merge of --base policies: e.g. a policy of the
#               gateway's other read-only partitions)
#   2. review   driftwatch policy diff PREVIOUS NEW (human and JSON, kept next to the policy for the release notes)
#   3. sign     driftwatch policy sign --key KEY.pem, then verify with the public key, as the verifier will
#   4. impact   offline: `driftwatch policy check` of every IMA log in --sample-logs (logs captured on test gateways
#               running the new image; a name with "ascii" in it is read as an ascii log) must be trusted; online (with --verifier): `driftwatch policy impact`, which
#               dry-runs the new policy against the evidence the verifier holds: no gateway may turn untrusted
#   5. publish  with --verifier: POST /v1/admin/policies/runtime/NAME (a new version), then pin --group to it with
#               PUT /v1/admin/groups/G/policies. Groups should follow pinned versions, so that a push alone changes
#               nothing until this step assigns it.
set -euo pipefail

DW=${DRIFTWATCH:-driftwatch}
image= name= version= key= out=. previous= samples= verifier= token= cacert= group=
excludes=() bases=()

die() {
        echo "manifest-pipeline: $*" >&2
        exit 1
}

while [ $# -gt 0 ]; do
        case $1 in
        --image) image=$2; shift ;;
        --name) name=$2; shift ;;
        --version) version=$2; shift ;;
        --key) key=$2; shift ;;
        --out) out=$2; shift ;;
        --previous) previous=$2; shift ;;
        --exclude) excludes+=(--exclude "$2"); shift ;;
        --base) bases+=("$2"); shift ;;
        --sample-logs) samples=$2; shift ;;
        --verifier) verifier=$2; shift ;;
        --token-file) token=$2; shift ;;
        --cacert) cacert=$2; shift ;;
        --group) group=$2; shift ;;
        -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
        esac
        shift
done
[ -n "$image" ] && [ -n "$name" ] && [ -n "$version" ] && [ -n "$key" ] || die "--image, --name, --version and --key are required"
[ -z "$verifier" ] || [ -n "$token" ] || die "--verifier needs --token-file"
mkdir -p "$out"
policy=$out/$name-$version.json
signed=$out/$name-$version.signed.json

echo "== 1. create: $image"
"$DW" policy create --from-tree "$image" "${excludes[@]}" --name "$name" --policy-version "$version" \
        -o "$out/$name-$version.tree.json"
if [ ${#bases[@]} -gt 0 ]; then
        "$DW" policy merge --name "$name" --policy-version "$version" -o "$policy" "$out/$name-$version.tree.json" \
                "${bases[@]}"
else
        mv "$out/$name-$version.tree.json" "$policy"
fi

echo "== 2. review"
if [ -n "$previous" ]; then
        rc=0
        "$DW" policy diff "$previous" "$policy" >"$out/$name-$version.diff.txt" || rc=$?
        [ "$rc" -le 1 ] || die "policy diff failed"
        "$DW" policy diff --json "$previous" "$policy" >"$out/$name-$version.diff.json" || true
        tail -1 "$out/$name-$version.diff.txt"
else
        echo "no --previous policy: first release"
fi

echo "== 3. sign"
"$DW" policy sign --key "$key" -o "$signed" "$policy"
openssl pkey -in "$key" -pubout -out "$out/$name.pub.pem" 2>/dev/null
"$DW" policy verify --pubkey "$out/$name.pub.pem" "$signed"

echo "== 4. impact"
if [ -n "$samples" ]; then
        bad=0
        for log in "$samples"/*; do
                [ -f "$log" ] || continue
                fmt=()
                case ${log##*/} in *ascii*) fmt=(--ascii) ;; esac # else as `driftwatch ima` guesses: binary
                if ! "$DW" policy check --policy "$signed" --ima-log "$log" "${fmt[@]}" >"$out/check.txt" 2>&1; then
                        echo "would be untrusted: $log"
                        sed 's/^/    /' "$out/check.txt"
                        bad=$((bad + 1))
                fi
        done
        rm -f "$out/check.txt"
        [ "$bad" -eq 0 ] || die "$bad sample gateway log(s) would be untrusted under the new policy: not published"
        echo "every sample log is trusted under the new policy"
fi
curl_admin() { # METHOD PATH [BODY-FILE]
        local args=(-fsS -X "$1" -H "Authorization: Bearer $(cat "$token")" -H 'Content-Type: application/json')
        [ -z "$cacert" ] || args+=(--cacert "$cacert")
        [ $# -lt 3 ] || args+=(--data-binary "@$3")
        curl "${args[@]}" "$verifier$2"
}
if [ -n "$verifier" ]; then
        # The gateways this release would reach (--group: an assignment to it; else a push of NAME's next version),
        # judged by the verifier against the IMA entries it holds of their current boot.
        rc=0
        "$DW" policy impact --verifier "$verifier" --token-file "$token" ${cacert:+--ca "$cacert"} \
                ${group:+--group "$group"} --name "$name" "$signed" || rc=$?
        [ "$rc" -ne 1 ] || die "the verifier predicts gateways turning untrusted under the new policy: not published"
        [ "$rc" -eq 0 ] || die "policy impact failed (exit $rc): not published"
fi

echo "== 5. publish"
if [ -z "$verifier" ]; then
        echo "no --verifier: $signed is ready to publish"
        exit 0
fi
answer=$(curl_admin POST "/v1/admin/policies/runtime/$name" "$signed")
published=$(printf '%s' "$answer" | jq -r .version)
echo "published $name version $published"
if [ -n "$group" ]; then
        printf '{"runtime": {"name": "%s", "version": %s}}' "$name" "$published" >"$out/assign.json"
        curl_admin PUT "/v1/admin/groups/$group/policies" "$out/assign.json" >/dev/null
        echo "group $group now follows $name version $published"
fi
