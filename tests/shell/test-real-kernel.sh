#!/usr/bin/env bash
# driftwatch-monitor inside a real Linux (Debian's own kernel under qemu: IMA, a swtpm TPM 2.0, BPF LSM), with
# driftwatch-verifier on the host (docs/testing-real-kernel.md): enrollment with the TPM's EK certificate, a trusted
# first round over the real firmware event log and boot_aggregate; the real IMA log followed as it grows (an allowed
# binary keeps the gateway trusted, an unknown one makes it untrusted within one round, with the monitor's alert);
# a violation reported; PCR 10 matching the monitor's replay at every round; every bank of the real log replayed.
# Skips (saying so) only when this machine has no /dev/kvm and qemu cannot be installed.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/kernel/lib.sh"

VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier}
# In the guest: the product's own binaries, as shipped (not the sanitizer builds).
GMON=${DW_KERNEL_MONITOR:-$DW_BUILD/driftwatch-monitor}
GCLI=${DW_KERNEL_CLI:-$DW_BUILD/driftwatch}
GW=gw-kernel
T_START=$(date +%s.%N)
VPID= PORT= URL= ADMIN=
FAILS0=$(grep -c '^FAIL' "$DW_RESULTS" 2>/dev/null)

elapsed() { awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }
note() { echo "  ..   [$(elapsed)s] $*"; }

# On any failure: the guest's console, the monitor's log and the verifier's, so the cause is in the output.
report_failure() {
        local fails
        fails=$(grep -c '^FAIL' "$DW_RESULTS" 2>/dev/null)
        [ "${fails:-0}" -gt "${FAILS0:-0}" ] || return 0
        # The monitor's latest stderr, while the guest still runs.
        kern_qemu_alive && kern_guest 99 'cat /run/dw/m.log' 15 && cp "$KERN_WORK/out.99" "$KERN_WORK/m.log"
        echo "---- guest console (ttyS0) ----"
        [ -f "${KERN_CONSOLE:-}" ] && tail -n 300 "$KERN_CONSOLE"
        echo "---- qemu ----"
        [ -f "$KERN_WORK/qemu.out" ] && tail -n 20 "$KERN_WORK/qemu.out"
        echo "---- guest: driftwatch-monitor's stderr ----"
        [ -f "$KERN_WORK/m.log" ] && tail -n 120 "$KERN_WORK/m.log"
        echo "---- driftwatch-verifier (last lines) ----"
        [ -f "$TMP/v.log" ] && tail -n 30 "$TMP/v.log"
        echo "----"
}

cleanup() {
        report_failure
        kern_stop
        if [ -n "$VPID" ]; then
                kill "$VPID" 2>/dev/null
                wait "$VPID" 2>/dev/null
        fi
        if [ -n "${DW_KERNEL_KEEP:-}" ]; then
                rm -rf "$DW_KERNEL_KEEP" && cp -a "$TMP" "$DW_KERNEL_KEEP" && echo "  (kept in $DW_KERNEL_KEEP)"
        fi
        rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

require_built "$VERIFIER" "$GMON" "$GCLI" "$DW" || exit 0

# eBPF drift detection: checked when the monitor has it (`--probe`).
HAVE_BPF=0
"$GMON" --help 2>&1 | grep -q -- '--probe' && HAVE_BPF=1

if ! kern_tools; then
        if [ ! -e /dev/kvm ]; then
                echo "  SKIP test-real-kernel: this machine has no /dev/kvm and qemu cannot be installed ($KERN_WHY)"
                exit 0
        fi
        fail "the real-kernel test cannot run: $KERN_WHY"
        exit 0
fi

KERN_WORK=$TMP/kern
mkdir -p "$KERN_WORK"

# ---- the kernel, the root image, the TPM, the verifier ---------------------------------------------------------------
if ! kern_kernel 2>"$TMP/err"; then
        fail "Debian's kernel package: $(cat "$TMP/err")"
        exit 0
fi
note "kernel $KERN_VERSION"

# The guest's monitor configuration: static, on the measured image (so in the allowlist); what changes per run (the
# verifier's CA, the runtime policy) is on tmpfs, which IMA's tcb policy does not measure.
ROUND_SEC=${DW_KERNEL_ROUND_SEC:-5}
stage_hook() {
        local root=$1 mod
        mkdir -p "$root/etc/driftwatch" "$root/usr/local/bin" "$root/var/lib/app" "$root/usr/lib/driftwatch-test"
        cat >"$root/etc/driftwatch/monitor.conf" <<EOF
# tests/shell/test-real-kernel.sh: the gateway in the guest
[Monitor]
GatewayId=$GW
StateDirectory=/var/lib/driftwatch-monitor
RuntimeDirectory=/run/driftwatch-monitor
RequoteIntervalSec=$ROUND_SEC
RequoteJitterSec=0
RuntimePolicy=/run/driftwatch/policy.json
LogLevel=debug

[Verifier]
URL=https://10.0.2.100:8443
CAFile=/run/driftwatch/ca.pem
RetryMaxSec=2

[IMA]
PollIntervalMSec=200
# The IMA policy this guest boots with (ima_policy=tcb; Debian's kernel cannot print it: no CONFIG_IMA_READ_POLICY).
Policy=/etc/ima/tcb.policy

[Events]
BatchDelayMSec=50
EOF
        # ima_policy=tcb as Linux 6.1 has it built in (security/integrity/ima/ima_policy.c), in its printed form.
        mkdir -p "$root/etc/ima"
        {
                for magic in 0x9fa0 0x62656572 0x64626720 0x1021994 0x1cd1 0x42494e4d 0x73636673 0xf97cff8c \
                        0x43415d53 0x27e0eb 0x63677270 0x6e736673 0xde5e81e4; do
                        echo "dont_measure fsmagic=$magic "
                done
                printf '%s \n' "measure func=MMAP_CHECK mask=MAY_EXEC" "measure func=BPRM_CHECK mask=MAY_EXEC" \
                        "measure func=FILE_CHECK mask=^MAY_READ euid=0" "measure func=FILE_CHECK mask=^MAY_READ uid=0" \
                        "measure func=MODULE_CHECK" "measure func=FIRMWARE_CHECK" "measure func=POLICY_CHECK"
        } >"$root/etc/ima/tcb.policy"
        printf '#!/bin/sh\necho "an allowed tool ran"\n' >"$root/usr/local/bin/gw-allowed"
        chmod 755 "$root/usr/local/bin/gw-allowed"
        echo "setting=1" >"$root/var/lib/app/settings.conf"
        mkdir -p "$root/etc/gateway" && echo "gateway=1" >"$root/etc/gateway/app.conf"
        # A harmless module on the measured filesystem (a MODULE_CHECK measurement when loaded).
        mod=$(find "$KERN_MODDIR" -name crc7.ko | head -1)
        [ -n "$mod" ] && cp "$mod" "$root/usr/lib/driftwatch-test/crc7.ko"
        return 0
}
KERN_STAGE_HOOK=stage_hook
if ! kern_image "$GMON=/usr/bin/driftwatch-monitor" "$GCLI=/usr/bin/driftwatch" 2>"$TMP/err"; then
        fail "the guest's root image: $(tail -3 "$TMP/err")"
        exit 0
fi
note "root image $(basename "$KERN_IMAGE") ($(wc -l <"$KERN_MANIFEST") files)"

# The runtime policy: every file of the image, by its digest (the guest measures these very bytes), and no exclude.
# In particular not tracefs: the tcb policy does not exempt it (it does debugfs, sysfs, procfs, securityfs, tmpfs),
# so a read of /sys/kernel/debug/tracing/events/<category>/<event>/id (libbpf attaching a tracepoint program) would
# be measured, and judged. The monitor reads none here: its tracepoint probe attaches a raw tracepoint (by name, no
# tracefs), and at start it probes no tier below the BPF LSM one, which covers every category. Asserted below.
jq -Rn '{driftwatch_runtime_policy: 1,
         meta: {name: "real-kernel-guest", generator: "tests/shell/test-real-kernel.sh from the root image"},
         digests: ([inputs | split(" ") | {key: .[1], value: ["sha256:" + .[0]]}] | from_entries)}' \
        <"$KERN_MANIFEST" >"$TMP/policy.json"

if ! kern_swtpm_start "$TMP/tpm" 2>"$TMP/err"; then
        fail "swtpm: $(cat "$TMP/err")"
        exit 0
fi
cat "$KERN_SWTPM_CA/issuercert.pem" "$KERN_SWTPM_CA/swtpm-localca-rootca-cert.pem" >"$TMP/ekca.pem"

"$VERIFIER" --config /dev/null --state-dir "$TMP/v" --listen 127.0.0.1 --port 0 --port-file "$TMP/v.port" \
        --ek-ca-bundle "$TMP/ekca.pem" --set server_names=10.0.2.100,127.0.0.1,localhost 2>>"$TMP/v.log" &
VPID=$!
for _ in $(seq 200); do
        [ -s "$TMP/v.port" ] && break
        kill -0 $VPID 2>/dev/null || break
        sleep 0.05
done
PORT=$(cat "$TMP/v.port" 2>/dev/null)
if [ -z "$PORT" ]; then
        fail "the verifier did not start: $(tail -3 "$TMP/v.log")"
        exit 0
fi
URL=https://127.0.0.1:$PORT
ADMIN=$(cat "$TMP/v/admin.token")
api() { curl -sS --max-time 10 --cacert "$TMP/v/ca.pem" -H "Authorization: Bearer $ADMIN" "$@"; }
gw() { api "$URL/v1/gateways/$GW" 2>/dev/null; }
gw_field() { gw | jq -r "$1 // empty" 2>/dev/null; }
api -X POST --data-binary "@$TMP/policy.json" "$URL/v1/admin/policies/runtime/guest" >/dev/null
api -X PUT -d '{"runtime": "guest"}' "$URL/v1/admin/groups/default/policies" >/dev/null

# Per-run files for the guest's tmpfs: the command loop, the verifier's CA, the runtime policy.
mkdir -p "$TMP/run/dw" "$TMP/run/driftwatch"
cp "$DW_SRCDIR/tests/kernel/guest.sh" "$TMP/run/dw/guest.sh"
cp "$TMP/v/ca.pem" "$TMP/run/driftwatch/ca.pem"
cp "$TMP/policy.json" "$TMP/run/driftwatch/policy.json"
if ! kern_initrd "$TMP/run" 2>"$TMP/err"; then
        fail "the guest's initramfs: $(tail -3 "$TMP/err")"
        exit 0
fi

# ---- boot -----------------------------------------------------------------------------------------------------------
kern_qemu_start "$KERN_WORK" "$PORT"
note "qemu ($KERN_ACCEL) started, pid $KERN_QEMU_PID"
if ! kern_wait_data '^@@READY' 120; then
        fail "the guest boots to its command loop (qemu $KERN_ACCEL, ${KERN_TIMEOUT}s limit): $(tail -c 300 "$KERN_WORK/qemu.out" 2>/dev/null)"
        exit 0
fi
ok "the guest boots Debian's kernel $KERN_VERSION under qemu ($KERN_ACCEL) to its command loop"
note "guest ready"

kern_guest 1 '
echo "uname=$(uname -r)"
echo "lsm=$(cat /sys/kernel/security/lsm)"
echo "tpm_version_major=$(cat /sys/class/tpm/tpm0/tpm_version_major)"
echo "banks=$(ls -d /sys/class/tpm/tpm0/pcr-* | sed "s#.*/pcr-##" | tr "\n" " ")"
echo "ima_count=$(cat /sys/kernel/security/ima/runtime_measurements_count)"
ls /dev/tpmrm0 /sys/kernel/security/tpm0/binary_bios_measurements
head -3 /sys/kernel/security/ima/ascii_runtime_measurements
'
assert_eq "the guest runs the downloaded kernel" "uname=$KERN_VERSION" "$(grep '^uname=' "$KERN_WORK/out.1")"
assert_grep "... with a TPM 2.0 (/dev/tpmrm0, the firmware event log in securityfs)" "^tpm_version_major=2" "$KERN_WORK/out.1"
assert_grep "... PCR banks sha1, sha256, sha384 and sha512" "^banks=sha1 sha256 sha384 sha512" "$KERN_WORK/out.1"
assert_grep "... IMA on (its log starts with boot_aggregate)" " boot_aggregate ?$" "$KERN_WORK/out.1"
assert_grep "... and BPF in its LSM list" "^lsm=.*bpf" "$KERN_WORK/out.1"

# The guest reaches the verifier through the guestfwd, and nothing else: not the host (10.0.2.2, which slirp maps to
# the host's loopback when unrestricted), not even at the verifier's own port, nor slirp's DNS.
kern_guest 21 "nc -w 3 10.0.2.100 8443 </dev/null; echo fwd=\$?
nc -w 3 10.0.2.2 $PORT </dev/null; echo host=\$?
nc -w 3 10.0.2.3 53 </dev/null; echo dns=\$?" 60
assert_eq "the guest's network: the verifier's guestfwd answers, the host and slirp's DNS do not (restrict=on)" \
        "fwd=0 host=1 dns=1" "$(grep -E '^(fwd|host|dns)=' "$KERN_WORK/out.21" | tr '\n' ' ' | sed 's/ $//')"

# ---- eBPF: which tiers the real kernel gives ------------------------------------------------------------------------
if [ "$HAVE_BPF" = 1 ]; then
        kern_guest 20 'driftwatch-monitor --probe --json' 60
        assert_eq "driftwatch-monitor --probe --json in the guest" 0 $?
        cp "$KERN_WORK/out.20" "$KERN_WORK/probe.json"
        assert_eq "... the BPF LSM tier is available on Debian's kernel" "true" \
                "$(jq -r '.tiers.lsm.available' "$KERN_WORK/probe.json" 2>&1)"
        note "guest probe: $(jq -r '[.tiers | to_entries[] | "\(.key)=\(.value.available)"] | join(" ")' "$KERN_WORK/probe.json" 2>&1)"
        assert_eq "... and used for executions, tampering and module loads" "lsm lsm lsm" \
                "$(jq -r '.coverage | "\(.exec) \(.tamper) \(.module_load)"' "$KERN_WORK/probe.json" 2>&1)"
else
        echo "  ..   eBPF tiers not checked: $GMON has no --probe"
fi

# ---- enrollment and the first round ---------------------------------------------------------------------------------
kern_guest 2 'driftwatch-monitor >/run/dw/m.log 2>&1 &
echo $! >/run/dw/m.pid; sleep 0.5; kill -0 $(cat /run/dw/m.pid)'
assert_eq "driftwatch-monitor starts in the guest (real /dev/tpmrm0 and IMA log)" 0 $?
# wait_until SEC CMD...: CMD succeeds within SEC seconds (and while the guest runs).
wait_until() {
        local end=$(($(date +%s) + $1))
        shift
        while [ "$(date +%s)" -lt "$end" ]; do
                "$@" && return 0
                kern_qemu_alive || return 1
                sleep 0.3
        done
        return 1
}
status_is() { [ "$(gw_field .status)" = "$1" ]; }
wait_status() { wait_until "$2" status_is "$1"; } # wait_status STATUS SEC
rounds_at_least() { local r; r=$(gw_field .rounds); [ -n "$r" ] && [ "$r" -ge "$1" ]; }
# A round was judged with the gateway's ima_next_index at N or beyond.
covers() { local n; n=$(gw_field .ima_next_index); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
guest_mlog() { kern_guest "$1" 'cat /run/dw/m.log' 30 && cp "$KERN_WORK/out.$1" "$KERN_WORK/m.log"; }
# Fetches the monitor's log (guest command N) until every PATTERN (grep -E) is in it, or SECS pass.
wait_mlog() {
        local n=$1 end=$(($(date +%s) + $2)) p missing
        shift 2
        while :; do
                guest_mlog "$n"
                missing=0
                for p in "$@"; do grep -Eq "$p" "$KERN_WORK/m.log" || missing=1; done
                [ "$missing" = 0 ] && return 0
                [ "$(date +%s)" -lt "$end" ] || return 1
                sleep 1
        done
}
# The first verdict (enrollment, then the first round), whatever it is.
wait_until 120 rounds_at_least 1
assert_eq "the gateway enrolls (EK certificate from swtpm's CA, AK activation) and its first round is trusted" \
        trusted "$(gw_field .status)"
[ "$(gw_field .status)" = trusted ] && note "trusted after $(gw_field .rounds) round(s)"
api "$URL/v1/gateways/$GW/verdicts?limit=1000" >"$TMP/verdicts.json"
assert_eq "... the very first verdict, with the real boot log and boot_aggregate" "trusted" \
        "$(jq -r '.verdicts[-1].verdict' "$TMP/verdicts.json")"
assert_grep "... the verifier logged the EK-based enrollment and activation" '"event":"enrollment".*"step":"activate".*"result":"ok"' "$TMP/v.log"
guest_mlog 3
assert_grep "the monitor enrolled" "ALERT enrolled " "$KERN_WORK/m.log"
assert_grep "... read the real firmware event log, replaying to the TPM's PCRs 0-7" \
        "boot event log: [0-9]+ events replay to the TPM's PCRs 0-7 \(sha256\)" "$KERN_WORK/m.log"
assert_grep "... and says so in its start alert" "ALERT monitor_started " "$KERN_WORK/m.log"

# ---- the real IMA log grows: an allowed binary ------------------------------------------------------------------------
kern_guest 4 '/usr/local/bin/gw-allowed && cat /sys/kernel/security/ima/runtime_measurements_count'
count=$(tail -1 "$KERN_WORK/out.4")
assert_grep "an allowed program runs in the guest" "an allowed tool ran" "$KERN_WORK/out.4"
api -X POST -d '{"reason": "allowed exec"}' "$URL/v1/admin/gateways/$GW/challenge" >/dev/null
wait_until 30 covers "$count"
assert_eq "... its measurement reaches the verifier" 0 $?
assert_eq "... and the gateway stays trusted" trusted "$(gw_field .status)"

# ---- an unknown binary ----------------------------------------------------------------------------------------------
rounds0=$(gw_field .rounds)
t0=$(date +%s.%N)
kern_guest 5 'mkdir -p /opt/drift && cp /usr/bin/driftwatch /opt/drift/unknown-tool && printf x >>/opt/drift/unknown-tool &&
/opt/drift/unknown-tool --version >/dev/null; sha256sum /opt/drift/unknown-tool'
unknown_digest=$(awk '{print $1}' "$KERN_WORK/out.5")
wait_status untrusted $((ROUND_SEC * 2 + 20))
assert_eq "an unknown binary executed in the guest: the gateway turns untrusted" untrusted "$(gw_field .status)"
t_untrusted=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
rounds1=$(gw_field .rounds)
[ "$rounds1" -le $((rounds0 + 2)) ]
assert_eq "... within one round ($t_untrusted s; rounds $rounds0 → $rounds1, the drift re-quotes at once)" 0 $?
assert_eq "... naming that path, its digest and the rule" \
        "/opt/drift/unknown-tool sha256:$unknown_digest not_in_allowlist" \
        "$(gw | jq -r '[.last_verdict.reasons[] | select(.kind == "runtime_policy")][0] | "\(.path) \(.digest) \(.rule)"')"
wait_mlog 6 15 'ALERT verdict_changed .*untrusted'
assert_grep "the monitor's alert in the guest names it (path, digest, rule)" \
        "ALERT ima_policy_violation \[72c69cc8e3944a51a062d9e23cb6da45\]: .*path=/opt/drift/unknown-tool digest=sha256:$unknown_digest rule=not_in_allowlist" \
        "$KERN_WORK/m.log"
assert_grep "... and the verdict change" "ALERT verdict_changed .*untrusted.*/opt/drift/unknown-tool" "$KERN_WORK/m.log"
n=$(api "$URL/v1/events?gateway=$GW&kind=ima_policy_violation" | jq '[.events[] | select(.fields.path == "/opt/drift/unknown-tool")] | length')
assert_eq "... and its signed runtime event reached the verifier" 1 "$n"

# ---- rounds read the kernel's list from an offset the follower noted, not whole ------------------------------------------
# 300 files on the ext4 root read by root (shell builtins only): 300 more entries, so the list passes an entry whose
# offset the follower notes (one in 256), and a round after that reads the list from there: lseek on securityfs.
kern_guest 17 'mkdir -p /var/lib/dw-many && i=0 && while [ $i -lt 300 ]; do i=$((i + 1));
echo $i >/var/lib/dw-many/$i; read -r x </var/lib/dw-many/$i; done
grep -c . /sys/kernel/security/ima/ascii_runtime_measurements
grep -c /var/lib/dw-many/ /sys/kernel/security/ima/ascii_runtime_measurements'
assert_eq "300 more entries in the guest's IMA list" 300 "$(tail -1 "$KERN_WORK/out.17")"
burst_end=$(tail -2 "$KERN_WORK/out.17" | head -1)
wait_mlog 18 30 'round: .* IMA entries sent from [1-9][0-9]* \(log read from byte [1-9][0-9]*,'
assert_grep "a round reads the kernel's list from a noted entry's offset, not from the start" \
        "round: .* IMA entries sent from [1-9][0-9]* \(log read from byte [1-9][0-9]*, [0-9]+ bytes\)" "$KERN_WORK/m.log"
burst_done() { local v; v=$(gw_field .ima_next_index); [ "${v:-0}" -ge "$burst_end" ]; }
wait_until 30 burst_done
assert_eq "... and the verifier replayed the entries past the burst against the quote" "yes" \
        "$(burst_done && echo yes || echo "no: ima_next_index $(gw_field .ima_next_index), the list had $burst_end")"
assert_eq "... with no reason but the runtime policy's (the files are not in it; more than listed)" \
        "omitted runtime_policy" "$(api "$URL/v1/gateways/$GW" | jq -r '[.last_verdict.reasons[].kind] | unique | join(" ")')"

if [ "$HAVE_BPF" = 1 ]; then
        assert_grep "eBPF: at start the monitor probed no tier below lsm, which covers every category" \
                "tier tracepoint: unavailable: not probed: better tiers cover every category" "$KERN_WORK/m.log"
        assert_grep "eBPF: the BPF LSM tier caught the execution too" \
                "ALERT drift_exec .*path=/opt/drift/unknown-tool .*tier=lsm" "$KERN_WORK/m.log"
        assert_eq "... and the verifier has the event, with the tier" "lsm" \
                "$(api "$URL/v1/events?gateway=$GW&kind=drift_exec" | jq -r '[.events[] | select(.fields.path == "/opt/drift/unknown-tool")][0].fields.tier')"
        assert_grep "... and each round's verdict records the tier (not TPM-backed) beside the TPM-backed checks" \
                'evidence \{"tpm_backed":\["quote",[^]]*\],"runtime_hooks":\{"exec":"lsm"[^}]*\},"runtime_hooks_tpm_backed":false\}' \
                "$KERN_WORK/m.log"
fi

# ---- a violation (a file read while open for writing) ------------------------------------------------------------------
api -X POST "$URL/v1/admin/gateways/$GW/acknowledge" >/dev/null
api -X POST -d '{"reason": "acknowledged"}' "$URL/v1/admin/gateways/$GW/challenge" >/dev/null
wait_status trusted 30
assert_eq "an administrator acknowledges the drift: trusted again at the next round" trusted "$(gw_field .status)"
kern_guest 7 'exec 4>>/var/lib/app/settings.conf; cat /var/lib/app/settings.conf >/dev/null; exec 4>&-
grep -E " /var/lib/app/settings.conf ?$" /sys/kernel/security/ima/ascii_runtime_measurements'
assert_grep "a write-while-open in the guest: the kernel logs a violation (zero digest)" \
        "^10 0{40} ima-[a-z]+ sha256:0{64} /var/lib/app/settings.conf" "$KERN_WORK/out.7"
wait_status untrusted $((ROUND_SEC * 2 + 20))
assert_eq "... reported, not hidden: the gateway turns untrusted" untrusted "$(gw_field .status)"
assert_eq "... for that violation" "/var/lib/app/settings.conf violation" \
        "$(gw | jq -r '[.last_verdict.reasons[] | select(.kind == "runtime_policy" and .earlier != true)][0] | "\(.path) \(.rule)"')"
guest_mlog 8
assert_grep "... and the monitor alerts on it" "ALERT ima_policy_violation .*path=/var/lib/app/settings.conf .*rule=violation" \
        "$KERN_WORK/m.log"

# ---- eBPF: tampering with a protected file, a module load --------------------------------------------------------------
if [ "$HAVE_BPF" = 1 ]; then
        kern_guest 11 'echo tampered >>/etc/gateway/app.conf && insmod /usr/lib/driftwatch-test/crc7.ko && echo loaded'
        assert_grep "a write to a protected file and a module load in the guest" "^loaded" "$KERN_WORK/out.11"
        wait_mlog 12 20 'ALERT drift_tamper .*path=/etc/gateway/app.conf' 'ALERT drift_kernel .*module_load'
        assert_grep "eBPF: the BPF LSM tier caught the write to the protected file" \
                "ALERT drift_tamper .*path=/etc/gateway/app.conf .*tier=lsm" "$KERN_WORK/m.log"
        assert_grep "... and the module load" \
                "ALERT drift_kernel .*rule=module_load path=/usr/lib/driftwatch-test/crc7.ko .*tier=lsm" "$KERN_WORK/m.log"
fi

# ---- eBPF + IMA: the IMA policy replaced behind the monitor's back ----------------------------------------------------
if [ "$HAVE_BPF" = 1 ]; then
        guest_mlog 13
        assert_grep "the IMA cross-check is on, with the policy the guest booted with" \
                "IMA cross-check on: executions the IMA policy of /etc/ima/tcb.policy \(20 rules" "$KERN_WORK/m.log"
        # Measured binaries run so far (the allowed tool, the unknown one): IMA measured them, nothing to say.
        kern_guest 14 '/usr/local/bin/gw-allowed; /opt/drift/unknown-tool --version >/dev/null; sleep 4'
        # The kernel's default policy is replaced (the first write may; without CONFIG_IMA_WRITE_POLICY the file is
        # gone after it): executions are no longer measured. Then a new binary on the measured disk runs, and a
        # measured one again.
        kern_guest 15 'printf "dont_measure func=BPRM_CHECK\nmeasure func=MODULE_CHECK\n" >/sys/kernel/security/ima/policy &&
echo replaced; ls /sys/kernel/security/ima/
cp /usr/bin/driftwatch /opt/drift/unmeasured-tool && printf y >>/opt/drift/unmeasured-tool &&
/opt/drift/unmeasured-tool --version >/dev/null; sha256sum /opt/drift/unmeasured-tool
/usr/local/bin/gw-allowed >/dev/null
grep -c unmeasured-tool /sys/kernel/security/ima/ascii_runtime_measurements'
        assert_grep "a replacement IMA policy that measures no execution is loaded in the guest" "^replaced" \
                "$KERN_WORK/out.15"
        assert_eq "... and the new binary run after it is not in the IMA log" 0 "$(tail -1 "$KERN_WORK/out.15")"
        unmeasured_digest=$(grep unmeasured-tool "$KERN_WORK/out.15" | awk '{print $1}')
        wait_mlog 16 20 'ALERT ima_unmeasured_exec .*path=/opt/drift/unmeasured-tool'
        assert_grep "the policy write itself is drift (drift_kernel, ima_policy_write)" \
                "ALERT drift_kernel .*rule=ima_policy_write .*tier=lsm" "$KERN_WORK/m.log"
        assert_grep "the execution IMA no longer measures: ima_unmeasured_exec, naming the file, its digest and the rule" \
                "ALERT ima_unmeasured_exec \[a2bed43dc8754f1eb9ae2fcfa6e2734c\]: .*path=/opt/drift/unmeasured-tool digest=sha256:$unmeasured_digest pid=[0-9]+ .*rule=line 15: measure func=BPRM_CHECK mask=MAY_EXEC tier=lsm fsmagic=0xef53 fsname=ext4" \
                "$KERN_WORK/m.log"
        assert_eq "... once" 1 "$(grep -c 'ALERT ima_unmeasured_exec ' "$KERN_WORK/m.log")"
        assert_eq "... and measured binaries never alerted (before or after the replacement)" 0 \
                "$(grep 'ALERT ima_unmeasured_exec ' "$KERN_WORK/m.log" | grep -cv unmeasured-tool)"
        wait_until 20 eval '[ "$(api "$URL/v1/events?gateway=$GW&kind=ima_unmeasured_exec" | jq "[.events[] | select(.fields.path == \"/opt/drift/unmeasured-tool\")] | length")" = 1 ]'
        assert_eq "... and its signed runtime event reached the verifier" 0 $?
fi

# ---- the monitor's resident memory on the gateway's kernel: only when bench/monitor-kernel.sh asks (no assertion) ----------
if [ -n "${DW_KERNEL_MEASURE:-}" ]; then
        kern_guest 30 'p=$(cat /run/dw/m.pid)
grep -E "^(VmRSS|RssAnon|RssFile|RssShmem):" /proc/$p/status
grep -E "^(Pss|Private_Dirty|Private_Clean|Shared_Clean):" /proc/$p/smaps_rollup
awk "/^[0-9a-f]+-[0-9a-f]+ / {n = \$6; if (n == \"\") n = \"[anon]\"} /^Rss:/ {r[n] += \$2} END {for (k in r) if (r[k] >= 100) print r[k], k}" /proc/$p/smaps | sort -rn' 20
        cp "$KERN_WORK/out.30" "$DW_KERNEL_MEASURE"
fi

# ---- the end: stop the monitor, bring out the logs and PCRs --------------------------------------------------------------
kern_guest 9 'kill $(cat /run/dw/m.pid); i=0
while kill -0 $(cat /run/dw/m.pid) 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $(cat /run/dw/m.pid) 2>/dev/null && echo "still running"
S=/sys/kernel/security
# A consistent snapshot: the log, every PCR of every bank, the log again, until it did not move.
for try in 1 2 3 4 5; do
        cat $S/ima/binary_runtime_measurements >/tmp/ima.bin
        for bank in /sys/class/tpm/tpm0/pcr-*; do
                b=${bank##*/pcr-}; : >/tmp/pcrs-$b
                for n in 0 1 2 3 4 5 6 7 8 9 10; do printf "PCR-%02d: %s\n" $n "$(cat $bank/$n)" >>/tmp/pcrs-$b; done
        done
        cat $S/ima/binary_runtime_measurements >/tmp/ima2.bin
        cmp -s /tmp/ima.bin /tmp/ima2.bin && break
done
emit ima.bin /tmp/ima.bin
for b in sha1 sha256 sha384 sha512; do emit pcrs-$b /tmp/pcrs-$b; done
cat $S/tpm0/binary_bios_measurements >/tmp/bios.bin; emit bios.bin /tmp/bios.bin
dmesg >/tmp/dmesg.txt; emit dmesg.txt /tmp/dmesg.txt
emit m.log /run/dw/m.log'
kern_block m.log "$KERN_WORK/m.log"
assert_eq "SIGTERM stops the monitor in the guest" "" "$(grep 'still running' "$KERN_WORK/out.9")"
assert_grep "... cleanly, with its stop alert" "ALERT monitor_stopped " "$KERN_WORK/m.log"
for f in ima.bin pcrs-sha1 pcrs-sha256 pcrs-sha384 pcrs-sha512 bios.bin dmesg.txt; do
        kern_block "$f" "$KERN_WORK/$f" || fail "the guest's $f comes out"
done
kern_guest 10 'sync; poweroff -f' 5
for _ in $(seq 50); do kern_qemu_alive || break; sleep 0.1; done
kern_qemu_alive
assert_eq "the guest powers off" 1 $?

# PCR 10 against the monitor's replay: every round's quote was matched (a mismatch is an alert).
mrounds=$(grep -c 'round: \(trusted\|untrusted\)' "$KERN_WORK/m.log")
# (A round the verifier refused for its nonce is a verdict the monitor retries without a "round:" line.)
vrounds=$(api "$URL/v1/gateways/$GW/verdicts?limit=1000" |
        jq '[.verdicts[] | select([.reasons[].kind] | index("nonce") | not)] | length')
[ "$mrounds" -ge 5 ] && [ "$mrounds" -ge "$vrounds" ]
assert_eq "the monitor checked the quote's PCR 10 against its replay in every round ($mrounds rounds, the verifier judged $vrounds)" 0 $?
assert_eq "... and it always matched (no pcr_mismatch alert)" 0 "$(grep -c 'ALERT pcr_mismatch' "$KERN_WORK/m.log")"
assert_eq "... nor any IMA log error while following the real log" 0 "$(grep -c 'ALERT ima_log_error' "$KERN_WORK/m.log")"
api "$URL/v1/gateways/$GW/verdicts?limit=1000" >"$TMP/verdicts.json"
assert_eq "no round of the verifier found the log, the quote or the boot log wrong" "" \
        "$(jq -r '[.verdicts[].reasons[] | select(.kind != "runtime_policy" and .kind != "omitted") | .kind] | unique | join(" ")' "$TMP/verdicts.json")"

# The guest's real log, every bank: sha1 and sha256 native, sha384/sha512 with the zero-padded SHA-1 digest.
pcr() { pcr_from_file "$KERN_WORK/pcrs-$1" "$2"; }
"$DW" ima replay --json "$KERN_WORK/ima.bin" >"$TMP/replay.json" 2>"$TMP/err"
assert_eq "driftwatch ima replay reads the guest's log" 0 $?
for b in sha1 sha256; do
        assert_eq "... $b bank: native, equal to the guest's PCR 10" "native $(pcr $b 10)" \
                "$(jq -r ".rules.$b + \" \" + .pcrs.$b[\"10\"]" "$TMP/replay.json")"
done
for b in sha384 sha512; do
        assert_eq "... $b bank: zero-padded SHA-1, equal to the guest's PCR 10" "sha1-padded $(pcr $b 10)" \
                "$(jq -r ".rules.$b + \" \" + .pcrs.$b[\"10\"]" "$TMP/replay.json")"
        [ "$(jq -r ".pcrs_native.$b[\"10\"]" "$TMP/replay.json")" != "$(pcr $b 10)" ]
        assert_eq "... ($b: the native rule would not match)" 0 $?
done
assert_eq "... the violations in it are counted" 1 "$(jq -r .violations "$TMP/replay.json")"
"$DW" eventlog replay --json "$KERN_WORK/bios.bin" >"$TMP/ev.json" 2>"$TMP/err"
bad=""
for b in sha1 sha256 sha384 sha512; do
        for n in 0 1 2 3 4 5 6 7; do
                [ "$(jq -r ".pcrs.$b[\"$n\"]" "$TMP/ev.json")" = "$(pcr $b $n)" ] || bad="$bad $b:$n"
        done
done
assert_eq "the real firmware event log replays to the guest's PCRs 0-7 in every bank" "" "$bad"
hex2bin() { printf '%b' "$(sed 's/../\\x&/g')"; }
agg=$(for n in 0 1 2 3 4 5 6 7 8 9; do pcr sha256 $n; done | tr -d '\n' | hex2bin | sha256sum | cut -d' ' -f1)
assert_eq "the kernel's boot_aggregate is SHA-256 of the quoted PCRs 0-9" "boot_aggregate sha256:$agg" \
        "$("$DW" ima show --json "$KERN_WORK/ima.bin" | jq -r '.entries[0] | "\(.name) \(.digest_alg):\(.digest)"')"

# The whole log judged offline as the verifier does: exactly the two failures provoked; what was excluded is there.
"$DW" policy check --policy "$TMP/policy.json" --ima-log "$KERN_WORK/ima.bin" --json >"$TMP/check.json"
assert_eq "the guest's whole log against its allowlist: only the unknown binary, the violation and the burst fail" \
        "/opt/drift/unknown-tool not_in_allowlist,/var/lib/app/settings.conf violation" \
        "$(jq -r '[.failures[] | select(.path | startswith("/var/lib/dw-many/") | not) | "\(.path) \(.reason)"] | join(",")' "$TMP/check.json")"
assert_eq "... the burst: its 300 files, not in the allowlist" "300 not_in_allowlist" \
        "$(jq -r '[.failures[] | select(.path | startswith("/var/lib/dw-many/")) | .reason] | "\(length) \(unique | join(" "))"' "$TMP/check.json")"
"$DW" ima show --json "$KERN_WORK/ima.bin" >"$TMP/show.json"
traced=$(jq -r '[.entries[] | select(.name | test("^/sys/kernel/(debug/)?tracing/")) | .name] | unique | join(" ")' "$TMP/show.json")
assert_eq "... no tracefs entry in it: neither --probe nor the monitor started on the lsm tier read tracefs" "" "$traced"
assert_eq "... and nothing excluded" 0 "$(jq -r '.counts.excluded // 0' "$TMP/check.json")"
note "done: boot→ready, enrollment, drift, violation, replay (unknown binary → untrusted in ${t_untrusted}s)"
