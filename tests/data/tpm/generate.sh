#!/usr/bin/env bash
# Regenerates the TPM fixtures of tests/unit/test-tpm-verify.c from a private swtpm, tpm2-tools and the openssl CLI:
#
#   swtpm-root.pem swtpm-issuer.pem swtpm-ca-bundle.pem    swtpm's local CA (root, and the issuer of EK certificates)
#   ek-rsa-cert.der ek-ecc-cert.der                         EK certificates from NV 0x01c00002 (RSA 2048) and
#                                                           0x01c00016 (NIST P-384)
#   ek-rsa.pub ek-rsa.pem ek-ecc.pub ek-ecc.pem             those EKs' TPM2B_PUBLIC and PEM (as swtpm_setup persisted
#                                                           them at 0x81010001 and 0x81010016)
#   crl-swtpm-issuer.pem                                    a CRL signed by the swtpm issuer's key (whose certificate
#                                                           does not allow CRL signing)
#   ak-{ecc,rsa,rsapss}.{pub,pem,name}                      AKs (ECDSA P-256, RSASSA 2048, RSAPSS 2048), SHA-256
#   nonce.hex                                               the nonce (qualifying data) of every quote below
#   quote-{ecc,rsa,rsapss,many}.{attest,sig,pcrs}           tpm2_quote -m/-s/-o; "many" selects 48 PCRs (6 lists)
#   quote-ecc-{later,restart,reset,unorderly}.*             the ECC AK again: later in the same epoch, after a TPM
#                                                           Restart, an orderly Reset, and an unorderly Reset
#   certify.{attest,sig} certified.{pub,name,qname}         tpm2_certify of an owner primary key by the ECC AK
#   nvcertify.{attest,sig} nv.name nv.data                  tpm2_nvcertify of NV index 0x01500016 by the ECC AK
#   mc-secret.bin mc-tools.out                              tpm2_makecredential (offline) for ek-rsa and ak-ecc's Name
#   mc-vector-{rsa,ecc}.txt mc-vector-{rsa,ecc}.out         MakeCredential vectors for ak-ecc's Name computed here with
#   mc-ephemeral.pem                                        the openssl CLI only (KBKDF = KDFa, SSKDF = KDFe, OAEP,
#                                                           ECDH, AES-CFB, HMAC), each activated on the swtpm with
#                                                           tpm2_activatecredential before it is kept
#   testca/                                                 a CA of our own for the EK certificate cases swtpm does not
#                                                           produce: known and unknown critical extensions, expired,
#                                                           issued by a non-CA, CRLs revoking an EK certificate and an
#                                                           intermediate
#
# Run from anywhere: tests/data/tpm/generate.sh. Needs swtpm, swtpm_setup, swtpm_ioctl, tpm2-tools, openssl, xxd.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../swtpm.sh"
work=$(mktemp -d)
trap 'swtpm_stop; rm -rf "$work"' EXIT
cd "$work"

NONCE=d1f7a0c3b2e4968577a1c0ffee5eed00
MC_CREDENTIAL=647269667477617463683a2063726564656e7469616c20666f7220616e20414b
MC_SEED_RSA=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
AK_ECC=0x81000010 AK_RSA=0x81000011 AK_RSAPSS=0x81000012 EK_RSA=0x81010001 EK_ECC=0x81010016 NV=0x01500016
# TCG EK Credential Profile: PolicyA (PolicySecret(endorsement)) and PolicyC (PolicyAuthorizeNV) for SHA-384,
# whose PolicyOR is the authPolicy of the P-384 EK.
POLICY_A_SHA384=8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e143e8bb1133824ccb431053871c6db53
POLICY_C_SHA384=d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165

swtpm_start "$work/tpm"
export TPM2TOOLS_TCTI=$SWTPM_TCTI
ctrl_port=$((${SWTPM_TCTI##*port=} + 1))
out=$work/out
mkdir -p "$out/testca"

flush() {
        tpm2_flushcontext -t
        tpm2_flushcontext -s
}

hex() {
        xxd -p -c 100000 "$@"
}

unhex() {
        xxd -r -p
}

# --- EK certificates, CA, CRLs ---------------------------------------------------------------------------------
cp "$SWTPM_CA_DIR/swtpm-localca-rootca-cert.pem" "$out/swtpm-root.pem"
cp "$SWTPM_CA_DIR/issuercert.pem" "$out/swtpm-issuer.pem"
cat "$out/swtpm-root.pem" "$out/swtpm-issuer.pem" >"$out/swtpm-ca-bundle.pem"
tpm2_nvread 0x01c00002 -o "$out/ek-rsa-cert.der" 2>/dev/null
tpm2_nvread 0x01c00016 -o "$out/ek-ecc-cert.der" 2>/dev/null
tpm2_readpublic -c $EK_RSA -o "$out/ek-rsa.pub" >/dev/null
tpm2_readpublic -c $EK_RSA -f pem -o "$out/ek-rsa.pem" >/dev/null
tpm2_readpublic -c $EK_ECC -o "$out/ek-ecc.pub" >/dev/null
tpm2_readpublic -c $EK_ECC -f pem -o "$out/ek-ecc.pem" >/dev/null
flush

# swtpm's issuer certificate has keyUsage keyCertSign only, so a CRL signed with its key is not valid: the unit tests
# check that it is refused as such. Revocation itself is tested with testca/ below.
mkdir -p crl
: >crl/index.txt
echo 01 >crl/crlnumber
cat >crl/ca.cnf <<CONF
[ ca ]
default_ca = swtpm_issuer
[ swtpm_issuer ]
database = $work/crl/index.txt
crlnumber = $work/crl/crlnumber
default_md = sha256
default_crl_days = 36500
CONF
openssl ca -config crl/ca.cnf -gencrl -keyfile "$SWTPM_CA_DIR/signkey.pem" -cert "$out/swtpm-issuer.pem" \
        -out "$out/crl-swtpm-issuer.pem" 2>/dev/null

# --- AKs --------------------------------------------------------------------------------------------------------
make_ak() {
        local name=$1 alg=$2 scheme=$3 handle=$4
        tpm2_createak -C $EK_RSA -c ak.ctx -G "$alg" -g sha256 -s "$scheme" -u "$out/ak-$name.pub" \
                -n "$out/ak-$name.name" >/dev/null
        flush
        tpm2_readpublic -c ak.ctx -f pem -o "$out/ak-$name.pem" >/dev/null
        tpm2_evictcontrol -C o -c ak.ctx "$handle" >/dev/null
        flush
}
make_ak ecc ecc ecdsa $AK_ECC
make_ak rsa rsa rsassa $AK_RSA
make_ak rsapss rsa rsapss $AK_RSAPSS

# --- quotes -----------------------------------------------------------------------------------------------------
echo $NONCE >"$out/nonce.hex"
tpm2_pcrextend "16:sha256=$(printf driftwatch | sha256sum | cut -c1-64),sha1=$(printf driftwatch | sha1sum |
        cut -c1-40)"
tpm2_pcrextend "23:sha256=$(printf pcr23 | sha256sum | cut -c1-64)"

quote() {
        local name=$1 ak=$2 sel=$3 scheme=${4:-}
        tpm2_quote -c "$ak" -l "$sel" -q $NONCE -g sha256 ${scheme:+--scheme $scheme} -m "$out/quote-$name.attest" \
                -s "$out/quote-$name.sig" -o "$out/quote-$name.pcrs" >/dev/null
        flush
}
all=$(seq -s, 0 23)
quote ecc $AK_ECC sha256:0,1,2,3,16,23+sha1:16
quote rsa $AK_RSA sha256:16,23
quote rsapss $AK_RSAPSS sha1:16+sha256:16 rsapss
quote many $AK_ECC "sha256:$all+sha1:$all"
sleep 0.2
quote ecc-later $AK_ECC sha256:0,1,2,3,16,23+sha1:16

# TPM Restart: Shutdown(STATE), _TPM_Init, Startup(CLEAR): restartCount grows. PCRs reset, so re-extend.
tpm2_shutdown
swtpm_ioctl --tcp 127.0.0.1:$ctrl_port -i
tpm2_startup -c
quote ecc-restart $AK_ECC sha256:16
# TPM Reset, orderly: Shutdown(CLEAR), _TPM_Init, Startup(CLEAR): resetCount grows.
tpm2_shutdown -c
swtpm_ioctl --tcp 127.0.0.1:$ctrl_port -i
tpm2_startup -c
quote ecc-reset $AK_ECC sha256:16
# TPM Reset without shutdown: resetCount grows and safe becomes NO.
swtpm_ioctl --tcp 127.0.0.1:$ctrl_port -i
tpm2_startup -c
quote ecc-unorderly $AK_ECC sha256:16

# --- certify, NV certify ----------------------------------------------------------------------------------------
tpm2_createprimary -C o -G ecc -g sha256 -c prim.ctx >/dev/null
flush
tpm2_readpublic -c prim.ctx -o "$out/certified.pub" -n "$out/certified.name" -q "$out/certified.qname" >/dev/null
flush
tpm2_certify -c prim.ctx -C $AK_ECC -g sha256 -o "$out/certify.attest" -s "$out/certify.sig" >/dev/null
flush
printf 'driftwatch NV certify fixture!!!' >"$out/nv.data"
tpm2_nvdefine $NV -C o -s 32 -a "ownerread|ownerwrite|authread|authwrite" >/dev/null
tpm2_nvwrite $NV -C o -i "$out/nv.data"
tpm2_nvreadpublic $NV | awk '/name:/ { print $2 }' | unhex >"$out/nv.name"
tpm2_nvcertify -C $AK_ECC -g sha256 -o "$out/nvcertify.sig" --attestation "$out/nvcertify.attest" --size 32 \
        --offset 0 -q $NONCE $NV >/dev/null
flush

# --- MakeCredential ---------------------------------------------------------------------------------------------
activate() { # EK-handle-or-context session-hash credential-file -> prints the recovered credential as hex
        local ek=$1 halg=$2 file=$3
        tpm2_startauthsession --policy-session -g "$halg" -S session.ctx
        tpm2_policysecret -S session.ctx -c e >/dev/null
        if [ "$halg" = sha384 ]; then
                echo $POLICY_A_SHA384 | unhex >pa.bin
                echo $POLICY_C_SHA384 | unhex >pc.bin
                tpm2_policyor -S session.ctx -l sha384:pa.bin,pc.bin >/dev/null
        fi
        tpm2_activatecredential -c $AK_ECC -C "$ek" -i "$file" -o activated.bin -P session:session.ctx >/dev/null
        tpm2_flushcontext session.ctx
        flush
        hex activated.bin
}

echo $MC_CREDENTIAL | unhex >"$out/mc-secret.bin"
tpm2_makecredential -T none -u "$out/ek-rsa.pub" -s "$out/mc-secret.bin" -n "$(hex "$out/ak-ecc.name")" \
        -o "$out/mc-tools.out" 2>/dev/null
[ "$(activate $EK_RSA sha256 "$out/mc-tools.out")" = $MC_CREDENTIAL ]

kdfa() { # DIGEST KEYHEX LABEL CONTEXTHEX BITS
        local info=()
        [ -n "$4" ] && info=(-kdfopt "hexinfo:$4")
        openssl kdf -keylen $(($5 / 8)) -kdfopt "digest:$1" -kdfopt mac:HMAC -kdfopt "hexkey:$2" \
                -kdfopt "salt:$3" "${info[@]}" KBKDF | tr -d ':\n' | tr A-F a-f
}

# The ID object (TPM2B) for seed: HMAC TPM2B || AES-CFB(marshalled credential).
id_object() { # DIGEST HASHSIZE AESBITS SEEDHEX NAMEHEX
        local md=$1 hsize=$2 bits=$3 seed=$4 name=$5 symkey hmackey enc hmac
        symkey=$(kdfa "$md" "$seed" STORAGE "$name" "$bits")
        hmackey=$(kdfa "$md" "$seed" INTEGRITY "" $((hsize * 8)))
        enc=$(printf '%04x%s' $((${#MC_CREDENTIAL} / 2)) $MC_CREDENTIAL | unhex |
                openssl enc "-aes-$bits-cfb" -K "$symkey" -iv 00000000000000000000000000000000 | hex)
        hmac=$(echo "$enc$name" | unhex | openssl mac -digest "$md" -macopt "hexkey:$hmackey" HMAC | tr A-F a-f)
        printf '%04x%04x%s%s' $((2 + hsize + ${#enc} / 2)) "$hsize" "$hmac" "$enc"
}

name=$(hex "$out/ak-ecc.name")

# RSA EK: the seed encrypted with OAEP(SHA-256, label "IDENTITY\0").
id_rsa=$(id_object SHA256 32 128 $MC_SEED_RSA "$name")
secret_rsa=$(echo $MC_SEED_RSA | unhex | openssl pkeyutl -encrypt -pubin -inkey "$out/ek-rsa.pem" \
        -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
        -pkeyopt rsa_oaep_label:4944454e5449545900 | hex)
printf 'badcc0de00000001%s%04x%s' "$id_rsa" $((${#secret_rsa} / 2)) "$secret_rsa" | unhex >"$out/mc-vector-rsa.out"
[ "$(activate $EK_RSA sha256 "$out/mc-vector-rsa.out")" = $MC_CREDENTIAL ]
printf 'seed %s\nname %s\ncredential %s\nid_object %s\n' $MC_SEED_RSA "$name" $MC_CREDENTIAL "$id_rsa" \
        >"$out/mc-vector-rsa.txt"

# ECC (P-384) EK: an ephemeral key, Z = ECDH x, seed = KDFe(SHA-384, Z, "IDENTITY", ephemeral.x, EK.x).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$out/mc-ephemeral.pem" 2>/dev/null
eph=$(openssl pkey -in "$out/mc-ephemeral.pem" -pubout -outform DER | tail -c 97 | hex)
ekp=$(openssl pkey -pubin -in "$out/ek-ecc.pem" -outform DER | tail -c 97 | hex)
eph_x=${eph:2:96} eph_y=${eph:98:96} ek_x=${ekp:2:96}
z=$(openssl pkeyutl -derive -inkey "$out/mc-ephemeral.pem" -peerkey "$out/ek-ecc.pem" | hex)
seed_ecc=$(openssl kdf -keylen 48 -kdfopt digest:SHA384 -kdfopt "hexkey:$z" \
        -kdfopt "hexinfo:4944454e5449545900$eph_x$ek_x" SSKDF | tr -d ':\n' | tr A-F a-f)
id_ecc=$(id_object SHA384 48 256 "$seed_ecc" "$name")
secret_ecc=$(printf '0030%s0030%s' "$eph_x" "$eph_y")
printf 'badcc0de00000001%s%04x%s' "$id_ecc" $((${#secret_ecc} / 2)) "$secret_ecc" | unhex >"$out/mc-vector-ecc.out"
[ "$(activate $EK_ECC sha384 "$out/mc-vector-ecc.out")" = $MC_CREDENTIAL ]
printf 'seed %s\nname %s\ncredential %s\nid_object %s\nsecret %s\n' "$seed_ecc" "$name" $MC_CREDENTIAL "$id_ecc" \
        "$secret_ecc" >"$out/mc-vector-ecc.txt"

# --- our own test CA ----------------------------------------------------------------------------------------------
# Certificates are valid for 200 years and CRLs for 100, so that a verification time in between (2200) meets an
# expired CRL of a valid CA.
ca=$out/testca
cd "$work"
mkdir -p tca
openssl req -x509 -newkey rsa:2048 -nodes -keyout tca/root.key -subj /CN=driftwatch-test-root -days 73000 \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -out "$ca/root.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout tca/int.key -subj /CN=driftwatch-test-intermediate -out tca/int.csr \
        2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >tca/ca.ext
openssl x509 -req -in tca/int.csr -CA "$ca/root.pem" -CAkey tca/root.key -set_serial 0x1001 -days 73000 \
        -extfile tca/ca.ext -out "$ca/int.pem" 2>/dev/null
cat "$ca/root.pem" "$ca/int.pem" >"$ca/bundle.pem"

# EK certificates of ek-rsa's key issued by the intermediate, with the swtpm EK certificate's extensions and more.
ext_der() { # the DER value of an extension of the swtpm RSA EK certificate, by its OpenSSL long name
        openssl asn1parse -inform der -in "$out/ek-rsa-cert.der" |
                awk -v ext="$1" 'index($0, ext) { f = 1 }
                        f && /OCTET STRING/ { sub(/.*\[HEX DUMP\]:/, ""); print; exit }'
}
san_der=$(ext_der "Subject Alternative Name")
sda_der=$(ext_der "Subject Directory Attributes")
openssl req -new -newkey rsa:2048 -nodes -keyout tca/dummy.key -subj /CN=unused -out tca/ek.csr 2>/dev/null
ek_cert() { # NAME SERIAL EXTRA-EXTENSION-LINES [ISSUER-CERT ISSUER-KEY]
        local name=$1 serial=$2 extra=$3 icert=${4:-$ca/int.pem} ikey=${5:-tca/int.key}
        {
                echo "subjectAltName=critical,DER:$san_der"
                echo "basicConstraints=critical,CA:FALSE"
                echo "keyUsage=critical,keyEncipherment"
                echo "extendedKeyUsage=2.23.133.8.1"
                printf '%b' "$extra"
        } >"tca/$name.ext"
        openssl x509 -req -in tca/ek.csr -CA "$icert" -CAkey "$ikey" -set_serial "$serial" -days 73000 \
                -force_pubkey "$out/ek-rsa.pem" -extfile "tca/$name.ext" -out "$ca/$name.pem" 2>/dev/null
}
ek_cert ek-known-critical 0x2001 "2.5.29.9=critical,DER:$sda_der\n"
ek_cert ek-unknown-critical 0x2002 "1.3.6.1.4.1.99999.1=critical,DER:0500\n"
ek_cert ek-plain 0x2003 ""
# Issued by an EK-like certificate (CA:FALSE): the issuer may not issue.
openssl req -newkey rsa:2048 -nodes -keyout tca/leaf.key -subj /CN=not-a-ca -out tca/leaf.csr 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyCertSign\n' >tca/leaf.ext
openssl x509 -req -in tca/leaf.csr -CA "$ca/root.pem" -CAkey tca/root.key -set_serial 0x1002 -days 73000 \
        -extfile tca/leaf.ext -out "$ca/not-a-ca.pem" 2>/dev/null
ek_cert ek-by-not-a-ca 0x2004 "" "$ca/not-a-ca.pem" tca/leaf.key
cat "$ca/root.pem" "$ca/not-a-ca.pem" >"$ca/bundle-not-a-ca.pem"

# Expired: openssl ca takes explicit dates.
mkdir -p tca/db
: >tca/db/index.txt
echo 3001 >tca/db/serial
cat >tca/db/ca.cnf <<CONF
[ ca ]
default_ca = test_int
[ test_int ]
database = $work/tca/db/index.txt
serial = $work/tca/db/serial
new_certs_dir = $work/tca/db
crlnumber = $work/tca/db/crlnumber
default_md = sha256
default_crl_days = 36500
policy = any
copy_extensions = none
unique_subject = no
[ any ]
commonName = supplied
CONF
echo 01 >tca/db/crlnumber
openssl ca -batch -config tca/db/ca.cnf -cert "$ca/int.pem" -keyfile tca/int.key -in tca/ek.csr \
        -startdate 20000101000000Z -enddate 20010101000000Z -out "$ca/ek-expired.pem" -notext 2>/dev/null
# The intermediate's CRLs (nothing revoked; ek-plain revoked) and the root's CRL revoking the intermediate.
: >tca/db/index.txt
openssl ca -config tca/db/ca.cnf -gencrl -cert "$ca/int.pem" -keyfile tca/int.key -out tca/int-crl.pem 2>/dev/null
printf 'R\t99991231235959Z\t200101000000Z\t2003\tunknown\t/CN=unused\n' >tca/db/index.txt
openssl ca -config tca/db/ca.cnf -gencrl -cert "$ca/int.pem" -keyfile tca/int.key -out "$ca/crl-int-revoked-ek.pem" \
        2>/dev/null
printf 'R\t99991231235959Z\t200101000000Z\t1001\tunknown\t/CN=driftwatch-test-intermediate\n' >tca/db/index.txt
openssl ca -config tca/db/ca.cnf -gencrl -cert "$ca/root.pem" -keyfile tca/root.key -out tca/root-crl.pem \
        2>/dev/null
cat tca/int-crl.pem tca/root-crl.pem >"$ca/crls-int-revoked.pem"
cp tca/int-crl.pem "$ca/crl-int.pem"

# Sanity: what the unit tests expect of the CA fixtures.
openssl verify -CAfile "$out/swtpm-root.pem" -untrusted "$out/swtpm-issuer.pem" \
        <(openssl x509 -inform der -in "$out/ek-rsa-cert.der") >/dev/null
openssl verify -CAfile "$ca/root.pem" -untrusted "$ca/int.pem" "$ca/ek-plain.pem" >/dev/null

find "$here" -mindepth 1 ! -name generate.sh -delete
cp -r "$out"/. "$here"/
echo "fixtures regenerated in $here"
