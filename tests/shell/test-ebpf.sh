#!/usr/bin/env bash
# eBPF drift detection on the real kernel of this machine, as root: the capability report (`--probe --json`,
# cross-checked with bpftool's own probe), then driftwatch-monitor (the sanitizer build) against a verifier, a
# software TPM and the IMA simulator, with a runtime policy and a protected test directory: an allowed binary
# (no alert), an unknown one (drift_exec with its path and digest), an allowed one modified in place, a memfd and
# an unlinked file (fileless), writes, renames and chmods in the protected directory (drift_tamper, filtered in
# the kernel: the same outside it is not reported), a module load attempt, a BPF load, a ptrace attach to a root
# process and a mount over a protected path (drift_kernel), identical alerts counted, and the findings at the
# verifier as runtime events. Tracepoints see the whole host: assertions name our paths and pids. Without root or
# without any BPF tier, the tests say so and are skipped, never passed.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"

VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier}
MONITOR=${DW_MONITOR:-$DW_BUILD/driftwatch-monitor}
SIM=$DW_BUILD/tests/tools/ima-sim
GC_BIN=$DW_BUILD/tests/tools/gateway-client
HELPER=$DW_BUILD/tests/tools/drift-helper
BOOT_LOG=$DW_SRCDIR/tests/data/round/bios.log
VPID= MPID= PORT= SLEEPER= MOUNTED=
GW=gw-ebpf

skip() {
        echo "SKIP $*" >>"$DW_RESULTS"
        echo "  skip $*"
}

require_built "$VERIFIER" "$MONITOR" "$SIM" "$GC_BIN" "$HELPER" || exit 0
if [ "$(id -u)" != 0 ]; then
        skip "eBPF drift detection: not root, BPF programs cannot be loaded (every test skipped)"
        exit 0
fi

cleanup() {
        [ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
        [ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
        [ -n "$SLEEPER" ] && kill "$SLEEPER" 2>/dev/null
        [ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
        swtpm_stop
        [ -n "${DW_KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

wait_for() {
        local limit=$1
        shift
        for _ in $(seq $((limit * 10))); do
                "$@" && return 0
                sleep 0.1
        done
        return 1
}

api() { curl -sS --cacert "$TMP/v/ca.pem" -H "Authorization: Bearer $ADMIN" "$@"; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
# The monitor's alert lines of one kind whose fields match a pattern.
alerts() { grep -E "ALERT $1 \[[0-9a-f]{32}\]: .*$2" "$TMP/m.log"; }
alert_seen() { alerts "$1" "$2" >/dev/null; }
alert_n() { alerts "$1" "$2" | grep -c .; }
event_count() { api "$URL/v1/events?gateway=$GW&kind=$1&limit=1000" | jq "[.events[] | select($2)] | length"; }
# The ids of the BPF programs a process holds (its descriptors of programs and links).
prog_ids() { cat /proc/"$1"/fdinfo/* 2>/dev/null | sed -n 's/^prog_id:[[:space:]]*//p' | sort -u; }
events_at_least() { [ "$(event_count "$1" "$2" 2>/dev/null)" -ge "$3" ] 2>/dev/null; }

# ---- the capability report ------------------------------------------------------------------------------------------
test_probe() {
        assert_exit "--probe --json runs and exits 0" 0 "$MONITOR" --probe --json
        cp "$TMP/out" "$TMP/probe.json"
        assert_eq "... JSON with exactly tiers and coverage" '["coverage","tiers"]' "$(jq -c 'keys' "$TMP/probe.json")"
        assert_eq "... the three tiers, each with available and reason" \
                '["fentry:boolean:string","lsm:boolean:string","tracepoint:boolean:string"]' \
                "$(jq -c '[.tiers | to_entries[] | "\(.key):\(.value.available | type):\(.value.reason | type)"] | sort' "$TMP/probe.json")"
        assert_eq "... the nine categories, each a tier or none" \
                '["bpf_load","exec","fileless_exec","ima_policy_write","kexec","module_load","mount","ptrace","tamper"]' \
                "$(jq -c '[.coverage | to_entries[] | select(.value | test("^(lsm|fentry|tracepoint|none)$")) | .key] | sort' "$TMP/probe.json")"
        assert_eq "... every unavailable tier says why" 0 \
                "$(jq '[.tiers[] | select(.available == false and (.reason | length) < 10)] | length' "$TMP/probe.json")"
        assert_eq "the tracepoint tier is available on this kernel" true "$(jq '.tiers.tracepoint.available' "$TMP/probe.json")"
        # The peer: bpftool's own probe of the program types behind the lsm and fentry tiers.
        if bpftool feature probe kernel 2>/dev/null >"$TMP/features"; then
                local want_lsm=true want_fentry=true
                grep -q "program_type lsm is NOT available" "$TMP/features" && want_lsm=false
                grep -q "program_type tracing is NOT available" "$TMP/features" && want_fentry=false
                assert_eq "lsm available as bpftool's probe says ($want_lsm)" "$want_lsm" \
                        "$(jq '.tiers.lsm.available' "$TMP/probe.json")"
                assert_eq "fentry available as bpftool's probe says ($want_fentry)" "$want_fentry" \
                        "$(jq '.tiers.fentry.available' "$TMP/probe.json")"
        else
                skip "bpftool feature probe did not run: no cross-check of the lsm and fentry tiers"
        fi
        if [ "$(jq '.tiers.lsm.available' "$TMP/probe.json")" = false ]; then
                assert_grep "... the refusal names the errno" "EPERM|EACCES|EINVAL|ENOENT|EOPNOTSUPP|ESRCH" \
                        <(jq -r '.tiers.lsm.reason' "$TMP/probe.json")
        fi
        assert_eq "... exec is covered" true "$(jq '.coverage.exec != "none"' "$TMP/probe.json")"
        if command -v setpriv >/dev/null; then
                setpriv --reuid=65534 --regid=65534 --clear-groups "$MONITOR" --probe --json >"$TMP/probe-nobody.json" \
                        2>/dev/null
                assert_eq "--probe as nobody: every tier unavailable, saying it is not root" \
                        "false false false true" \
                        "$(jq -r '[.tiers.lsm.available, .tiers.fentry.available, .tiers.tracepoint.available,
                                   (.tiers.tracepoint.reason | test("not running as root"))] | join(" ")' \
                                "$TMP/probe-nobody.json")"
                assert_eq "... and every category none" '["none"]' \
                        "$(jq -c '[.coverage[]] | unique' "$TMP/probe-nobody.json")"
        fi
        assert_exit "--probe prints the same as text" 0 "$MONITOR" --probe
        assert_grep "... with what each category cannot see" "^  tamper +(lsm|fentry|tracepoint) " "$TMP/out"
        # While it runs, it holds programs; when it is done, none of them is left.
        "$MONITOR" --probe >/dev/null 2>&1 &
        local pid=$! ids="" left=0
        for _ in $(seq 100); do
                ids=$(prog_ids $pid)
                [ -n "$ids" ] && break
                sleep 0.02
        done
        wait $pid
        for id in $ids; do bpftool prog show id "$id" >/dev/null 2>&1 && left=$((left + 1)); done
        assert_eq "--probe leaves none of the programs it loaded" 0 "$left"
}

# ---- setup ----------------------------------------------------------------------------------------------------------
setup() {
        if ! swtpm_start "$TMP/tpm"; then
                fail "swtpm did not start"
                return 1
        fi
        T=$SWTPM_TCTI
        cat "$SWTPM_CA_DIR/issuercert.pem" "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" >"$TMP/ekca.pem"
        "$GC_BIN" --tcti "$T" firmware --boot-log "$BOOT_LOG" >/dev/null
        IMA=$TMP/ima.bin
        "$SIM" --tcti "$T" --log "$IMA" boot-aggregate measure /bin/true >/dev/null
        start_verifier
        if [ -z "$PORT" ]; then
                fail "the verifier did not start: $(tail -3 "$TMP/v.log")"
                return 1
        fi
        mkdir -p "$TMP/protected/mnt" "$TMP/bin"
        echo original >"$TMP/protected/file"
        echo a >"$TMP/protected/a"
        cp /usr/bin/true "$TMP/bin/allowed-tool"
        # Paths as the kernel resolves them (/bin is /usr/bin on a merged-/usr system).
        TRUE=$(readlink -f /usr/bin/true)
        jq -n --arg t "sha256:$(sha256 "$TRUE")" --arg true "$TRUE" --arg a "$TMP/bin/allowed-tool" \
                --arg ad "sha256:$(sha256 "$TMP/bin/allowed-tool")" --arg bt "/bin/true" \
                '{driftwatch_runtime_policy: 1, meta: {name: "ebpf"},
                  digests: {($true): [$t], ($bt): [$t], ($a): [$ad]}}' >"$TMP/policy.json"
        api -X POST --data-binary "@$TMP/policy.json" "$URL/v1/admin/policies/runtime/ebpf" >/dev/null
        api -X PUT -d '{"runtime": "ebpf"}' "$URL/v1/admin/groups/default/policies" >/dev/null
        cat >"$TMP/monitor.conf" <<EOF
[Monitor]
GatewayId=$GW
StateDirectory=$TMP/m-state
RuntimeDirectory=$TMP/m-run
RequoteIntervalSec=30
RequoteJitterSec=0
RuntimePolicy=$TMP/policy.json

[Verifier]
URL=$URL
CAFile=$TMP/v/ca.pem
RetryMaxSec=1

[TPM]
TCTI=$T

[IMA]
Log=$IMA
PollIntervalMSec=100
BootLog=$BOOT_LOG

[Events]
BatchDelayMSec=50

[Drift]
ProtectedPaths=$TMP/protected
EOF
        "$MONITOR" --config "$TMP/monitor.conf" 2>>"$TMP/m.log" &
        MPID=$!
        if ! wait_for 60 grep -q 'ALERT monitor_started' "$TMP/m.log"; then
                fail "the monitor did not start: $(tail -5 "$TMP/m.log")"
                return 1
        fi
        wait_for 30 grep -q 'ALERT enrolled' "$TMP/m.log"
        assert_eq "the monitor starts with drift detection and enrolls" 0 $?
        assert_grep "... logs which tier each category got" "drift: exec: tracepoint \(sched:sched_process_exec" "$TMP/m.log"
        assert_grep "... and reports it in its start event" "ALERT monitor_started .*drift=exec=(lsm|fentry|tracepoint) " \
                "$TMP/m.log"
        # The IMA simulator's log is a file, not the kernel's: no IMA here, so nothing says what the kernel measured.
        assert_grep "the IMA cross-check says it is off, and why (no IMA)" \
                "IMA cross-check off: no IMA: $IMA is not the kernel's measurement list" "$TMP/m.log"
        assert_grep "... in the start event too" "ALERT monitor_started .*ima_crosscheck=off: no IMA" "$TMP/m.log"
}

# ---- executions -----------------------------------------------------------------------------------------------------
test_exec() {
        local digest
        "$TMP/bin/allowed-tool"
        cp /usr/bin/true "$TMP/bin/unknown-tool"
        printf 'x' >>"$TMP/bin/unknown-tool"
        digest=$(sha256 "$TMP/bin/unknown-tool")
        "$TMP/bin/unknown-tool"
        wait_for 10 alert_seen drift_exec "path=$TMP/bin/unknown-tool "
        assert_eq "an unknown binary executed: drift_exec at once" 0 $?
        assert_grep "... with its path, digest, pid, uid, comm and rule" \
                "ALERT drift_exec .*path=$TMP/bin/unknown-tool digest=sha256:$digest pid=[0-9]+ ppid=[0-9]+ uid=0 comm=unknown-tool rule=not_in_allowlist tier=(lsm|fentry|tracepoint)" \
                "$TMP/m.log"
        # Events are handled in order: the allowed binary, executed first, has been judged by now.
        assert_eq "an allowed binary executed: no alert" 0 "$(alert_n drift_exec "path=$TMP/bin/allowed-tool ")"
        assert_eq "... nor for /usr/bin/true, in the policy" 0 "$(alert_n drift_exec "path=$TRUE ")"

        printf 'y' >>"$TMP/bin/allowed-tool"
        digest=$(sha256 "$TMP/bin/allowed-tool")
        "$TMP/bin/allowed-tool"
        wait_for 10 alert_seen drift_exec "path=$TMP/bin/allowed-tool "
        assert_eq "an allowed binary modified in place, executed again: drift_exec (the cached digest is not reused)" 0 $?
        assert_grep "... with the new digest and digest_mismatch" \
                "ALERT drift_exec .*path=$TMP/bin/allowed-tool digest=sha256:$digest .*rule=digest_mismatch" "$TMP/m.log"

        # It lives half a second: long enough for the monitor to read what ran through /proc/PID/exe.
        "$HELPER" memfd-exec /usr/bin/sleep 0.5
        wait_for 10 alert_seen drift_exec "path=/memfd:drift-test .*rule=fileless"
        assert_eq "a memfd executed (execveat AT_EMPTY_PATH): drift_exec, rule fileless" 0 $?
        assert_grep "... marked memfd, with the digest of what ran" \
                "ALERT drift_exec .*path=/memfd:drift-test digest=sha256:$(sha256 "$(readlink -f /usr/bin/sleep)") .*rule=fileless .*flags=memfd" \
                "$TMP/m.log"
        "$HELPER" unlinked-exec /usr/bin/true "$TMP/bin"
        wait_for 10 alert_seen drift_exec "path=$TMP/bin/unlinked-[A-Za-z0-9]{6} .*rule=fileless"
        assert_eq "an unlinked file executed: drift_exec, rule fileless" 0 $?
        assert_grep "... marked nlink0" "ALERT drift_exec .*path=$TMP/bin/unlinked-.*rule=fileless .*flags=nlink0" \
                "$TMP/m.log"

        cp /usr/bin/true "$TMP/bin/burst-tool"
        printf 'z' >>"$TMP/bin/burst-tool"
        for _ in 1 2 3 4 5; do "$TMP/bin/burst-tool"; done
        wait_for 10 alert_seen drift_exec "path=$TMP/bin/burst-tool .*repeats=4"
        assert_eq "5 identical executions within a second: one alert, then the 4 others counted" 0 $?
        assert_eq "... not 5 alerts" 2 "$(alert_n drift_exec "path=$TMP/bin/burst-tool ")"
}

# SIGHUP: the drift module judges with the new policy at once.
test_reload() {
        local before
        jq --arg p "$TMP/bin/unknown-tool" --arg d "sha256:$(sha256 "$TMP/bin/unknown-tool")" \
                '.digests[$p] = [$d]' "$TMP/policy.json" >"$TMP/policy.new" && mv "$TMP/policy.new" "$TMP/policy.json"
        before=$(alert_n config_reloaded "")
        kill -HUP "$MPID"
        wait_for 10 eval '[ "$(alert_n config_reloaded "")" -gt "$before" ]'
        assert_eq "SIGHUP with a policy that now allows unknown-tool: reloaded" 0 $?
        before=$(alert_n drift_exec "path=$TMP/bin/unknown-tool ")
        sleep 1.1 # past the rate limit's second
        "$TMP/bin/unknown-tool"
        cp /usr/bin/true "$TMP/bin/marker-tool"
        printf 'm' >>"$TMP/bin/marker-tool"
        "$TMP/bin/marker-tool"
        wait_for 10 alert_seen drift_exec "path=$TMP/bin/marker-tool "
        assert_eq "... unknown-tool executed again: no alert now (judged by the new policy)" "$before" \
                "$(alert_n drift_exec "path=$TMP/bin/unknown-tool ")"
}

# ---- tampering ------------------------------------------------------------------------------------------------------
test_tamper() {
        echo outside >"$TMP/unprotected"
        echo tampered >>"$TMP/protected/file"
        wait_for 10 alert_seen drift_tamper "path=$TMP/protected/file rule=open_write"
        assert_eq "a write to a protected file: drift_tamper" 0 $?
        assert_grep "... naming the writer" "ALERT drift_tamper .*path=$TMP/protected/file rule=open_write .*pid=[0-9]+ ppid=[0-9]+ uid=0 comm=" \
                "$TMP/m.log"
        mv "$TMP/protected/a" "$TMP/protected/b"
        wait_for 10 alert_seen drift_tamper "path=$TMP/protected/a rule=rename target=$TMP/protected/b"
        assert_eq "a rename in the protected directory: drift_tamper with both names" 0 $?
        (cd "$TMP/protected" && chmod 600 b)
        wait_for 10 alert_seen drift_tamper "path=$TMP/protected/b rule=chmod .*mode=0600"
        assert_eq "a chmod by relative path: resolved in the kernel, drift_tamper with the mode" 0 $?
        assert_eq "a write outside the protected paths: nothing (filtered in the kernel)" 0 \
                "$(alert_n drift_tamper "path=$TMP/unprotected ")"
        assert_eq "the monitor's own writes to its (protected) state: nothing" 0 \
                "$(alert_n drift_tamper "path=$TMP/m-(state|run)/")"
}

# ---- the kernel -----------------------------------------------------------------------------------------------------
test_kernel() {
        echo "not a module" >"$TMP/fake.ko"
        "$HELPER" finit-module "$TMP/fake.ko" >/dev/null
        wait_for 10 alert_seen drift_kernel "rule=module_load path=$TMP/fake.ko "
        assert_eq "a module load attempt (finit_module, refused): drift_kernel" 0 $?
        "$HELPER" bpf-load dw_drift_test >/dev/null
        wait_for 10 alert_seen drift_kernel "rule=bpf_load .*program 'dw_drift_test'"
        assert_eq "a BPF program loaded by another process: drift_kernel" 0 $?
        sleep 30 &
        SLEEPER=$!
        "$HELPER" ptrace-attach "$SLEEPER" >/dev/null
        wait_for 10 alert_seen drift_kernel "rule=ptrace .*target pid $SLEEPER "
        assert_eq "a ptrace attach to a process running as root: drift_kernel" 0 $?
        kill "$SLEEPER" 2>/dev/null
        SLEEPER=
        mount -t tmpfs dw-drift-test "$TMP/protected/mnt" 2>/dev/null && MOUNTED=$TMP/protected/mnt
        wait_for 10 alert_seen drift_kernel "rule=mount path=$TMP/protected/mnt "
        assert_eq "a mount over a protected path (even if refused): drift_kernel" 0 $?
        [ -n "$MOUNTED" ] && umount "$MOUNTED" && MOUNTED=
}

# ---- the verifier ---------------------------------------------------------------------------------------------------
test_verifier() {
        wait_for 20 events_at_least drift_exec ".fields.path == \"$TMP/bin/unknown-tool\"" 1
        assert_eq "the verifier holds the drift_exec event, signed and chained" 0 $?
        assert_eq "... with its digest" "sha256:$(sha256 "$TMP/bin/unknown-tool")" \
                "$(api "$URL/v1/events?gateway=$GW&kind=drift_exec&limit=1000" | jq -r "[.events[] | select(.fields.path == \"$TMP/bin/unknown-tool\")][0].fields.digest")"
        wait_for 20 events_at_least drift_tamper ".fields.path == \"$TMP/protected/file\"" 1
        assert_eq "... and the drift_tamper event" 0 $?
        wait_for 20 events_at_least drift_kernel ".fields.rule == \"module_load\"" 1
        assert_eq "... and the drift_kernel event" 0 $?
}

test_stop() {
        local ids left=0
        ids=$(prog_ids "$MPID")
        assert_eq "the monitor holds its drift programs" true "$([ "$(grep -c . <<<"$ids")" -ge 10 ] && echo true)"
        kill "$MPID" 2>/dev/null
        wait_for 10 eval '! kill -0 "$MPID" 2>/dev/null'
        assert_eq "SIGTERM: the monitor stops" 0 $?
        wait "$MPID"
        MRC=$?
        MPID=
        # The exit status is also the other modules' (a sanitizer finding anywhere makes it 134): here, none may
        # come from the drift module.
        assert_eq "... with no sanitizer finding in the drift module" 0 \
                "$(grep -cE '^ +#[0-9]+ .* (monitor|bpf)/drift[-a-z]*\.[ch]:' "$TMP/m.log")"
        assert_eq "without IMA, the IMA cross-check never alerted" 0 "$(alert_n ima_unmeasured_exec .)"
        assert_grep "... and says at stop that it was off" "IMA cross-check off: no IMA" "$TMP/m.log"
        [ "$MRC" = 0 ] || echo "  note: the monitor exited $MRC: $(grep -m1 -E 'ERROR|SUMMARY' "$TMP/m.log")"
        for id in $ids; do bpftool prog show id "$id" >/dev/null 2>&1 && left=$((left + 1)); done
        assert_eq "... and every one of its programs is unloaded" 0 "$left"
}

test_probe
if [ "$(jq '.tiers.tracepoint.available or .tiers.lsm.available or .tiers.fentry.available' "$TMP/probe.json" 2>/dev/null)" != true ]; then
        skip "no BPF tier loads on this kernel: the drift tests (exec, tamper, kernel, verifier) are skipped"
        exit 0
fi
if setup; then
        test_exec
        test_reload
        test_tamper
        test_kernel
        test_verifier
        test_stop
fi
