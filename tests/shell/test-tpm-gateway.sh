#!/usr/bin/env bash
# The gateway side of TPM attestation (driftwatch tpm ...) against private swtpm instances, cross-checked with the
# peers: tpm2-tools (tpm2_checkquote, tpm2_makecredential, tpm2_readpublic, tpm2_nvreadpublic) and openssl.
. "$(dirname "$0")/lib.sh"
. "$DW_SRCDIR/tests/swtpm.sh"
trap 'swtpm_stop; rm -rf "$TMP"' EXIT

CHECK=$DW_BUILD/tests/tools/tpm-gateway-check
NONCE=5eed0f5e1f00d5a1
AK=0x81010002
EVK=0x81010003
NV=0x01800100

require_tools swtpm swtpm_setup swtpm_ioctl tpm2_checkquote tpm2_makecredential tpm2_readpublic openssl jq || exit 0

# start NAME: a fresh swtpm of its own; T is its TCTI, CA the EK certificates' CA chain.
start() {
        swtpm_stop
        if ! swtpm_start "$TMP/$1"; then
                fail "$1: swtpm_start"
                return 1
        fi
        T=$SWTPM_TCTI
        export TPM2TOOLS_TCTI=$T
        cat "$SWTPM_CA_DIR/issuercert.pem" "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" >"$TMP/$1/ca.pem"
        CA=$TMP/$1/ca.pem
}

# The TPM holds no transient object and no session: nothing leaked (swtpm has no resource manager).
assert_tpm_clean() {
        local left
        left=$(tpm2_getcap handles-transient; tpm2_getcap handles-loaded-session; tpm2_getcap handles-saved-session)
        assert_eq "$1: no transient object or session left in the TPM" "" "$left"
}

# assert_sig NAME ATTEST SIG(plain) PEM: openssl checks the signature.
assert_sig() {
        local got
        got=$(openssl dgst -sha256 -verify "$4" -signature "$3" "$2" 2>&1)
        assert_eq "$1: openssl verifies the signature with the AK" "Verified OK" "$got"
}

# field FILE KEY: one field of an attestation, decoded by the test driver.
field() {
        "$CHECK" attest-show "$1" | awk -F': ' -v k="$2" '$1 == k { print $2 }'
}

ak_name_of() {
        tpm2_readpublic -c "$1" 2>/dev/null | awk '/^name:/ { print $2 }'
}

# ---- enroll (RSA EK, ECC AK), quotes, activation -------------------------------------------------------------
test_enroll_quote_activate() {
        local d=$TMP/a name1 name2 i bad=0
        start a || return

        assert_exit "enroll (ECC AK)" 0 "$DW" tpm enroll --tcti "$T" --ak-out "$d/ak.pem" --ek-pub-out "$d/ek.pub" \
                --ek-out "$d/ek.pem" --ek-cert-out "$d/ekcert.pem"
        cp "$TMP/out" "$d/enroll.out"
        assert_grep "enroll prints the RSA EK certificate first" '^ek-certificate: 0x01c00002 rsa2048 \(this EK\)' \
                "$d/enroll.out"
        assert_grep "enroll lists the P-384 EK certificate" '^ek-certificate: 0x01c00016 ecc-p384' "$d/enroll.out"
        assert_eq "the printed EK certificate verifies against the swtpm CA" "$d/enroll.out: OK" \
                "$(openssl verify -partial_chain -CAfile "$CA" "$d/enroll.out" 2>&1)"
        assert_eq "the --ek-cert-out certificate verifies against the swtpm CA" "$d/ekcert.pem: OK" \
                "$(openssl verify -partial_chain -CAfile "$CA" "$d/ekcert.pem" 2>&1)"
        assert_eq "the EK certificate carries the EK's public key" "$(openssl pkey -pubin -in "$d/ek.pem")" \
                "$(openssl x509 -in "$d/ekcert.pem" -noout -pubkey)"
        assert_eq "the EK is the one swtpm_setup persisted at 0x81010001 (TCG template L-1)" \
                "$(ak_name_of 0x81010001)" "$(awk '/^ek-name:/ { print $2 }' "$d/enroll.out")"
        name1=$(awk '/^ak-name:/ { print $2 }' "$d/enroll.out")
        assert_grep "enroll created the AK" "^ak-handle: $AK \(created\)" "$d/enroll.out"
        assert_grep "enroll prints the AK public key" '^-----BEGIN PUBLIC KEY-----' "$d/enroll.out"
        assert_eq "AK name as tpm2_readpublic computes it" "$(ak_name_of $AK)" "$name1"
        assert_eq "the AK is ECC P-256" 1 "$(openssl pkey -pubin -in "$d/ak.pem" -noout -text | grep -c 'NIST CURVE: P-256')"

        assert_exit "enroll again" 0 "$DW" tpm enroll --tcti "$T" --json
        name2=$(jq -r .ak.name "$TMP/out")
        assert_eq "the AK is reused across runs (same name)" "$name1" "$name2"
        assert_eq "the second run says the AK existed" false "$(jq -r .ak.created "$TMP/out")"
        assert_exit "enroll refuses to replace the ECC AK by an RSA one" 2 "$DW" tpm enroll --tcti "$T" --ak-alg rsa
        assert_grep "... and says why" "holds a key that is not an AK of type rsa" "$TMP/err"
        assert_eq "... and the AK is untouched" "$name1" "$(ak_name_of $AK)"
        assert_exit "enroll refuses an AK that is not a child of the P-384 EK" 2 "$DW" tpm enroll --tcti "$T" \
                --ek-alg ecc384
        assert_grep "... and says why" "not a child of the ecc384 EK" "$TMP/err"

        # Quotes over non-trivial PCRs: tpm2_checkquote is the judge.
        tpm2_pcrextend "10:sha256=$(printf '%064d' 1),sha1=$(printf '%040d' 2)" "0:sha256=$(printf 'ab%.0s' {1..32})"
        assert_exit "quote" 0 "$DW" tpm quote --tcti "$T" --nonce $NONCE --pcrs sha256:0,1,2,3,4,5,6,7,10 \
                --attest "$d/q.att" --signature "$d/q.sig" --pcrs-out "$d/q.pcrs"
        assert_exit "tpm2_checkquote accepts our quote" 0 tpm2_checkquote -u "$d/ak.pem" -m "$d/q.att" \
                -s "$d/q.sig" -f "$d/q.pcrs" -g sha256 -q $NONCE
        assert_eq "the quoted PCR 10 is the TPM's" \
                "$(tpm2_pcrread sha256:10 | awk '/10 *:/ { print tolower($NF) }')" \
                "$(awk '/^ *10 *:/ { print tolower($NF) }' "$TMP/out")"
        assert_exit "tpm2_checkquote rejects a wrong nonce" 1 tpm2_checkquote -u "$d/ak.pem" -m "$d/q.att" \
                -s "$d/q.sig" -f "$d/q.pcrs" -g sha256 -q ${NONCE}00
        cp "$d/q.pcrs" "$d/bad.pcrs"
        printf '\xde\xad' | dd of="$d/bad.pcrs" bs=1 seek=150 conv=notrunc 2>/dev/null
        assert_exit "tpm2_checkquote rejects tampered PCR values" 1 tpm2_checkquote -u "$d/ak.pem" -m "$d/q.att" \
                -s "$d/q.sig" -f "$d/bad.pcrs" -g sha256 -q $NONCE
        assert_exit "quote of two banks, 33 PCRs (5 PCR_Read calls), default AK" 0 "$DW" tpm quote --tcti "$T" \
                --nonce 00ff --pcrs sha1:all+sha256:0-7,10 --attest "$d/q2.att" --signature "$d/q2.sig" \
                --pcrs-out "$d/q2.pcrs"
        assert_exit "tpm2_checkquote accepts the two-bank quote" 0 tpm2_checkquote -u "$d/ak.pem" -m "$d/q2.att" \
                -s "$d/q2.sig" -f "$d/q2.pcrs" -g sha256 -q 00ff
        assert_exit "quote with the default PCR selection and a plain signature" 0 "$DW" tpm quote --tcti "$T" \
                --nonce $NONCE --attest "$d/q3.att" --signature "$d/q3.sig" --signature-format plain
        assert_sig "plain quote signature" "$d/q3.att" "$d/q3.sig" "$d/ak.pem"
        assert_exit "quote of a bank the TPM does not have" 2 "$DW" tpm quote --tcti "$T" --nonce 00 \
                --pcrs sha384:0 --attest "$d/x" --signature "$d/y"
        assert_grep "... is named" "no values for PCRs sha384:0" "$TMP/err"
        assert_exit "quote refuses a key that is not an AK" 2 "$DW" tpm quote --tcti "$T" --nonce 00 \
                --ak-handle 0x81010001 --attest "$d/x" --signature "$d/y"
        assert_grep "... and says so" "not a restricted signing key" "$TMP/err"

        for i in $(seq 30); do
                "$DW" tpm quote --tcti "$T" --nonce "$(printf '%08x' "$i")" --attest "$d/l.att" \
                        --signature "$d/l.sig" --pcrs-out "$d/l.pcrs" 2>>"$d/loop.err" || bad=$((bad + 1))
                tpm2_checkquote -u "$d/ak.pem" -m "$d/l.att" -s "$d/l.sig" -f "$d/l.pcrs" -g sha256 \
                        -q "$(printf '%08x' "$i")" >/dev/null 2>&1 || bad=$((bad + 1))
        done
        assert_eq "30 quotes in a row, each accepted by tpm2_checkquote $(head -c 200 "$d/loop.err")" 0 $bad
        assert_tpm_clean "after 30 quotes"

        # Activation: tpm2_makecredential (offline, from the EK public and the AK name) -> our activate.
        printf 'driftwatch secret 42' >"$d/secret"
        tpm2_makecredential -T none -u "$d/ek.pub" -s "$d/secret" -n "$name1" -o "$d/cred" 2>/dev/null
        assert_exit "activate a tpm2_makecredential credential" 0 "$DW" tpm activate --tcti "$T" \
                --credential "$d/cred" --secret-out "$d/got"
        assert_eq "activation returns the secret" "$(cat "$d/secret")" "$(cat "$d/got" 2>/dev/null)"
        tpm2_makecredential -T none -u "$d/ek.pub" -s "$d/secret" -n "000b$(printf '%064d' 7)" -o "$d/cred2" \
                2>/dev/null
        assert_exit "activation of a credential for another name fails" 2 "$DW" tpm activate --tcti "$T" \
                --credential "$d/cred2"
        assert_grep "... with the TPM error decoded" "TPM2_ActivateCredential.*tpm:.*integrity check failed" \
                "$TMP/err"
        assert_exit "activate refuses a file that is not a credential" 2 "$DW" tpm activate --tcti "$T" \
                --credential "$d/secret"
        assert_tpm_clean "after activations"
}

# ---- RSA AK, P-384 EK ------------------------------------------------------------------------------------------
test_rsa_ak_and_p384_ek() {
        local d=$TMP/b name
        start b || return

        assert_exit "enroll an RSA AK" 0 "$DW" tpm enroll --tcti "$T" --ak-alg rsa --ak-handle 0x81010004 \
                --ak-out "$d/ak.pem" --json
        name=$(jq -r .ak.name "$TMP/out")
        assert_eq "RSA AK name as tpm2_readpublic computes it" "$(ak_name_of 0x81010004)" "$name"
        assert_eq "RSA AK type" rsa "$(jq -r .ak.type "$TMP/out")"
        assert_exit "enroll the RSA AK again" 0 "$DW" tpm enroll --tcti "$T" --ak-alg rsa --ak-handle 0x81010004 \
                --json
        assert_eq "the RSA AK is reused (same name)" "$name" "$(jq -r .ak.name "$TMP/out")"
        assert_exit "quote with the RSA AK" 0 "$DW" tpm quote --tcti "$T" --ak-handle 0x81010004 --nonce $NONCE \
                --attest "$d/q.att" --signature "$d/q.sig" --pcrs-out "$d/q.pcrs"
        assert_exit "tpm2_checkquote accepts the RSA quote" 0 tpm2_checkquote -u "$d/ak.pem" -m "$d/q.att" \
                -s "$d/q.sig" -f "$d/q.pcrs" -g sha256 -q $NONCE
        assert_exit "tpm2_checkquote rejects the RSA quote with a wrong nonce" 1 tpm2_checkquote -u "$d/ak.pem" \
                -m "$d/q.att" -s "$d/q.sig" -f "$d/q.pcrs" -g sha256 -q 00

        assert_exit "enroll under the P-384 EK (template H-3)" 0 "$DW" tpm enroll --tcti "$T" --ek-alg ecc384 \
                --ak-handle 0x81010005 --ek-pub-out "$d/ek384.pub" --ek-cert-out "$d/ek384.pem" --json
        cp "$TMP/out" "$d/e384.json"
        assert_eq "the P-384 EK is the one swtpm_setup persisted at 0x81010016" "$(ak_name_of 0x81010016)" \
                "$(jq -r .ek.name "$d/e384.json")"
        assert_eq "its certificate (0x01c00016) matches it" "0x01c00016" \
                "$(jq -r '.ek.certificates[] | select(.matches_ek) | .nv_index' "$d/e384.json")"
        assert_eq "the P-384 EK certificate verifies against the swtpm CA" "$d/ek384.pem: OK" \
                "$(openssl verify -partial_chain -CAfile "$CA" "$d/ek384.pem" 2>&1)"
        printf 'p384 secret' >"$d/secret"
        tpm2_makecredential -T none -u "$d/ek384.pub" -s "$d/secret" -n "$(jq -r .ak.name "$d/e384.json")" \
                -o "$d/cred" 2>/dev/null
        assert_exit "activation through the P-384 EK" 0 "$DW" tpm activate --tcti "$T" --ek-alg ecc384 \
                --ak-handle 0x81010005 --credential "$d/cred" --secret-out "$d/got"
        assert_eq "... returns the secret" "p384 secret" "$(cat "$d/got" 2>/dev/null)"
        assert_exit "enroll under a P-256 EK (template L-2, no certificate on swtpm 0.7)" 0 "$DW" tpm enroll \
                --tcti "$T" --ek-alg ecc --ak-handle 0x81010006
        assert_grep "... warns that no certificate matches" "no EK certificate in NV carries the key of the ecc EK" \
                "$TMP/err"
        assert_tpm_clean "after RSA and P-384 enrollment"
}

# ---- event-signing key, NV extend index -------------------------------------------------------------------------
test_event_key_and_nv() {
        local d=$TMP/c name want
        start c || return

        "$DW" tpm enroll --tcti "$T" --ak-out "$d/ak.pem" >/dev/null
        assert_exit "event key: create and certify" 0 "$DW" tpm event-key --tcti "$T" --nonce $NONCE \
                --attest "$d/c.att" --signature "$d/c.sig" --signature-format plain --key-out "$d/evk.pem" --json
        name=$(jq -r .name "$TMP/out")
        assert_eq "event key name as tpm2_readpublic computes it" "$(ak_name_of $EVK)" "$name"
        assert_eq "event key persisted at $EVK" "$EVK" "$(jq -r .handle "$TMP/out")"
        assert_sig "TPM2_Certify of the event key" "$d/c.att" "$d/c.sig" "$d/ak.pem"
        assert_eq "the certify attestation is of type certify" certify "$(field "$d/c.att" type)"
        assert_eq "it certifies the event key's name" "$name" "$(field "$d/c.att" name)"
        assert_eq "it carries the nonce" $NONCE "$(field "$d/c.att" extra_data)"
        assert_exit "event key again" 0 "$DW" tpm event-key --tcti "$T" --json
        assert_eq "the event key is reused" "$name" "$(jq -r .name "$TMP/out")"
        assert_exit "event key certify, tss signature" 0 "$DW" tpm event-key --tcti "$T" --nonce 01 \
                --attest "$d/c2.att" --signature "$d/c2.sig"
        assert_eq "the tss signature is a TPMT_SIGNATURE (ECDSA, SHA-256)" 0018000b "$(xxd -p -l 4 "$d/c2.sig")"
        assert_exit "event key refuses a non-restricted handle holding the AK" 2 "$DW" tpm event-key --tcti "$T" \
                --handle $AK
        assert_grep "... and says why" "not an event-signing key" "$TMP/err"

        assert_exit "nv define" 0 "$DW" tpm nv define --tcti "$T"
        assert_grep "nv define uses the platform hierarchy on swtpm" "^hierarchy: platform" "$TMP/out"
        assert_grep "the index has the attributes asked for" \
                "authwrite.*policydelete.*authread.*no_da.*orderly.*clear_stclear.*platformcreate" \
                <(tpm2_nvreadpublic $NV)
        assert_exit "nv read before the first extend" 2 "$DW" tpm nv read --tcti "$T"
        assert_grep "... says it is not written" "not extended since the last TPM reset" "$TMP/err"
        assert_exit "nv extend" 0 "$DW" tpm nv extend --tcti "$T" --data 0011223344
        printf '%s' "event-2" >"$d/data2"
        assert_exit "nv extend from a file" 0 "$DW" tpm nv extend --tcti "$T" --data-file "$d/data2"
        want=$( (head -c 32 /dev/zero; printf '\x00\x11\x22\x33\x44') | openssl dgst -sha256 -binary |
                cat - "$d/data2" | openssl dgst -sha256 -r | cut -c1-64)
        assert_exit "nv read" 0 "$DW" tpm nv read --tcti "$T"
        assert_eq "the NV value is the SHA-256 extend chain" "$want" "$(cat "$TMP/out")"
        assert_exit "nv certify" 0 "$DW" tpm nv certify --tcti "$T" --nonce $NONCE --attest "$d/n.att" \
                --signature "$d/n.sig" --signature-format plain
        assert_sig "TPM2_NV_Certify" "$d/n.att" "$d/n.sig" "$d/ak.pem"
        assert_eq "the NV attestation is of type nv" nv "$(field "$d/n.att" type)"
        assert_eq "it certifies the extend value" "$want" "$(field "$d/n.att" contents)"
        assert_eq "it names the index" "$(tpm2_nvreadpublic $NV | awk '/name:/ { print $2 }')" \
                "$(field "$d/n.att" index_name)"
        assert_eq "it carries the nonce" $NONCE "$(field "$d/n.att" extra_data)"
        if tpm2_nvundefine -C o $NV >/dev/null 2>&1; then
                fail "the owner cannot delete the platform index: tpm2_nvundefine -C o succeeded"
        else
                ok "the owner cannot delete the platform index"
        fi
        assert_exit "nv define again" 0 "$DW" tpm nv define --tcti "$T"
        assert_grep "... finds the index" "\(existing\)" "$TMP/out"

        # A TPM reset clears it (TPMA_NV_CLEAR_STCLEAR): power-cycle swtpm through its control channel.
        swtpm_ioctl --tcp "127.0.0.1:$((${T##*port=} + 1))" -i >/dev/null && tpm2_startup -c >/dev/null 2>&1
        assert_exit "nv read after a TPM reset" 2 "$DW" tpm nv read --tcti "$T"
        assert_grep "... is not written any more" "not extended since the last TPM reset" "$TMP/err"
        assert_exit "nv undefine (platform policy)" 0 "$DW" tpm nv undefine --tcti "$T"
        assert_eq "the index is gone" "" "$(tpm2_getcap handles-nv-index | grep -i 0x1800100)"

        # Without the platform hierarchy (as firmware leaves it), an owner index, and the output says so.
        tpm2_hierarchycontrol -C p phEnable clear
        assert_exit "nv define without the platform hierarchy, no fallback" 2 "$DW" tpm nv define --tcti "$T" \
                --no-owner-fallback
        assert_grep "... fails with the TPM error decoded" "platform hierarchy\): tpm:.*hierarchy is not enabled" \
                "$TMP/err"
        assert_exit "nv define without the platform hierarchy" 0 "$DW" tpm nv define --tcti "$T"
        assert_grep "... falls back to the owner" "^hierarchy: owner" "$TMP/out"
        assert_grep "... and warns" "warning: platform hierarchy unavailable .*as an owner index instead" "$TMP/err"
        "$DW" tpm nv extend --tcti "$T" --data 00 && "$DW" tpm nv certify --tcti "$T" --nonce 00 \
                --attest "$d/o.att" --signature "$d/o.sig" --signature-format plain
        assert_sig "NV certify of the owner index" "$d/o.att" "$d/o.sig" "$d/ak.pem"
        assert_exit "nv undefine (owner)" 0 "$DW" tpm nv undefine --tcti "$T"
        assert_tpm_clean "after event key and NV"
}

# ---- bad input, library stress -----------------------------------------------------------------------------------
test_errors_and_stress() {
        assert_exit "a TCTI with nothing listening" 2 "$DW" tpm quote --tcti swtpm:host=127.0.0.1,port=1 \
                --nonce 00 --attest "$TMP/x" --signature "$TMP/y"
        assert_grep "... is a decoded error" "cannot open TPM TCTI 'swtpm:host=127.0.0.1,port=1': tcti:IO failure" \
                "$TMP/err"
        assert_exit "an unknown TCTI" 2 "$DW" tpm enroll --tcti nosuchtcti:foo
        assert_grep "... is a decoded error" "cannot open TPM TCTI 'nosuchtcti:foo': tcti:" "$TMP/err"
        assert_exit "quote without a nonce" 2 "$DW" tpm quote --attest x --signature y
        assert_grep "... says so" "tpm quote: --nonce is required" "$TMP/err"
        assert_exit "a bad PCR selection" 2 "$DW" tpm quote --nonce 00 --pcrs sha256:24 --attest x --signature y
        assert_grep "... says so" "bad PCR list '24'" "$TMP/err"
        assert_exit "an option of another command" 2 "$DW" tpm quote --nonce 00 --credential x
        assert_exit "a nonce over 64 bytes" 2 "$DW" tpm quote --nonce "$(printf '%0130d' 0)" --attest x --signature y
        assert_exit "an unknown tpm command" 2 "$DW" tpm frobnicate

        start d || return
        # NV reads in chunks of the TPM's NV buffer (1024 bytes on swtpm): a 2048-byte index takes two.
        head -c 2048 /dev/urandom >"$TMP/d/nvdata"
        tpm2_nvdefine 0x01800200 -C o -s 2048 -a "ownerread|ownerwrite" >/dev/null &&
                tpm2_nvwrite 0x01800200 -C o -i "$TMP/d/nvdata"
        assert_exit "read a 2048-byte NV index" 0 "$CHECK" nv-read "$T" 0x01800200
        if cmp -s "$TMP/out" "$TMP/d/nvdata"; then
                ok "... in two chunks, all of it"
        else
                fail "... in two chunks, all of it: $(wc -c <"$TMP/out") bytes, differ"
        fi
        assert_exit "library stress: 30 rounds of every operation and error path in one context" 0 \
                "$CHECK" stress "$T" 30 $AK $EVK $NV
        assert_grep "... leaves nothing loaded" "0 transient objects, 0 loaded sessions, 0 saved sessions" "$TMP/out"
        assert_tpm_clean "after the library stress"
}

if [ ! -x "$CHECK" ]; then
        fail "$CHECK is not built"
        exit 0
fi
test_enroll_quote_activate
test_rsa_ak_and_p384_ek
test_event_key_and_nv
test_errors_and_stress
