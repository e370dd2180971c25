#!/usr/bin/env bash
# driftwatch quote verify|ekcert|makecredential against a live private swtpm driven by tpm2-tools: quotes from an
# ECC and an RSA AK verify (and agree with tpm2_checkquote), tampered/replayed/wrong-AK/wrong-PCR evidence is
# refused (exit 1), garbage is bad input (exit 2), the EK certificate validates against swtpm's local CA, and our
# MakeCredential output activates with tpm2_activatecredential on this TPM, and not for another TPM's EK.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"
trap 'swtpm_stop; rm -rf "$TMP"' EXIT

# TCG EK Credential Profile: PolicyA and PolicyC for SHA-384, whose PolicyOR is the P-384 EK's authPolicy.
POLICY_A_SHA384=8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e143e8bb1133824ccb431053871c6db53
POLICY_C_SHA384=d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165
EK_ECC=0x81010016
W=$TMP/w
mkdir -p "$W"

# must CMD...: a setup step; if it fails the test cannot go on.
must() {
        if ! "$@" >>"$TMP/setup.log" 2>&1; then
                fail "setup: $*: $(tail -3 "$TMP/setup.log" | tr '\n' ' ')"
                exit 1
        fi
}

flush() {
        tpm2_flushcontext -t >/dev/null 2>&1
        tpm2_flushcontext -s >/dev/null 2>&1
}

# Flips the low bit of the byte at OFFSET of FILE.
flip() {
        local b
        b=$(xxd -s "$2" -l 1 -p "$1")
        printf '%b' "\\x$(printf %02x $((0x$b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# activate EK SESSION-HASH CREDFILE AK-CONTEXT OUT: tpm2_activatecredential with the EK's policy session.
activate() {
        local ek=$1 halg=$2 in=$3 ak=$4 out=$5 rc
        flush
        tpm2_startauthsession --policy-session -g "$halg" -S "$W/session.ctx" >/dev/null 2>&1 || return 1
        tpm2_policysecret -S "$W/session.ctx" -c e >/dev/null 2>&1 || return 1
        if [ "$halg" = sha384 ]; then
                echo $POLICY_A_SHA384 | xxd -r -p >"$W/pa.bin"
                echo $POLICY_C_SHA384 | xxd -r -p >"$W/pc.bin"
                tpm2_policyor -S "$W/session.ctx" -l "sha384:$W/pa.bin,$W/pc.bin" >/dev/null 2>&1 || return 1
        fi
        tpm2_activatecredential -c "$ak" -C "$ek" -i "$in" -o "$out" -P "session:$W/session.ctx" \
                >>"$TMP/activate.log" 2>&1
        rc=$?
        tpm2_flushcontext "$W/session.ctx" >/dev/null 2>&1
        flush
        return $rc
}

# A second TPM, only for its EK: started, read, stopped; the first one's variables restored.
if ! swtpm_start "$TMP/other"; then
        fail "swtpm (second TPM) did not start"
        exit 1
fi
must tpm2_createek -T "$SWTPM_TCTI" -c "$W/other-ek.ctx" -G rsa -u "$W/other-ek.pub"
swtpm_stop

if ! swtpm_start "$TMP/tpm"; then
        fail "swtpm did not start"
        exit 1
fi
export TPM2TOOLS_TCTI=$SWTPM_TCTI
cat "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" "$SWTPM_CA_DIR/issuercert.pem" >"$W/ca.pem"

# --- EK, EK certificate, AKs --------------------------------------------------------------------------------------
must tpm2_createek -c "$W/ek.ctx" -G rsa -u "$W/ek.pub"
must tpm2_nvread 0x01c00002 -o "$W/ek-cert.der"
must tpm2_nvread 0x01c00016 -o "$W/ek-ecc-cert.der"
must tpm2_readpublic -c $EK_ECC -o "$W/ek-ecc.pub"
flush
for alg in ecc rsa; do
        case $alg in ecc) scheme=ecdsa ;; rsa) scheme=rsassa ;; esac
        must tpm2_createak -C "$W/ek.ctx" -c "$W/ak-$alg.ctx" -G "$alg" -g sha256 -s "$scheme" -u "$W/ak-$alg.pub" \
                -n "$W/ak-$alg.name"
        flush
        must tpm2_readpublic -c "$W/ak-$alg.ctx" -f pem -o "$W/ak-$alg.pem"
        flush
done

assert_exit "ekcert: swtpm RSA EK certificate, key is the EK" 0 \
        "$DW" quote ekcert --ca "$W/ca.pem" --ek "$W/ek.pub" "$W/ek-cert.der"
assert_grep "ekcert: names the TPM" "swtpm" "$TMP/out"
assert_exit "ekcert: swtpm P-384 EK certificate" 0 \
        "$DW" quote ekcert --ca "$W/ca.pem" --ek "$W/ek-ecc.pub" "$W/ek-ecc-cert.der"
assert_exit "ekcert: another TPM's EK" 1 \
        "$DW" quote ekcert --ca "$W/ca.pem" --ek "$W/other-ek.pub" "$W/ek-cert.der"
assert_grep "ekcert: another TPM's EK: says why" "not the TPM's EK" "$TMP/err"
assert_exit "ekcert: issuer missing from the bundle" 1 \
        "$DW" quote ekcert --ca "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" "$W/ek-cert.der"
assert_grep "ekcert: issuer missing: says why" "unknown-issuer" "$TMP/err"
assert_exit "ekcert: another TPM's CA" 1 \
        "$DW" quote ekcert --ca "$DW_SRCDIR/tests/data/tpm/testca/bundle.pem" "$W/ek-cert.der"
assert_exit "ekcert: garbage certificate" 2 "$DW" quote ekcert --ca "$W/ca.pem" "$W/ek.pub"

# --- quotes -------------------------------------------------------------------------------------------------------
must tpm2_pcrextend "16:sha256=$(printf driftwatch | sha256sum | cut -c1-64)"
for alg in ecc rsa; do
        nonce=$(openssl rand -hex 20)
        echo "$nonce" >"$W/nonce-$alg"
        must tpm2_quote -c "$W/ak-$alg.ctx" -l sha256:0,7,16+sha1:16 -q "$nonce" -g sha256 -m "$W/q-$alg.attest" \
                -s "$W/q-$alg.sig" -o "$W/q-$alg.pcrs"
        flush
        for ak in pem pub; do
                assert_exit "verify $alg quote, AK as .$ak" 0 "$DW" quote verify --ak "$W/ak-$alg.$ak" \
                        --nonce "$nonce" --attest "$W/q-$alg.attest" --signature "$W/q-$alg.sig" --pcrs "$W/q-$alg.pcrs"
        done
        assert_grep "verify $alg quote: PCR digest checked" "PCR values match" "$TMP/out"
        assert_exit "verify $alg quote --json" 0 "$DW" quote verify --ak "$W/ak-$alg.pem" --nonce "$nonce" \
                --attest "$W/q-$alg.attest" --signature "$W/q-$alg.sig" --pcrs "$W/q-$alg.pcrs" --json
        cp "$TMP/out" "$W/q-$alg.json"
        assert_eq "verify $alg quote --json: valid" true "$(json_get "$W/q-$alg.json" valid)"
        assert_eq "verify $alg quote --json: PCR digest checked" true "$(json_get "$W/q-$alg.json" pcr_digest_checked)"
        assert_eq "verify $alg quote --json: PCR 16 is the extended value" \
                "$(tpm2_pcrread sha256:16 2>/dev/null | awk '$1 == "16:" { print tolower(substr($2, 3)) }')" \
                "$(jq -r '.pcrs.sha256["16"]' "$W/q-$alg.json")"
        assert_exit "verify $alg quote without --pcrs" 0 "$DW" quote verify --ak "$W/ak-$alg.pem" --nonce "$nonce" \
                --attest "$W/q-$alg.attest" --signature "$W/q-$alg.sig"
        assert_grep "verify $alg quote without --pcrs: digest unchecked" "unchecked" "$TMP/out"
        # The peer agrees.
        if tpm2_checkquote -u "$W/ak-$alg.pub" -m "$W/q-$alg.attest" -s "$W/q-$alg.sig" -f "$W/q-$alg.pcrs" \
                -g sha256 -q "$nonce" >/dev/null 2>&1; then
                ok "tpm2_checkquote agrees on the $alg quote"
        else
                fail "tpm2_checkquote rejects the $alg quote we accept"
        fi
done

# Negative verdicts: exit 1, one line on stderr saying why.
nonce=$(cat "$W/nonce-ecc")
verify_ecc() {
        "$DW" quote verify --ak "$W/ak-ecc.pem" --nonce "$nonce" --attest "$W/q-ecc.attest" --signature "$W/q-ecc.sig" \
                --pcrs "$W/q-ecc.pcrs" "$@"
}
assert_exit "replayed quote (a new nonce was issued)" 1 "$DW" quote verify --ak "$W/ak-ecc.pem" \
        --nonce "$(openssl rand -hex 20)" --attest "$W/q-ecc.attest" --signature "$W/q-ecc.sig" --pcrs "$W/q-ecc.pcrs"
assert_grep "replayed quote: reason" "nonce-mismatch" "$TMP/err"
assert_eq "replayed quote: one line on stderr" 1 "$(wc -l <"$TMP/err")"
assert_exit "quote of the RSA AK checked with the ECC AK" 1 "$DW" quote verify --ak "$W/ak-ecc.pem" \
        --nonce "$(cat "$W/nonce-rsa")" --attest "$W/q-rsa.attest" --signature "$W/q-rsa.sig"
assert_grep "wrong AK: reason" "bad-signature" "$TMP/err"
assert_exit "quote checked with another RSA key (the EK)" 1 "$DW" quote verify --ak "$W/ek.pub" \
        --nonce "$(cat "$W/nonce-rsa")" --attest "$W/q-rsa.attest" --signature "$W/q-rsa.sig"
# Bytes whose change keeps the structure well-formed (a changed length field is malformed input, exit 2): the magic,
# the signer's Name, the nonce, the clock, the firmware version, the PCR digest.
size=$(stat -c %s "$W/q-ecc.attest")
for off in 0 20 50 70 85 $((size - 1)); do
        cp "$W/q-ecc.attest" "$W/t.attest"
        flip "$W/t.attest" $off
        assert_exit "tampered attest byte $off" 1 "$DW" quote verify --ak "$W/ak-ecc.pem" --nonce "$nonce" \
                --attest "$W/t.attest" --signature "$W/q-ecc.sig" --pcrs "$W/q-ecc.pcrs"
done
cp "$W/q-ecc.sig" "$W/t.sig"
flip "$W/t.sig" 20
assert_exit "tampered signature" 1 "$DW" quote verify --ak "$W/ak-ecc.pem" --nonce "$nonce" \
        --attest "$W/q-ecc.attest" --signature "$W/t.sig"
# PCR values that are not the quoted ones: PCR 16 extended again, values read afresh.
must tpm2_pcrextend "16:sha256=$(printf again | sha256sum | cut -c1-64)"
must tpm2_quote -c "$W/ak-ecc.ctx" -l sha256:0,7,16+sha1:16 -q "$nonce" -g sha256 -m "$W/q2.attest" \
        -s "$W/q2.sig" -o "$W/q2.pcrs"
flush
assert_exit "PCR values after another extend" 1 "$DW" quote verify --ak "$W/ak-ecc.pem" --nonce "$nonce" \
        --attest "$W/q-ecc.attest" --signature "$W/q-ecc.sig" --pcrs "$W/q2.pcrs"
assert_grep "PCR values after another extend: reason" "pcr-digest-mismatch" "$TMP/err"
assert_exit "PCR values for another selection" 1 "$DW" quote verify --ak "$W/ak-ecc.pem" --nonce "$nonce" \
        --attest "$W/q-ecc.attest" --signature "$W/q-ecc.sig" --pcrs "$DW_SRCDIR/tests/data/tpm/quote-rsa.pcrs"

# Bad input: exit 2.
head -c 135 /dev/urandom >"$W/garbage"
head -c 30 "$W/q-ecc.sig" >"$W/short.sig"
assert_exit "garbage attest" 2 verify_ecc --attest "$W/garbage"
assert_exit "garbage signature" 2 "$DW" quote verify --ak "$W/ak-ecc.pem" --nonce "$nonce" \
        --attest "$W/q-ecc.attest" --signature "$W/garbage"
assert_exit "truncated signature" 2 "$DW" quote verify --ak "$W/ak-ecc.pem" --nonce "$nonce" \
        --attest "$W/q-ecc.attest" --signature "$W/short.sig"
assert_grep "truncated signature: names the file" "short.sig" "$TMP/err"
assert_exit "garbage PCR file" 2 verify_ecc --pcrs "$W/garbage"
assert_exit "garbage AK" 2 verify_ecc --ak "$W/garbage"
assert_exit "missing file" 2 verify_ecc --attest "$W/nonexistent"
assert_exit "nonce not hex" 2 verify_ecc --nonce xyz
assert_exit "no nonce" 2 "$DW" quote verify --ak "$W/ak-ecc.pem" --attest "$W/q-ecc.attest" --signature "$W/q-ecc.sig"

# --- MakeCredential -----------------------------------------------------------------------------------------------
openssl rand 32 >"$W/secret"
assert_exit "makecredential for the EK and the ECC AK" 0 "$DW" quote makecredential --ek "$W/ek.pub" \
        --ak "$W/ak-ecc.pub" --secret "$W/secret" --output "$W/cred.out"
if activate "$W/ek.ctx" sha256 "$W/cred.out" "$W/ak-ecc.ctx" "$W/activated" && cmp -s "$W/secret" "$W/activated"; then
        ok "tpm2_activatecredential recovers our credential (RSA EK)"
else
        fail "tpm2_activatecredential of our credential (RSA EK): $(tail -3 "$TMP/activate.log")"
fi
# The EK known only from its certificate (the verifier's view), the AK by its Name.
assert_exit "makecredential from the EK certificate and the AK Name" 0 "$DW" quote makecredential \
        --ek "$W/ek-cert.der" --name "$(xxd -p -c 256 "$W/ak-rsa.name")" --secret "$W/secret" --output "$W/cred2.out"
if activate "$W/ek.ctx" sha256 "$W/cred2.out" "$W/ak-rsa.ctx" "$W/activated2" && cmp -s "$W/secret" "$W/activated2"
then
        ok "tpm2_activatecredential recovers our credential (EK from its certificate)"
else
        fail "tpm2_activatecredential of our credential (EK from its certificate): $(tail -3 "$TMP/activate.log")"
fi
# ECC: swtpm's NIST P-384 EK, from its certificate.
assert_exit "makecredential for the P-384 EK certificate" 0 "$DW" quote makecredential --ek "$W/ek-ecc-cert.der" \
        --ak "$W/ak-ecc.pub" --secret "$W/secret" --output "$W/cred3.out"
if activate $EK_ECC sha384 "$W/cred3.out" "$W/ak-ecc.ctx" "$W/activated3" && cmp -s "$W/secret" "$W/activated3"; then
        ok "tpm2_activatecredential recovers our credential (P-384 EK)"
else
        fail "tpm2_activatecredential of our credential (P-384 EK): $(tail -3 "$TMP/activate.log")"
fi
# Bound to the AK: activating it for the other AK fails; made for another TPM's EK, it fails here.
if activate "$W/ek.ctx" sha256 "$W/cred.out" "$W/ak-rsa.ctx" "$W/activated4"; then
        fail "a credential for the ECC AK activates for the RSA AK"
else
        ok "a credential for the ECC AK does not activate for the RSA AK"
fi
assert_exit "makecredential for another TPM's EK" 0 "$DW" quote makecredential --ek "$W/other-ek.pub" \
        --ak "$W/ak-ecc.pub" --secret "$W/secret" --output "$W/cred-other.out"
if activate "$W/ek.ctx" sha256 "$W/cred-other.out" "$W/ak-ecc.ctx" "$W/activated5"; then
        fail "a credential for another TPM's EK activates here"
else
        ok "a credential for another TPM's EK does not activate here"
fi
head -c 33 /dev/zero >"$W/long-secret"
assert_exit "makecredential: secret longer than the digest" 2 "$DW" quote makecredential --ek "$W/ek.pub" \
        --ak "$W/ak-ecc.pub" --secret "$W/long-secret" --output "$W/cred-long.out"
assert_exit "makecredential: garbage EK" 2 "$DW" quote makecredential --ek "$W/garbage" \
        --ak "$W/ak-ecc.pub" --secret "$W/secret" --output "$W/cred-bad.out"
