#!/usr/bin/env bash
# Cross-checks against the peers from Debian: tpm2_eventlog (tpm2-tools) for boot event logs and
# evmctl ima_measurement (ima-evm-utils) for IMA logs.
. "$(dirname "$0")/lib.sh"

# tpm2_eventlog's "pcrs:" section, as "bank pcr hex" lines.
tpm2_eventlog_pcrs() {
        tpm2_eventlog "$1" 2>/dev/null | awk '
                /^pcrs:/ { on = 1; next }
                on && /^  [a-z0-9_]+:$/ { bank = $1; sub(":", "", bank); next }
                on && /^    [0-9]+ *:/ { pcr = $1; sub(":", "", pcr); v = $NF; sub("^0x", "", v); print bank, pcr+0, tolower(v) }'
}

# Our replay, in the same shape.
dw_eventlog_pcrs() {
        "$DW" eventlog replay --json "$1" | jq -r '.pcrs | to_entries[] | .key as $b | .value | to_entries[] | "\($b) \(.key) \(.value)"'
}

compare_eventlog() {
        local name=$1 log=$2
        tpm2_eventlog_pcrs "$log" | sort >"$TMP/peer"
        dw_eventlog_pcrs "$log" | sort >"$TMP/ours"
        if [ -s "$TMP/peer" ] && cmp -s "$TMP/peer" "$TMP/ours"; then
                ok "$name: same PCRs as tpm2_eventlog ($(wc -l <"$TMP/ours") values)"
        else
                fail "$name: differs from tpm2_eventlog: $(diff "$TMP/peer" "$TMP/ours" | head -5)"
        fi
}

compare_eventlog "real SeaBIOS log" "$REAL/binary_bios_measurements"
for log in "$DW_SRCDIR"/tests/data/eventlog/*.bin; do
        [ -e "$log" ] || continue
        compare_eventlog "$(basename "$log")" "$log"
done

# A sysfs-style "PCR-NN: HEX" file of all 24 PCRs, as evmctl reads it (positionally): PCR 10 = $1, others zero.
pcr_file() {
        local zero
        zero=$(printf '%s' "$1" | tr '0-9a-f' '0')
        for i in $(seq 0 23); do
                if [ "$i" -eq 10 ]; then printf 'PCR-%02d: %s\n' "$i" "$1"; else printf 'PCR-%02d: %s\n' "$i" "$zero"; fi
        done
}

# evmctl recomputes PCR 10 from the log and compares with a "PCR-NN: HEX" file: give it the values we replayed.
evmctl_agrees() {
        local name=$1 log=$2 bank=$3 want=$4
        "$DW" ima replay --json "$log" >"$TMP/r.json"
        pcr_file "$(json_get "$TMP/r.json" pcrs "$bank" 10)" >"$TMP/pcrs"
        evmctl ima_measurement --ignore-violations -v --pcrs "$bank,$TMP/pcrs" "$log" >"$TMP/evm" 2>&1
        if grep -q 'Matched per TPM bank' "$TMP/evm"; then got=match; else got=mismatch; fi
        assert_eq "$name ($bank): evmctl ima_measurement" "$want" "$got"
}

for bank in sha1 sha256; do
        evmctl_agrees "real IMA log" "$REAL/binary_runtime_measurements" $bank match
done

# And a wrong value is caught by evmctl, so the agreement above means something.
pcr_file "$(printf '%064d' 0)" >"$TMP/pcrs"
evmctl ima_measurement --ignore-violations --pcrs "sha256,$TMP/pcrs" "$REAL/binary_runtime_measurements" >"$TMP/evm" 2>&1
if grep -q 'Matched per TPM bank' "$TMP/evm"; then fail "evmctl rejects a wrong PCR"; else ok "evmctl rejects a wrong PCR"; fi


# Generated logs covering every template the kernel defines, a custom template and violations: evmctl must agree
# with our replay of the binary log, and the ascii form must replay to the same PCRs.
GEN=$DW_BUILD/tests/tools/ima-gen
# (evmctl refuses a log mixing "ima" with other templates, so "ima" gets a log of its own.)
"$GEN" --rounds 4 "$TMP/gen.bin" && "$GEN" --format ascii --rounds 4 "$TMP/gen.txt" || fail "ima-gen failed"
"$GEN" --rounds 4 --template ima-ng --template ima-ngv2 --template ima-sig --template ima-sigv2 --template ima-buf \
        --template ima-modsig --template evm-sig --template "d-ng|n-ng|iuid|igid|imode" "$TMP/gen-ng.bin"
"$GEN" --rounds 4 --template ima "$TMP/gen-ima.bin"
for bank in sha1 sha256; do
        evmctl_agrees "generated, every template but ima" "$TMP/gen-ng.bin" $bank match
        evmctl_agrees "generated, ima template" "$TMP/gen-ima.bin" $bank match
done
"$DW" ima replay --json "$TMP/gen.bin" | jq -S .pcrs >"$TMP/gen-bin.pcrs"
"$DW" ima replay --json --ascii "$TMP/gen.txt" | jq -S .pcrs >"$TMP/gen-txt.pcrs"
if [ -s "$TMP/gen-bin.pcrs" ] && cmp -s "$TMP/gen-bin.pcrs" "$TMP/gen-txt.pcrs"; then
        ok "generated log: ascii and binary replay to the same PCRs"
else
        fail "generated log: ascii and binary replay differ"
fi
