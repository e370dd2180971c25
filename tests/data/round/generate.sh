#!/usr/bin/env bash
# Regenerates the attestation-round fixtures of tests/unit/test-attest-round.c: real evidence from a private swtpm,
# the IMA simulator (tests/tools/ima-sim, which extends PCR 10 in lockstep with the log it writes) and the gateway
# CLI (driftwatch tpm enroll|quote|nv), in two boot epochs of one gateway:
#
#   ak.pem ak.pub                 the gateway's AK (driftwatch tpm enroll: ECC P-256, persisted at 0x81010002)
#   bios.log                      the SeaBIOS boot event log of ../shared/testdata/realkernel-ima-ng-seabios; its
#                                 sha1 and sha256 digests are extended into the swtpm's PCRs 0-7 at every boot, so
#                                 that it replays to the quoted PCRs
#   nonces                        "roundN HEX" lines: the nonce of each quote
#   epoch 1 (first boot):
#     round1.{attest,sig,pcrs} round1.ima           quote of sha256:0-10; IMA log: boot_aggregate + 4 files
#     round1-nv.{attest,sig} round1-nv.head        NV_Certify of the event-chain head (nonce round1) and its value
#     round2.{attest,sig,pcrs} round2.ima           2 more entries, the quote, then 3 more entries after it (the log
#                                                   runs ahead of the quote: 10 entries, the quote covers 7)
#     round2-nv.{attest,sig} round2-nv.head
#     round3.{attest,sig,pcrs} round3.ima           /usr/local/bin/evil (not in the policy) and one more: 12 entries
#   epoch 2 (after a TPM reset: resetCount + 1, PCRs reset, a fresh IMA log):
#     round4.{attest,sig,pcrs} round4.ima           boot_aggregate + 2 files, quote of sha256:0-10
#     round5.{attest,sig,pcrs}                      the same PCRs quoted as sha256:0-7,10 only (no PCRs 8-9)
#     round6.{attest,sig,pcrs} round6.ima           40 files under /opt/unknown/ (not in the policy): 43 entries
#     round7.{attest,sig,pcrs}                      after something extended PCR 9 once IMA had started (so
#                                                   boot_aggregate and the boot log no longer match the quote)
#   nv.name                       the Name of the NV extend index (0x01800100) once written
#   policy.json                   runtime policy: every path the logs measure, except /usr/local/bin/evil
#   boot-policy.json              boot policy: golden sha256 PCRs 0-7 (from the boot log), the two EV_ACTION digests
#                                 allowed, Secure Boot expected off (SeaBIOS has none)
#
# Run from anywhere after `make` (it uses build/driftwatch and build/tests/tools/ima-sim, or $DW_BUILD): needs swtpm,
# swtpm_setup, swtpm_ioctl, tpm2-tools, jq, xxd.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
build=${DW_BUILD:-$src/build}
DW=$build/driftwatch
SIM=$build/tests/tools/ima-sim
BIOS=$src/../shared/testdata/realkernel-ima-ng-seabios/binary_bios_measurements
. "$src/tests/swtpm.sh"
work=$(mktemp -d)
trap 'swtpm_stop; rm -rf "$work"' EXIT

swtpm_start "$work/tpm"
export TPM2TOOLS_TCTI=$SWTPM_TCTI
ctrl_port=$((${SWTPM_TCTI##*port=} + 1))
out=$work/out
mkdir -p "$out"
SEL_ALL=sha256:0,1,2,3,4,5,6,7,8,9,10
SEL_MIN=sha256:0,1,2,3,4,5,6,7,10
declare -A NONCE=(
        [round1]=6472696674776174636820726f756e6431
        [round2]=6472696674776174636820726f756e6432
        [round3]=6472696674776174636820726f756e6433
        [round4]=6472696674776174636820726f756e6434
        [round5]=6472696674776174636820726f756e6435
        [round6]=6472696674776174636820726f756e6436
        [round7]=6472696674776174636820726f756e6437
)

# What firmware would have done: extend every event of the boot log into PCRs 0-7 (sha1 and sha256 banks).
firmware_boot() {
        "$DW" eventlog show --json "$BIOS" | jq -r '.events[] | select(.type != "EV_NO_ACTION")
                | "\(.pcr):sha1=\(.digests.sha1),sha256=\(.digests.sha256)"' | while read -r ext; do
                tpm2_pcrextend "$ext"
        done
}

sim() {
        "$SIM" --tcti "$SWTPM_TCTI" --log "$work/ima.log" "$@"
}

digest_of() { # a made-up file digest per path
        printf '%s' "$1" | sha256sum | cut -d' ' -f1
}

measure() {
        local args=()
        for p in "$@"; do args+=(digest "$p" "$(digest_of "$p")"); done
        sim "${args[@]}"
}

quote() { # NAME SELECTION
        sleep 0.1 # let the TPM clock move
        "$DW" tpm quote --tcti "$SWTPM_TCTI" --nonce "${NONCE[$1]}" --pcrs "$2" --attest "$out/$1.attest" \
                --signature "$out/$1.sig" --pcrs-out "$out/$1.pcrs"
}

nv_certify() { # NAME
        "$DW" tpm nv certify --tcti "$SWTPM_TCTI" --nonce "${NONCE[$1]}" --attest "$out/$1-nv.attest" \
                --signature "$out/$1-nv.sig"
        "$DW" tpm nv read --tcti "$SWTPM_TCTI" | xxd -r -p >"$out/$1-nv.head"
}

"$DW" tpm enroll --tcti "$SWTPM_TCTI" --ak-out "$out/ak.pem" --ak-pub-out "$out/ak.pub" >/dev/null
cp "$BIOS" "$out/bios.log"
chmod 644 "$out/bios.log"
for r in "${!NONCE[@]}"; do echo "$r ${NONCE[$r]}"; done | sort >"$out/nonces"

# --- epoch 1 ------------------------------------------------------------------------------------------------------
firmware_boot
"$DW" tpm nv define --tcti "$SWTPM_TCTI" >/dev/null
: >"$work/ima.log"
sim boot-aggregate
measure /usr/bin/bash /usr/lib/systemd/systemd /usr/sbin/sshd /etc/gateway.conf
"$DW" tpm nv extend --tcti "$SWTPM_TCTI" --data "$(printf 'events of round 1' | xxd -p)"
tpm2_nvreadpublic 0x01800100 | awk '/name:/ { print $2 }' | xxd -r -p >"$out/nv.name"
quote round1 $SEL_ALL
nv_certify round1
cp "$work/ima.log" "$out/round1.ima"

measure /usr/bin/ls /usr/bin/cat
"$DW" tpm nv extend --tcti "$SWTPM_TCTI" --data "$(printf 'events of round 2' | xxd -p)"
quote round2 $SEL_ALL
nv_certify round2
measure /usr/bin/grep /usr/bin/sed /usr/bin/awk
cp "$work/ima.log" "$out/round2.ima"

measure /usr/local/bin/evil /usr/bin/true
quote round3 $SEL_ALL
cp "$work/ima.log" "$out/round3.ima"

# --- epoch 2: TPM Reset (orderly): Shutdown(CLEAR), _TPM_Init, Startup(CLEAR) ------------------------------------
tpm2_shutdown -c
swtpm_ioctl --tcp 127.0.0.1:$ctrl_port -i
tpm2_startup -c
firmware_boot
: >"$work/ima.log"
sim boot-aggregate
measure /usr/bin/bash /usr/sbin/sshd
quote round4 $SEL_ALL
quote round5 $SEL_MIN
cp "$work/ima.log" "$out/round4.ima"
measure $(for i in $(seq 1 40); do echo /opt/unknown/tool$i; done)
quote round6 $SEL_ALL
cp "$work/ima.log" "$out/round6.ima"
tpm2_pcrextend "9:sha256=$(printf 'late PCR 9' | sha256sum | cut -d' ' -f1)"
quote round7 $SEL_ALL

# --- policies -----------------------------------------------------------------------------------------------------
{
        echo '{"driftwatch_runtime_policy": 1, "meta": {"name": "round fixtures"}, "digests": {'
        first=1
        for p in /usr/bin/bash /usr/lib/systemd/systemd /usr/sbin/sshd /etc/gateway.conf /usr/bin/ls /usr/bin/cat \
                /usr/bin/grep /usr/bin/sed /usr/bin/awk /usr/bin/true; do
                [ $first = 1 ] || echo ','
                first=0
                printf '  "%s": ["sha256:%s"]' "$p" "$(digest_of "$p")"
        done
        echo
        echo '}}'
} >"$out/policy.json"
"$DW" eventlog replay --json "$BIOS" | jq --argjson ev "$("$DW" eventlog show --json "$BIOS" |
        jq '[.events[] | select(.type == "EV_ACTION") | "sha256:" + .digests.sha256]')" \
        '{driftwatch_boot_policy: 1, meta: {name: "seabios round fixtures"},
          pcrs: {sha256: (.pcrs.sha256 | with_entries(select((.key | tonumber) < 8)))},
          events: {EV_ACTION: $ev}, secure_boot: false}' >"$out/boot-policy.json"

# Sanity: the quotes verify, and the logs replay to them.
for r in "${!NONCE[@]}"; do
        "$DW" quote verify --ak "$out/ak.pem" --nonce "${NONCE[$r]}" --attest "$out/$r.attest" \
                --signature "$out/$r.sig" --pcrs "$out/$r.pcrs" >/dev/null
done

find "$here" -mindepth 1 ! -name generate.sh -delete
cp -r "$out"/. "$here"/
echo "fixtures regenerated in $here"
