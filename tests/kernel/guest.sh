#!/bin/sh
# PID 1 of the guest (tests/kernel/), on the measured root image: mounts what the monitor needs, then runs the
# commands the host sends on the third serial port (ttyS2), one at a time:
#
#   host → ttyS2:  "<id> <base64 of a shell script>\n"
#   guest → ttyS1: "=====BEGIN out.<id>=====", the script's stdout+stderr in base64, "=====END out.<id>=====",
#                  then "@@DONE <id> rc=<exit status>"
#
# Each script runs in a subshell (cwd /run/dw) with `emit NAME FILE`, which sends a file to the host as a base64
# block. "@@READY" on ttyS1 says the loop listens; the host's last command powers the guest off.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
mount -t securityfs securityfs /sys/kernel/security
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mkdir -p /run/driftwatch-monitor

exec 3</dev/ttyS2
stty -F /dev/ttyS2 raw -echo 2>/dev/null
stty -F /dev/ttyS1 raw -echo 2>/dev/null

echo 'emit() { { echo "=====BEGIN $1====="; base64 "$2"; echo "=====END $1====="; } >/dev/ttyS1; }' \
        >/run/dw/guest-lib.sh
. /run/dw/guest-lib.sh

echo "DW-GUEST uptime=$(cut -d' ' -f1 /proc/uptime) lsm=$(cat /sys/kernel/security/lsm)"
echo "@@READY uptime=$(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS1
while read -r id b64 <&3; do
        [ -n "$id" ] || continue
        printf '%s' "$b64" | base64 -d >/run/dw/cmd.$id.sh
        (cd /run/dw && . /run/dw/guest-lib.sh && . /run/dw/cmd.$id.sh) >/run/dw/out.$id 2>&1 </dev/null
        rc=$?
        emit "out.$id" /run/dw/out.$id
        echo "@@DONE $id rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS1
done
echo "DW-GUEST: the command channel closed"
poweroff -f
