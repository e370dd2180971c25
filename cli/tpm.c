/* SPDX-License-Identifier: MIT */
/* driftwatch tpm enroll|quote|activate|event-key|nv: the gateway's TPM, through lib/tpm-gateway.h. Output files are
 * in tpm2-tools' formats (marshalled TPMS_ATTEST, TPMT_SIGNATURE "tss" or "plain", the "serialized" PCR file,
 * marshalled TPM2B_PUBLIC), so tpm2_checkquote, tpm2_print and openssl read them. */

#include <fcntl.h>
#include <getopt.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>

#include "cli.h"
#include "hex.h"
#include "tpm-credential.h"
#include "tpm-gateway.h"
#include "tpm-marshal.h"

enum {
        OPT_TCTI = 0x100,
        OPT_AK_HANDLE,
        OPT_AK_ALG,
        OPT_EK_ALG,
        OPT_HANDLE,
        OPT_INDEX,
        OPT_NONCE,
        OPT_PCRS,
        OPT_ATTEST,
        OPT_SIGNATURE,
        OPT_SIG_FORMAT,
        OPT_PCRS_OUT,
        OPT_AK_OUT,
        OPT_AK_PUB_OUT,
        OPT_EK_OUT,
        OPT_EK_PUB_OUT,
        OPT_EK_CERT_OUT,
        OPT_KEY_OUT,
        OPT_KEY_PUB_OUT,
        OPT_CREDENTIAL,
        OPT_SECRET_OUT,
        OPT_DATA,
        OPT_DATA_FILE,
        OPT_JSON,
        OPT_NO_OWNER_FALLBACK,
        _OPT_MAX,
};

#define OPT_BIT(o) (1ull << ((o)-OPT_TCTI))

static const struct option tpm_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"tcti", required_argument, NULL, OPT_TCTI},
        {"ak-handle", required_argument, NULL, OPT_AK_HANDLE},
        {"ak-alg", required_argument, NULL, OPT_AK_ALG},
        {"ek-alg", required_argument, NULL, OPT_EK_ALG},
        {"handle", required_argument, NULL, OPT_HANDLE},
        {"index", required_argument, NULL, OPT_INDEX},
        {"nonce", required_argument, NULL, OPT_NONCE},
        {"pcrs", required_argument, NULL, OPT_PCRS},
        {"attest", required_argument, NULL, OPT_ATTEST},
        {"signature", required_argument, NULL, OPT_SIGNATURE},
        {"signature-format", required_argument, NULL, OPT_SIG_FORMAT},
        {"pcrs-out", required_argument, NULL, OPT_PCRS_OUT},
        {"ak-out", required_argument, NULL, OPT_AK_OUT},
        {"ak-pub-out", required_argument, NULL, OPT_AK_PUB_OUT},
        {"ek-out", required_argument, NULL, OPT_EK_OUT},
        {"ek-pub-out", required_argument, NULL, OPT_EK_PUB_OUT},
        {"ek-cert-out", required_argument, NULL, OPT_EK_CERT_OUT},
        {"key-out", required_argument, NULL, OPT_KEY_OUT},
        {"key-pub-out", required_argument, NULL, OPT_KEY_PUB_OUT},
        {"credential", required_argument, NULL, OPT_CREDENTIAL},
        {"secret-out", required_argument, NULL, OPT_SECRET_OUT},
        {"data", required_argument, NULL, OPT_DATA},
        {"data-file", required_argument, NULL, OPT_DATA_FILE},
        {"json", no_argument, NULL, OPT_JSON},
        {"no-owner-fallback", no_argument, NULL, OPT_NO_OWNER_FALLBACK},
        {},
};

struct tpm_args {
        const char *verb;
        const char *tcti;
        uint32_t ak_handle, handle, nv_index;
        enum dw_tpm_key_type ak_alg, ek_alg;
        uint8_t nonce[64];
        size_t nonce_size;
        bool has_nonce;
        TPML_PCR_SELECTION pcrs;
        const char *attest_out, *signature_out, *pcrs_out;
        bool signature_plain;
        const char *ak_out, *ak_pub_out, *ek_out, *ek_pub_out, *ek_cert_out, *key_out, *key_pub_out;
        const char *credential, *secret_out;
        const char *data_hex, *data_file;
        bool json, no_owner_fallback;
};

static void tpm_help(void)
{
        printf("Usage: driftwatch tpm COMMAND [OPTIONS]\n"
               "\n"
               "The gateway's TPM (tpm2-tss ESAPI). Every command takes --tcti STR (default $DRIFTWATCH_TCTI, else\n"
               "" DW_TPM_TCTI_DEFAULT
               "; e.g. swtpm:host=127.0.0.1,port=2321). Hierarchy auths are the empty password.\n"
               "\n"
               "  enroll [--ek-alg rsa|ecc|ecc384] [--ak-handle H] [--ak-alg ecc|rsa] [--json]\n"
               "         [--ak-out AK.pem] [--ak-pub-out AK.pub] [--ek-out EK.pem] [--ek-pub-out EK.pub]\n"
               "         [--ek-cert-out EK.pem]\n"
               "      Creates the EK (TCG default template), creates or reuses the AK at H (default 0x%08x, a\n"
               "      restricted signing key under the EK), prints the EK certificates (the one of this EK first),\n"
               "      the AK name and public key. *.pub files are marshalled TPM2B_PUBLIC (tpm2-tools \"tss\").\n"
               "  quote --nonce HEX [--pcrs SEL] --attest F --signature F [--pcrs-out F] [--ak-handle H]\n"
               "        [--signature-format tss|plain]\n"
               "      TPM2_Quote (default PCRs " DW_TPM_PCRS_DEFAULT ") and the PCR values it covers, as\n"
               "      tpm2_quote -m -s -o writes them (tpm2_checkquote -u AK.pem -m -s -f -g sha256 -q NONCE).\n"
               "  activate --credential F [--secret-out F] [--ak-handle H] [--ek-alg ALG]\n"
               "      TPM2_ActivateCredential of a tpm2_makecredential file; prints the secret in hex without\n"
               "      --secret-out.\n"
               "  event-key [--handle H] [--ek-alg ALG] [--key-out PEM] [--key-pub-out F] [--json]\n"
               "            [--nonce HEX --attest F --signature F [--ak-handle H] [--signature-format tss|plain]]\n"
               "      Creates or reuses the event-signing key at H (default 0x%08x, ECC P-256, non-restricted,\n"
               "      under the EK); with --nonce, TPM2_Certify of it by the AK.\n"
               "  nv define [--index I] [--no-owner-fallback]\n"
               "  nv extend [--index I] --data HEX | --data-file F\n"
               "  nv read [--index I]\n"
               "  nv certify [--index I] --nonce HEX --attest F --signature F [--ak-handle H]\n"
               "             [--signature-format tss|plain]\n"
               "  nv undefine [--index I]\n"
               "      The NV extend index I (default 0x%08x, SHA-256, orderly, cleared at TPM reset): defined by the\n"
               "      platform hierarchy when it is available (then only the platform can delete it), else by\n"
               "      the owner (the output says so); TPM2_NV_Certify by the AK.\n"
               "\n"
               "Exit status: 0 success, 2 bad input or a TPM error (decoded).\n",
               DW_TPM_AK_HANDLE_DEFAULT, DW_TPM_EVENT_KEY_HANDLE_DEFAULT, DW_TPM_NV_INDEX_DEFAULT);
}

/* ---- Argument parsing --------------------------------------------------------------------------------------- */

static int parse_handle(const char *s, uint32_t *ret)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 0);
        if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

/* Where an option that takes a file name or a string goes; NULL for the others. */
static const char **string_option(struct tpm_args *a, int c)
{
        switch (c) {
        case OPT_TCTI:
                return &a->tcti;
        case OPT_ATTEST:
                return &a->attest_out;
        case OPT_SIGNATURE:
                return &a->signature_out;
        case OPT_PCRS_OUT:
                return &a->pcrs_out;
        case OPT_AK_OUT:
                return &a->ak_out;
        case OPT_AK_PUB_OUT:
                return &a->ak_pub_out;
        case OPT_EK_OUT:
                return &a->ek_out;
        case OPT_EK_PUB_OUT:
                return &a->ek_pub_out;
        case OPT_EK_CERT_OUT:
                return &a->ek_cert_out;
        case OPT_KEY_OUT:
                return &a->key_out;
        case OPT_KEY_PUB_OUT:
                return &a->key_pub_out;
        case OPT_CREDENTIAL:
                return &a->credential;
        case OPT_SECRET_OUT:
                return &a->secret_out;
        case OPT_DATA:
                return &a->data_hex;
        case OPT_DATA_FILE:
                return &a->data_file;
        default:
                return NULL;
        }
}

static uint32_t *handle_option(struct tpm_args *a, int c)
{
        switch (c) {
        case OPT_AK_HANDLE:
                return &a->ak_handle;
        case OPT_HANDLE:
                return &a->handle;
        case OPT_INDEX:
                return &a->nv_index;
        default:
                return NULL;
        }
}

static int parse_option(struct tpm_args *a, int c, const char *arg)
{
        const char **str = string_option(a, c);
        uint32_t *handle = handle_option(a, c);
        struct dw_error err = {};
        int r;

        if (str) {
                *str = arg;
                return 0;
        }
        if (handle) {
                if (parse_handle(arg, handle) < 0)
                        return cli_error("tpm %s: '%s' is not a handle (e.g. 0x81010002)", a->verb, arg);
                return 0;
        }
        switch (c) {
        case OPT_AK_ALG:
        case OPT_EK_ALG:
                if (dw_tpm_key_type_from_name(arg, c == OPT_AK_ALG ? &a->ak_alg : &a->ek_alg) < 0)
                        return cli_error("tpm %s: unknown key algorithm '%s' (rsa, ecc, ecc384)", a->verb, arg);
                return 0;
        case OPT_NONCE:
                r = dw_hex_decode(arg, strlen(arg), a->nonce, sizeof(a->nonce));
                if (r < 0)
                        return cli_error("tpm %s: --nonce: %s", a->verb,
                                         r == -ENOBUFS ? "longer than 64 bytes" : "not an even number of hex digits");
                a->nonce_size = (size_t)r;
                a->has_nonce = true;
                return 0;
        case OPT_PCRS:
                if (dw_tpm_pcr_selection_from_string(arg, &a->pcrs, &err) < 0)
                        return cli_error("tpm %s: %s", a->verb, err.msg);
                return 0;
        case OPT_SIG_FORMAT:
                if (strcmp(arg, "tss") != 0 && strcmp(arg, "plain") != 0)
                        return cli_error("tpm %s: --signature-format is tss or plain", a->verb);
                a->signature_plain = strcmp(arg, "plain") == 0;
                return 0;
        case OPT_JSON:
                a->json = true;
                return 0;
        case OPT_NO_OWNER_FALLBACK:
                a->no_owner_fallback = true;
                return 0;
        default:
                return EXIT_BAD_INPUT;
        }
}

/* Parses argv (argv[0] is the verb) accepting only the options in `allowed`. */
static int parse_args(int argc, char **argv, const char *verb, uint64_t allowed, struct tpm_args *a)
{
        const char *env = getenv("DRIFTWATCH_TCTI");
        int c, r;

        *a = (struct tpm_args){
                .verb = verb,
                .tcti = env && *env ? env : DW_TPM_TCTI_DEFAULT,
                .ak_handle = DW_TPM_AK_HANDLE_DEFAULT,
                .handle = DW_TPM_EVENT_KEY_HANDLE_DEFAULT,
                .nv_index = DW_TPM_NV_INDEX_DEFAULT,
                .ak_alg = DW_TPM_KEY_ECC_P256,
                .ek_alg = DW_TPM_KEY_RSA2048,
        };
        (void)dw_tpm_pcr_selection_from_string(DW_TPM_PCRS_DEFAULT, &a->pcrs, NULL);
        allowed |= OPT_BIT(OPT_TCTI);
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", tpm_options, NULL)) >= 0) {
                if (c == 'h') {
                        tpm_help();
                        exit(0);
                }
                if (c < OPT_TCTI || c >= _OPT_MAX)
                        return EXIT_BAD_INPUT;
                if (!(allowed & OPT_BIT(c)))
                        return cli_error("tpm %s: option %s does not apply (see driftwatch tpm --help)", verb,
                                         argv[optind - 1]);
                r = parse_option(a, c, optarg);
                if (r != 0)
                        return r;
        }
        if (optind != argc)
                return cli_error("tpm %s: unexpected argument '%s'", verb, argv[optind]);
        return 0;
}

/* ---- Output ------------------------------------------------------------------------------------------------- */

static int write_file(const char *path, const void *data, size_t size, mode_t mode)
{
        _cleanup_close_ int fd = -EBADF;
        const uint8_t *p = data;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return cli_error("%s: cannot write: %s", path, strerror(errno));
        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return cli_error("%s: cannot write: %s", path, strerror(errno));
                p += n;
                size -= (size_t)n;
        }
        return 0;
}

static int write_public(const char *path, const TPM2B_PUBLIC *pub)
{
        uint8_t buf[sizeof(TPM2B_PUBLIC)];
        size_t off = 0;

        if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return cli_error("%s: cannot marshal the public area", path);
        return write_file(path, buf, off, 0644);
}

static char *bio_to_string(BIO *bio)
{
        char *data;
        long n = BIO_get_mem_data(bio, &data);

        return n > 0 ? strndup(data, (size_t)n) : NULL;
}

static char *public_pem(const TPM2B_PUBLIC *pub)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *pkey = NULL;
        BIO *bio;
        char *s = NULL;

        if (dw_tpm_public_to_pkey(&pub->publicArea, &pkey) < 0)
                return NULL;
        bio = BIO_new(BIO_s_mem());
        if (bio && PEM_write_bio_PUBKEY(bio, pkey) == 1)
                s = bio_to_string(bio);
        BIO_free(bio);
        return s;
}

static char *cert_pem(const uint8_t *der, size_t size)
{
        _cleanup_(dw_x509_freep) X509 *cert = NULL;
        const unsigned char *p = der;
        BIO *bio;
        char *s = NULL;

        cert = d2i_X509(NULL, &p, (long)size);
        if (!cert)
                return NULL;
        bio = BIO_new(BIO_s_mem());
        if (bio && PEM_write_bio_X509(bio, cert) == 1)
                s = bio_to_string(bio);
        BIO_free(bio);
        return s;
}

static char *hex_of(const uint8_t *data, size_t size)
{
        char *s = malloc(2 * size + 1);

        return s ? dw_hex_encode(data, size, s) : NULL;
}

static int write_pem_file(const char *path, const TPM2B_PUBLIC *pub)
{
        _cleanup_free_ char *pem = public_pem(pub);

        if (!pem)
                return cli_error("%s: cannot convert the TPM public key to PEM", path);
        return write_file(path, pem, strlen(pem), 0644);
}

/* "plain": what openssl dgst -verify takes: DER ECDSA-Sig-Value, or the raw RSA signature. */
static int signature_plain(const TPMT_SIGNATURE *sig, uint8_t **ret, size_t *ret_size)
{
        if (sig->sigAlg == TPM2_ALG_RSASSA || sig->sigAlg == TPM2_ALG_RSAPSS) {
                const TPM2B_PUBLIC_KEY_RSA *s = &sig->signature.rsassa.sig;

                *ret = malloc(s->size ? s->size : 1);
                if (!*ret)
                        return -ENOMEM;
                memcpy(*ret, s->buffer, s->size);
                *ret_size = s->size;
                return 0;
        }
        if (sig->sigAlg == TPM2_ALG_ECDSA) {
                const TPMS_SIGNATURE_ECC *e = &sig->signature.ecdsa;
                ECDSA_SIG *esig = ECDSA_SIG_new();
                BIGNUM *r = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
                BIGNUM *s = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
                unsigned char *der = NULL;
                int n = -1;

                if (esig && r && s && ECDSA_SIG_set0(esig, r, s) == 1) {
                        r = s = NULL;
                        n = i2d_ECDSA_SIG(esig, &der);
                }
                BN_free(r);
                BN_free(s);
                ECDSA_SIG_free(esig);
                if (n <= 0)
                        return -ENOMEM;
                *ret = malloc((size_t)n);
                if (*ret)
                        memcpy(*ret, der, (size_t)n);
                OPENSSL_free(der);
                *ret_size = (size_t)n;
                return *ret ? 0 : -ENOMEM;
        }
        return -EOPNOTSUPP;
}

static int write_signature(const char *path, const TPMT_SIGNATURE *sig, bool plain)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0;

        if (plain) {
                if (signature_plain(sig, &buf, &size) < 0)
                        return cli_error("%s: cannot write a signature of scheme 0x%04x as plain", path, sig->sigAlg);
        } else {
                buf = malloc(sizeof(*sig));
                if (!buf || Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof(*sig), &size) != TSS2_RC_SUCCESS)
                        return cli_error("%s: cannot marshal the signature", path);
        }
        return write_file(path, buf, size, 0644);
}

static int write_signed_attest(const struct tpm_args *a, const struct dw_tpm_signed_attest *att)
{
        int r;

        r = write_file(a->attest_out, att->attest.attestationData, att->attest.size, 0644);
        if (r != 0)
                return r;
        return write_signature(a->signature_out, &att->signature, a->signature_plain);
}

static int tpm_fail(const char *verb, const struct dw_error *err)
{
        return cli_error("tpm %s: %s", verb, err->msg);
}

static int open_tpm(const struct tpm_args *a, struct dw_tpm **ret)
{
        struct dw_error err = {};

        if (dw_tpm_open(a->tcti, ret, &err) < 0)
                return tpm_fail(a->verb, &err);
        return 0;
}

static json_t *key_json(const struct dw_tpm_key *key, const char *pem)
{
        json_t *j = json_object();

        if (key->handle != 0) {
                char h[11];

                snprintf(h, sizeof(h), "0x%08x", key->handle);
                json_object_set_new(j, "handle", json_string(h));
                json_object_set_new(j, "created", json_boolean(key->created));
        }
        json_object_set_new(j, "type", json_string(dw_tpm_key_type_name(key->type)));
        json_object_set_new(j, "name", cli_json_hex(key->name.name, key->name.size));
        json_object_set_new(j, "qualified_name", cli_json_hex(key->qualified_name.name, key->qualified_name.size));
        json_object_set_new(j, "public_pem", pem ? json_string(pem) : json_null());
        return j;
}

static void key_print(const char *what, const struct dw_tpm_key *key, const char *pem)
{
        _cleanup_free_ char *name = hex_of(key->name.name, key->name.size);

        if (key->handle != 0)
                printf("%s-handle: 0x%08x (%s)\n", what, key->handle, key->created ? "created" : "existing");
        printf("%s-type: %s\n", what, dw_tpm_key_type_name(key->type));
        printf("%s-name: %s\n", what, name ?: "");
        printf("%s-public:\n%s", what, pem ?: "");
}

/* ---- enroll ------------------------------------------------------------------------------------------------- */

struct enroll_state {
        struct dw_tpm_ek_cert *certs;
        size_t n_certs;
        int *matches;
        struct dw_tpm_key ek, ak;
};

static void enroll_state_done(struct enroll_state *s)
{
        dw_tpm_ek_certs_free(s->certs, s->n_certs);
        free(s->matches);
}

static int enroll_outputs(const struct tpm_args *a, const struct enroll_state *s)
{
        int r = 0;

        if (a->ak_out)
                r = write_pem_file(a->ak_out, &s->ak.public);
        if (r == 0 && a->ak_pub_out)
                r = write_public(a->ak_pub_out, &s->ak.public);
        if (r == 0 && a->ek_out)
                r = write_pem_file(a->ek_out, &s->ek.public);
        if (r == 0 && a->ek_pub_out)
                r = write_public(a->ek_pub_out, &s->ek.public);
        if (r == 0 && a->ek_cert_out) {
                for (size_t i = 0; i < s->n_certs; i++)
                        if (s->matches[i] > 0) {
                                _cleanup_free_ char *pem = cert_pem(s->certs[i].der, s->certs[i].der_size);

                                if (!pem)
                                        return cli_error("%s: cannot convert the EK certificate", a->ek_cert_out);
                                return write_file(a->ek_cert_out, pem, strlen(pem), 0644);
                        }
                return cli_error("tpm enroll: no EK certificate in NV carries the key of the %s EK",
                                 dw_tpm_key_type_name(a->ek_alg));
        }
        return r;
}

static int enroll_print_json(const struct enroll_state *s, const char *ek_pem, const char *ak_pem)
{
        _cleanup_(json_decrefp) json_t *out = json_object();
        json_t *ek = key_json(&s->ek, ek_pem), *certs = json_array();

        for (size_t i = 0; i < s->n_certs; i++) {
                _cleanup_free_ char *pem = cert_pem(s->certs[i].der, s->certs[i].der_size);
                json_t *c = json_object();
                char idx[11];

                snprintf(idx, sizeof(idx), "0x%08x", s->certs[i].nv_index);
                json_object_set_new(c, "nv_index", json_string(idx));
                json_object_set_new(c, "label", json_string(s->certs[i].label));
                json_object_set_new(c, "high_range", json_boolean(s->certs[i].high_range));
                json_object_set_new(c, "matches_ek", json_boolean(s->matches[i] > 0));
                json_object_set_new(c, "pem", pem ? json_string(pem) : json_null());
                json_array_append_new(certs, c);
        }
        json_object_set_new(ek, "certificates", certs);
        json_object_set_new(out, "ek", ek);
        json_object_set_new(out, "ak", key_json(&s->ak, ak_pem));
        return cli_json_print(out);
}

/* The certificate of this EK first: openssl verify and x509 read the first one of a file. */
static void enroll_print_certs(const struct enroll_state *s)
{
        for (int pass = 1; pass >= 0; pass--)
                for (size_t i = 0; i < s->n_certs; i++) {
                        _cleanup_free_ char *pem = NULL;

                        if ((s->matches[i] > 0) != pass)
                                continue;
                        pem = cert_pem(s->certs[i].der, s->certs[i].der_size);
                        printf("ek-certificate: 0x%08x %s%s%s\n%s", s->certs[i].nv_index, s->certs[i].label,
                               s->certs[i].high_range ? " (high range)" : "", pass ? " (this EK)" : "",
                               pem ?: "(not a DER X.509 certificate)\n");
                }
}

static int tpm_enroll(int argc, char **argv)
{
        const uint64_t allowed = OPT_BIT(OPT_EK_ALG) | OPT_BIT(OPT_AK_HANDLE) | OPT_BIT(OPT_AK_ALG) |
                                 OPT_BIT(OPT_AK_OUT) | OPT_BIT(OPT_AK_PUB_OUT) | OPT_BIT(OPT_EK_OUT) |
                                 OPT_BIT(OPT_EK_PUB_OUT) | OPT_BIT(OPT_EK_CERT_OUT) | OPT_BIT(OPT_JSON);
        _cleanup_(enroll_state_done) struct enroll_state s = {};
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_free_ char *ek_pem = NULL, *ak_pem = NULL;
        struct dw_error err = {};
        struct tpm_args a;
        bool any = false;
        int r;

        r = parse_args(argc, argv, "enroll", allowed, &a);
        if (r != 0)
                return r;
        r = open_tpm(&a, &t);
        if (r != 0)
                return r;
        if (dw_tpm_ek_certs_read(t, &s.certs, &s.n_certs, &err) < 0)
                return tpm_fail("enroll", &err);
        if (dw_tpm_ek_create(t, a.ek_alg, &s.ek, &err) < 0)
                return tpm_fail("enroll", &err);
        s.matches = calloc(s.n_certs + 1, sizeof(int));
        if (!s.matches)
                return cli_error("out of memory");
        for (size_t i = 0; i < s.n_certs; i++) {
                s.matches[i] = dw_tpm_ek_cert_matches(s.certs[i].der, s.certs[i].der_size, &s.ek, NULL);
                any = any || s.matches[i] > 0;
        }
        if (!any)
                fprintf(stderr,
                        "driftwatch: tpm enroll: warning: no EK certificate in NV carries the key of the %s "
                        "EK\n",
                        dw_tpm_key_type_name(a.ek_alg));
        if (dw_tpm_ak_ensure(t, a.ak_handle, a.ak_alg, a.ek_alg, &s.ak, &err) < 0)
                return tpm_fail("enroll", &err);
        r = enroll_outputs(&a, &s);
        if (r != 0)
                return r;
        ek_pem = public_pem(&s.ek.public);
        ak_pem = public_pem(&s.ak.public);
        if (a.json)
                return enroll_print_json(&s, ek_pem, ak_pem);
        enroll_print_certs(&s);
        key_print("ek", &s.ek, ek_pem);
        key_print("ak", &s.ak, ak_pem);
        return 0;
}

/* ---- quote -------------------------------------------------------------------------------------------------- */

static int require(const struct tpm_args *a, bool ok, const char *what)
{
        if (!ok)
                return cli_error("tpm %s: %s is required (see driftwatch tpm --help)", a->verb, what);
        return 0;
}

static int tpm_quote(int argc, char **argv)
{
        const uint64_t allowed = OPT_BIT(OPT_NONCE) | OPT_BIT(OPT_PCRS) | OPT_BIT(OPT_ATTEST) | OPT_BIT(OPT_SIGNATURE) |
                                 OPT_BIT(OPT_SIG_FORMAT) | OPT_BIT(OPT_PCRS_OUT) | OPT_BIT(OPT_AK_HANDLE);
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_free_ struct dw_tpm_pcrs *pcrs = NULL;
        _cleanup_free_ uint8_t *file = NULL;
        struct dw_tpm_signed_attest quote;
        struct dw_error err = {};
        struct tpm_args a;
        size_t size;
        int r;

        r = parse_args(argc, argv, "quote", allowed, &a);
        if (r != 0)
                return r;
        r = require(&a, a.has_nonce, "--nonce");
        if (r == 0)
                r = require(&a, a.attest_out && a.signature_out, "--attest and --signature");
        if (r != 0)
                return r;
        pcrs = malloc(sizeof(*pcrs));
        if (!pcrs)
                return cli_error("out of memory");
        r = open_tpm(&a, &t);
        if (r != 0)
                return r;
        if (dw_tpm_quote_pcrs(t, a.ak_handle, a.nonce, a.nonce_size, &a.pcrs, &quote, pcrs, &err) < 0)
                return tpm_fail("quote", &err);
        r = write_signed_attest(&a, &quote);
        if (r != 0 || !a.pcrs_out)
                return r;
        if (dw_tpm_pcrs_file_write(pcrs, &file, &size) < 0)
                return cli_error("tpm quote: cannot build the PCR file");
        return write_file(a.pcrs_out, file, size, 0644);
}

/* ---- activate ----------------------------------------------------------------------------------------------- */

static int tpm_activate(int argc, char **argv)
{
        const uint64_t allowed =
                OPT_BIT(OPT_CREDENTIAL) | OPT_BIT(OPT_SECRET_OUT) | OPT_BIT(OPT_AK_HANDLE) | OPT_BIT(OPT_EK_ALG);
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_free_ uint8_t *file = NULL;
        _cleanup_free_ char *hex = NULL;
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET seed;
        TPM2B_DIGEST secret;
        struct dw_error err = {};
        struct tpm_args a;
        size_t size;
        int r;

        r = parse_args(argc, argv, "activate", allowed, &a);
        if (r != 0)
                return r;
        r = require(&a, a.credential, "--credential");
        if (r != 0)
                return r;
        r = cli_read_file(a.credential, &file, &size);
        if (r != 0)
                return r;
        if (dw_tpm_credential_file_parse(file, size, &blob, &seed, &err) < 0)
                return cli_error("%s: %s", a.credential, err.msg);
        r = open_tpm(&a, &t);
        if (r != 0)
                return r;
        if (dw_tpm_activate_credential(t, a.ak_handle, a.ek_alg, &blob, &seed, &secret, &err) < 0)
                return tpm_fail("activate", &err);
        if (a.secret_out)
                return write_file(a.secret_out, secret.buffer, secret.size, 0600);
        hex = hex_of(secret.buffer, secret.size);
        printf("%s\n", hex ?: "");
        return 0;
}

/* ---- event-key ---------------------------------------------------------------------------------------------- */

static int tpm_event_key(int argc, char **argv)
{
        const uint64_t allowed = OPT_BIT(OPT_HANDLE) | OPT_BIT(OPT_EK_ALG) | OPT_BIT(OPT_KEY_OUT) |
                                 OPT_BIT(OPT_KEY_PUB_OUT) | OPT_BIT(OPT_JSON) | OPT_BIT(OPT_NONCE) |
                                 OPT_BIT(OPT_ATTEST) | OPT_BIT(OPT_SIGNATURE) | OPT_BIT(OPT_AK_HANDLE) |
                                 OPT_BIT(OPT_SIG_FORMAT);
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_free_ char *pem = NULL;
        struct dw_tpm_signed_attest cert;
        struct dw_tpm_key key;
        struct dw_error err = {};
        struct tpm_args a;
        int r;

        r = parse_args(argc, argv, "event-key", allowed, &a);
        if (r != 0)
                return r;
        if (a.has_nonce || a.attest_out || a.signature_out)
                r = require(&a, a.has_nonce && a.attest_out && a.signature_out,
                            "with one of them, all of --nonce, --attest and --signature");
        if (r != 0)
                return r;
        r = open_tpm(&a, &t);
        if (r != 0)
                return r;
        if (dw_tpm_event_key_ensure(t, a.handle, a.ek_alg, &key, &err) < 0)
                return tpm_fail("event-key", &err);
        if (a.has_nonce) {
                if (dw_tpm_certify(t, a.handle, a.ak_handle, a.nonce, a.nonce_size, &cert, &err) < 0)
                        return tpm_fail("event-key", &err);
                r = write_signed_attest(&a, &cert);
        }
        if (r == 0 && a.key_out)
                r = write_pem_file(a.key_out, &key.public);
        if (r == 0 && a.key_pub_out)
                r = write_public(a.key_pub_out, &key.public);
        if (r != 0)
                return r;
        pem = public_pem(&key.public);
        if (a.json) {
                _cleanup_(json_decrefp) json_t *out = key_json(&key, pem);

                return cli_json_print(out);
        }
        key_print("event-key", &key, pem);
        return 0;
}

/* ---- nv ----------------------------------------------------------------------------------------------------- */

static int nv_define(int argc, char **argv)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        struct dw_tpm_nv_extend_info info;
        struct dw_error err = {};
        struct tpm_args a;
        int r;

        r = parse_args(argc, argv, "nv define", OPT_BIT(OPT_INDEX) | OPT_BIT(OPT_NO_OWNER_FALLBACK), &a);
        if (r != 0)
                return r;
        r = open_tpm(&a, &t);
        if (r != 0)
                return r;
        if (dw_tpm_nv_extend_define(t, a.nv_index, !a.no_owner_fallback, &info, &err) < 0)
                return tpm_fail("nv define", &err);
        printf("nv-index: 0x%08x (%s)\n", info.nv_index, info.created ? "created" : "existing");
        if (info.platform_created) {
                printf("hierarchy: platform (deletable only with platform authorisation and policy)\n");
                return 0;
        }
        printf("hierarchy: owner (the owner can delete it)\n");
        if (info.created)
                fprintf(stderr,
                        "driftwatch: tpm nv define: warning: platform hierarchy unavailable (%s); defined NV index "
                        "0x%08x as an owner index instead\n",
                        info.owner_reason, info.nv_index);
        return 0;
}

static int nv_extend(int argc, char **argv)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_error err = {};
        struct tpm_args a;
        size_t size;
        int r;

        r = parse_args(argc, argv, "nv extend", OPT_BIT(OPT_INDEX) | OPT_BIT(OPT_DATA) | OPT_BIT(OPT_DATA_FILE), &a);
        if (r != 0)
                return r;
        r = require(&a, !a.data_hex != !a.data_file, "exactly one of --data and --data-file");
        if (r != 0)
                return r;
        if (a.data_file) {
                r = cli_read_file(a.data_file, &data, &size);
                if (r != 0)
                        return r;
        } else {
                size = strlen(a.data_hex) / 2;
                data = malloc(size + 1);
                if (!data)
                        return cli_error("out of memory");
                if (dw_hex_decode(a.data_hex, strlen(a.data_hex), data, size + 1) < 0)
                        return cli_error("tpm nv extend: --data is not hex");
        }
        r = open_tpm(&a, &t);
        if (r != 0)
                return r;
        if (dw_tpm_nv_extend(t, a.nv_index, data, size, &err) < 0)
                return tpm_fail("nv extend", &err);
        return 0;
}

static int nv_read(int argc, char **argv)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        struct dw_error err = {};
        struct tpm_args a;
        uint8_t value[32];
        char hex[65];
        int r;

        r = parse_args(argc, argv, "nv read", OPT_BIT(OPT_INDEX), &a);
        if (r != 0)
                return r;
        r = open_tpm(&a, &t);
        if (r != 0)
                return r;
        if (dw_tpm_nv_extend_read(t, a.nv_index, value, &err) < 0)
                return tpm_fail("nv read", &err);
        printf("%s\n", dw_hex_encode(value, sizeof(value), hex));
        return 0;
}

static int nv_certify(int argc, char **argv)
{
        const uint64_t allowed = OPT_BIT(OPT_INDEX) | OPT_BIT(OPT_NONCE) | OPT_BIT(OPT_ATTEST) |
                                 OPT_BIT(OPT_SIGNATURE) | OPT_BIT(OPT_SIG_FORMAT) | OPT_BIT(OPT_AK_HANDLE);
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        struct dw_tpm_signed_attest cert;
        struct dw_error err = {};
        struct tpm_args a;
        int r;

        r = parse_args(argc, argv, "nv certify", allowed, &a);
        if (r != 0)
                return r;
        r = require(&a, a.has_nonce && a.attest_out && a.signature_out, "--nonce, --attest and --signature");
        if (r != 0)
                return r;
        r = open_tpm(&a, &t);
        if (r != 0)
                return r;
        if (dw_tpm_nv_extend_certify(t, a.nv_index, a.ak_handle, a.nonce, a.nonce_size, &cert, &err) < 0)
                return tpm_fail("nv certify", &err);
        return write_signed_attest(&a, &cert);
}

static int nv_undefine(int argc, char **argv)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        struct dw_error err = {};
        struct tpm_args a;
        int r;

        r = parse_args(argc, argv, "nv undefine", OPT_BIT(OPT_INDEX), &a);
        if (r != 0)
                return r;
        r = open_tpm(&a, &t);
        if (r != 0)
                return r;
        if (dw_tpm_nv_extend_undefine(t, a.nv_index, &err) < 0)
                return tpm_fail("nv undefine", &err);
        return 0;
}

static int tpm_nv(int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(int argc, char **argv);
        } verbs[] = {
                {"define", nv_define},   {"extend", nv_extend},     {"read", nv_read},
                {"certify", nv_certify}, {"undefine", nv_undefine},
        };

        if (argc < 2)
                return cli_error("tpm nv: expected define, extend, read, certify or undefine");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return verbs[i].run(argc - 1, argv + 1);
        return cli_error("tpm nv: unknown command '%s' (define, extend, read, certify, undefine)", argv[1]);
}

int cli_tpm_main(int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(int argc, char **argv);
        } verbs[] = {
                {"enroll", tpm_enroll},       {"quote", tpm_quote}, {"activate", tpm_activate},
                {"event-key", tpm_event_key}, {"nv", tpm_nv},
        };

        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                tpm_help();
                return argc < 2 ? EXIT_BAD_INPUT : 0;
        }
        /* tpm2-tss logs its own errors to stderr; ours say the same, decoded, in one line. */
        setenv("TSS2_LOG", "all+none", 0);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return verbs[i].run(argc - 1, argv + 1);
        return cli_error("tpm: unknown command '%s' (enroll, quote, activate, event-key, nv)", argv[1]);
}
