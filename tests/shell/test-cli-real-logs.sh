#!/usr/bin/env bash
# The CLI on logs from a real kernel and real firmware (../shared/testdata): exact PCR values, both log formats.
. "$(dirname "$0")/lib.sh"

# IMA: binary and ascii give the TPM's PCR 10 in every bank; sha384/sha512 under the kernel's sha1-padded rule.
for f in binary_runtime_measurements ascii_runtime_measurements; do
        assert_exit "ima replay $f" 0 "$DW" ima replay --json --sha1-padded sha384,sha512 "$REAL/$f"
        cp "$TMP/out" "$TMP/replay.json"
        assert_eq "$f: entries" 11 "$(json_get "$TMP/replay.json" entries)"
        assert_eq "$f: violations" 1 "$(json_get "$TMP/replay.json" violations)"
        for bank in sha1 sha256 sha384 sha512; do
                assert_eq "$f: $bank PCR 10" "$(pcr_from_file "$REAL/pcrs-$bank" 10)" \
                        "$(json_get "$TMP/replay.json" pcrs $bank 10)"
        done
        # By default the rules are the kernel's (sha384/sha512 padded: this kernel lacked them at IMA init).
        assert_exit "ima replay $f default rules" 0 "$DW" ima replay --json "$REAL/$f"
        for bank in sha1 sha256 sha384 sha512; do
                assert_eq "$f: default rule, $bank PCR 10" "$(pcr_from_file "$REAL/pcrs-$bank" 10)" \
                        "$(json_get "$TMP/out" pcrs $bank 10)"
        done
        assert_eq "$f: sha512 rule named" sha1-padded "$(json_get "$TMP/out" rules sha512)"
        # Forcing the other rule changes "pcrs"; both variants are always reported.
        assert_exit "ima replay $f --native sha384" 0 "$DW" ima replay --json --native sha384 "$REAL/$f"
        assert_eq "$f: --native sha384 reported in pcrs" "$(json_get "$TMP/out" pcrs_native sha384 10)" \
                "$(json_get "$TMP/out" pcrs sha384 10)"
        assert_eq "$f: sha384 legacy value still reported" "$(pcr_from_file "$REAL/pcrs-sha384" 10)" \
                "$(json_get "$TMP/out" pcrs_sha1_padded sha384 10)"
        assert_eq "$f: only PCR 10 reported" 10 "$(jq -r '.pcrs.sha256 | keys | join(",")' "$TMP/out")"
done

assert_exit "ima show binary" 0 "$DW" ima show "$REAL/binary_runtime_measurements"
assert_grep "ima show names boot_aggregate" ' 10 ima-ng sha256:4f46ba44d52134a1f1a7247f7121557973c59ac6646357a3e428d7ac754e63ef boot_aggregate' "$TMP/out"
assert_grep "ima show marks the violation" '/mnt/etc/motd  \[violation\]' "$TMP/out"
assert_exit "ima show --json" 0 "$DW" ima show --json "$REAL/ascii_runtime_measurements"
assert_eq "ima show --json entry count" 11 "$(jq '.entries | length' "$TMP/out")"
assert_eq "ima show --json name" /mnt/bin/busybox "$(jq -r '.entries[1].name' "$TMP/out")"

# Boot event log: PCRs 0-7 of all four banks equal the TPM's.
assert_exit "eventlog replay" 0 "$DW" eventlog replay --json "$REAL/binary_bios_measurements"
cp "$TMP/out" "$TMP/ev.json"
for bank in sha1 sha256 sha384 sha512; do
        for pcr in 0 1 2 3 4 5 6 7; do
                assert_eq "eventlog $bank PCR $pcr" "$(pcr_from_file "$REAL/pcrs-$bank" $pcr)" \
                        "$(json_get "$TMP/ev.json" pcrs $bank $pcr)"
        done
done
assert_exit "eventlog show" 0 "$DW" eventlog show "$REAL/binary_bios_measurements"
assert_grep "eventlog show names separators" 'EV_SEPARATOR' "$TMP/out"
assert_exit "eventlog show --json" 0 "$DW" eventlog show --json "$REAL/binary_bios_measurements"
assert_eq "eventlog show --json event count" "$(json_get "$TMP/ev.json" events)" "$(jq '.events | length' "$TMP/out")"
