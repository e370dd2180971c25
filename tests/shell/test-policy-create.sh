#!/usr/bin/env bash
# driftwatch policy create: from an image tree (symlinks, special files, pseudo file systems, excludes, prefix,
# names with spaces and non-UTF-8 bytes, digests against sha256sum), from an IMA log (learning mode: the real
# kernel's log and ima-gen's), from a dpkg database (a fake root, md5sums cross-check); each policy then judges a
# clean log (trusted), a changed file and an unknown file (untrusted) with `policy check`. Bad input: exit 2, nothing
# written.
. "$(dirname "$0")/lib.sh"

GEN=$DW_BUILD/tests/tools/ima-gen

le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $(($1 >> 24)); }
hexesc() { sed 's/../\\x&/g'; }
# ima_ng_line NAME SHA256-HEX: an ascii ima-ng entry as the kernel writes it (its template digest computed here).
ima_ng_line() {
        local name=$1 dhex=$2
        {
                printf "$(le32 40)"
                printf 'sha256:\0'
                printf "$(printf %s "$dhex" | hexesc)"
                printf "$(le32 $((${#name} + 1)))"
                printf '%s\0' "$name"
        } >"$TMP/td"
        echo "10 $(sha1sum "$TMP/td" | cut -d' ' -f1) ima-ng sha256:$dhex $name"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---- an image tree ----

IMG=$TMP/img
mkdir -p "$IMG/usr/bin" "$IMG/usr/lib/mod" "$IMG/etc" "$IMG/var/log" "$IMG/opt"
printf 'busybox\n' >"$IMG/usr/bin/busybox"
printf 'gateway app\n' >"$IMG/usr/bin/gw-app"
printf 'a lib\n' >"$IMG/usr/lib/libx.so.1"
printf 'module\n' >"$IMG/usr/lib/mod/m.ko"
printf 'conf\n' >"$IMG/etc/app.conf"
printf 'log\n' >"$IMG/var/log/syslog"
printf 'spaced\n' >"$IMG/usr/bin/two words"
printf 'latin1\n' >"$IMG/opt/caf$(printf '\xe9')"
ln -s busybox "$IMG/usr/bin/sh"              # inside: its target is listed (once)
ln -s /usr/lib/libx.so.1 "$IMG/usr/bin/abs"  # absolute, inside the image
ln -s ../../../../../../etc/shadow "$IMG/usr/bin/up" # ".." stops at the image root, then nothing there
ln -s usr/bin "$IMG/bin"                     # a directory: not followed
mkfifo "$IMG/usr/bin/fifo"

assert_exit "tree: create" 0 "$DW" policy create --from-tree "$IMG" --exclude '/var/log/*' --name gw \
        --policy-version 1.0 -o "$TMP/tree.json"
assert_grep "tree: summary on stderr" "7 files, .* hashed" "$TMP/err"
assert_grep "tree: skipped counts" "1 special files, 0 pseudo file systems, 2 symlinks not followed \(2 listed by their target\), 1 excluded" "$TMP/err"
assert_eq "tree: the paths, sorted, as IMA names them" \
        "/etc/app.conf /opt/caf\\xe9 /usr/bin/busybox /usr/bin/gw-app /usr/bin/two_words /usr/lib/libx.so.1 /usr/lib/mod/m.ko" \
        "$(jq -r '.digests | keys_unsorted | join(" ")' "$TMP/tree.json")"
assert_eq "tree: digests are sha256sum's" "sha256:$(sha "$IMG/usr/bin/busybox") sha256:$(sha "$IMG/usr/lib/mod/m.ko")" \
        "$(jq -r '.digests["/usr/bin/busybox"][0] + " " + .digests["/usr/lib/mod/m.ko"][0]' "$TMP/tree.json")"
assert_eq "tree: meta" "gw 1.0 driftwatch policy create --from-tree" \
        "$(jq -r '.meta | "\(.name) \(.version) \(.generator)"' "$TMP/tree.json")"
assert_exit "tree: the policy validates" 0 "$DW" policy validate "$TMP/tree.json"

# Deterministic: the same tree gives the same bytes (SOURCE_DATE_EPOCH fixes meta.created), whatever --jobs.
SOURCE_DATE_EPOCH=1700000000 "$DW" policy create -q --from-tree "$IMG" --jobs 1 -o "$TMP/d1.json"
SOURCE_DATE_EPOCH=1700000000 "$DW" policy create -q --from-tree "$IMG" --jobs 4 -o "$TMP/d2.json"
assert_eq "tree: deterministic output" "$(sha "$TMP/d1.json")" "$(sha "$TMP/d2.json")"
assert_eq "tree: SOURCE_DATE_EPOCH" "2023-11-14T22:13:20Z" "$(jq -r .meta.created "$TMP/d1.json")"

# --prefix: the tree is /usr on the gateway; a symlink to an absolute path outside /usr is not followed.
ln -s /etc/app.conf "$IMG/usr/bin/to-etc"
assert_exit "prefix: create" 0 "$DW" policy create -v --from-tree "$IMG/usr" --prefix /usr -o "$TMP/usr.json"
assert_eq "prefix: paths under /usr" "/usr/bin/busybox /usr/bin/gw-app /usr/bin/two_words /usr/lib/libx.so.1 /usr/lib/mod/m.ko" \
        "$(jq -r '.digests | keys | join(" ")' "$TMP/usr.json")"
assert_grep "prefix: symlink out of the tree named" "/usr/bin/to-etc: symlink-out" "$TMP/err"
rm "$IMG/usr/bin/to-etc"

# Pseudo file systems mounted below the tree are skipped (needs a mount namespace: root, unshare).
if unshare -m true 2>/dev/null; then
        mkdir -p "$IMG/proc" "$IMG/run"
        unshare -m bash -c "mount -t proc proc '$IMG/proc' && mount -t tmpfs none '$IMG/run' && echo x >'$IMG/run/f' &&
                '$DW' policy create -v --from-tree '$IMG' -o '$TMP/pseudo.json'" >"$TMP/out" 2>"$TMP/err"
        assert_grep "pseudo: proc skipped" "/proc: pseudo-fs: pseudo file system 0x9fa0" "$TMP/err"
        assert_grep "pseudo: tmpfs skipped" "/run: pseudo-fs: pseudo file system 0x1021994" "$TMP/err"
        assert_eq "pseudo: nothing from them" 0 "$(jq '[.digests | keys[] | select(startswith("/proc") or startswith("/run"))] | length' "$TMP/pseudo.json")"
        rmdir "$IMG/proc" "$IMG/run"
else
        ok "pseudo file systems: no mount namespace here, skipped"
fi

# The tree's policy judges a log of the gateway: clean, a changed file, an unknown file.
{
        ima_ng_line /usr/bin/busybox "$(sha "$IMG/usr/bin/busybox")"
        ima_ng_line /usr/lib/libx.so.1 "$(sha "$IMG/usr/lib/libx.so.1")"
        ima_ng_line /usr/bin/two_words "$(sha "$IMG/usr/bin/two words")"
} >"$TMP/clean_ascii"
assert_exit "tree policy: clean log trusted" 0 "$DW" policy check --policy "$TMP/tree.json" --ima-log "$TMP/clean_ascii" --ascii
printf 'tampered\n' >"$TMP/changed"
{ cat "$TMP/clean_ascii"; ima_ng_line /usr/bin/gw-app "$(sha "$TMP/changed")"; ima_ng_line /tmp/dropper "$(sha "$TMP/changed")"; } \
        >"$TMP/bad_ascii"
assert_exit "tree policy: changed and unknown untrusted" 1 "$DW" policy check --json --policy "$TMP/tree.json" \
        --ima-log "$TMP/bad_ascii" --ascii
assert_eq "tree policy: the two failures" "/usr/bin/gw-app digest_mismatch /tmp/dropper not_in_allowlist" \
        "$(jq -r '[.failures[] | "\(.path) \(.reason)"] | join(" ")' "$TMP/out")"

# ---- learning mode: an IMA log ----

REALLOG=$REAL/binary_runtime_measurements
assert_exit "ima log: create" 0 "$DW" policy create --from-ima-log "$REALLOG" -o "$TMP/learned.json"
assert_grep "ima log: counts" "9 file and 0 buffer measurements learned; skipped 1 boot_aggregate, 1 violations" "$TMP/err"
assert_eq "ima log: paths" 8 "$(jq '.digests | length' "$TMP/learned.json")"
assert_eq "ima log: two digests for the file measured twice" 2 "$(jq '.digests["/mnt/etc/app.conf"] | length' "$TMP/learned.json")"
jq '.options.allow_violations = true' "$TMP/learned.json" >"$TMP/learned-v.json"
assert_exit "ima log: learned policy accepts its own log (ascii)" 0 "$DW" policy check --policy "$TMP/learned-v.json" \
        --ima-log "$REAL/ascii_runtime_measurements"
jq 'del(.digests["/mnt/bin/hello.sh"]) | .digests["/mnt/lib/crc7.ko"] = ["sha256:" + ("0" * 64)]' \
        "$TMP/learned-v.json" >"$TMP/learned-bad.json"
assert_exit "ima log: changed and unknown file" 1 "$DW" policy check --json --policy "$TMP/learned-bad.json" \
        --ima-log "$REALLOG"
assert_eq "ima log: reasons" "digest_mismatch not_in_allowlist" \
        "$(jq -r '[.failures[].reason] | sort | join(" ")' "$TMP/out")"

if [ -x "$GEN" ]; then
        "$GEN" --format binary --rounds 3 "$TMP/gen.bin" >/dev/null
        assert_exit "ima-gen: learn" 0 "$DW" policy create --from-ima-log "$TMP/gen.bin" --binary -o "$TMP/gen.json"
        assert_eq "ima-gen: buffers into ima_buf" true "$(jq '(.ima_buf | length) > 0' "$TMP/gen.json")"
        jq '.options.allow_violations = true' "$TMP/gen.json" >"$TMP/gen-v.json"
        assert_exit "ima-gen: learned policy accepts the simulated log" 0 "$DW" policy check --policy "$TMP/gen-v.json" \
                --ima-log "$TMP/gen.bin" --binary
else
        ok "ima-gen not built: simulated-log learning skipped"
fi

# ---- dpkg: a fake root ----

ROOT=$TMP/root
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/usr/bin" "$ROOT/usr/share/doc/tool"
ln -s usr/bin "$ROOT/bin" # merged /usr: the list says /bin/tool, IMA logs /usr/bin/tool
printf 'tool v1\n' >"$ROOT/usr/bin/tool"
printf 'helper\n' >"$ROOT/usr/bin/helper"
printf 'doc\n' >"$ROOT/usr/share/doc/tool/README"
printf '/.\n/bin\n/bin/tool\n/usr\n/usr/bin\n/usr/bin/helper\n/usr/bin/gone\n/usr/share/doc/tool/README\n' \
        >"$ROOT/var/lib/dpkg/info/tool.list"
printf '%s  bin/tool\n%s  usr/bin/helper\n%s  usr/share/doc/tool/README\n' "$(md5sum <"$ROOT/usr/bin/tool" | cut -c1-32)" \
        "$(printf 'helper v0\n' | md5sum | cut -c1-32)" "$(md5sum <"$ROOT/usr/share/doc/tool/README" | cut -c1-32)" \
        >"$ROOT/var/lib/dpkg/info/tool.md5sums"
assert_exit "dpkg: create" 0 "$DW" policy create --from-dpkg --root "$ROOT" --check-md5sums -o "$TMP/dpkg.json"
assert_eq "dpkg: files at their real paths" "/usr/bin/helper /usr/bin/tool /usr/share/doc/tool/README" \
        "$(jq -r '.digests | keys | join(" ")' "$TMP/dpkg.json")"
assert_grep "dpkg: changed file reported" "/usr/bin/helper \(tool\): changed since installation" "$TMP/err"
assert_grep "dpkg: counts" "1 packages, 7 paths listed: 3 directories, 1 missing, 0 other; 1 changed since installation" "$TMP/err"
assert_eq "dpkg: digest as on disk" "sha256:$(sha "$ROOT/usr/bin/helper")" "$(jq -r '.digests["/usr/bin/helper"][0]' "$TMP/dpkg.json")"
printf 'not a md5sums line\n' >>"$ROOT/var/lib/dpkg/info/tool.md5sums"
assert_exit "dpkg: malformed md5sums" 2 "$DW" policy create --from-dpkg --root "$ROOT" --check-md5sums -o "$TMP/dpkg2.json"
assert_grep "dpkg: file and line named" "tool.md5sums: line 4: expected" "$TMP/err"
assert_eq "dpkg: nothing written" no "$([ -e "$TMP/dpkg2.json" ] && echo yes || echo no)"

# ---- bad input ----

assert_exit "no source" 2 "$DW" policy create -o "$TMP/x.json"
assert_exit "two sources" 2 "$DW" policy create --from-tree "$IMG" --from-dpkg -o "$TMP/x.json"
assert_exit "no output" 2 "$DW" policy create --from-tree "$IMG"
assert_exit "no such tree" 2 "$DW" policy create --from-tree "$TMP/nope" -o "$TMP/x.json"
assert_grep "no such tree: named" "nope: cannot walk" "$TMP/err"
assert_exit "relative prefix" 2 "$DW" policy create --from-tree "$IMG" --prefix usr -o "$TMP/x.json"
assert_exit "bad --jobs" 2 "$DW" policy create --from-tree "$IMG" --jobs 0 -o "$TMP/x.json"
assert_exit "bad --alg" 2 "$DW" policy create --from-tree "$IMG" --alg md5 -o "$TMP/x.json"
head -c 150 "$REALLOG" >"$TMP/cut_bin"
assert_exit "cut IMA log" 2 "$DW" policy create --from-ima-log "$TMP/cut_bin" --binary -o "$TMP/x.json"
assert_grep "cut IMA log: entry and offset" "cut_bin: entry 1 at byte offset 101: " "$TMP/err"
assert_eq "bad input: nothing written" no "$([ -e "$TMP/x.json" ] && echo yes || echo no)"
if [ "$(id -u)" -ne 0 ]; then
        printf 'secret\n' >"$IMG/etc/secret" && chmod 000 "$IMG/etc/secret"
        assert_exit "unreadable file" 2 "$DW" policy create --from-tree "$IMG" -o "$TMP/x.json"
        rm -f "$IMG/etc/secret"
fi
printf 'old\n' >"$TMP/keep.json"
assert_exit "failed run keeps the old output" 2 "$DW" policy create --from-tree "$TMP/nope" -o "$TMP/keep.json"
assert_eq "old output intact" old "$(cat "$TMP/keep.json")"
