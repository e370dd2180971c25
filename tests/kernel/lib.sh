# The real-kernel harness (docs/testing-real-kernel.md), sourced by tests/shell/test-real-kernel.sh: Debian's own
# kernel under qemu with a swtpm TPM 2.0, a measured root image holding the project's binaries (with their shared
# libraries and loader), user networking restricted to one guestfwd to the host verifier, and a command channel.
#
#   kern_tools                  qemu, swtpm, busybox-static, cpio, mkfs.ext4, socat present (installs them when
#                               missing); returns 1 and sets KERN_WHY when they are not and cannot be installed
#   kern_kernel                 the kernel package: resolved from apt (the machine's own sources), downloaded and
#                               unpacked once into the cache; sets KERN_VERSION, KERN_VMLINUZ, KERN_CONFIG
#   kern_image HOST=GUEST...    the root image: each HOST binary at GUEST, with its libraries and loader, plus
#                               $KERN_STAGE_HOOK (a function filling "$1", the staging root), cached by content;
#                               sets KERN_IMAGE and KERN_MANIFEST ("sha256 /path" per regular file)
#   kern_initrd DIR             the initramfs: the cached base (busybox, modules, init) + DIR's per-run files
#   kern_swtpm_start DIR        swtpm with an EK certificate from its own local CA (KERN_SWTPM_CA: the roots)
#   kern_qemu_start DIR PORT    boots; the guest's 10.0.2.100:8443 is the host's 127.0.0.1:PORT
#   kern_guest N SCRIPT [SEC]   runs SCRIPT in the guest; its output in $KERN_WORK/out.N; returns its exit status
#   kern_block NAME FILE        a file the guest emitted, decoded
#   kern_stop                   stops qemu and swtpm (by PID); idempotent; called by the caller's EXIT trap
#
# Knobs: DW_CACHE (/var/cache/driftwatch-tests), DW_KERNEL_FLAVOUR (cloud | std), DW_KERNEL_ACCEL (tcg | kvm),
# DW_KERNEL_TIMEOUT (hard limit of the qemu run, s), DW_KERNEL_APPEND (more kernel parameters).

KERN_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KERN_CACHE=${DW_CACHE:-/var/cache/driftwatch-tests}/kernel
KERN_FLAVOUR=${DW_KERNEL_FLAVOUR:-cloud}
KERN_TIMEOUT=${DW_KERNEL_TIMEOUT:-300}
KERN_BANKS=sha1,sha256,sha384,sha512
KERN_QEMU_PID= KERN_SWTPM_PID= KERN_WORK= KERN_WHY= KERN_ACCEL=
# Bump when the image layout changes in a way the content hash does not see.
KERN_LAYOUT=1

kern_log() { echo "  [kernel $(date +%T)] $*" >&2; }

# Serialises cache updates between concurrent runs.
kern_locked() {
        mkdir -p "$KERN_CACHE"
        (
                flock -w 900 9 || exit 1
                "$@"
        ) 9>"$KERN_CACHE/.lock"
}

kern_tools() {
        local need=() p log
        command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
        command -v swtpm >/dev/null || need+=(swtpm)
        command -v swtpm_setup >/dev/null || need+=(swtpm-tools)
        file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need+=(busybox-static)
        command -v cpio >/dev/null || need+=(cpio)
        command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
        command -v socat >/dev/null || need+=(socat)
        command -v file >/dev/null || need+=(file)
        command -v flock >/dev/null || need+=(util-linux)
        command -v pgrep >/dev/null || need+=(procps)
        if [ ${#need[@]} -gt 0 ]; then
                kern_log "installing ${need[*]}"
                export DEBIAN_FRONTEND=noninteractive
                log=$(mktemp)
                if ! { timeout 300 apt-get update -qq && timeout 600 apt-get install -y -qq --no-install-recommends \
                        "${need[@]}"; } >"$log" 2>&1; then
                        KERN_WHY="cannot install ${need[*]}: $(tail -2 "$log" | tr '\n' ' ')"
                        rm -f "$log"
                        return 1
                fi
                rm -f "$log"
        fi
        for p in qemu-system-x86_64 swtpm swtpm_setup cpio mkfs.ext4 socat pgrep; do
                command -v $p >/dev/null || { KERN_WHY="$p is missing after the install"; return 1; }
        done
        file -L /bin/busybox | grep -q 'statically linked' || { KERN_WHY="/bin/busybox is not static"; return 1; }
        return 0
}

# ---- the kernel -----------------------------------------------------------------------------------------------------
kern_kernel_fetch() {
        local meta=$1 kpkg dir
        kpkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
        if [ -z "$kpkg" ]; then
                timeout 300 apt-get update -qq >/dev/null 2>&1
                kpkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
        fi
        if [ -z "$kpkg" ]; then
                # No package lists (offline): the newest kernel already in the cache, if any.
                kpkg=$(ls -d "$KERN_CACHE"/pkg/linux-image-*-"${meta#linux-image-}" 2>/dev/null | sort -V | tail -1)
                kpkg=${kpkg##*/}
                [ -n "$kpkg" ] || { echo "cannot resolve $meta (apt-cache depends)" >&2; return 1; }
        fi
        dir=$KERN_CACHE/pkg/$kpkg
        if [ ! -f "$dir/boot/vmlinuz-${kpkg#linux-image-}" ]; then
                kern_log "downloading $kpkg (once; cached in $KERN_CACHE/pkg)"
                rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/deb"
                (cd "$dir.tmp/deb" && timeout 600 apt-get download -q "$kpkg" >/dev/null 2>&1) ||
                        { echo "apt-get download $kpkg failed" >&2; rm -rf "$dir.tmp"; return 1; }
                dpkg-deb -x "$dir.tmp"/deb/*.deb "$dir.tmp" || { rm -rf "$dir.tmp"; return 1; }
                rm -rf "$dir.tmp/deb" "$dir"
                mv "$dir.tmp" "$dir"
        fi
        echo "$kpkg" >"$KERN_CACHE/pkg/.resolved-$meta"
}

kern_kernel() {
        local meta kpkg
        case "$KERN_FLAVOUR" in
        cloud) meta=linux-image-cloud-amd64 ;;
        std) meta=linux-image-amd64 ;;
        *) echo "DW_KERNEL_FLAVOUR must be cloud or std" >&2; return 1 ;;
        esac
        kern_locked kern_kernel_fetch "$meta" || return 1
        kpkg=$(cat "$KERN_CACHE/pkg/.resolved-$meta")
        KERN_VERSION=${kpkg#linux-image-}
        KERN_ROOT=$KERN_CACHE/pkg/$kpkg
        KERN_VMLINUZ=$KERN_ROOT/boot/vmlinuz-$KERN_VERSION
        KERN_CONFIG=$KERN_ROOT/boot/config-$KERN_VERSION
        KERN_MODDIR=$KERN_ROOT/lib/modules/$KERN_VERSION/kernel
        grep -q '^CONFIG_IMA=y' "$KERN_CONFIG" || { echo "$kpkg has no CONFIG_IMA=y" >&2; return 1; }
}

# kern_modules NAME...: the .ko files to insmod, dependencies first (from each module's modinfo depends=).
kern_modules() {
        declare -gA KERN_MODPATH=()
        declare -A seen=()
        local f b
        KERN_MODS=()
        while IFS= read -r f; do
                b=${f##*/}
                b=${b%.ko}
                KERN_MODPATH[${b//-/_}]=$f
        done < <(find "$KERN_MODDIR" -name '*.ko')
        add_mod() {
                local n=${1//-/_} p deps d
                [ -n "${seen[$n]:-}" ] && return 0
                seen[$n]=1
                p=${KERN_MODPATH[$n]:-}
                [ -n "$p" ] || { echo "module $1 not found in $KERN_MODDIR" >&2; return 1; }
                deps=$(grep -aoE 'depends=[A-Za-z0-9_,-]*' "$p" | head -1 | sed 's/^depends=//')
                for d in ${deps//,/ }; do add_mod "$d" || return 1; done
                KERN_MODS+=("$p")
        }
        for b in "$@"; do add_mod "$b" || return 1; done
}

# ---- the root image -------------------------------------------------------------------------------------------------
# kern_stage_file ROOT PATH: PATH (a host file, a symlink chain resolved) into ROOT at the same path(s).
kern_stage_file() {
        local root=$1 p=$2 real
        real=$(readlink -f "$p")
        if [ ! -e "$root$real" ]; then
                mkdir -p "$root$(dirname "$real")"
                cp -L --preserve=mode "$real" "$root$real"
        fi
        # The names it is found by (/lib/x86_64-linux-gnu/libcurl.so.4 → /usr/lib/.../libcurl.so.4.8.0).
        if [ "$p" != "$real" ] && [ ! -e "$root$p" ] && [ ! -L "$root$p" ]; then
                mkdir -p "$root$(dirname "$p")"
                ln -s "$real" "$root$p"
        fi
}

# kern_stage_elf ROOT FILE [DEST]: FILE (at DEST, default its own path), every library ldd lists for it, its loader.
kern_stage_elf() {
        local root=$1 f=$2 dest=${3:-} lib
        if [ -n "$dest" ]; then
                mkdir -p "$root$(dirname "$dest")"
                cp -L --preserve=mode "$f" "$root$dest" || return 1
        else
                kern_stage_file "$root" "$f" || return 1
        fi
        for lib in $(ldd "$f" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*'); do
                kern_stage_file "$root" "$lib"
        done
}

kern_stage() {
        local root=$1 f a
        shift
        # A merged-/usr layout as on Debian 12: /bin, /sbin, /lib, /lib64 are symlinks into /usr.
        mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{etc,proc,sys,dev,run,tmp,opt,var/lib/driftwatch-monitor}
        for a in bin sbin lib lib64; do ln -s usr/$a "$root/$a"; done
        cp /bin/busybox "$root/usr/bin/busybox"
        for a in $(/bin/busybox --list); do
                [ "$a" = busybox ] || [ -e "$root/usr/bin/$a" ] || ln -s busybox "$root/usr/bin/$a"
        done
        for f in "$@"; do kern_stage_elf "$root" "${f%%=*}" "${f#*=}" || return 1; done
        # Libraries loaded by name at run time (ldd cannot see them): the TPM device TCTI.
        for f in /usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0; do
                [ -e "$f" ] && kern_stage_elf "$root" "$f"
        done
        # The loader's cache, as on a real system (read by root: measured, and so in the allowlist).
        echo /usr/lib/x86_64-linux-gnu >"$root/etc/ld.so.conf"
        ldconfig -r "$root" 2>/dev/null
        if declare -F "${KERN_STAGE_HOOK:-}" >/dev/null; then "$KERN_STAGE_HOOK" "$root" || return 1; fi
}

kern_image_build() {
        local stage=$1 key=$2 img=$KERN_CACHE/images/$2
        if [ -f "$img.ext4" ] && [ -f "$img.manifest" ]; then
                touch "$img.ext4" "$img.manifest"
                return 0
        fi
        kern_log "building the root image ${key:0:12} (cached)"
        mkdir -p "$KERN_CACHE/images"
        (cd "$stage" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum |
                sed 's#  #  /#' | awk '{print $1, $2}') >"$img.manifest.tmp" || return 1
        rm -f "$img.ext4.tmp"
        # Fixed UUID and times: the same files give the same image.
        E2FSPROGS_FAKE_TIME=1 mkfs.ext4 -q -F -L dwroot -U 6d2a3c1e-0d1b-4a6e-9c8e-5b1f3f0a9d21 -E root_owner=0:0 \
                -N 4096 -d "$stage" "$img.ext4.tmp" "$((($(du -sm "$stage" | cut -f1) + 48) * 1024))"K >/dev/null ||
                return 1
        mv "$img.ext4.tmp" "$img.ext4" && mv "$img.manifest.tmp" "$img.manifest"
        # Keep the three most recently used images.
        ls -t "$KERN_CACHE"/images/*.ext4 2>/dev/null | tail -n +4 | while read -r old; do
                rm -f "$old" "${old%.ext4}.manifest"
        done
}

kern_image() {
        local stage=$KERN_WORK/stage key
        rm -rf "$stage"
        kern_stage "$stage" "$@" || return 1
        # The key: every path, type, mode, symlink target and content.
        key=$( (
                echo "layout $KERN_LAYOUT"
                cd "$stage" && find . -printf '%P %y %m %l\n' | LC_ALL=C sort
                find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
        ) | sha256sum | cut -c1-32)
        kern_locked kern_image_build "$stage" "$key" || return 1
        KERN_IMAGE=$KERN_CACHE/images/$key.ext4
        KERN_MANIFEST=$KERN_CACHE/images/$key.manifest
}

# ---- the initramfs --------------------------------------------------------------------------------------------------
kern_cpio() { # kern_cpio DIR OUT: a reproducible gzip'd newc archive of DIR
        (cd "$1" && find . -exec touch -h -d @1 {} + && find . -print0 | LC_ALL=C sort -z |
                cpio --null -o -H newc --reproducible --owner=0:0 --quiet | gzip -n -1) >"$2"
}

kern_initrd_base_build() {
        local out=$1 dir=$KERN_WORK/initrd-base m a
        if [ -f "$out" ]; then
                touch "$out"
                return 0
        fi
        rm -rf "$dir" && mkdir -p "$dir"/{bin,modules,dev,proc,sys,newroot,dw,driftwatch}
        cp /bin/busybox "$dir/bin/busybox"
        for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$dir/bin/$a"; done
        for m in "${KERN_MODS[@]}"; do cp "$m" "$dir/modules/"; done
        printf '%s\n' "${KERN_MODS[@]##*/}" >"$dir/modules/order"
        cp "$KERN_HERE/init" "$dir/init" && chmod 755 "$dir/init"
        kern_cpio "$dir" "$out.tmp" && mv "$out.tmp" "$out" || return 1
        ls -t "$KERN_CACHE"/images/initrd-*.cpio.gz 2>/dev/null | tail -n +4 | while read -r old; do rm -f "$old"; done
}

# kern_initrd RUNDIR: the cached base, then RUNDIR's files (dw/, driftwatch/) as a second archive.
kern_initrd() {
        local run=$1 key base
        # Drivers the guest needs that this kernel has as modules (the cloud kernel: virtio PCI, disk and network).
        local want=() m
        for m in VIRTIO_PCI:virtio_pci VIRTIO_BLK:virtio_blk VIRTIO_NET:virtio_net HW_RANDOM_VIRTIO:virtio_rng \
                EXT4_FS:ext4; do
                grep -q "^CONFIG_${m%%:*}=m" "$KERN_CONFIG" && want+=("${m#*:}")
        done
        grep -q '^CONFIG_EXT4_FS=m' "$KERN_CONFIG" && grep -q '^CONFIG_CRYPTO_CRC32C=m' "$KERN_CONFIG" &&
                want=(crc32c_generic "${want[@]}")
        kern_modules "${want[@]}" || return 1
        key=$( (
                echo "$KERN_VERSION"
                sha256sum /bin/busybox "$KERN_HERE/init"
                printf '%s\n' "${KERN_MODS[@]##*/}"
        ) | sha256sum | cut -c1-32)
        base=$KERN_CACHE/images/initrd-$key.cpio.gz
        mkdir -p "$KERN_CACHE/images"
        kern_locked kern_initrd_base_build "$base" || return 1
        kern_cpio "$run" "$KERN_WORK/initrd-run.cpio.gz" || return 1
        cat "$base" "$KERN_WORK/initrd-run.cpio.gz" >"$KERN_WORK/initrd.gz"
}

# ---- swtpm ----------------------------------------------------------------------------------------------------------
kern_swtpm_start() {
        local dir=$1
        mkdir -p "$dir/state" "$dir/ca"
        cat >"$dir/localca.conf" <<CONF
statedir = $dir/ca
signingkey = $dir/ca/signkey.pem
issuercert = $dir/ca/issuercert.pem
certserial = $dir/ca/certserial
CONF
        cat >"$dir/setup.conf" <<CONF
create_certs_tool = /usr/bin/swtpm_localca
create_certs_tool_config = $dir/localca.conf
create_certs_tool_options = /etc/swtpm-localca.options
active_pcr_banks = $KERN_BANKS
CONF
        if ! swtpm_setup --tpm2 --tpmstate "$dir/state" --create-ek-cert --create-platform-cert \
                --pcr-banks "$KERN_BANKS" --config "$dir/setup.conf" --overwrite >"$dir/setup.log" 2>&1; then
                echo "swtpm_setup failed: $(tail -5 "$dir/setup.log")" >&2
                return 1
        fi
        KERN_SWTPM_CA=$dir/ca
        KERN_SWTPM_SOCK=$dir/swtpm.sock
        swtpm socket --tpm2 --tpmstate dir="$dir/state" --ctrl type=unixio,path="$KERN_SWTPM_SOCK" \
                --log file="$dir/swtpm.log",level=1 >"$dir/swtpm.out" 2>&1 &
        KERN_SWTPM_PID=$!
        for _ in $(seq 100); do
                [ -S "$KERN_SWTPM_SOCK" ] && return 0
                kill -0 "$KERN_SWTPM_PID" 2>/dev/null || break
                sleep 0.05
        done
        echo "swtpm did not start: $(tail -3 "$dir/swtpm.out")" >&2
        return 1
}

# ---- qemu -----------------------------------------------------------------------------------------------------------
kern_accel() {
        # TCG by default: the recipe's measured, deterministic path. KVM only when asked: on these machines /dev/kvm
        # opens, but a guest under it either aborts (MSR 0x10a with -cpu host/max) or never prints a line.
        KERN_ACCEL=${DW_KERNEL_ACCEL:-tcg}
        case $KERN_ACCEL in
        kvm) KERN_ACCEL_ARGS=(-accel kvm -cpu host) ;;
        tcg) KERN_ACCEL_ARGS=(-accel tcg,thread=multi -cpu max) ;;
        *) echo "DW_KERNEL_ACCEL must be tcg or kvm" >&2; return 1 ;;
        esac
}

# kern_qemu_start DIR PORT: boots the guest (KERN_IMAGE, KERN_WORK/initrd.gz); the verifier is 127.0.0.1:PORT.
kern_qemu_start() {
        local dir=$1 port=$2 append
        kern_accel || return 1
        KERN_CONSOLE=$dir/console.log
        KERN_DATA=$dir/ttyS1.txt
        KERN_CTL=$dir/ctl
        : >"$KERN_CONSOLE"
        : >"$KERN_DATA"
        rm -f "$KERN_CTL.in" "$KERN_CTL.out"
        mkfifo "$KERN_CTL.in" "$KERN_CTL.out"
        append="console=ttyS0,115200 panic=-1 rdinit=/init ima_policy=tcb ${DW_KERNEL_APPEND:-}"
        # The guest reaches one address: 10.0.2.100:8443, forwarded (one socat per connection, started by qemu) to
        # the verifier on the host's loopback. restrict=on: no other packet leaves the guest, ever.
        # snapshot=on: the guest writes to a throw-away overlay, never to the cached image.
        TMPDIR=$dir timeout -k 5 "$KERN_TIMEOUT" qemu-system-x86_64 -machine pc "${KERN_ACCEL_ARGS[@]}" -smp 2 -m 1024 \
                -nodefaults -display none -monitor none -no-reboot \
                -chardev file,id=con,path="$KERN_CONSOLE" -serial chardev:con \
                -chardev file,id=data,path="$KERN_DATA" -serial chardev:data \
                -chardev pipe,id=ctl,path="$KERN_CTL" -serial chardev:ctl \
                -chardev socket,id=chrtpm,path="$KERN_SWTPM_SOCK" -tpmdev emulator,id=tpm0,chardev=chrtpm \
                -device tpm-tis,tpmdev=tpm0 \
                -drive file="$KERN_IMAGE",format=raw,if=none,id=root,snapshot=on -device virtio-blk-pci,drive=root \
                -netdev "user,id=n0,restrict=on,ipv6=off,net=10.0.2.0/24,host=10.0.2.2,guestfwd=tcp:10.0.2.100:8443-cmd:socat STDIO TCP:127.0.0.1:$port" \
                -device virtio-net-pci,netdev=n0 -device virtio-rng-pci \
                -kernel "$KERN_VMLINUZ" -initrd "$KERN_WORK/initrd.gz" -append "$append" \
                >"$dir/qemu.out" 2>&1 &
        KERN_QEMU_PID=$!
        KERN_QEMU_T0=$(date +%s.%N)
        KERN_SEQ=0
}

kern_qemu_alive() { [ -n "$KERN_QEMU_PID" ] && kill -0 "$KERN_QEMU_PID" 2>/dev/null; }

# kern_wait_data PATTERN SEC: waits for a line matching PATTERN on ttyS1 while qemu runs.
kern_wait_data() {
        local pat=$1 limit=$2 end
        end=$(($(date +%s) + limit))
        while [ "$(date +%s)" -lt "$end" ]; do
                grep -qE -- "$pat" "$KERN_DATA" 2>/dev/null && return 0
                kern_qemu_alive || { grep -qE -- "$pat" "$KERN_DATA" 2>/dev/null; return; }
                sleep 0.1
        done
        return 1
}

# kern_guest N SCRIPT [SEC]: runs SCRIPT in the guest; its stdout+stderr land in $KERN_WORK/out.N. Returns the
# script's exit status, or 124 when it did not finish within SEC seconds (default 60) or the guest died.
kern_guest() {
        local id=$1 script=$2 limit=${3:-60} rc
        printf '%s %s\n' "$id" "$(printf '%s\n' "$script" | base64 -w0)" >"$KERN_CTL.in" &
        local writer=$!
        if ! kern_wait_data "^@@DONE $id " "$limit"; then
                kill "$writer" 2>/dev/null
                wait "$writer" 2>/dev/null
                echo "(guest command $id did not finish within ${limit}s)" >"$KERN_WORK/out.$id"
                return 124
        fi
        wait "$writer" 2>/dev/null
        kern_block "out.$id" "$KERN_WORK/out.$id"
        rc=$(grep -aE "^@@DONE $id " "$KERN_DATA" | tail -1 | sed 's/.* rc=\([0-9]*\).*/\1/')
        return "${rc:-125}"
}

# kern_block NAME OUT: the last block NAME the guest emitted on ttyS1, decoded into OUT.
kern_block() {
        tr -d '\r' <"$KERN_DATA" | awk -v n="$1" '
                $0 == "=====BEGIN " n "=====" { buf = ""; on = 1; next }
                $0 == "=====END " n "=====" { last = buf; found = 1; on = 0; next }
                on { buf = buf $0 "\n" }
                END { printf "%s", last; exit !found }' | base64 -d >"$2"
}

# kern_stop: qemu (with the socat forwarders it started) and swtpm, by PID. Safe to call twice.
kern_stop() {
        local qemu="" fwd="" p
        if [ -n "$KERN_QEMU_PID" ]; then
                # $KERN_QEMU_PID is `timeout`; its child is qemu, whose children are the forwarders.
                qemu=$(pgrep -P "$KERN_QEMU_PID" 2>/dev/null)
                for p in $qemu; do fwd="$fwd $(pgrep -P "$p" 2>/dev/null)"; done
                kill "$KERN_QEMU_PID" 2>/dev/null # timeout passes it on to qemu
                for _ in $(seq 50); do kill -0 "$KERN_QEMU_PID" 2>/dev/null || break; sleep 0.1; done
                kill -9 "$KERN_QEMU_PID" $qemu 2>/dev/null
                wait "$KERN_QEMU_PID" 2>/dev/null
                # A forwarder ends when qemu's end of its socket closes; make sure.
                for p in $fwd; do kill "$p" 2>/dev/null; done
                KERN_QEMU_PID=
        fi
        if [ -n "$KERN_SWTPM_PID" ]; then
                kill "$KERN_SWTPM_PID" 2>/dev/null
                for _ in $(seq 50); do kill -0 "$KERN_SWTPM_PID" 2>/dev/null || break; sleep 0.05; done
                kill -9 "$KERN_SWTPM_PID" 2>/dev/null
                wait "$KERN_SWTPM_PID" 2>/dev/null
                KERN_SWTPM_PID=
        fi
}
