# Sourced by tests/shell/test-systemd-nspawn.sh: boot a root file system under systemd-nspawn with a real systemd
# as its PID 1, on a host whose PID 1 is not systemd, and drive it from the host.
#
#   dw_ct_check                         can this machine run nspawn? (root, systemd-nspawn, nsenter, a cgroup
#                                       hierarchy nspawn can use); prints why not and returns 1
#   dw_ct_boot ROOTFS NAME LOG ARGS...  boots ROOTFS (--volatile=overlay: it stays pristine, parallel runs share it)
#                                       in a cgroup of its own, ARGS are extra nspawn options; sets DW_CT_NSPAWN_PID
#                                       and DW_CT_LEADER (the container's PID 1 as seen from the host)
#   dw_ct_wait_running SECONDS          waits for `systemctl is-system-running --wait`; prints the state
#   ct CMD...                           runs CMD inside the container (all its namespaces, clean environment), with
#                                       a time limit of ${CT_T:-30} s. nsenter'd processes are outside nspawn's
#                                       seccomp filter and capability set: what must run sandboxed runs as a unit.
#   dw_ct_stop                          powers the container off (SIGTERM to nspawn), SIGKILLs what is left of the
#                                       processes in its cgroup after 10 s, removes the cgroup. Idempotent.
#
# Without systemd on the host, nspawn needs --register=no --keep-unit and creates payload/ and supervisor/ under
# the cgroup it starts in: each boot gets its own cgroup (one per mounted systemd/unified hierarchy), which is
# also how dw_ct_stop finds, and only finds, the processes this test started.

DW_CT_NSPAWN_PID='' DW_CT_LEADER='' DW_CT_CGDIRS=() DW_CT_CGBASES=()

dw_ct_check() {
        local t
        if [ "$(id -u)" != 0 ]; then
                echo "must run as root (systemd-nspawn)"
                return 1
        fi
        for t in systemd-nspawn nsenter debootstrap flock; do
                command -v $t >/dev/null || { echo "$t is not installed"; return 1; }
        done
        if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
                DW_CT_CGBASES=(/sys/fs/cgroup)
        else
                DW_CT_CGBASES=()
                [ "$(stat -fc %T /sys/fs/cgroup/systemd 2>/dev/null)" = cgroupfs ] &&
                        DW_CT_CGBASES+=(/sys/fs/cgroup/systemd)
                [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
                        DW_CT_CGBASES+=(/sys/fs/cgroup/unified)
        fi
        if [ ${#DW_CT_CGBASES[@]} = 0 ]; then
                echo "no cgroup2 or name=systemd hierarchy is mounted: systemd-nspawn cannot run here"
                return 1
        fi
        return 0
}

dw_ct_pids() {
        local d
        for d in "${DW_CT_CGDIRS[@]}"; do
                [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
        done | sort -un
}

dw_ct_boot() {
        local rootfs=$1 name=$2 log=$3 b
        shift 3
        DW_CT_CGDIRS=()
        for b in "${DW_CT_CGBASES[@]}"; do
                mkdir "$b/$name" || return 1
                DW_CT_CGDIRS+=("$b/$name")
        done
        bash -c 'for d in "${@:2:$1}"; do echo $$ >"$d/cgroup.procs" || exit 99; done; shift $(($1 + 1)); exec "$@"' \
                dw-ct-launch ${#DW_CT_CGDIRS[@]} "${DW_CT_CGDIRS[@]}" \
                systemd-nspawn --directory="$rootfs" --boot --volatile=overlay --register=no --keep-unit \
                --link-journal=no --console=read-only --machine="$name" "$@" >"$log" 2>&1 </dev/null &
        DW_CT_NSPAWN_PID=$!
        # The container's PID 1: nspawn's child running systemd in another PID namespace.
        local c my
        my=$(readlink /proc/self/ns/pid)
        for _ in $(seq 200); do
                for c in $(ps -o pid= --ppid "$DW_CT_NSPAWN_PID" 2>/dev/null); do
                        if [ "$(readlink "/proc/$c/ns/pid" 2>/dev/null)" != "$my" ] &&
                                [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ]; then
                                DW_CT_LEADER=$c
                                return 0
                        fi
                done
                kill -0 "$DW_CT_NSPAWN_PID" 2>/dev/null || return 1
                sleep 0.05
        done
        return 1
}

ct() {
        timeout -k 5 "${CT_T:-30}" nsenter --target "$DW_CT_LEADER" --all \
                env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_PAGER= SYSTEMD_COLORS=0 LANG=C.UTF-8 "$@"
}

dw_ct_wait_running() {
        local limit=$1 state=''
        for _ in $(seq $((limit * 4))); do # until systemd in the container answers at all
                state=$(CT_T=5 ct systemctl is-system-running 2>/dev/null)
                case $state in running | degraded | maintenance | stopping) break ;; esac
                [ -n "$state" ] && [ "$state" != offline ] && [ "$state" != unknown ] && break
                kill -0 "$DW_CT_NSPAWN_PID" 2>/dev/null || break
                sleep 0.25
        done
        CT_T=$limit ct systemctl is-system-running --wait 2>/dev/null
}

dw_ct_stop() {
        local p
        [ -n "$DW_CT_NSPAWN_PID" ] || { [ ${#DW_CT_CGDIRS[@]} = 0 ] && return 0; }
        if [ -n "$DW_CT_NSPAWN_PID" ] && kill -0 "$DW_CT_NSPAWN_PID" 2>/dev/null; then
                kill -TERM "$DW_CT_NSPAWN_PID" 2>/dev/null # nspawn --boot: SIGTERM = orderly poweroff
                for _ in $(seq 100); do kill -0 "$DW_CT_NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
                kill -0 "$DW_CT_NSPAWN_PID" 2>/dev/null && kill -KILL "$DW_CT_NSPAWN_PID" 2>/dev/null
        fi
        [ -n "$DW_CT_NSPAWN_PID" ] && wait "$DW_CT_NSPAWN_PID" 2>/dev/null
        for p in $(dw_ct_pids); do kill -KILL "$p" 2>/dev/null; done
        for _ in $(seq 50); do [ -z "$(dw_ct_pids)" ] && break; sleep 0.1; done
        for p in "${DW_CT_CGDIRS[@]}"; do
                [ -d "$p" ] && find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
        DW_CT_NSPAWN_PID='' DW_CT_LEADER='' DW_CT_CGDIRS=()
        return 0
}
