#!/usr/bin/env bash
# The event chain (lib/event-chain) end to end against a private swtpm: batches signed by the TPM's event key, their
# heads extended into the NV extend index, the index certified by the AK, everything verified on the verifier side
# (tests/tools/event-chain-check) and by an attestation round (round-check --expect-head); dropped, replayed,
# reordered and tampered batches, a monitor restart and a TPM reset. Cross-checked with tpm2_nvread and an NV value
# recomputed here with openssl from the batches' heads.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"
trap 'swtpm_stop; rm -rf "$TMP"' EXIT

CHECK=$DW_BUILD/tests/tools/event-chain-check
ROUND=$DW_BUILD/tests/tools/round-check
NV=0x01800100
GW=gw-live-01
KEY_NONCE=6b65796e6f6e6365
NV_NONCE=5eed0f5e1f00d5a1

require_tools swtpm swtpm_setup swtpm_ioctl tpm2_nvread tpm2_startup tpm2_getcap openssl jq xxd || exit 0
if [ ! -x "$CHECK" ]; then
        fail "$CHECK is not built"
        exit 0
fi

if ! swtpm_start "$TMP/tpm"; then
        fail "swtpm_start"
        exit 0
fi
T=$SWTPM_TCTI
export TPM2TOOLS_TCTI=$T
D=$TMP/gw
mkdir -p "$D"

# verify NAME WANT_EXIT STATE [OPTIONS] BATCH...: the verifier side; output in $TMP/out.
verify() {
        local name=$1 want=$2 state=$3
        shift 3
        assert_exit "$name" "$want" "$CHECK" verify "$D" "$state" $GW $KEY_NONCE $NV_NONCE "$@"
}

# line FILE: the verdict printed for FILE ("ok", "gap", ...).
line() {
        awk -F': ' -v f="$1" '$1 == f { print $2 }' "$TMP/out"
}

# The verdicts of every batch, in order.
verdicts() {
        awk -F': ' '$1 ~ /\.json$/ { printf "%s%s", s, $2; s = " " }' "$TMP/out"
}

# The NV extend index recomputed from the heads of the given batches: SHA-256(nv || head) from 32 zero bytes.
nv_of() {
        local nv
        nv=$(printf '%064d' 0)
        for b in "$@"; do
                nv=$( (echo "$nv" | xxd -r -p; jq -r .head "$D/$b" | xxd -r -p) | openssl dgst -sha256 -r | cut -c1-64)
        done
        echo "$nv"
}

tpm_nv() {
        tpm2_nvread -C $NV -s 32 $NV 2>/dev/null | xxd -p -c 64
}

assert_tpm_clean() {
        local left
        left=$(tpm2_getcap handles-transient; tpm2_getcap handles-loaded-session; tpm2_getcap handles-saved-session)
        assert_eq "$1: no transient object or session left in the TPM" "" "$left"
}

# ---- three batches, signed by the TPM, extended, certified, verified -------------------------------------------
assert_exit "gateway: 3 batches of 4 events, signed by the TPM event key" 0 "$CHECK" gateway "$T" "$D" $GW \
        $KEY_NONCE 3 4
cp "$TMP/out" "$D/gateway.out"
assert_grep "batch 1 holds events 0-3" '^batch-1.json: events 0-3 head [0-9a-f]{64}$' "$D/gateway.out"
assert_grep "batch 3 holds events 8-11" '^batch-3.json: events 8-11 head ' "$D/gateway.out"
assert_eq "batch 2 continues from batch 1's head" "$(jq -r .head "$D/batch-1.json")" \
        "$(jq -r .prev_head "$D/batch-2.json")"
assert_eq "batch 3 starts at event 8" 8 "$(jq -r .first_seq "$D/batch-3.json")"
assert_eq "the chain id names the gateway" $GW "$(jq -r .chain.gateway_id "$D/batch-1.json")"
assert_eq "... and the kernel's boot id" "$(cat /proc/sys/kernel/random/boot_id)" \
        "$(jq -r .chain.boot_id "$D/batch-1.json")"
assert_eq "the signature is a TPMT_SIGNATURE, ECDSA with SHA-256" 0018000b \
        "$(jq -r .signature "$D/batch-2.json" | base64 -d | xxd -p -l 4)"
assert_eq "a file name that is not UTF-8 is recorded escaped" '/usr/local/bin/tool-1\xff' \
        "$(jq -r '.events[1].fields.path' "$D/batch-1.json")"
NV3=$(nv_of batch-1.json batch-2.json batch-3.json)
assert_eq "the NV index holds the three heads, extended in order (tpm2_nvread)" "$NV3" "$(tpm_nv)"
assert_grep "... as the gateway read it back" "^nv: $NV3\$" "$D/gateway.out"

assert_exit "certify the NV index with the AK" 0 "$CHECK" certify "$T" "$D" $NV_NONCE
verify "verify the three batches and the NV certification" 0 "$TMP/s-all" \
        "$D/batch-1.json" "$D/batch-2.json" "$D/batch-3.json"
assert_grep "the event key is certified by the AK" '^event-key: certified by the AK$' "$TMP/out"
assert_eq "batch 1 starts the chain" ok "$(line batch-1.json)"
assert_eq "batch 2 continues it" ok "$(line batch-2.json)"
assert_eq "batch 3 continues it" ok "$(line batch-3.json)"
assert_grep "the verifier recomputes the NV value" "^nv-expected: $NV3\$" "$TMP/out"
assert_grep "the certified NV value matches" '^nv: ok: the TPM certifies the NV value of the 3 batches' "$TMP/out"

# ---- the attestation round (lib/attest-round) takes the recomputed NV value as the expected head ---------------
# round HEAD: a round over a quote and the NV certification with the same nonce, expecting HEAD; JSON in round.json.
round() {
        "$ROUND" --ak "$D/ak.pub" --nonce $NV_NONCE --quote "$D/q.att" --signature "$D/q.sig" --pcrs "$D/q.pcrs" \
                --nv-attest "$D/nv.attest" --nv-signature "$D/nv.sig" --nv-name "$D/nv.name" --expect-head "$1" \
                >"$TMP/round.json" 2>"$TMP/round.err"
}
if [ -x "$ROUND" ] && "$DW" tpm quote --tcti "$T" --nonce $NV_NONCE --pcrs sha256:0-10 --attest "$D/q.att" \
        --signature "$D/q.sig" --pcrs-out "$D/q.pcrs" >/dev/null 2>"$TMP/quote.err"; then
        round "$(awk '/^nv-expected:/ { print $2 }' "$TMP/out")"
        assert_eq "a round expecting the recomputed NV value: the event chain check passes" passed \
                "$(jq -r .checks.event_chain "$TMP/round.json")"
        assert_eq "... and reports the certified head" "$NV3" "$(jq -r .event_chain.head "$TMP/round.json")"
        round "$(nv_of batch-1.json batch-2.json)"
        assert_eq "a round expecting the value of two batches: event_chain_mismatch" event_chain_mismatch \
                "$(jq -r '.reasons[] | select(.kind | startswith("event_chain")) | .kind' "$TMP/round.json")"
else
        fail "a quote for the attestation round: $(head -c 300 "$TMP/quote.err") (or $ROUND not built)"
fi

# ---- the same, in two sessions of the verifier (state persisted) -----------------------------------------------
verify "verify batch 1 alone" 0 "$TMP/s-two" --no-nv "$D/batch-1.json"
verify "then batches 2 and 3 from the saved state" 0 "$TMP/s-two" "$D/batch-2.json" "$D/batch-3.json"
assert_grep "... and the NV value still matches" '^nv: ok' "$TMP/out"

# ---- a dropped batch: a gap, and the NV value says so too ------------------------------------------------------
verify "batch 2 dropped" 1 "$TMP/s-gap" "$D/batch-1.json" "$D/batch-3.json"
assert_eq "... batch 3 is a gap" gap "$(line batch-3.json)"
assert_grep "... naming the missing events" 'batch-3.json: gap: events 4-7 were not received' "$TMP/out"
assert_grep "... and the certified NV value does not match" '^nv: mismatch: .*batches were dropped' "$TMP/out"
verify "batch 3 dropped (the last: no gap to see)" 1 "$TMP/s-last" "$D/batch-1.json" "$D/batch-2.json"
assert_eq "... batch 2 is fine" ok "$(line batch-2.json)"
assert_grep "... but the NV value does not match" '^nv: mismatch' "$TMP/out"
assert_grep "... the verifier expected two heads" "^nv-expected: $(nv_of batch-1.json batch-2.json)\$" "$TMP/out"
verify "an accepted gap" 1 "$TMP/s-accept" --accept-gap "$D/batch-1.json" "$D/batch-3.json"
assert_grep "... leaves the NV value unknown" '^nv: unknown' "$TMP/out"

# ---- reordered, replayed, tampered -----------------------------------------------------------------------------
verify "batches out of order" 1 "$TMP/s-order" --no-nv "$D/batch-1.json" "$D/batch-3.json" "$D/batch-2.json" \
        "$D/batch-3.json"
assert_eq "... 1 ok, 3 a gap, then 2 and 3 ok" "ok gap ok ok" "$(verdicts)"
verify "replays" 1 "$TMP/s-replay" "$D/batch-1.json" "$D/batch-2.json" "$D/batch-3.json" "$D/batch-3.json" \
        "$D/batch-1.json"
assert_eq "... the last batch again is a duplicate, an older one a fork" "ok ok ok duplicate fork" "$(verdicts)"

jq -c '.events[2].fields.rule = "excluded"' "$D/batch-2.json" >"$D/tampered-event.json"
jq -c '.head = (if .head[0:1] == "0" then "1" else "0" end) + .head[1:]' "$D/batch-2.json" \
        >"$D/tampered-head.json"
jq -c --arg s "$(jq -r .signature "$D/batch-3.json")" '.signature = $s' "$D/batch-2.json" >"$D/tampered-sig.json"
jq -c 'del(.signature)' "$D/batch-2.json" >"$D/unsigned.json"
jq -c '.events[0].kind = "Bad kind"' "$D/batch-2.json" >"$D/malformed.json"
verify "tampered batches" 1 "$TMP/s-tamper" --no-nv "$D/batch-1.json" "$D/tampered-event.json" \
        "$D/tampered-head.json" "$D/tampered-sig.json" "$D/unsigned.json" "$D/malformed.json" "$D/batch-2.json"
assert_eq "... an event's field changed" chain_mismatch "$(line tampered-event.json)"
assert_eq "... the head changed" chain_mismatch "$(line tampered-head.json)"
assert_eq "... another batch's signature" bad_signature "$(line tampered-sig.json)"
assert_eq "... no signature" bad_signature "$(line unsigned.json)"
assert_eq "... an invalid kind" bad_encoding "$(line malformed.json)"
assert_eq "... and the real batch 2 is still accepted" ok "$(line batch-2.json)"

# ---- the monitor restarts: the chain continues from its saved state --------------------------------------------
assert_exit "gateway again: 1 more batch" 0 "$CHECK" gateway "$T" "$D" $GW $KEY_NONCE 1 5
assert_grep "... continues the chain (events 12-16)" '^batch-4.json: events 12-16 ' "$TMP/out"
NV4=$(nv_of batch-1.json batch-2.json batch-3.json batch-4.json)
assert_eq "... and the NV index holds four heads" "$NV4" "$(tpm_nv)"
verify "the old NV certification against the new batch" 1 "$TMP/s-all" "$D/batch-4.json"
assert_eq "... batch 4 continues the chain" ok "$(line batch-4.json)"
assert_grep "... the old certification shows three batches: mismatch" '^nv: mismatch' "$TMP/out"
assert_exit "certify again" 0 "$CHECK" certify "$T" "$D" $NV_NONCE
verify "the new NV certification" 0 "$TMP/s-all"
assert_grep "... matches the four batches" '^nv: ok: the TPM certifies the NV value of the 4 batches' "$TMP/out"

# ---- a TPM reset (reboot): the NV index is cleared, a new chain begins -----------------------------------------
swtpm_ioctl --tcp "127.0.0.1:$((${T##*port=} + 1))" -i >/dev/null && tpm2_startup -c >/dev/null 2>&1
assert_eq "the TPM reset cleared the NV index" "" "$(tpm_nv)"
assert_exit "gateway after the reset" 0 "$CHECK" gateway "$T" "$D" $GW $KEY_NONCE 1 3
assert_grep "... starts a new chain" '^new chain: TPM resetCount [0-9]+ -> [0-9]+$' "$TMP/out"
assert_grep "... at event 0" '^batch-5.json: events 0-2 ' "$TMP/out"
assert_eq "... whose chain id has the new resetCount" \
        "$(($(jq -r .chain.reset_count "$D/batch-4.json") + 1))" "$(jq -r .chain.reset_count "$D/batch-5.json")"
assert_eq "... and whose head alone is in the NV index" "$(nv_of batch-5.json)" "$(tpm_nv)"
verify "the old certification against the new chain" 1 "$TMP/s-all" "$D/batch-5.json"
assert_grep "... the new chain is accepted" '^batch-5.json: ok: events 0-2 start the chain of TPM resetCount' \
        "$TMP/out"
assert_grep "... the old certification is of another epoch" '^nv: epoch' "$TMP/out"
assert_exit "certify after the reset" 0 "$CHECK" certify "$T" "$D" $NV_NONCE
verify "the new chain, certified" 0 "$TMP/s-all"
assert_grep "... matches" '^nv: ok' "$TMP/out"
verify "a batch of the previous boot, replayed" 1 "$TMP/s-all" --no-nv "$D/batch-4.json"
assert_eq "... is of the wrong chain" wrong_chain "$(line batch-4.json)"

# ---- the event key certification must be the AK's, over the verifier's nonce -----------------------------------
assert_exit "an event key certification over another nonce is refused" 1 "$CHECK" verify "$D" "$TMP/s-nonce" $GW \
        00 $NV_NONCE "$D/batch-5.json"
assert_grep "... and says why" '^event-key: nonce-mismatch' "$TMP/out"

assert_tpm_clean "after the event chain"
