#!/usr/bin/env bash
# The systemd integration, checked without a running systemd: `make install` into a DESTDIR (layout, modes, paths
# substituted, an existing configuration kept, uninstall removing everything it installed), `systemd-analyze
# verify` and `systemd-analyze security --offline=true` of the installed units (exposure <= 2.0 for the monitor,
# <= 1.5 for the verifier), sysusers.d and tmpfiles.d applied to a scratch root, and the journald catalog: one
# entry per MESSAGE_ID of monitor/alerts.c, each complete, compiled by `journalctl --update-catalog`.
# The same units running under a real systemd: test-systemd-nspawn.sh.
. "$(dirname "$0")/lib.sh"

MONITOR_MAX_EXPOSURE=2.0
VERIFIER_MAX_EXPOSURE=1.5

for tool in systemd-analyze journalctl systemd-sysusers systemd-tmpfiles make pkg-config; do
        if ! command -v $tool >/dev/null; then
                fail "$tool is not installed (the systemd package; make deps)"
                exit 0
        fi
done
for b in driftwatch driftwatch-verifier driftwatch-monitor; do
        if [ ! -x "$DW_BUILD/$b" ]; then
                fail "$DW_BUILD/$b is not built (make all)"
                exit 0
        fi
done

# A make of its own (not the one of `make check` running this), of the top Makefile.
submake() {
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$DW_SRCDIR" BUILD="$DW_BUILD" "$@" >"$TMP/make.out" 2>&1
}
# dw_install DESTDIR [VAR=VALUE...]: make install of the already built programs (-o all: nothing is rebuilt).
dw_install() {
        local dest=$1
        shift
        submake -o all DESTDIR="$dest" "$@" install
}
dw_uninstall() {
        local dest=$1
        shift
        submake DESTDIR="$dest" "$@" uninstall
}

# The directories systemd.pc names (the systemd package ships it), as install.mk uses them with PREFIX=/usr.
pcvar() { pkg-config --variable="$1" systemd 2>/dev/null; }
UNITDIR=$(pcvar systemdsystemunitdir)
SYSUSERSDIR=$(pcvar sysusersdir)
TMPFILESDIR=$(pcvar tmpfilesdir)
CATALOGDIR=$(pcvar catalogdir)
if [ -z "$UNITDIR" ]; then
        fail "pkg-config has no systemd.pc (pkg-config --list-all | grep systemd): the systemd package is missing"
        exit 0
fi

# ---- make install / uninstall ------------------------------------------------------------------------------------
test_install() {
        local d=$TMP/dest f
        if ! dw_install "$d"; then
                fail "make install DESTDIR=$d: $(tail -5 "$TMP/make.out")"
                return 1
        fi
        ok "make install DESTDIR=..."
        for f in driftwatch driftwatch-verifier driftwatch-monitor; do
                assert_eq "/usr/bin/$f installed, 0755" 755 "$(stat -c %a "$d/usr/bin/$f" 2>&1)"
                cmp -s "$DW_BUILD/$f" "$d/usr/bin/$f" || fail "/usr/bin/$f is not $DW_BUILD/$f"
        done
        for f in "$UNITDIR/driftwatch-monitor.service" "$UNITDIR/driftwatch-verifier.service" \
                "$SYSUSERSDIR/driftwatch.conf" "$TMPFILESDIR/driftwatch.conf" "$CATALOGDIR/driftwatch.catalog"; do
                assert_eq "$f installed (the directory from pkg-config), 0644" 644 "$(stat -c %a "$d$f" 2>&1)"
        done
        for f in /etc/driftwatch/verifier.conf /usr/share/doc/driftwatch/verifier.md \
                /usr/share/doc/driftwatch/examples/verifier.conf; do
                assert_eq "$f installed, 0644" 644 "$(stat -c %a "$d$f" 2>&1)"
        done
        if [ -f "$DW_SRCDIR/monitor/monitor.conf" ]; then
                assert_eq "/etc/driftwatch/monitor.conf installed from monitor/monitor.conf" "" \
                        "$(cmp "$DW_SRCDIR/monitor/monitor.conf" "$d/etc/driftwatch/monitor.conf" 2>&1)"
        else
                assert_eq "no monitor/monitor.conf yet: no /etc/driftwatch/monitor.conf" no \
                        "$([ -e "$d/etc/driftwatch/monitor.conf" ] && echo yes || echo no)"
        fi
        assert_grep "monitor unit: ExecStart with the install paths" \
                '^ExecStart=/usr/bin/driftwatch-monitor --config /etc/driftwatch/monitor.conf$' \
                "$d$UNITDIR/driftwatch-monitor.service"
        assert_grep "verifier unit: ExecStart with the install paths" \
                '^ExecStart=/usr/bin/driftwatch-verifier --config /etc/driftwatch/verifier.conf$' \
                "$d$UNITDIR/driftwatch-verifier.service"

        # An existing configuration is never overwritten, and uninstall keeps it when it was changed.
        echo "# mine" >"$d/etc/driftwatch/verifier.conf"
        if dw_install "$d"; then ok "make install over an existing install"; else
                fail "make install over an existing install: $(tail -5 "$TMP/make.out")"; fi
        assert_eq "an existing /etc/driftwatch/verifier.conf is not overwritten" "# mine" \
                "$(cat "$d/etc/driftwatch/verifier.conf")"
        if dw_uninstall "$d"; then ok "make uninstall"; else fail "make uninstall: $(tail -5 "$TMP/make.out")"; fi
        assert_eq "make uninstall removes every file but the changed configuration" "./etc/driftwatch/verifier.conf" \
                "$(cd "$d" && find . -type f -o -type l | sort | tr '\n' ' ' | sed 's/ $//')"
        rm -rf "$d"
        dw_install "$d" && dw_uninstall "$d"
        assert_eq "install then uninstall leaves no file (unchanged configurations are removed)" "" \
                "$(cd "$d" && find . -type f -o -type l)"

        # Another prefix: the paths written in the units, tmpfiles.d and the catalog follow it.
        d=$TMP/dest-opt
        if ! dw_install "$d" PREFIX=/opt/dw SYSCONFDIR=/opt/dw/etc; then
                fail "make install PREFIX=/opt/dw: $(tail -5 "$TMP/make.out")"
                return 1
        fi
        assert_grep "PREFIX=/opt/dw: units under it, ExecStart substituted" \
                '^ExecStart=/opt/dw/bin/driftwatch-monitor --config /opt/dw/etc/driftwatch/monitor.conf$' \
                "$d/opt/dw/lib/systemd/system/driftwatch-monitor.service"
        assert_grep "PREFIX=/opt/dw: catalog documentation links follow DOCDIR" \
                '^Documentation: file:///opt/dw/share/doc/driftwatch/' \
                "$d/opt/dw/lib/systemd/catalog/driftwatch.catalog"
        assert_grep "SYSCONFDIR=/opt/dw/etc: tmpfiles.d follows it" '^d +/opt/dw/etc/driftwatch ' \
                "$d/opt/dw/lib/tmpfiles.d/driftwatch.conf"
        assert_eq "PREFIX=/opt/dw: nothing outside it" "./opt" "$(cd "$d" && ls -d ./*)"
        assert_eq "... and no path of the default prefix left in the units" "" \
                "$(grep -hE '(^|[=: ])(/usr/bin/driftwatch|/etc/driftwatch|file:///usr/share/doc)' \
                        "$d"/opt/dw/lib/systemd/system/*)"
        rm -rf "$d"
}

# ---- the units: the contract with the daemons, verify, security exposure -----------------------------------------
# exposure UNITFILE: the overall exposure level systemd-analyze security gives it (e.g. "1.9").
exposure() {
        systemd-analyze security --offline=true --no-pager "$1" 2>"$TMP/sa.err" |
                sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p'
}

test_units() {
        local d=$TMP/dest-units m v line bad=0 x
        dw_install "$d" || { fail "make install: $(tail -5 "$TMP/make.out")"; return 1; }
        m=$d$UNITDIR/driftwatch-monitor.service
        v=$d$UNITDIR/driftwatch-verifier.service

        for line in Type=notify NotifyAccess=main WatchdogSec=30s Restart=on-failure \
                'ExecReload=/bin/kill -HUP $MAINPID' StateDirectory=driftwatch-monitor \
                RuntimeDirectory=driftwatch-monitor RuntimeDirectoryPreserve=yes ProtectSystem=strict \
                ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes 'DeviceAllow=/dev/tpmrm0 rw' \
                'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
                'SystemCallFilter=@system-service bpf perf_event_open' 'CapabilityBoundingSet=CAP_BPF CAP_PERFMON'; do
                grep -qxF -- "$line" "$m" || { fail "driftwatch-monitor.service lacks '$line'"; bad=1; }
        done
        [ $bad = 0 ] && ok "driftwatch-monitor.service: notify, watchdog, directories, sandbox as specified"
        # The directories systemd creates are the monitor's defaults (monitor/config.h).
        for x in STATE_DIR:StateDirectory=/var/lib RUNTIME_DIR:RuntimeDirectory=/run; do
                local def key=${x#*:}
                def=$(sed -n "s/^#define MON_${x%%:*}_DEFAULT *\"\(.*\)\"/\1/p" "$DW_SRCDIR/monitor/config.h")
                assert_eq "monitor's MON_${x%%:*}_DEFAULT is the unit's ${key%%=*}" "$def" \
                        "${key#*=}/$(sed -n "s/^${key%%=*}=//p" "$m")"
        done
        bad=0
        for line in Type=simple User=driftwatch-verifier StateDirectory=driftwatch-verifier CapabilityBoundingSet= \
                PrivateUsers=yes ProtectSystem=strict; do
                grep -qxF -- "$line" "$v" || { fail "driftwatch-verifier.service lacks '$line'"; bad=1; }
        done
        [ $bad = 0 ] && ok "driftwatch-verifier.service: simple, own user, no capabilities, sandboxed"
        assert_eq "the verifier's default state_dir is its StateDirectory" /var/lib/driftwatch-verifier \
                "$("$DW_BUILD/driftwatch-verifier" --config /dev/null --check-config | sed -n 's/^state_dir = //p')"
        assert_grep "the verifier's user comes from sysusers.d" '^u +driftwatch-verifier ' \
                "$d$SYSUSERSDIR/driftwatch.conf"

        # systemd-analyze verify on the host (no running systemd needed). The programs are in DESTDIR, not at the
        # paths the units name: those "not executable" complaints are expected for exactly the installed files.
        systemd-analyze verify --man=no "$m" "$v" >"$TMP/verify.out" 2>&1
        bad=0
        while IFS= read -r line; do
                if [[ $line =~ ^driftwatch-(monitor|verifier)\.service:\ Command\ (/[^ ]+)\ is\ not\ executable ]] &&
                        [ -x "$d${BASH_REMATCH[2]}" ]; then
                        continue
                fi
                fail "systemd-analyze verify: $line"
                bad=1
        done <"$TMP/verify.out"
        [ $bad = 0 ] && ok "systemd-analyze verify of both installed units: no complaint"

        x=$(exposure "$m")
        if [ -n "$x" ] && awk -v x="$x" -v max=$MONITOR_MAX_EXPOSURE 'BEGIN { exit !(x <= max) }'; then
                ok "driftwatch-monitor.service: exposure $x <= $MONITOR_MAX_EXPOSURE"
        else
                fail "driftwatch-monitor.service: exposure '$x' > $MONITOR_MAX_EXPOSURE: $(head -c 300 "$TMP/sa.err")"
                systemd-analyze security --offline=true --no-pager "$m" 2>&1 | grep '✗' | sed 's/^/    /'
        fi
        # docs/monitor.md's visibility drop-in (the monitor may then hash files executed in /tmp and /home): the
        # exposure the page states is the one systemd-analyze gives the unit with it applied.
        mkdir -p "$TMP/dropin"
        sed -e '/^PrivateTmp=/d' -e 's/^ProtectHome=.*/ProtectHome=read-only/' "$m" >"$TMP/dropin/driftwatch-monitor.service"
        assert_eq "the visibility drop-in's exposure is the one docs/monitor.md states" \
                "$(tr '\n' ' ' <"$DW_SRCDIR/docs/monitor.md" | sed -n 's/.*relax the unit with a drop-in (exposure \([0-9.]*\)).*/\1/p')" \
                "$(exposure "$TMP/dropin/driftwatch-monitor.service")"
        sed -i -e 's/^CapabilityBoundingSet=.*/CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_PTRACE/' \
                -e 's/^ProtectProc=.*/ProtectProc=default/' "$TMP/dropin/driftwatch-monitor.service"
        assert_eq "... and with CAP_SYS_PTRACE for fileless digests too" \
                "$(tr '\n' ' ' <"$DW_SRCDIR/docs/monitor.md" | sed -n 's/.*ProtectProc=default` to it (exposure \([0-9.]*\)).*/\1/p')" \
                "$(exposure "$TMP/dropin/driftwatch-monitor.service")"
        x=$(exposure "$v")
        if [ -n "$x" ] && awk -v x="$x" -v max=$VERIFIER_MAX_EXPOSURE 'BEGIN { exit !(x <= max) }'; then
                ok "driftwatch-verifier.service: exposure $x <= $VERIFIER_MAX_EXPOSURE"
        else
                fail "driftwatch-verifier.service: exposure '$x' > $VERIFIER_MAX_EXPOSURE: $(head -c 300 "$TMP/sa.err")"
                systemd-analyze security --offline=true --no-pager "$v" 2>&1 | grep '✗' | sed 's/^/    /'
        fi
        assert_exit "systemd-analyze security --threshold=20 passes for the monitor" 0 \
                systemd-analyze security --offline=true --threshold=20 --no-pager "$m"
        assert_exit "systemd-analyze security --threshold=15 passes for the verifier" 0 \
                systemd-analyze security --offline=true --threshold=15 --no-pager "$v"

        # sysusers.d and tmpfiles.d applied to a scratch root.
        local r=$TMP/root
        mkdir -p "$r/etc"
        assert_exit "systemd-sysusers --root applies sysusers.d/driftwatch.conf" 0 \
                systemd-sysusers --root="$r" "$d$SYSUSERSDIR/driftwatch.conf"
        local uid
        uid=$(awk -F: '$1 == "driftwatch-verifier" { print $3 }' "$r/etc/passwd" 2>/dev/null)
        assert_eq "... creating a system user driftwatch-verifier with a nologin shell" yes \
                "$([ -n "$uid" ] && [ "$uid" -lt 1000 ] && grep -q '^driftwatch-verifier:.*nologin$' "$r/etc/passwd" &&
                        echo yes || echo "no: $(cat "$r/etc/passwd" 2>&1)")"
        assert_exit "systemd-tmpfiles --root --create applies tmpfiles.d/driftwatch.conf" 0 \
                systemd-tmpfiles --root="$r" --create "$d$TMPFILESDIR/driftwatch.conf"
        assert_eq "... /var/lib/driftwatch-verifier: 0700, the verifier's" "700 $uid" \
                "$(stat -c '%a %u' "$r/var/lib/driftwatch-verifier" 2>&1)"
        assert_eq "... /var/lib/driftwatch-monitor: 0700 root" "700 0" \
                "$(stat -c '%a %u' "$r/var/lib/driftwatch-monitor" 2>&1)"
        rm -rf "$d" "$r"
}

# ---- the journald catalog ----------------------------------------------------------------------------------------
test_catalog() {
        local cat=$DW_SRCDIR/systemd/driftwatch.catalog ids id n bad=0 r=$TMP/catroot
        ids=$(grep -oE '"[0-9a-f]{32}"' "$DW_SRCDIR/monitor/alerts.c" | tr -d '"' | sort)
        n=$(grep -cE '^\s*MON_ALERT_[A-Z_]+,' "$DW_SRCDIR/monitor/alerts.h")
        assert_eq "monitor/alerts.c: one MESSAGE_ID per alert kind of alerts.h" "$n" "$(echo "$ids" | sort -u | wc -l)"
        for id in $ids; do
                case $(grep -c "^-- $id\$" "$cat") in
                1) ;;
                0) fail "catalog: no entry for MESSAGE_ID $id ($(grep "$id" "$DW_SRCDIR/monitor/alerts.c" |
                        grep -oE '"[a-z_]+"' | head -1))"; bad=1 ;;
                *) fail "catalog: MESSAGE_ID $id has more than one entry"; bad=1 ;;
                esac
        done
        for id in $(sed -n 's/^-- \([0-9a-f]*\)$/\1/p' "$cat"); do
                grep -qx "$id" <<<"$ids" || { fail "catalog: entry $id is no MESSAGE_ID of monitor/alerts.c"; bad=1; }
        done
        [ $bad = 0 ] && ok "catalog: exactly one entry per MESSAGE_ID of monitor/alerts.c ($(echo "$ids" | wc -l))"

        # Every entry: Subject, Defined-By, Documentation, a blank line, then a body of two paragraphs at least
        # (what happened; what to do).
        awk '
                function check() {
                        if (id == "") return
                        if (!subj) printf "%s: no Subject\n", id
                        if (!def) printf "%s: no Defined-By: driftwatch\n", id
                        if (!doc) printf "%s: no Documentation\n", id
                        if (paras < 2) printf "%s: %d paragraph(s), wants what happened and what to do\n", id, paras
                }
                /^-- / { check(); id = $2; subj = def = doc = 0; inbody = 0; paras = 0; prevblank = 1; next }
                id == "" { next }
                !inbody && /^Subject: ./ { subj = 1; next }
                !inbody && /^Defined-By: driftwatch$/ { def = 1; next }
                !inbody && /^Documentation: (file|https?|man):/ { doc = 1; next }
                !inbody && /^$/ { inbody = 1; next }
                !inbody { printf "%s: unexpected header line: %s\n", id, $0; next }
                /^$/ { prevblank = 1; next }
                { if (prevblank) paras++; prevblank = 0 }
                END { check() }' "$cat" >"$TMP/catalog.check"
        if [ -s "$TMP/catalog.check" ]; then fail "catalog entries incomplete: $(head -c 600 "$TMP/catalog.check")"
        else ok "catalog: every entry has Subject, Defined-By, Documentation and a two-part body"; fi

        # Compiled as journald does: journalctl --update-catalog on a scratch root with the installed catalog.
        dw_install "$TMP/dest-cat" || { fail "make install: $(tail -5 "$TMP/make.out")"; return 1; }
        mkdir -p "$r/usr/lib/systemd/catalog"
        cp "$TMP/dest-cat$CATALOGDIR/driftwatch.catalog" "$r/usr/lib/systemd/catalog/"
        assert_exit "journalctl --root --update-catalog compiles the installed catalog" 0 \
                journalctl --root="$r" --update-catalog
        assert_eq "... without a warning" "" "$(cat "$TMP/err")"
        journalctl --root="$r" --list-catalog >"$TMP/list" 2>&1
        bad=0
        for id in $ids; do
                [ "$(grep -c "^$id driftwatch: " "$TMP/list")" = 1 ] || {
                        fail "journalctl --list-catalog: $id not listed once as driftwatch's:" \
                                "$(head -c 300 "$TMP/list")"
                        bad=1
                }
        done
        [ $bad = 0 ] && ok "journalctl --list-catalog lists every MESSAGE_ID with its subject"
        journalctl --root="$r" --dump-catalog b2ea9dae9bb342bb9c38d426b5942c82 >"$TMP/dump" 2>&1
        assert_grep "journalctl --dump-catalog shows the monitor_started entry" '^Subject: driftwatch-monitor started' \
                "$TMP/dump"
        rm -rf "$r" "$TMP/dest-cat"
}

test_install
test_units
test_catalog
