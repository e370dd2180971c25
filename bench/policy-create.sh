#!/usr/bin/env bash
# `driftwatch policy create --from-tree` throughput beside its peer, `find -type f -print0 | xargs -0 -P2 sha256sum`,
# on the same trees (warm page cache: each is run once before it is timed): a generated tree and /usr. Then the
# 1,000,000-path policy load (bench/policy-create-load.c). Figures go to docs/benchmarks.md by hand.
#
#   DW_BUILD=build bash bench/policy-create.sh [FILES] [KIB-PER-FILE]
set -euo pipefail
build=${DW_BUILD:-build}
files=${1:-20000}
kib=${2:-32}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== generating $files files of $kib KiB in 100 directories"
for d in $(seq 0 99); do mkdir -p "$tmp/tree/usr/lib/d$d"; done
head -c $((kib * 1024)) /dev/urandom >"$tmp/seed"
for i in $(seq 1 "$files"); do
        { printf '%d' "$i"; cat "$tmp/seed"; } >"$tmp/tree/usr/lib/d$((i % 100))/f$i"
done

measure() { # LABEL TREE CMD...: wall time, then files/s and MB/s over the tree's regular files
        local label=$1 tree=$2 t0 t1 n mb
        shift 2
        "$@" >/dev/null 2>&1 || true # warm the cache
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || true
        t1=$(date +%s.%N)
        n=$(find "$tree" -xdev -type f | wc -l)
        mb=$(find "$tree" -xdev -type f -printf '%s\n' | awk '{s += $1} END {printf "%.1f", s / 1e6}')
        awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$n" -v mb="$mb" \
                'BEGIN {t = b - a; printf "%s: %d files, %s MB in %.2f s: %.0f files/s, %.0f MB/s\n", l, n, mb, t, n / t, mb / t}'
}

for tree in "$tmp/tree" /usr; do
        echo "== $tree"
        measure "driftwatch policy create --from-tree (2 threads)" "$tree" \
                "$build/driftwatch" policy create -q --jobs 2 --from-tree "$tree" -o "$tmp/p.json"
        measure "driftwatch policy create --from-tree (1 thread) " "$tree" \
                "$build/driftwatch" policy create -q --jobs 1 --from-tree "$tree" -o "$tmp/p.json"
        measure "find -xdev -type f -print0 | xargs -0 -P2 sha256sum" "$tree" \
                sh -c "find '$tree' -xdev -type f -print0 | xargs -0 -P2 -n 256 sha256sum"
done
echo "== SHA-256 ceiling of this machine (one core)"
openssl speed -seconds 2 -evp sha256 2>/dev/null | tail -1

echo "== loading a 1,000,000-path policy (one core)"
taskset -c 0 "$build/bench/policy-create-load" --paths 1000000 --runs 3
