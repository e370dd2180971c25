# Sourced by tests that need a TPM: starts a private swtpm (own state, own local CA, free loopback port) and
# stops it by PID. Parallel tests each get their own.
#
#   swtpm_start DIR      sets SWTPM_TCTI ("swtpm:host=127.0.0.1,port=N"), SWTPM_PID, SWTPM_CA_DIR (issuercert.pem
#                        and swtpm-localca-rootca-cert.pem: the EK certificate chain's roots)
#   swtpm_stop           stops it (also on EXIT when swtpm_start registered the trap)

swtpm_start() {
        local dir=$1 port tries=0
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
active_pcr_banks = sha1,sha256
CONF
        if ! swtpm_setup --tpm2 --tpmstate "$dir/state" --create-ek-cert --pcr-banks sha1,sha256 \
                --config "$dir/setup.conf" --overwrite >"$dir/setup.log" 2>&1; then
                echo "swtpm_setup failed: $(tail -5 "$dir/setup.log")" >&2
                return 1
        fi
        SWTPM_CA_DIR=$dir/ca
        # A free loopback port pair: try random ones until swtpm binds both.
        while [ $tries -lt 20 ]; do
                tries=$((tries + 1))
                port=$((20000 + RANDOM % 20000))
                rm -f "$dir/swtpm.pid"
                swtpm socket --tpm2 --tpmstate dir="$dir/state" \
                        --server type=tcp,port=$port,bindaddr=127.0.0.1 \
                        --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
                        --flags not-need-init,startup-clear --pid file="$dir/swtpm.pid" \
                        --log file="$dir/swtpm.log" --daemon 2>>"$dir/swtpm.err" || continue
                for _ in $(seq 50); do [ -s "$dir/swtpm.pid" ] && break; sleep 0.02; done
                [ -s "$dir/swtpm.pid" ] || continue
                SWTPM_PID=$(cat "$dir/swtpm.pid")
                SWTPM_TCTI="swtpm:host=127.0.0.1,port=$port"
                export SWTPM_PID SWTPM_TCTI SWTPM_CA_DIR
                return 0
        done
        echo "swtpm: no free loopback port after $tries tries: $(tail -3 "$dir/swtpm.err")" >&2
        return 1
}

swtpm_stop() {
        if [ -n "${SWTPM_PID:-}" ]; then
                kill "$SWTPM_PID" 2>/dev/null
                for _ in $(seq 50); do kill -0 "$SWTPM_PID" 2>/dev/null || break; sleep 0.02; done
                kill -9 "$SWTPM_PID" 2>/dev/null || true # gone already: fine (callers may run under set -e)
                SWTPM_PID=
        fi
}
