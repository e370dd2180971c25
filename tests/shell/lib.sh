# Assertions for the shell tests. Each records PASS/FAIL in $DW_RESULTS and prints failures with context.
set -u
DW=${DW:-$DW_BUILD/san/driftwatch}   # the sanitizer build: bad input is exercised under ASan+UBSan too
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
REAL=$DW_TESTDATA/realkernel-ima-ng-seabios
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok() {
        echo "PASS $*" >>"$DW_RESULTS"
        echo "  ok   $*"
}

fail() {
        echo "FAIL $*" >>"$DW_RESULTS"
        echo "  FAIL $*"
}

# assert_eq NAME EXPECTED ACTUAL
assert_eq() {
        if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

# assert_exit NAME CODE CMD... : runs CMD, checks its exit status; stdout/stderr land in $TMP/out, $TMP/err.
assert_exit() {
        local name=$1 want=$2
        shift 2
        "$@" >"$TMP/out" 2>"$TMP/err"
        local rc=$?
        if [ "$rc" -eq "$want" ]; then
                ok "$name"
        else
                fail "$name: exit $rc, wanted $want; stderr: $(head -c 600 "$TMP/err")"
        fi
}

# assert_grep NAME PATTERN FILE
assert_grep() {
        if grep -qE -- "$2" "$3"; then ok "$1"; else fail "$1: /$2/ not in $(head -c 600 "$3")"; fi
}

# Reads PCR NN of a "PCR-NN: HEX" file, lowercase.
pcr_from_file() {
        grep "^PCR-$(printf %02d "$2"):" "$1" | awk '{print tolower($2)}'
}

# json_get FILE KEY... : a value from a JSON file, via jq (object keys only).
json_get() {
        local f=$1 path=""
        shift
        for k in "$@"; do path="$path[\"$k\"]"; done
        jq -r ".$path" "$f"
}

# ---- a driftwatch-verifier for the test ------------------------------------------------------------------------------
# require_tools TOOL...: 0 when every one is installed, else a failure naming the first that is not (1).
require_tools() {
        local t
        for t in "$@"; do
                command -v "$t" >/dev/null || { fail "$t is not installed (make deps)"; return 1; }
        done
}

# require_built PROGRAM...: the same for the project's programs.
require_built() {
        local b
        for b in "$@"; do
                [ -x "$b" ] || { fail "$b is not built"; return 1; }
        done
}

# start_verifier [ARGS...]: $VERIFIER on loopback with its state in $TMP/v, the EK CAs of $TMP/ekca.pem and its stderr
# appended to $TMP/v.log, on $PORT when set (a restart keeps its URL), else on a free port. Sets VPID, PORT, URL
# (https://$VERIFIER_HOST:PORT; VERIFIER_HOST is 127.0.0.1 unless set), CA and ADMIN (its admin token).
start_verifier() {
        rm -f "$TMP/v.port"
        "$VERIFIER" --config /dev/null --state-dir "$TMP/v" --listen 127.0.0.1 --port "${PORT:-0}" \
                --port-file "$TMP/v.port" --ek-ca-bundle "$TMP/ekca.pem" "$@" 2>>"$TMP/v.log" &
        VPID=$!
        for _ in $(seq 200); do
                [ -s "$TMP/v.port" ] && break
                kill -0 $VPID 2>/dev/null || break
                sleep 0.05
        done
        PORT=$(cat "$TMP/v.port" 2>/dev/null)
        URL=https://${VERIFIER_HOST:-127.0.0.1}:$PORT
        CA=$TMP/v/ca.pem
        ADMIN=$(cat "$TMP/v/admin.token" 2>/dev/null)
}

# stop_verifier: SIGTERM, then its exit status in VRC.
stop_verifier() {
        if [ -n "${VPID:-}" ]; then
                kill "$VPID" 2>/dev/null
                wait "$VPID"
                VRC=$?
                VPID=
        fi
}
