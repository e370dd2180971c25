# Sourced by tests/shell/test-systemd-nspawn.sh: a minimal Debian bookworm root file system for systemd-nspawn,
# built once with debootstrap and cached.
#
#   dw_rootfs_ensure DIR LOGFILE  builds DIR unless DIR/.driftwatch-rootfs already records the same package list;
#                                 returns 1 with a message on stderr when it cannot. Concurrent callers wait for one
#                                 another (flock on DIR.lock); a build goes to a temporary directory first, so an
#                                 interrupted build never leaves a half-made DIR behind.
#   dw_apt_mirror                 the URI apt already uses for bookworm (never hard-coded)
#
# The container runs the monitor and the verifier installed from the host's build, so it carries their runtime
# libraries; procps for the units' ExecReload=/bin/kill.

DW_ROOTFS_SUITE=bookworm
DW_ROOTFS_PACKAGES="systemd,systemd-sysv,dbus,libsystemd0,procps,\
libtss2-esys-3.0.2-0,libtss2-mu0,libtss2-rc0,libtss2-tctildr0,libtss2-tcti-swtpm0,libtss2-tcti-device0,\
libjansson4,libcurl4,libssl3,libbpf1,\
libmicrohttpd12,libgnutls30,libsqlite3-0"
DW_ROOTFS_MARKER=".driftwatch-rootfs"
DW_ROOTFS_STAMP="suite=$DW_ROOTFS_SUITE variant=minbase include=$DW_ROOTFS_PACKAGES"

# The first URI of an enabled "deb" source for the suite, from one-line .list files or deb822 .sources files.
dw_apt_mirror() {
        local f
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
                [ -f "$f" ] || continue
                case $f in
                *.sources)
                        awk -v s="$DW_ROOTFS_SUITE" '
                                BEGIN { RS = ""; FS = "\n" }
                                { uri = ""; ok = 0; deb = 0
                                  for (i = 1; i <= NF; i++) {
                                        if ($i ~ /^URIs:/) {
                                                sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uri = u[1] }
                                        if ($i ~ /^Types:/ && $i ~ /(^|[ \t])deb([ \t]|$)/) deb = 1
                                        if ($i ~ /^Suites:/) {
                                                n = split($i, w, /[ \t]+/)
                                                for (j = 2; j <= n; j++) if (w[j] == s) ok = 1 }
                                        if ($i ~ /^Enabled:[ \t]*no/) ok = 0 }
                                  if (deb && ok && uri != "") { print uri; exit } }' "$f"
                        ;;
                *)
                        awk -v s="$DW_ROOTFS_SUITE" '$1 == "deb" {
                                        i = 2   # skip [options]
                                        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                                        if ($(i + 1) == s) { print $i; exit } }' "$f"
                        ;;
                esac
        done | head -n1
}

dw_rootfs_ensure() {
        local dir=$1 log=$2 mirror new rc
        [ "$(cat "$dir/$DW_ROOTFS_MARKER" 2>/dev/null)" = "$DW_ROOTFS_STAMP" ] && return 0
        mkdir -p "$(dirname "$dir")" || return 1
        exec {lockfd}>"$dir.lock" || return 1
        flock "$lockfd"
        # Someone else may have built it while we waited.
        if [ "$(cat "$dir/$DW_ROOTFS_MARKER" 2>/dev/null)" = "$DW_ROOTFS_STAMP" ]; then
                exec {lockfd}>&-
                return 0
        fi
        mirror=$(dw_apt_mirror)
        if [ -z "$mirror" ]; then
                echo "no apt source for the suite $DW_ROOTFS_SUITE in /etc/apt/sources.list{,.d/*}" >&2
                exec {lockfd}>&-
                return 1
        fi
        new=$dir.new.$$
        rm -rf --one-file-system "$new"
        echo "building the container root file system in $dir (debootstrap, about a minute; cached afterwards)" >&2
        timeout 900 debootstrap --variant=minbase --include="$DW_ROOTFS_PACKAGES" "$DW_ROOTFS_SUITE" "$new" \
                "$mirror" >"$log" 2>&1
        rc=$?
        if [ $rc != 0 ] || [ ! -x "$new/lib/systemd/systemd" ]; then
                echo "debootstrap failed (exit $rc): $(tail -3 "$log")" >&2
                rm -rf --one-file-system "$new"
                exec {lockfd}>&-
                return 1
        fi
        # Trim what a test never uses; forget the mirror (the container never runs apt).
        rm -rf "$new"/var/cache/apt/archives/*.deb "$new"/var/lib/apt/lists/* "$new"/usr/share/doc/* \
                "$new"/usr/share/man/* "$new"/usr/share/locale/*
        echo "# emptied: this test container never runs apt" >"$new/etc/apt/sources.list"
        echo dwgw >"$new/etc/hostname"
        echo "$DW_ROOTFS_STAMP" >"$new/$DW_ROOTFS_MARKER"
        rm -rf --one-file-system "$dir"
        mv "$new" "$dir"
        exec {lockfd}>&-
        return 0
}
