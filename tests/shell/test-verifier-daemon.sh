#!/usr/bin/env bash
# driftwatch-verifier as a daemon, without a TPM: configuration (file, overrides, errors naming FILE:LINE), first
# start (CA, server certificate, token key, admin token, SQLite in WAL with a schema version), HTTPS only with
# keep-alive, mutual TLS refusing certificates of another CA in the handshake, a JSON error for every malformed,
# oversized or unauthorised request, the admin API for policies and assignments, /metrics, structured logs and a
# clean shutdown.
. "$(dirname "$0")/lib.sh"

VERIFIER=${DW_VERIFIER:-$DW_BUILD/driftwatch-verifier} # the ASan+UBSan build under make check
VPID=

require_tools curl openssl jq sqlite3 || exit 0
if [ ! -x "$VERIFIER" ]; then
        fail "$VERIFIER is not built"
        exit 0
fi

# start_verifier NAME ARGS...: a verifier on a free loopback port with its state in $TMP/NAME; sets VPID, PORT, URL,
# CA (its CA certificate) and ADMIN (its admin token).
start_verifier() {
        local name=$1
        shift
        rm -f "$TMP/$name.port"
        "$VERIFIER" --state-dir "$TMP/$name" --listen 127.0.0.1 --port 0 --port-file "$TMP/$name.port" "$@" \
                2>>"$TMP/$name.log" &
        VPID=$!
        for _ in $(seq 200); do
                [ -s "$TMP/$name.port" ] && break
                kill -0 $VPID 2>/dev/null || break
                sleep 0.05
        done
        PORT=$(cat "$TMP/$name.port" 2>/dev/null)
        URL=https://localhost:$PORT
        CA=$TMP/$name/ca.pem
        ADMIN=$(cat "$TMP/$name/admin.token" 2>/dev/null)
}

stop_verifier() {
        if [ -n "$VPID" ]; then
                kill "$VPID" 2>/dev/null
                wait "$VPID"
                VRC=$?
                VPID=
        fi
}
trap 'stop_verifier; rm -rf "$TMP"' EXIT

# req NAME METHOD PATH WANT_STATUS [curl args...]: one HTTPS request; the body lands in $TMP/body.
req() {
        local name=$1 method=$2 path=$3 want=$4 got
        shift 4
        got=$(curl -sS --cacert "$CA" -X "$method" -o "$TMP/body" -w '%{http_code}' "$@" "$URL$path" 2>"$TMP/curl.err")
        assert_eq "$name: HTTP status" "$want" "$got"
}

# A JSON error answer: {"error": CODE, "detail": "..."}.
assert_error() {
        assert_eq "$1: error code" "$2" "$(jq -r .error "$TMP/body" 2>/dev/null)"
        assert_eq "$1: has a detail" true "$(jq -r '.detail | type == "string" and length > 0' "$TMP/body" 2>/dev/null)"
}

# ---- command line and configuration ----------------------------------------------------------------------------
test_config() {
        local conf=$TMP/verifier.conf

        assert_exit "--help" 0 "$VERIFIER" --help
        for key in state_dir database listen_address port server_names verifier_id ek_ca_bundle ek_crl \
                enrollment_token_file admin_token_file read_token_file default_group pcr_bank nonce_lifetime \
                enrollment_lifetime token_lifetime attestation_deadline client_cert_lifetime connection_timeout \
                max_request_size max_connections http_threads verdict_history event_retention nonce_retention \
                require_runtime_policy log_level; do
                grep -q "^  $key " "$TMP/out" || fail "--help does not list the key $key"
                grep -q "^| \`$key\` " "$DW_SRCDIR/docs/verifier.md" || fail "docs/verifier.md does not document $key"
        done
        ok "--help and docs/verifier.md list every configuration key"
        assert_exit "--version" 0 "$VERIFIER" --version
        assert_grep "--version prints the version" '^driftwatch-verifier [0-9]' "$TMP/out"

        printf '# a comment\n\nport = 9443\nnonce_lifetime = 2m\nverdict_history = 10\n' >"$conf"
        assert_exit "--check-config with a file" 0 "$VERIFIER" --config "$conf" --check-config
        assert_grep "the file's port is used" '^port = 9443$' "$TMP/out"
        assert_grep "durations are parsed" '^nonce_lifetime = 120s$' "$TMP/out"
        assert_grep "database defaults into the state directory" \
                '^database = /var/lib/driftwatch-verifier/verifier.db$' "$TMP/out"
        assert_exit "--check-config with overrides" 0 "$VERIFIER" --config "$conf" --port 10443 \
                --set nonce_lifetime=30s --state-dir /srv/v --check-config
        assert_grep "--port overrides the file" '^port = 10443$' "$TMP/out"
        assert_grep "--set overrides the file" '^nonce_lifetime = 30s$' "$TMP/out"
        assert_grep "derived paths follow --state-dir" '^admin_token_file = /srv/v/admin.token$' "$TMP/out"

        printf 'port = 9443\nnonce_lifetim = 5s\n' >"$conf"
        assert_exit "unknown key" 1 "$VERIFIER" --config "$conf" --check-config
        assert_grep "... named with FILE:LINE" "^driftwatch-verifier: $conf:2: unknown key 'nonce_lifetim'" \
                "$TMP/err"
        printf 'port = 9443\n\nnonce_lifetime = soon\n' >"$conf"
        assert_exit "bad duration" 1 "$VERIFIER" --config "$conf" --check-config
        assert_grep "... named with FILE:LINE, key and why" \
                "$conf:3: nonce_lifetime = 'soon': expected a duration" "$TMP/err"
        printf 'port = 70000\n' >"$conf"
        assert_exit "port out of range" 1 "$VERIFIER" --config "$conf" --check-config
        assert_grep "... named" "$conf:1: port = '70000'" "$TMP/err"
        printf 'port = 1\nport = 2\n' >"$conf"
        assert_exit "a key given twice" 1 "$VERIFIER" --config "$conf" --check-config
        assert_grep "... named" "$conf:2: key 'port' given twice" "$TMP/err"
        printf 'just words\n' >"$conf"
        assert_exit "a line without =" 1 "$VERIFIER" --config "$conf" --check-config
        assert_grep "... named" "$conf:1: expected 'key = value'" "$TMP/err"
        printf 'state_dir = relative/dir\n' >"$conf"
        assert_exit "a relative path" 1 "$VERIFIER" --config "$conf" --check-config
        assert_grep "... named" "expected an absolute path" "$TMP/err"
        assert_exit "--set of an unknown key" 1 "$VERIFIER" --config /dev/null --set colour=blue --check-config
        assert_grep "... named" "^driftwatch-verifier: --set: unknown key 'colour'" "$TMP/err"
        assert_exit "--log-level with a bad value" 1 "$VERIFIER" --config /dev/null --log-level loud --check-config
        assert_grep "... named" "--log-level: log_level = 'loud'" "$TMP/err"
        assert_exit "an explicit config file that does not exist" 1 "$VERIFIER" --config "$TMP/none.conf"
        assert_grep "... named" "none.conf: no such file" "$TMP/err"
        printf 'short\n' >"$TMP/short.token"
        assert_exit "a token file with a token too short stops the start" 1 "$VERIFIER" --config /dev/null \
                --state-dir "$TMP/bad" --set read_token_file="$TMP/short.token" --port 0
        assert_grep "... saying so" 'read_token_file .*short.token: the token must be at least 16 characters' "$TMP/err"
        assert_exit "an unreadable EK CA bundle stops the start" 1 "$VERIFIER" --config /dev/null \
                --state-dir "$TMP/bad" --ek-ca-bundle "$TMP/none.pem" --port 0
        assert_grep "... with the key and file named" '"startup-failed".*ek_ca_bundle .*none.pem: cannot read' \
                "$TMP/err"
}

# ---- first start: keys, certificates, database -------------------------------------------------------------------
test_first_start() {
        local d=$TMP/v1 ca_fp

        start_verifier v1 --config /dev/null --set server_names=localhost,verifier.example,10.9.8.7
        if [ -z "$PORT" ]; then
                fail "the verifier did not start: $(tail -3 "$TMP/v1.log")"
                return 1
        fi
        ok "the verifier starts on a free loopback port"
        assert_eq "state directory is private" 700 "$(stat -c %a "$d")"
        for f in ca.key server.key token.key admin.token; do
                assert_eq "$f is 0600" 600 "$(stat -c %a "$d/$f")"
        done
        assert_eq "the CA is a CA" 1 "$(openssl x509 -in "$d/ca.pem" -noout -ext basicConstraints | grep -c 'CA:TRUE')"
        assert_eq "the CA key is ECDSA P-256" 1 \
                "$(openssl pkey -in "$d/ca.key" -noout -text 2>/dev/null | grep -c 'NIST CURVE: P-256')"
        assert_eq "the server certificate chains to the CA" "$d/server.pem: OK" \
                "$(openssl verify -CAfile "$d/ca.pem" "$d/server.pem" 2>&1)"
        openssl x509 -in "$d/server.pem" -noout -ext subjectAltName >"$TMP/san"
        assert_grep "the server certificate names the configured DNS name" 'DNS:verifier.example' "$TMP/san"
        assert_grep "... and IP address" 'IP Address:10.9.8.7' "$TMP/san"
        assert_eq "the admin token is 64 hex digits" 1 "$(grep -cE '^[0-9a-f]{64}$' "$d/admin.token")"
        assert_eq "the database is in WAL mode" wal "$(sqlite3 "$d/verifier.db" 'PRAGMA journal_mode')"
        assert_eq "the schema has version 6" 6 "$(sqlite3 "$d/verifier.db" 'SELECT version FROM schema_version')"
        assert_grep "the start is logged as JSON" '^\{"ts":"[0-9T:.-]+Z","level":"info","event":"started"' \
                "$TMP/v1.log"
        assert_grep "enrollment is disabled without ek_ca_bundle, and the log says so" '"enrollment-disabled"' \
                "$TMP/v1.log"

        # Over HTTPS, with keep-alive; plain HTTP gets no HTTP answer.
        curl -sS -v --cacert "$CA" "$URL/healthz" "$URL/healthz" -o /dev/null 2>"$TMP/keepalive" >/dev/null
        assert_grep "HTTP/1.1 keep-alive: the second request reuses the connection" \
                '[Rr]e-?using existing connection' "$TMP/keepalive"
        assert_grep "TLS 1.3 (or 1.2) is negotiated" 'SSL connection using TLSv1\.[23]' "$TMP/keepalive"
        req "healthz" GET /healthz 200
        assert_eq "healthz says ok" ok "$(jq -r .status "$TMP/body")"
        assert_eq "plain HTTP is not answered" 000 \
                "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/healthz")"

        ca_fp=$(openssl x509 -in "$d/ca.pem" -noout -fingerprint)
        stop_verifier
        assert_eq "SIGTERM: clean exit" 0 "$VRC"
        assert_grep "... logged" '"event":"stopped"' "$TMP/v1.log"
        start_verifier v1 --config /dev/null
        assert_eq "a restart keeps the CA" "$ca_fp" "$(openssl x509 -in "$d/ca.pem" -noout -fingerprint)"
        assert_eq "... and the admin token" "$ADMIN" "$(cat "$d/admin.token")"
        assert_eq "the re-issued server certificate chains to the same CA" "$d/server.pem: OK" \
                "$(openssl verify -CAfile "$d/ca.pem" "$d/server.pem" 2>&1)"
        req "healthz after the restart" GET /healthz 200
        stop_verifier

        sqlite3 "$d/verifier.db" 'UPDATE schema_version SET version = 99'
        assert_exit "a database from a newer verifier is refused" 1 "$VERIFIER" --config /dev/null \
                --state-dir "$d" --port 0
        assert_grep "... saying so" 'schema version 99, newer than this verifier' "$TMP/err"
}

# ---- HTTP errors, authentication, TLS --------------------------------------------------------------------------
test_http() {
        local big=$TMP/big.bin

        printf 'a-read-only-token-for-dashboards\n' >"$TMP/read.token"
        start_verifier v2 --config /dev/null --set max_request_size=256K --set read_token_file="$TMP/read.token"
        req "unknown path" GET /nope 404
        assert_error "unknown path" not-found
        req "wrong method" DELETE /healthz 405
        assert_error "wrong method" method-not-allowed
        req "read API without a token" GET /v1/gateways 401
        assert_error "read API without a token" bearer-token-required
        req "read API with a wrong token" GET /v1/gateways 403 -H "Authorization: Bearer not-the-token"
        assert_error "read API with a wrong token" bearer-token-invalid
        req "read API with the admin token" GET /v1/gateways 200 -H "Authorization: Bearer $ADMIN"
        assert_eq "no gateways yet" 0 "$(jq '.gateways | length' "$TMP/body")"
        req "read API with the read token" GET /v1/gateways 200 -H "Authorization: Bearer a-read-only-token-for-dashboards"
        req "metrics with the read token" GET /metrics 200 -H "Authorization: Bearer a-read-only-token-for-dashboards"
        req "admin API with the read token" GET /v1/admin/policies 403 \
                -H "Authorization: Bearer a-read-only-token-for-dashboards"
        assert_error "admin API with the read token" bearer-token-invalid
        req "admin API without a token" GET /v1/admin/policies 401
        req "a gateway endpoint without a client certificate" POST /v1/gateways/gw1/nonce 401 -d '{}'
        assert_error "a gateway endpoint without a client certificate" client-certificate-required
        req "an invalid gateway name" POST /v1/gateways/.hidden%20gw/nonce 400 -d '{}'
        assert_error "an invalid gateway name" invalid-name
        req "enrollment without an EK CA bundle" POST /v1/gateways/gw1/enroll 503 -d '{}'
        assert_error "enrollment without an EK CA bundle" enrollment-disabled

        head -c 70000 /dev/zero >"$big"
        req "a declared body over the 64 KiB limit" POST /v1/gateways/gw1/enroll 413 --data-binary "@$big"
        assert_error "a declared body over the 64 KiB limit" body-too-large
        req "a chunked body over the limit" POST /v1/gateways/gw1/enroll 413 -H 'Transfer-Encoding: chunked' \
                --data-binary "@$big"
        assert_error "a chunked body over the limit" body-too-large
        head -c 300000 /dev/zero >"$big"
        req "a policy over max_request_size" POST /v1/admin/policies/runtime/p 413 \
                -H "Authorization: Bearer $ADMIN" --data-binary "@$big"
        assert_error "a policy over max_request_size" body-too-large
        # Request headers: ours up to the connection's memory, libmicrohttpd's own (HTML) answer beyond.
        req "a 20 KiB request header" GET /healthz 431 -H "X-Padding: $(head -c 20480 /dev/zero | tr '\0' a)"
        assert_error "a 20 KiB request header" headers-too-large
        assert_eq "... answered as JSON" application/json \
                "$(curl -s -o /dev/null -w '%{content_type}' --cacert "$CA" \
                        -H "X-Padding: $(head -c 20480 /dev/zero | tr '\0' a)" "$URL/healthz")"
        req "headers of 9 KiB in many lines" GET /healthz 431 $(for i in $(seq 9); do
                printf -- '-H X-Pad-%d:%s ' "$i" "$(head -c 1000 /dev/zero | tr '\0' b)"; done)
        assert_error "headers of 9 KiB in many lines" headers-too-large
        req "headers of 7 KiB are fine" GET /healthz 200 -H "X-Padding: $(head -c 7000 /dev/zero | tr '\0' a)"
        req "a 9 KiB URL" GET "/healthz?pad=$(head -c 9216 /dev/zero | tr '\0' a)" 414
        assert_error "a 9 KiB URL" uri-too-long
        req "a 40 KiB header (beyond the connection's memory: libmicrohttpd's own answer)" GET /healthz 431 \
                -H "X-Padding: $(head -c 40960 /dev/zero | tr '\0' a)"
        req "the connection limits did not break the service" GET /healthz 200
        req "malformed JSON" PUT /v1/admin/groups/default/policies 400 -H "Authorization: Bearer $ADMIN" \
                -d '{"runtime": '
        assert_error "malformed JSON" malformed-json
        assert_grep "... with the line and column" 'line 1 column' "$TMP/body"
        req "JSON that is not an object" PUT /v1/admin/groups/default/policies 400 \
                -H "Authorization: Bearer $ADMIN" -d '[1]'
        assert_error "JSON that is not an object" malformed-json

        # Mutual TLS: a certificate of another CA is refused in the TLS handshake, before any HTTP.
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/other.key" \
                -out "$TMP/other.pem" -subj /CN=gw1 -days 1 2>/dev/null
        for v in 1.3 1.2; do
                assert_eq "TLS $v: a client certificate of another CA gets no HTTP answer" 000 \
                        "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --tlsv$v --tls-max $v \
                                --cert "$TMP/other.pem" --key "$TMP/other.key" -X POST -d '{}' \
                                "$URL/v1/gateways/gw1/nonce")"
        done
        assert_grep "... and the verifier logs the refusal" '"event":"tls-client-refused"' "$TMP/v2.log"
        req "the server's own certificate is not a client certificate" POST /v1/gateways/gw1/nonce 000 \
                --cert "$TMP/v2/server.pem" --key "$TMP/v2/server.key" -d '{}'

        # Metrics count the refusals by reason.
        req "metrics" GET /metrics 200 -H "Authorization: Bearer $ADMIN"
        assert_grep "metrics: gateways by status" '^driftwatch_gateways\{status="trusted"\} 0$' "$TMP/body"
        assert_grep "metrics: rejected requests by reason" \
                '^driftwatch_rejected_requests_total\{reason="body-too-large"\} 3$' "$TMP/body"
        assert_grep "metrics: verification latency histogram" \
                '^driftwatch_verification_seconds_bucket\{le="\+Inf"\} 0$' "$TMP/body"
        req "the JWK set is public" GET /.well-known/driftwatch/jwks.json 200
        assert_eq "... one ES256 P-256 key" "EC P-256 ES256" "$(jq -r '.keys[0] | "\(.kty) \(.crv) \(.alg)"' "$TMP/body")"
        req "the CA certificate is public" GET /.well-known/driftwatch/ca.pem 200
        assert_eq "... and is the CA" "$(openssl x509 -in "$CA" -noout -fingerprint)" \
                "$(openssl x509 -in "$TMP/body" -noout -fingerprint)"

        assert_grep "every request is logged" '"event":"request","method":"GET","path":"/nope","status":404' \
                "$TMP/v2.log"
        assert_eq "the admin token never appears in the log" 0 "$(grep -c "$ADMIN" "$TMP/v2.log")"
        stop_verifier
}

# ---- admin API: policies, versions, assignments -----------------------------------------------------------------
test_admin() {
        local auth

        start_verifier v3 --config /dev/null
        auth="Authorization: Bearer $ADMIN"
        req "an invalid runtime policy" POST /v1/admin/policies/runtime/base 400 -H "$auth" \
                -d '{"driftwatch_runtime_policy": 1, "digests": {"/bin/sh": ["sha256:00"]}}'
        assert_error "an invalid runtime policy" invalid-policy
        assert_grep "... says where and why" 'digests\[\\"/bin/sh\\"\]\[0\]|digests' "$TMP/body"
        req "a policy of an unknown kind" POST /v1/admin/policies/other/base 404 -H "$auth" -d '{}'
        req "a runtime policy" POST /v1/admin/policies/runtime/base 201 -H "$auth" \
                -d '{"driftwatch_runtime_policy": 1, "digests": {"/bin/sh": []}}'
        assert_eq "... is version 1" 1 "$(jq .version "$TMP/body")"
        req "the same name again" POST /v1/admin/policies/runtime/base 201 -H "$auth" \
                -d '{"driftwatch_runtime_policy": 1, "excludes": ["^/tmp/"]}'
        assert_eq "... is version 2" 2 "$(jq .version "$TMP/body")"
        req "a boot policy" POST /v1/admin/policies/boot/fw 201 -H "$auth" \
                -d '{"driftwatch_boot_policy": 1, "secure_boot": false}'
        req "get the latest version" GET /v1/admin/policies/runtime/base 200 -H "$auth"
        assert_eq "... is the second" '["^/tmp/"]' "$(jq -c .excludes "$TMP/body")"
        req "get version 1" GET '/v1/admin/policies/runtime/base?version=1' 200 -H "$auth"
        assert_eq "... is the first" '{"/bin/sh":[]}' "$(jq -c .digests "$TMP/body")"
        req "list the policies" GET /v1/admin/policies 200 -H "$auth"
        assert_eq "... with their versions" "2 1" "$(jq -r '"\(.runtime.base.latest) \(.boot.fw.latest)"' "$TMP/body")"
        req "assign to an unknown gateway" PUT /v1/admin/gateways/gw9/policies 404 -H "$auth" \
                -d '{"runtime": "base"}'
        assert_error "assign to an unknown gateway" unknown-gateway
        req "assign an unknown policy" PUT /v1/admin/groups/default/policies 400 -H "$auth" -d '{"runtime": "nope"}'
        assert_error "assign an unknown policy" unknown-policy
        req "assign an unknown version" PUT /v1/admin/groups/default/policies 400 -H "$auth" \
                -d '{"runtime": {"name": "base", "version": 7}}'
        assert_error "assign an unknown version" unknown-policy
        req "assign to a group" PUT /v1/admin/groups/default/policies 200 -H "$auth" \
                -d '{"runtime": {"name": "base", "version": 1}, "boot": "fw"}'
        req "list the groups" GET /v1/admin/groups 200 -H "$auth"
        assert_eq "... with the assignment" "base 1 fw latest" \
                "$(jq -r '.groups.default | "\(.runtime.name) \(.runtime.version) \(.boot.name) \(.boot.version)"' \
                        "$TMP/body")"
        req "clear an assignment" PUT /v1/admin/groups/default/policies 200 -H "$auth" -d '{"boot": null}'
        req "list the groups again" GET /v1/admin/groups 200 -H "$auth"
        assert_eq "... boot cleared, runtime kept" "null base" \
                "$(jq -r '.groups.default | "\(.boot) \(.runtime.name)"' "$TMP/body")"
        req "acknowledge for an unknown gateway" POST /v1/admin/gateways/gw9/acknowledge 404 -H "$auth"
        req "delete an unknown gateway" DELETE /v1/admin/gateways/gw9 404 -H "$auth"
        assert_grep "admin actions are logged" '"event":"admin".*"action":"policy-add"' "$TMP/v3.log"
        stop_verifier
}

test_config
test_first_start
test_http
test_admin
