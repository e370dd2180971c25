#!/usr/bin/env bash
# Regenerates the runtime-policy fixtures of tests/unit/test-runtime-policy.c with the openssl CLI and evmctl
# (ima-evm-utils), so that the signatures the tests verify are the real security.ima format:
#
#   rsa.key rsa.pub.pem           RSA 2048 signing key and its public key (PEM SubjectPublicKeyInfo)
#   ec.key ec.pub.pem             ECDSA P-256 signing key and its public key
#   rsa-skid.crt                  a self-signed certificate for rsa.key whose subject key identifier is not the SHA-1
#                                 of the key (ends in a1b2c3d4): the kernel looks keys up by that SKID
#   file.bin                      the signed file
#   rsa-{sha1,sha256,sha384,sha512}.sig   evmctl ima_sign --key rsa.key --hashalgo ALG --sigfile file.bin
#   ec-{sha256,sha384}.sig                evmctl ima_sign --key ec.key --hashalgo ALG --sigfile file.bin
#   rsa-skid-sha256.sig                   the same with --keyid-from-cert rsa-skid.crt
#
# example.json (the example of docs/runtime-policy.md) is written by hand and not regenerated.
#
# Run from anywhere: tests/data/policy/generate.sh. Needs openssl and evmctl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
openssl pkey -in rsa.key -pubout -out rsa.pub.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key
openssl pkey -in ec.key -pubout -out ec.pub.pem
openssl req -new -x509 -key rsa.key -subj /CN=driftwatch-test-ima-signing -days 36500 \
        -addext "subjectKeyIdentifier=00112233445566778899aabbccddeeffa1b2c3d4" -out rsa-skid.crt
printf 'driftwatch runtime policy test file\n' >file.bin

sign() { # KEY ALG OUT [EXTRA...]
        local key=$1 alg=$2 out=$3
        shift 3
        cp file.bin "$tmp/f"
        evmctl ima_sign --key "$key" --hashalgo "$alg" --sigfile "$@" "$tmp/f" >/dev/null 2>&1
        mv "$tmp/f.sig" "$out"
}
for alg in sha1 sha256 sha384 sha512; do sign rsa.key $alg rsa-$alg.sig; done
for alg in sha256 sha384; do sign ec.key $alg ec-$alg.sig; done
sign rsa.key sha256 rsa-skid-sha256.sig --keyid-from-cert rsa-skid.crt
echo "regenerated the fixtures in $here"
