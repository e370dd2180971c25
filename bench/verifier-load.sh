#!/usr/bin/env bash
# driftwatch-verifier under load, on this machine: attestation rounds per second over HTTPS with mutual TLS, round
# latency, CPU split and memory per enrolled gateway, with N simulated gateways (build/bench/verifier-load: software
# TPMs making real TPM structures, 20 new IMA entries per round) against a large runtime policy.
#
# For each policy size (DW_LOAD_PATHS, default "100000 1000") and fleet size (DW_LOAD_GATEWAYS, default "100 1000"):
# a private verifier (its own state directory, a free loopback port, the bench's EK CA as ek_ca_bundle, stopped by
# PID) gets the runtime policy and the boot policy through the admin API, then the load generator enrolls the fleet
# and runs rounds, closed loop (each gateway starts its next round when its verdict arrives), for DW_LOAD_DURATION
# seconds (default 20) after DW_LOAD_WARMUP seconds (default 5). The verifier's VmRSS is read before enrolling, after
# enrolling and under load (memory per enrolled gateway), /metrics before and after. Then one paced run
# (DW_LOAD_PACED_RATE rounds/s in total, default 1500; 0 skips it) with the largest fleet and policy gives the round
# latency at a load below saturation. The load generator runs on the same machine, so its CPU is reported apart.
# DW_LOAD_VERIFIER_ARGS adds options to the verifier's command line (e.g. "--set http_threads=4").
#
#   DW_BUILD=build bench/verifier-load.sh
set -euo pipefail
build=${DW_BUILD:-build}
src=${DW_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
verifier=${DW_VERIFIER:-$build/driftwatch-verifier}
load=$build/bench/verifier-load
duration=${DW_LOAD_DURATION:-20}
warmup=${DW_LOAD_WARMUP:-5}
fleets=${DW_LOAD_GATEWAYS:-"100 1000"}
policies=${DW_LOAD_PATHS:-"100000 1000"}
paced_rate=${DW_LOAD_PACED_RATE:-1500}
threads=${DW_LOAD_THREADS:-0} # 0: one load generator thread per 64 gateways
verifier_args=${DW_LOAD_VERIFIER_ARGS:-} # more options for the verifier, e.g. "--set http_threads=4"

for bin in "$verifier" "$load"; do
        if [ ! -x "$bin" ]; then
                echo "verifier-load.sh: $bin is not built" >&2
                exit 1
        fi
done
for tool in curl awk; do
        command -v $tool >/dev/null || { echo "verifier-load.sh: $tool is not installed (make deps)" >&2; exit 1; }
done

tmp=$(mktemp -d)
VPID=
cleanup() {
        if [ -n "$VPID" ]; then
                kill "$VPID" 2>/dev/null || true
                wait "$VPID" 2>/dev/null || true
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

# A thousand gateways are a thousand connections on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

start_verifier() { # start_verifier DIR: a private verifier; sets VPID, URL, CA, ADMIN
        local dir=$1
        "$verifier" --config /dev/null --state-dir "$dir" --listen 127.0.0.1 --port 0 --port-file "$dir.port" \
                --ek-ca-bundle "$tmp/ekca/ek-ca.pem" --set max_connections=4096 --set max_request_size=64M \
                $verifier_args 2>"$dir.log" &
        VPID=$!
        for _ in $(seq 400); do
                [ -s "$dir.port" ] && break
                kill -0 "$VPID" 2>/dev/null || break
                sleep 0.05
        done
        if [ ! -s "$dir.port" ]; then
                echo "verifier-load.sh: the verifier did not start: $(tail -3 "$dir.log")" >&2
                exit 1
        fi
        URL=https://localhost:$(cat "$dir.port")
        CA=$dir/ca.pem
        ADMIN=$(cat "$dir/admin.token")
}

stop_verifier() {
        local rc=0
        kill "$VPID"
        wait "$VPID" || rc=$?
        VPID=
        if [ "$rc" -ne 0 ]; then
                echo "verifier-load.sh: the verifier exited with $rc" >&2
                exit 1
        fi
}

api() {
        curl -sS --fail-with-body --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$@"
}

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$VPID/status"; }

metric() { # metric FILE NAME: the sum of a metric's samples (NAME with or without labels)
        awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%.0f", s }' "$1"
}

result() { # result FILE KEY: a value of the load generator's RESULT line
        sed -n 's/^RESULT //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# run PATHS N RATE: one private verifier, one load.
run() {
        local paths=$1 n=$2 rate=$3 dir t0 t1 trusted untrusted vcount vsum
        dir=$tmp/v-$paths-$n-$rate
        if [ "$rate" = 0 ]; then
                echo "== driftwatch-verifier, closed loop: $n gateways, $paths-path runtime policy, 20 new IMA entries per round"
        else
                echo "== driftwatch-verifier, paced at $rate rounds/s: $n gateways, $paths-path runtime policy"
        fi
        start_verifier "$dir"
        echo "verifier: VmRSS $(rss) KiB at start"
        t0=$(date +%s%N)
        api -X POST --data-binary "@$tmp/policy-$paths.json" "$URL/v1/admin/policies/runtime/fleet" >/dev/null
        t1=$(date +%s%N)
        api -X POST --data-binary "@$src/tests/data/round/boot-policy.json" "$URL/v1/admin/policies/boot/fw" >/dev/null
        api -X PUT -d '{"runtime": "fleet", "boot": "fw"}' "$URL/v1/admin/groups/default/policies" >/dev/null
        echo "verifier: runtime policy uploaded ($(stat -c %s "$tmp/policy-$paths.json") bytes of JSON, stored and" \
                "validated in $(( (t1 - t0) / 1000000 )) ms), boot policy, both assigned to the default group;" \
                "VmRSS $(rss) KiB"
        api "$URL/metrics" >"$dir.metrics0"

        "$load" run --url "$URL" --ca "$CA" --ek-ca "$tmp/ekca" --gateways "$n" --policy-paths "$paths" \
                --duration "$duration" --warmup "$warmup" --rate "$rate" --threads "$threads" \
                --boot-log "$src/tests/data/round/bios.log" --verifier-pid "$VPID" | tee "$dir.out"

        api "$URL/metrics" >"$dir.metrics1"
        trusted=$(( $(metric "$dir.metrics1" 'driftwatch_rounds_total{verdict="trusted"}') -
                    $(metric "$dir.metrics0" 'driftwatch_rounds_total{verdict="trusted"}') ))
        untrusted=$(( $(metric "$dir.metrics1" 'driftwatch_rounds_total{verdict="untrusted"}') -
                      $(metric "$dir.metrics0" 'driftwatch_rounds_total{verdict="untrusted"}') ))
        vcount=$(metric "$dir.metrics1" driftwatch_verification_seconds_count)
        vsum=$(awk '$1 == "driftwatch_verification_seconds_sum" { print $2 }' "$dir.metrics1")
        echo "verifier /metrics: $trusted trusted and $untrusted untrusted rounds (whole run, warm-up included)," \
                "$(metric "$dir.metrics1" driftwatch_rejected_requests_total) rejected requests, mean verification" \
                "$(awk -v s="$vsum" -v c="$vcount" 'BEGIN { printf "%.3f", c ? 1000 * s / c : 0 }') ms (decision" \
                "to signed token), $(metric "$dir.metrics1" 'driftwatch_http_requests_total{code="5xx"}') 5xx answers"
        stop_verifier
        echo "verifier: stopped cleanly; state directory $(du -sk "$dir" | cut -f1) KiB"
        printf '%-8s %7s %6s %9s %9s %9s %9s %9s %8s %8s %8s\n' "$paths" "$n" \
                "$([ "$rate" = 0 ] && echo closed || echo "$rate/s")" "$(result "$dir.out" rounds_per_s)" \
                "$(result "$dir.out" p50_ms)" "$(result "$dir.out" p99_ms)" "$(result "$dir.out" verifier_us_per_round)" \
                "$(result "$dir.out" loader_us_per_round)" "$(result "$dir.out" kib_per_gateway_idle)" \
                "$(result "$dir.out" kib_per_gateway_connected)" "$(result "$dir.out" kib_per_gateway_load)" \
                >>"$tmp/summary"
}

"$load" ek-ca --out "$tmp/ekca"
for paths in $policies; do
        "$load" policy --paths "$paths" --out "$tmp/policy-$paths.json"
done
printf '%-8s %7s %6s %9s %9s %9s %9s %9s %8s %8s %8s\n' paths gateways load rounds/s p50_ms p99_ms \
        verif_us loader_us KiB_idle KiB_conn KiB_load >"$tmp/summary"
for paths in $policies; do
        for n in $fleets; do
                run "$paths" "$n" 0
        done
done
if [ "$paced_rate" != 0 ]; then
        run "$(tr ' ' '\n' <<<"$policies" | sort -n | tail -1)" "$(tr ' ' '\n' <<<"$fleets" | sort -n | tail -1)" \
                "$paced_rate"
fi
echo "== summary (per round: CPU microseconds of the verifier and of the load generator; KiB: verifier memory per"
echo "   enrolled gateway with its connection closed, open, and attesting)"
cat "$tmp/summary"
