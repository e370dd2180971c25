#!/usr/bin/env bash
# Bad input never crashes the CLI (it runs under ASan+UBSan here): one line naming file, entry and offset; exit 2.
. "$(dirname "$0")/lib.sh"

bin=$REAL/binary_runtime_measurements
size=$(stat -c %s "$bin")

head -c 150 "$bin" >"$TMP/cut.bin" # entry 0 is 101 bytes long
assert_exit "ima replay: log cut mid-entry" 2 "$DW" ima replay "$TMP/cut.bin"
assert_grep "cut log: names file, entry and offset" "cut.bin: entry 1 at byte offset [0-9]+: " "$TMP/err"
assert_exit "ima replay --allow-partial: cut log" 0 "$DW" ima replay --json --allow-partial "$TMP/cut.bin"
assert_eq "--allow-partial replays the complete entries" 1 "$(json_get "$TMP/out" entries)"

# Every truncation point: exit 0 (clean entry boundary) or 2, never a crash.
crashes=0
for n in $(seq 0 7 "$size"); do
        head -c "$n" "$bin" >"$TMP/t.bin"
        "$DW" ima replay "$TMP/t.bin" >/dev/null 2>"$TMP/t.err"
        rc=$?
        [ $rc -eq 0 ] || [ $rc -eq 2 ] || { crashes=$((crashes + 1)); echo "  truncation at $n: exit $rc"; }
done
assert_eq "ima replay: every truncation exits 0 or 2" 0 "$crashes"

# Absurd template data length in the first entry (after pcr, 20-byte digest, name len, "ima-ng").
cp "$bin" "$TMP/absurd.bin"
printf '\xff\xff\xff\x7f' | dd of="$TMP/absurd.bin" bs=1 seek=34 conv=notrunc status=none
assert_exit "ima: absurd template data length" 2 "$DW" ima replay "$TMP/absurd.bin"
assert_grep "absurd length: entry 0 at offset 0" "absurd.bin: entry 0 at byte offset 0: " "$TMP/err"

# Unknown template name.
cp "$bin" "$TMP/tmpl.bin"
printf 'imx-ng' | dd of="$TMP/tmpl.bin" bs=1 seek=28 conv=notrunc status=none
assert_exit "ima: unknown template" 2 "$DW" ima show "$TMP/tmpl.bin"
assert_grep "unknown template named" "imx-ng" "$TMP/err"

# A flipped byte in a file digest: the template digest no longer matches.
cp "$bin" "$TMP/flip.bin"
printf '\x00' | dd of="$TMP/flip.bin" bs=1 seek=60 conv=notrunc status=none
assert_exit "ima: template digest mismatch" 2 "$DW" ima replay "$TMP/flip.bin"
assert_grep "mismatch reported" "entry 0 at byte offset 0: .*digest" "$TMP/err"

# Wrong digest size for the file: a sha1 log read as sha256.
assert_exit "ima: wrong --digest-alg" 2 "$DW" ima replay --digest-alg sha256 "$bin"

# Ascii garbage and non-hex.
printf '10 zz3bf9094ff3bfb0d1ee868478e6963890bd3150 ima-ng sha256:00 x\n' >"$TMP/garbage.txt"
assert_exit "ima ascii: non-hex digest" 2 "$DW" ima replay --ascii "$TMP/garbage.txt"
assert_grep "ascii error names the file" "garbage.txt: entry 0" "$TMP/err"
head -c 4096 /dev/urandom >"$TMP/random.bin"
assert_exit "ima: random bytes" 2 "$DW" ima replay "$TMP/random.bin"
assert_exit "ima: missing file" 2 "$DW" ima replay "$TMP/does-not-exist"
assert_grep "missing file named" "does-not-exist: cannot read" "$TMP/err"

# Boot event log.
ev=$REAL/binary_bios_measurements
head -c 1000 "$ev" >"$TMP/cut-ev.bin"
assert_exit "eventlog: cut mid-event" 2 "$DW" eventlog replay "$TMP/cut-ev.bin"
assert_grep "cut event log: names file, event and offset" "cut-ev.bin: event [0-9]+ at byte offset [0-9]+: " "$TMP/err"
crashes=0
for n in $(seq 0 13 "$(stat -c %s "$ev")"); do
        head -c "$n" "$ev" >"$TMP/t.bin"
        "$DW" eventlog replay "$TMP/t.bin" >/dev/null 2>&1
        rc=$?
        [ $rc -eq 0 ] || [ $rc -eq 2 ] || { crashes=$((crashes + 1)); echo "  truncation at $n: exit $rc"; }
done
assert_eq "eventlog replay: every truncation exits 0 or 2" 0 "$crashes"
assert_exit "eventlog: random bytes" 2 "$DW" eventlog show "$TMP/random.bin"
: >"$TMP/empty"
assert_exit "eventlog: empty file" 2 "$DW" eventlog replay "$TMP/empty"
assert_exit "unknown command" 2 "$DW" frobnicate
