#!/usr/bin/env bash
# Attestation rounds live against a software TPM: a gateway (swtpm + the IMA simulator + `driftwatch tpm`) answers
# nonces round after round, across a reboot; the verifier's decision (tests/tools/round-check over lib/attest-round)
# resumes each time from the state blob the previous round wrote, as the verifier does from its database.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"
SIM=$DW_BUILD/tests/tools/ima-sim
CHECK=$DW_BUILD/tests/tools/round-check
BIOS=$DW_SRCDIR/tests/data/round/bios.log

swtpm_start "$TMP/tpm" || { fail "swtpm did not start"; exit 1; }
trap 'swtpm_stop; rm -rf "$TMP"' EXIT
ctrl_port=$((${SWTPM_TCTI##*port=} + 1))
LOG=$TMP/binary_runtime_measurements
STATE=$TMP/state.blob

# The firmware's part of a boot: the boot log's digests into PCRs 0-7.
firmware_boot() {
        "$DW" eventlog show --json "$BIOS" | jq -r '.events[] | select(.type != "EV_NO_ACTION")
                | "\(.pcr):sha1=\(.digests.sha1),sha256=\(.digests.sha256)"' | while read -r ext; do
                tpm2_pcrextend -T "$SWTPM_TCTI" "$ext"
        done
}

digest_of() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

measure() {
        local args=()
        for p in "$@"; do args+=(digest "$p" "$(digest_of "$p")"); done
        "$SIM" --tcti "$SWTPM_TCTI" --log "$LOG" "${args[@]}"
}

round=0
# gateway_quote: the gateway answers a fresh nonce (NV extend of its event chain, quote of sha256:0-10, certify).
gateway_quote() {
        round=$((round + 1))
        NONCE=$(printf 'live round %04d' $round | xxd -p)
        "$DW" tpm nv extend --tcti "$SWTPM_TCTI" --data "$(printf 'events %d' $round | xxd -p)"
        "$DW" tpm quote --tcti "$SWTPM_TCTI" --nonce "$NONCE" --pcrs sha256:0,1,2,3,4,5,6,7,8,9,10 \
                --attest "$TMP/q.attest" --signature "$TMP/q.sig" --pcrs-out "$TMP/q.pcrs"
        "$DW" tpm nv certify --tcti "$SWTPM_TCTI" --nonce "$NONCE" --attest "$TMP/nv.attest" \
                --signature "$TMP/nv.sig"
        tpm2_nvreadpublic -T "$SWTPM_TCTI" 0x01800100 | awk '/name:/ { print $2 }' | xxd -r -p >"$TMP/nv.name"
        HEAD=$("$DW" tpm nv read --tcti "$SWTPM_TCTI")
}

# verify NAME EXIT [round-check options]: one round from the current state; the result JSON in $TMP/r.json.
verify() {
        local name=$1 want=$2
        shift 2
        assert_exit "$name" "$want" "$CHECK" --ak "$TMP/ak.pem" --nonce "$NONCE" --quote "$TMP/q.attest" \
                --signature "$TMP/q.sig" --pcrs "$TMP/q.pcrs" --policy "$TMP/policy.json" \
                --boot-policy "$TMP/boot-policy.json" --nv-attest "$TMP/nv.attest" --nv-signature "$TMP/nv.sig" \
                --nv-name "$TMP/nv.name" --expect-head "$HEAD" --state-out "$STATE.new" --now $round "$@"
        cp "$TMP/out" "$TMP/r.json"
        [ -s "$STATE.new" ] && mv "$STATE.new" "$STATE"
}

# --- enrollment and the policies --------------------------------------------------------------------------------
"$DW" tpm enroll --tcti "$SWTPM_TCTI" --ak-out "$TMP/ak.pem" >/dev/null
"$DW" tpm nv define --tcti "$SWTPM_TCTI" >/dev/null
good=(/usr/bin/bash /usr/sbin/sshd /usr/bin/ls /usr/bin/cat /usr/bin/grep /usr/bin/true)
{
        printf '{"driftwatch_runtime_policy": 1, "digests": {'
        sep=
        for p in "${good[@]}"; do
                printf '%s"%s": ["sha256:%s"]' "$sep" "$p" "$(digest_of "$p")"
                sep=', '
        done
        printf '}}\n'
} >"$TMP/policy.json"
"$DW" eventlog replay --json "$BIOS" | jq '{driftwatch_boot_policy: 1, secure_boot: false,
        pcrs: {sha256: (.pcrs.sha256 | with_entries(select((.key | tonumber) < 8)))}}' >"$TMP/boot-policy.json"

# --- boot 1 -------------------------------------------------------------------------------------------------------
firmware_boot
: >"$LOG"
"$SIM" --tcti "$SWTPM_TCTI" --log "$LOG" boot-aggregate
measure /usr/bin/bash /usr/sbin/sshd
gateway_quote
verify "round 1 without the boot log: untrusted" 1 --ima "$LOG"
assert_eq "round 1: the boot log is required" boot_log_required "$(jq -r '.reasons[0].kind' "$TMP/r.json")"
assert_eq "round 1: the IMA entries were consumed anyway" 3 "$(jq -r .ima_next_index "$TMP/r.json")"
assert_eq "round 1: boot_aggregate checked against the quoted PCRs 0-9" passed \
        "$(jq -r .checks.boot_aggregate "$TMP/r.json")"
gateway_quote
verify "round 2 with the boot log: trusted" 0 --boot-log "$BIOS" --ima "$LOG" --state "$STATE"
assert_eq "round 2: event chain head certified as expected" passed "$(jq -r .checks.event_chain "$TMP/r.json")"
assert_eq "round 2: nothing new" 0 "$(jq -r .stats.entries_consumed "$TMP/r.json")"

measure /usr/bin/ls /usr/bin/cat
gateway_quote
measure /usr/bin/grep # after the quote: the log runs ahead
verify "round 3: log ahead of the quote, trusted" 0 --ima "$LOG" --ima-from 3 --state "$STATE"
assert_eq "round 3: 2 consumed" 2 "$(jq -r .stats.entries_consumed "$TMP/r.json")"
assert_eq "round 3: 1 pending" 1 "$(jq -r .stats.entries_pending "$TMP/r.json")"
assert_eq "round 3: next index 5" 5 "$(jq -r .ima_next_index "$TMP/r.json")"

measure /usr/local/bin/backdoor /usr/bin/true
gateway_quote
verify "round 4: an unknown executable, untrusted" 1 --ima "$LOG" --ima-from 5 --state "$STATE"
assert_eq "round 4: the reason names it" /usr/local/bin/backdoor \
        "$(jq -r '.reasons[] | select(.kind == "runtime_policy") | .path' "$TMP/r.json")"
assert_eq "round 4: sticky" true "$(jq -r '.reasons[0].sticky' "$TMP/r.json")"

gateway_quote
verify "round 5: clean, still untrusted (sticky)" 1 --ima "$LOG" --ima-from 8 --state "$STATE"
assert_eq "round 5: the earlier reason is listed" true "$(jq -r '.reasons[0].earlier' "$TMP/r.json")"

# --- a wrong nonce, then boot 2 -----------------------------------------------------------------------------------
gateway_quote
NONCE=$(printf 'another nonce' | xxd -p)
verify "round 6: the nonce is not the one issued" 1 --ima "$LOG" --ima-from 8 --state "$STATE" --ack 0
assert_eq "round 6: quote reason" nonce-mismatch "$(jq -r '.reasons[0].rule' "$TMP/r.json")"

tpm2_shutdown -T "$SWTPM_TCTI" -c
swtpm_ioctl --tcp 127.0.0.1:$ctrl_port -i
tpm2_startup -T "$SWTPM_TCTI" -c
firmware_boot
: >"$LOG"
"$SIM" --tcti "$SWTPM_TCTI" --log "$LOG" boot-aggregate
measure /usr/bin/bash
gateway_quote
verify "round 7: reboot, the old log index: untrusted" 1 --ima "$LOG" --ima-from 8 --boot-log "$BIOS" \
        --state "$STATE"
assert_eq "round 7: reboot detected" true "$(jq -r .reboot "$TMP/r.json")"
assert_grep "round 7: ima_index_gap" ima_index_gap "$TMP/r.json"
gateway_quote
verify "round 8: after the reboot, from index 0 with the boot log: trusted" 0 --ima "$LOG" --boot-log "$BIOS" \
        --state "$STATE"
assert_eq "round 8: 2 consumed" 2 "$(jq -r .stats.entries_consumed "$TMP/r.json")"
assert_eq "round 8: boot log verified" passed "$(jq -r .checks.boot_log "$TMP/r.json")"
gateway_quote
verify "round 9: the event stream expects another head" 1 --ima "$LOG" --ima-from 2 --state "$STATE" \
        --expect-head "$(printf '%064d' 0)"
assert_grep "round 9: event_chain_mismatch" event_chain_mismatch "$TMP/r.json"
