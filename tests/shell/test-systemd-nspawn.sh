#!/usr/bin/env bash
# The units under a real systemd: a minimal Debian bookworm booted with systemd-nspawn (systemd as the container's
# PID 1, a real journald), the project installed into it as `make install` does, and driftwatch-monitor.service
# run against a verifier and a software TPM on the host's loopback (the container shares the host's network):
#   - the unit becomes active only once the monitor said READY=1 (after its first quote); it enrolls with the
#     verifier, whose log then shows a verdict for it;
#   - its alerts are in the journal with their MESSAGE_ID and DRIFTWATCH_* fields, and `journalctl -x` shows the
#     catalog's text;
#   - SIGHUP reloads it (config_reloaded alert), SIGTERM stops it with status 0 (monitor_stopped alert);
#   - a stalled main loop (SIGSTOP) is killed by the watchdog (Result=watchdog) and restarted, the runtime directory
#     (the boot's event chain) surviving the restart;
#   - driftwatch-verifier.service starts as its own user, hardened, and serves HTTPS.
# The root file system is built once with debootstrap and cached in ${DW_CACHE:-/var/cache/driftwatch-tests}
# (about a minute); with it cached the test takes about 40 s, most of it the 30 s watchdog.
# Needs root, systemd-nspawn (systemd-container) and debootstrap: without them the test fails, it never skips.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"
. "$DW_SRCDIR/tests/systemd/rootfs.sh"
. "$DW_SRCDIR/tests/systemd/container.sh"
: "${TMP:?lib.sh did not make a temporary directory}"

CACHE=${DW_CACHE:-/var/cache/driftwatch-tests}
ROOTFS=$CACHE/nspawn-rootfs
MONITOR_BIN=$DW_BUILD/driftwatch-monitor # what make install installs (the container has no sanitizer runtime)
VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier}
IMA_SIM=$DW_BUILD/tests/tools/ima-sim
NAME=dw-nspawn-$$
GATEWAY=nspawn-gw-$$
TIME_LIMIT=170 # seconds, once the root file system exists
SHARE=$TMP/share # bound read-only into the container at /dw
M=driftwatch-monitor.service
V=driftwatch-verifier.service
VPID=

# Each alert's MESSAGE_ID, from monitor/alerts.c.
msgid() { grep -A1 -F "{\"$1\"," "$DW_SRCDIR/monitor/alerts.c" | grep -oE '[0-9a-f]{32}' | head -1; }
ID_STARTED=$(msgid monitor_started)
ID_STOPPED=$(msgid monitor_stopped)
ID_RELOADED=$(msgid config_reloaded)
ID_ENROLLED=$(msgid enrolled)
if [ -z "$ID_STARTED" ] || [ -z "$ID_STOPPED" ] || [ -z "$ID_RELOADED" ] || [ -z "$ID_ENROLLED" ]; then
        fail "monitor/alerts.c: no MESSAGE_ID for monitor_started, monitor_stopped, config_reloaded or enrolled"
        exit 0
fi

cleanup() {
        dw_ct_stop
        if [ -n "$VPID" ]; then
                kill "$VPID" 2>/dev/null
                wait "$VPID" 2>/dev/null
                VPID=
        fi
        swtpm_stop
        rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "interrupted"; cleanup; exit 130' INT TERM HUP

# ---- can this machine run it at all? -----------------------------------------------------------------------------
if ! command -v systemd-nspawn >/dev/null || ! command -v debootstrap >/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                echo "  installing systemd-container and debootstrap (apt-get)"
                DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q --no-install-recommends \
                        systemd-container debootstrap >"$TMP/apt.log" 2>&1 ||
                        { timeout 300 apt-get update -q >>"$TMP/apt.log" 2>&1 &&
                                DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q \
                                        --no-install-recommends systemd-container debootstrap >>"$TMP/apt.log" 2>&1; }
        fi
fi
if ! why=$(dw_ct_check); then
        fail "cannot run systemd-nspawn on this machine: $why" \
                "(needs root and the packages systemd-container and debootstrap: make deps)"
        exit 0
fi
for f in "$MONITOR_BIN" "$VERIFIER" "$IMA_SIM" "$DW_BUILD/driftwatch" "$DW_BUILD/driftwatch-verifier"; do
        if [ ! -x "$f" ]; then
                fail "$f is not built (make all, and make check for the test tools)"
                exit 0
        fi
done
if ! "$MONITOR_BIN" --help 2>&1 | grep -q '^Usage'; then
        fail "$MONITOR_BIN --help prints no usage: the monitor daemon is not there yet"
        exit 0
fi
for tool in swtpm jq curl tar; do
        command -v $tool >/dev/null || { fail "$tool is not installed (make deps)"; exit 0; }
done
if ! dw_rootfs_ensure "$ROOTFS" "$TMP/debootstrap.log" 2>"$TMP/rootfs.err"; then
        fail "no container root file system: $(cat "$TMP/rootfs.err")"
        exit 0
fi
T0=$SECONDS

# ---- on the host: a software TPM, an IMA log extended into it, a verifier ----------------------------------------
mkdir -p "$SHARE/ima"
if ! swtpm_start "$TMP/tpm"; then
        fail "swtpm did not start"
        exit 0
fi
cat "$SWTPM_CA_DIR/issuercert.pem" "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" >"$TMP/ekca.pem"
if ! "$IMA_SIM" --tcti "$SWTPM_TCTI" --log "$SHARE/ima/binary_runtime_measurements" boot-aggregate \
        measure /bin/true measure /bin/sh measure "$DW_BUILD/driftwatch" >"$TMP/ima-sim.log" 2>&1; then
        fail "ima-sim: $(cat "$TMP/ima-sim.log")"
        exit 0
fi
"$VERIFIER" --config /dev/null --state-dir "$TMP/verifier" --listen 127.0.0.1 --port 0 \
        --port-file "$TMP/verifier.port" --ek-ca-bundle "$TMP/ekca.pem" --set require_runtime_policy=no \
        2>"$TMP/verifier.log" &
VPID=$!
for _ in $(seq 200); do
        [ -s "$TMP/verifier.port" ] && break
        kill -0 $VPID 2>/dev/null || break
        sleep 0.05
done
VPORT=$(cat "$TMP/verifier.port" 2>/dev/null)
if [ -z "$VPORT" ]; then
        fail "the verifier did not start: $(tail -3 "$TMP/verifier.log")"
        exit 0
fi
cp "$TMP/verifier/ca.pem" "$SHARE/verifier-ca.pem"
cat >"$SHARE/monitor.conf" <<EOF
# written by tests/shell/test-systemd-nspawn.sh
[Monitor]
GatewayId=$GATEWAY
RequoteIntervalSec=5s
RequoteJitterSec=1s

[Verifier]
URL=https://127.0.0.1:$VPORT
CAFile=/dw/verifier-ca.pem

[TPM]
TCTI=$SWTPM_TCTI

[IMA]
Log=/dw/ima/binary_runtime_measurements
BootLog=
EOF

# The install tree, as `make install DESTDIR=...` makes it (of the programs already built: -o all).
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$DW_SRCDIR" -o all BUILD="$DW_BUILD" DESTDIR="$TMP/stage" \
        install >"$TMP/install.log" 2>&1; then
        fail "make install DESTDIR=$TMP/stage: $(tail -5 "$TMP/install.log")"
        exit 0
fi

# ---- boot ----------------------------------------------------------------------------------------------------------
NSPAWN_ARGS=(--hostname=dwgw "--bind-ro=$SHARE:/dw")
# What the monitor's eBPF programs need from nspawn (nspawn's own seccomp filter refuses bpf()).
if [ -d /sys/kernel/tracing/events ]; then
        # shellcheck disable=SC2054 # the comma belongs to the option
        NSPAWN_ARGS+=(--capability=CAP_BPF,CAP_PERFMON "--system-call-filter=bpf perf_event_open"
                --bind=/sys/kernel/tracing:/sys/kernel/tracing)
fi
if ! dw_ct_boot "$ROOTFS" "$NAME" "$TMP/boot.log" "${NSPAWN_ARGS[@]}"; then
        fail "systemd-nspawn did not start a container: $(tail -5 "$TMP/boot.log")"
        exit 0
fi
state=$(dw_ct_wait_running 60)
assert_eq "the container boots (systemctl is-system-running)" running "$state"
if [ "$state" != running ]; then
        ct systemctl --failed --no-pager
        [ -z "$state" ] && { tail -20 "$TMP/boot.log"; exit 0; }
fi

# ---- install into it, as the package's maintainer scripts would --------------------------------------------------
tar -C "$TMP/stage" -cf - . | ct tar -C / -xf - --keep-directory-symlink --no-overwrite-dir
assert_eq "the install tree is copied in" 0 "$?"
ct cp /dw/monitor.conf /etc/driftwatch/monitor.conf
ct systemd-sysusers >"$TMP/out" 2>&1 || fail "systemd-sysusers: $(cat "$TMP/out")"
ct systemd-tmpfiles --create driftwatch.conf >"$TMP/out" 2>&1 || fail "systemd-tmpfiles: $(cat "$TMP/out")"
assert_exit "journalctl --update-catalog in the container" 0 ct journalctl --update-catalog
ct systemctl daemon-reload
missing=$(ct ldd /usr/bin/driftwatch-monitor /usr/bin/driftwatch-verifier /usr/bin/driftwatch 2>&1 | grep 'not found')
assert_eq "the programs find every library in the container (else: add the package to tests/systemd/rootfs.sh)" "" \
        "$missing"
ct systemd-analyze verify --man=no /lib/systemd/system/$M /lib/systemd/system/$V >"$TMP/verify" 2>&1
assert_eq "systemd-analyze verify in the container: both units clean" "0:" "$?:$(cat "$TMP/verify")"

prop() { ct systemctl show -p "$2" --value "$1"; }
# journal ID [MATCHES...]: the journal entries with MESSAGE_ID=ID, one JSON object per line.
journal() {
        local id=$1
        shift
        ct journalctl -q -o json --no-pager "MESSAGE_ID=$id" "$@"
}
# wait_for SECONDS CMD...: polls CMD every 0.25 s until it succeeds.
wait_for() {
        local n=$(($1 * 4))
        shift
        while [ $n -gt 0 ]; do
                "$@" && return 0
                n=$((n - 1))
                sleep 0.25
        done
        return 1
}
entries_at_least() { [ "$(journal "$1" | grep -c .)" -ge "$2" ]; }
unit_log() { ct journalctl -q --no-pager -o cat -u "$1"; }
monitor_diagnostics() {
        echo "    --- systemctl status $M"
        ct systemctl status --no-pager -l $M | sed 's/^/    /'
        echo "    --- journal of $M"
        unit_log $M | tail -25 | sed 's/^/    /'
        echo "    --- verifier log"
        tail -5 "$TMP/verifier.log" | sed 's/^/    /'
}

# ---- driftwatch-monitor.service: READY, alerts, catalog ----------------------------------------------------------
test_monitor_start() {
        local t_ready t_exec t_started j
        ct mknod -m 0600 /dev/tpmrm0 c 1 3 # a stand-in (/dev/null's numbers): the test's TPM is the swtpm
        CT_T=150 ct systemctl start $M >"$TMP/out" 2>&1
        if [ "$(prop $M ActiveState)" != active ]; then
                fail "$M does not become active: $(cat "$TMP/out")"
                monitor_diagnostics
                return 1
        fi
        ok "$M starts and becomes active"
        assert_eq "... as Type=notify" notify "$(prop $M Type)"
        # PrivateDevices=yes plus BindPaths=-/dev/tpmrm0: the TPM (here a stand-in node made before the start) and
        # the pseudo devices only.
        local devs
        devs=$(ct ls "/proc/$(prop $M MainPID)/root/dev" | tr '\n' ' ')
        assert_eq "its private /dev has the TPM and no other device of the container's /dev" "yes no" \
                "$([[ " $devs " == *" tpmrm0 "* ]] && echo yes || echo no) $([[ " $devs " == *" console "* ]] &&
                        echo yes || echo no)"
        # READY=1 follows the first quote and the monitor_started alert: the unit must have become active after the
        # alert, not when the process was started.
        t_exec=$(prop $M ExecMainStartTimestampMonotonic)
        t_ready=$(prop $M ActiveEnterTimestampMonotonic)
        wait_for 5 entries_at_least "$ID_STARTED" 1
        t_started=$(journal "$ID_STARTED" | head -1 | jq -r .__MONOTONIC_TIMESTAMP)
        if [ -n "$t_started" ] && [ "$t_started" != null ] && [ "$t_ready" -ge "$t_started" ] &&
                [ "$t_started" -gt "$t_exec" ]; then
                ok "active only after READY=1: exec at $t_exec, monitor_started at $t_started, active at $t_ready (µs)"
        else
                fail "active before the monitor was ready? exec $t_exec, monitor_started '$t_started', active $t_ready"
        fi
        assert_eq "the monitor reports a STATUS= line" yes "$([ -n "$(prop $M StatusText)" ] && echo yes || echo no)"
        if wait_for 30 entries_at_least "$ID_ENROLLED" 1; then
                ok "on its first start the monitor enrolls with the verifier (enrolled alert)"
        else
                fail "no enrolled alert within 30 s"
                monitor_diagnostics
        fi
        if wait_for 45 grep -q '"event":"verdict".*"'"$GATEWAY"'"' "$TMP/verifier.log"; then
                ok "the verifier judged a round of the gateway $GATEWAY"
        else
                fail "no verdict for $GATEWAY in the verifier's log: $(tail -3 "$TMP/verifier.log")"
        fi

        wait_for 5 entries_at_least "$ID_STARTED" 1
        journal "$ID_STARTED" >"$TMP/started.json"
        j=$(head -1 "$TMP/started.json")
        assert_eq "journalctl -o json MESSAGE_ID=<monitor_started> finds the alert, from the unit" \
                "$M driftwatch-monitor 5" \
                "$(jq -r '"\(._SYSTEMD_UNIT) \(.SYSLOG_IDENTIFIER) \(.PRIORITY)"' <<<"$j" 2>&1)"
        assert_eq "... with DRIFTWATCH_* fields" yes \
                "$(jq -r '[keys[] | select(startswith("DRIFTWATCH_"))] |
                        if length > 0 then "yes" else "none: \(.)" end' <<<"$j" 2>&1)"
        ct journalctl -x -q --no-pager -u $M "MESSAGE_ID=$ID_STARTED" >"$TMP/x.txt" 2>&1
        assert_grep "journalctl -x shows the catalog's subject" 'Subject: driftwatch-monitor started' "$TMP/x.txt"
        assert_grep "... and its text" 'The driftwatch runtime integrity monitor started' "$TMP/x.txt"
        assert_grep "... and who defined it" 'Defined-By: driftwatch' "$TMP/x.txt"
}

test_monitor_reload() {
        local pid n
        pid=$(prop $M MainPID)
        n=$(journal "$ID_RELOADED" | grep -c .)
        assert_exit "systemctl reload $M (SIGHUP)" 0 ct systemctl reload $M
        if wait_for 10 entries_at_least "$ID_RELOADED" $((n + 1)); then
                ok "the reload is answered by a config_reloaded alert"
        else
                fail "no config_reloaded alert after the reload"
                monitor_diagnostics
        fi
        assert_eq "... same process, still active" "$pid active" "$(prop $M MainPID) $(prop $M ActiveState)"
}

# The watchdog: SIGSTOP the main process; within WatchdogSec (30 s) systemd aborts it (Result=watchdog) and, after
# RestartSec, starts it again; the runtime directory (the boot's event chain) is the same directory.
watchdog_fired() { unit_log $M | grep -q "Failed with result 'watchdog'"; }
batches() { grep '"event":"event-batch","gateway":"'"$GATEWAY"'"' "$TMP/verifier.log"; }
continued_batch() { batches | tail -n +$((n_batches + 1)) | grep -q '"new_chain":false'; }
restarted() { [ "$(prop $M NRestarts)" = 1 ] && [ "$(prop $M ActiveState)" = active ]; }
test_monitor_watchdog() {
        local pid rundir_before n_started t n_batches
        pid=$(prop $M MainPID)
        n_batches=$(batches | grep -c .)
        rundir_before=$(ct stat -c %i /run/driftwatch-monitor)
        n_started=$(journal "$ID_STARTED" | grep -c .)
        assert_eq "watchdog armed: WatchdogUSec" 30s "$(prop $M WatchdogUSec)"
        assert_exit "SIGSTOP to the main process" 0 ct systemctl kill --kill-who=main --signal=SIGSTOP $M
        t=$SECONDS
        if wait_for 45 watchdog_fired; then
                ok "the stalled monitor is killed by the watchdog after $((SECONDS - t)) s (Result=watchdog)"
        else
                fail "no watchdog kill within 45 s of SIGSTOP"
                monitor_diagnostics
                return 1
        fi
        assert_grep "... systemd says why" "Watchdog timeout" <(unit_log $M)
        if wait_for 40 restarted; then
                ok "... and restarted (NRestarts=1, active again)"
        else
                fail "not restarted: NRestarts=$(prop $M NRestarts) ActiveState=$(prop $M ActiveState)"
                monitor_diagnostics
                return 1
        fi
        assert_eq "... by a new process" yes "$([ "$(prop $M MainPID)" != "$pid" ] && echo yes || echo no)"
        assert_eq "... with the same runtime directory (RuntimeDirectoryPreserve=yes)" "$rundir_before" \
                "$(ct stat -c %i /run/driftwatch-monitor)"
        wait_for 5 entries_at_least "$ID_STARTED" $((n_started + 1))
        assert_eq "... which sends a new monitor_started alert" $((n_started + 1)) \
                "$(journal "$ID_STARTED" | grep -c .)"
        if wait_for 30 continued_batch; then
                ok "... and carries on with the boot's event chain (the verifier accepts its next batch:" \
                        "new_chain false)"
        else
                fail "no event batch continuing the chain after the restart: $(batches | tail -n +$((n_batches + 1)) |
                        head -c 400) $(grep '"event-batch-refused"' "$TMP/verifier.log" | head -c 400)"
        fi
}

test_monitor_stop() {
        assert_exit "systemctl stop $M" 0 ct systemctl stop $M
        assert_eq "SIGTERM ends the monitor with status 0" "0 success" \
                "$(prop $M ExecMainStatus) $(prop $M Result)"
        wait_for 5 entries_at_least "$ID_STOPPED" 1
        assert_eq "... after a monitor_stopped alert" yes \
                "$(journal "$ID_STOPPED" _SYSTEMD_UNIT=$M | grep -q . && echo yes || echo no)"
}

# ---- driftwatch-verifier.service: its own user, hardened, serving ------------------------------------------------
test_verifier_unit() {
        local port p
        for _ in $(seq 20); do
                p=$((20000 + RANDOM % 20000))
                (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
        done
        printf 'listen_address = 127.0.0.1\nport = %s\n' "$port" | ct sh -c 'cat >/etc/driftwatch/verifier.conf'
        assert_exit "systemctl start $V" 0 ct systemctl start $V
        if wait_for 20 curl -skf -o /dev/null "https://127.0.0.1:$port/healthz"; then
                ok "$V serves HTTPS (/healthz)"
        else
                fail "$V does not answer on port $port: $(unit_log $V | tail -5)"
        fi
        assert_eq "... as its own user" "driftwatch-verifier" \
                "$(ct ps -o user= -p "$(prop $V MainPID)" 2>&1)"
        assert_eq "... its state directory its own, 0700, with the admin token" "driftwatch-verifier 700 yes" \
                "$(ct stat -c '%U %a' /var/lib/driftwatch-verifier) $(
                        ct test -s /var/lib/driftwatch-verifier/admin.token && echo yes || echo no)"
        assert_exit "systemctl stop $V" 0 ct systemctl stop $V
        assert_eq "... stops cleanly" "0 success" "$(prop $V ExecMainStatus) $(prop $V Result)"
}

# The exposure systemd computes for the loaded units (informational; test-systemd-units.sh asserts the thresholds).
report_exposure() {
        local u x
        for u in $M $V; do
                x=$(ct systemd-analyze security --no-pager "$u" 2>/dev/null |
                        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]* [A-Z]*\).*/\1/p')
                echo "  info $u: exposure $x (online, in the container)"
        done
}

if test_monitor_start; then
        test_monitor_reload
        test_monitor_watchdog
        test_monitor_stop
fi
test_verifier_unit
report_exposure

dw_ct_stop
elapsed=$((SECONDS - T0))
if [ $elapsed -le $TIME_LIMIT ]; then ok "finished in $elapsed s (with the root file system cached)"; else
        fail "took $elapsed s, more than $TIME_LIMIT s"; fi
