#!/usr/bin/env bash
# The IMA simulator against a real software TPM: the log it writes replays to the TPM's PCR 10 in every active
# bank, entry by entry, and a reader following the growing log (cut mid-entry at times) never fails.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"
SIM=$DW_BUILD/tests/tools/ima-sim

swtpm_start "$TMP/tpm" || { fail "swtpm did not start"; exit 1; }
trap 'swtpm_stop; rm -rf "$TMP"' EXIT

tpm_pcr10() { tpm2_pcrread -T "$SWTPM_TCTI" "$1:10" | awk '/10:/ {print tolower($2)}' | sed 's/^0x//'; }

log=$TMP/binary_runtime_measurements
echo "hello" >"$TMP/hello"
assert_exit "ima-sim: boot_aggregate, files, violation, ima-buf" 0 "$SIM" --tcti "$SWTPM_TCTI" --log "$log" \
        --ascii-log "$TMP/ascii_runtime_measurements" boot-aggregate measure "$TMP/hello" measure /bin/true \
        violation /etc/motd buf .ima 30820122 digest /usr/bin/gone "$(printf '%064d' 1)"
assert_exit "replay of the simulated log" 0 "$DW" ima replay --json "$log"
cp "$TMP/out" "$TMP/replay.json"
assert_eq "simulated log: 6 entries" 6 "$(json_get "$TMP/replay.json" entries)"
assert_eq "simulated log: 1 violation" 1 "$(json_get "$TMP/replay.json" violations)"
for bank in sha1 sha256; do
        assert_eq "simulated log replays to the TPM's $bank PCR 10" "$(tpm_pcr10 $bank)" \
                "$(json_get "$TMP/replay.json" pcrs $bank 10)"
done
assert_exit "replay of the simulated ascii log" 0 "$DW" ima replay --json "$TMP/ascii_runtime_measurements"
assert_eq "ascii log replays to the TPM's sha256 PCR 10" "$(tpm_pcr10 sha256)" "$(json_get "$TMP/out" pcrs sha256 10)"

# boot_aggregate = sha256(PCR 0 || ... || PCR 9) of the sha256 bank.
want=$(tpm2_pcrread -T "$SWTPM_TCTI" sha256:0,1,2,3,4,5,6,7,8,9 -o "$TMP/pcrs.bin" >/dev/null && sha256sum "$TMP/pcrs.bin" | cut -d' ' -f1)
assert_exit "ima show --json" 0 "$DW" ima show --json "$log"
assert_eq "boot_aggregate is sha256 over PCRs 0-9" "$want" "$(jq -r '.entries[0].digest' "$TMP/out")"
assert_eq "measured file digest" "$(sha256sum "$TMP/hello" | cut -d' ' -f1)" "$(jq -r '.entries[1].digest' "$TMP/out")"

# A reader follows the log while the simulator appends in two halves: every read succeeds (complete entries
# replayed, a cut tail reported), entries never go backwards, and the final replay equals the TPM.
"$SIM" --tcti "$SWTPM_TCTI" --log "$log" --split-writes $(for i in $(seq 1 12); do echo measure /bin/true; done) &
sim=$!
prev=0 bad=0 reads=0 partial=0
while kill -0 $sim 2>/dev/null; do
        "$DW" ima replay --json --allow-partial --banks sha256 "$log" >"$TMP/f.json" 2>/dev/null || bad=$((bad + 1))
        n=$(jq -r .entries "$TMP/f.json" 2>/dev/null || echo -1)
        [ "$n" -ge "$prev" ] || bad=$((bad + 1))
        jq -e 'has("incomplete_tail_offset")' "$TMP/f.json" >/dev/null 2>&1 && partial=$((partial + 1))
        prev=$n reads=$((reads + 1))
done
wait $sim
assert_eq "ima-sim appended while being followed" 0 $?
assert_eq "follower: $reads reads ($partial saw a cut entry), none failed or went backwards" 0 "$bad"
assert_exit "final replay" 0 "$DW" ima replay --json "$log"
assert_eq "final replay: 18 entries" 18 "$(json_get "$TMP/out" entries)"
assert_eq "final replay equals the TPM's sha256 PCR 10" "$(tpm_pcr10 sha256)" "$(json_get "$TMP/out" pcrs sha256 10)"

assert_exit "ima-sim: unknown command" 1 "$SIM" --tcti "$SWTPM_TCTI" --log "$log" frobnicate
assert_exit "ima-sim: missing file" 1 "$SIM" --tcti "$SWTPM_TCTI" --log "$log" measure "$TMP/nope"
assert_grep "ima-sim names the missing file" "nope" "$TMP/err"
