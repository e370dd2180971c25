/* SPDX-License-Identifier: MIT */
/* driftwatch quote verify|ekcert|makecredential: the verifier's side of TPM attestation, through lib/tpm-quote.h,
 * lib/ek-cert.h and lib/tpm-credential.h. Input files are in tpm2-tools' formats (tpm2_quote -m/-s/-o,
 * tpm2_createak -u, tpm2_nvread of an EK certificate), and makecredential writes what tpm2_activatecredential
 * reads. */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ek-cert.h"
#include "fileio.h"
#include "hex.h"
#include "tpm-credential.h"
#include "tpm-marshal.h"
#include "tpm-quote.h"

enum {
        OPT_AK = 0x100,
        OPT_NONCE,
        OPT_ATTEST,
        OPT_SIGNATURE,
        OPT_PCRS,
        OPT_JSON,
        OPT_CA,
        OPT_CRL,
        OPT_EK,
        OPT_NAME,
        OPT_SECRET,
        OPT_OUTPUT,
};

static const struct option quote_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"ak", required_argument, NULL, OPT_AK},
        {"nonce", required_argument, NULL, OPT_NONCE},
        {"attest", required_argument, NULL, OPT_ATTEST},
        {"signature", required_argument, NULL, OPT_SIGNATURE},
        {"pcrs", required_argument, NULL, OPT_PCRS},
        {"json", no_argument, NULL, OPT_JSON},
        {"ca", required_argument, NULL, OPT_CA},
        {"crl", required_argument, NULL, OPT_CRL},
        {"ek", required_argument, NULL, OPT_EK},
        {"name", required_argument, NULL, OPT_NAME},
        {"secret", required_argument, NULL, OPT_SECRET},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {},
};

struct quote_args {
        const char *ak, *nonce, *attest, *signature, *pcrs, *ca, *crl, *ek, *name, *secret, *output;
        const char *positional;
        bool json;
};

static void quote_help(void)
{
        printf("Usage: driftwatch quote verify --ak AK --nonce HEX --attest FILE --signature FILE [--pcrs FILE]\n"
               "                              [--json]\n"
               "       driftwatch quote ekcert --ca BUNDLE [--crl FILE] [--ek EK] [--json] CERT\n"
               "       driftwatch quote makecredential --ek EK (--ak AK | --name HEX) --secret FILE --output FILE\n"
               "\n"
               "verify checks a TPM2_Quote: the AK's signature over the attestation, TPM_GENERATED_VALUE, the\n"
               "quote type, extraData == the nonce issued, and with --pcrs that the claimed PCR values hash to\n"
               "the quoted digest (without --pcrs the PCR digest is unchecked, and the output says so). FILEs are\n"
               "what 'tpm2_quote -m ATTEST -s SIG -o PCRS' writes (marshalled TPMS_ATTEST, TPMT_SIGNATURE, the\n"
               "serialized PCR file). AK is a PEM/DER public key or the marshalled TPM2B_PUBLIC of tpm2_createak -u\n"
               "(then it must be a restricted signing key).\n"
               "\n"
               "ekcert validates an EK certificate (PEM, or DER as read from the TPM's NV) against a PEM bundle of\n"
               "root and intermediate CAs and optional PEM CRLs; with --ek (TPM2B_PUBLIC) its key must be the EK's.\n"
               "\n"
               "makecredential wraps the SECRET (at most the EK name algorithm's digest size) for the EK (a\n"
               "TPM2B_PUBLIC, or a PEM public key or EK certificate with the default EK template) and the Name of\n"
               "the AK (its TPM2B_PUBLIC, or --name in hex), in the file tpm2_activatecredential -i reads.\n"
               "\n"
               "Exit status: 0 valid (or done), 1 invalid (the reason on stderr, one line), 2 bad input.\n");
}

static int parse_args(int argc, char **argv, struct quote_args *a)
{
        int c;

        *a = (struct quote_args){};
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", quote_options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        quote_help();
                        exit(0);
                case OPT_AK:
                        a->ak = optarg;
                        break;
                case OPT_NONCE:
                        a->nonce = optarg;
                        break;
                case OPT_ATTEST:
                        a->attest = optarg;
                        break;
                case OPT_SIGNATURE:
                        a->signature = optarg;
                        break;
                case OPT_PCRS:
                        a->pcrs = optarg;
                        break;
                case OPT_JSON:
                        a->json = true;
                        break;
                case OPT_CA:
                        a->ca = optarg;
                        break;
                case OPT_CRL:
                        a->crl = optarg;
                        break;
                case OPT_EK:
                        a->ek = optarg;
                        break;
                case OPT_NAME:
                        a->name = optarg;
                        break;
                case OPT_SECRET:
                        a->secret = optarg;
                        break;
                case OPT_OUTPUT:
                        a->output = optarg;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        }
        if (optind < argc)
                a->positional = argv[optind++];
        if (optind < argc)
                return cli_error("quote %s: unexpected argument '%s'", argv[0], argv[optind]);
        return 0;
}

static int file_error(const char *path, const struct dw_error *err)
{
        return cli_error("%s: at byte offset %zu: %s", path, err->offset, err->msg);
}

/* Hex with an optional 0x, at most out_size bytes. */
static int parse_hex_arg(const char *what, const char *s, uint8_t *out, size_t out_size, size_t *ret_size)
{
        int n;

        if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)
                s += 2;
        n = dw_hex_decode(s, strlen(s), out, out_size);
        if (n == -ENOBUFS)
                return cli_error("%s: longer than %zu bytes", what, out_size);
        if (n < 0)
                return cli_error("%s: '%s' is not hex", what, s);
        if (n == 0)
                return cli_error("%s: empty", what);
        *ret_size = (size_t)n;
        return 0;
}

static int load_key(const char *path, EVP_PKEY **ret_pkey, TPMT_PUBLIC *ret_public, bool *ret_has_public)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        size_t size;
        int r;

        r = cli_read_file(path, &buf, &size);
        if (r != 0)
                return r;
        if (dw_tpm_key_load(buf, size, ret_pkey, ret_public, ret_has_public, &err) < 0)
                return cli_error("%s: %s", path, err.msg);
        return 0;
}

/* ---- verify ------------------------------------------------------------------------------------------------ */

struct evidence_files {
        uint8_t *attest, *sig, *pcrs_file;
        size_t attest_size, sig_size, pcrs_size;
        struct dw_tpm_pcrs *pcrs;
};

static void evidence_files_done(struct evidence_files *f)
{
        free(f->attest);
        free(f->sig);
        free(f->pcrs_file);
        free(f->pcrs);
}

static int load_evidence(const struct quote_args *a, struct evidence_files *f)
{
        _cleanup_free_ TPMS_ATTEST *attest = calloc(1, sizeof(*attest));
        struct dw_error err = {};
        TPMT_SIGNATURE sig;
        int r;

        if (!attest)
                return cli_error("out of memory");
        r = cli_read_file(a->attest, &f->attest, &f->attest_size);
        if (r == 0)
                r = cli_read_file(a->signature, &f->sig, &f->sig_size);
        if (r == 0 && a->pcrs)
                r = cli_read_file(a->pcrs, &f->pcrs_file, &f->pcrs_size);
        if (r != 0)
                return r;
        /* Parsed here as well, so that an error names its file. */
        if (dw_tpm_attest_parse(f->attest, f->attest_size, attest, &err) < 0)
                return file_error(a->attest, &err);
        if (dw_tpm_signature_parse(f->sig, f->sig_size, &sig, &err) < 0)
                return file_error(a->signature, &err);
        if (!a->pcrs)
                return 0;
        f->pcrs = malloc(sizeof(*f->pcrs));
        if (!f->pcrs)
                return cli_error("out of memory");
        if (dw_tpm_pcrs_file_parse(f->pcrs_file, f->pcrs_size, f->pcrs, &err) < 0)
                return file_error(a->pcrs, &err);
        return 0;
}

static json_t *clock_json(const struct dw_tpm_clock *c)
{
        json_t *j = json_object();

        json_object_set_new(j, "clock", json_integer((json_int_t)c->clock));
        json_object_set_new(j, "reset_count", json_integer(c->reset_count));
        json_object_set_new(j, "restart_count", json_integer(c->restart_count));
        json_object_set_new(j, "safe", json_boolean(c->safe));
        return j;
}

static json_t *pcrs_json(const struct dw_tpm_pcrs *pcrs)
{
        json_t *j = json_object();

        for (size_t i = 0; i < pcrs->n_values; i++) {
                const struct dw_tpm_pcr_value *v = &pcrs->values[i];
                enum dw_hash_alg alg;
                json_t *bank;
                char key[4];

                if (dw_hash_alg_from_tpm_id(v->hash_alg, &alg) < 0)
                        continue;
                bank = json_object_get(j, dw_hash_alg_name(alg));
                if (!bank) {
                        bank = json_object();
                        json_object_set_new(j, dw_hash_alg_name(alg), bank);
                }
                snprintf(key, sizeof(key), "%u", v->pcr);
                json_object_set_new(bank, key, cli_json_hex(v->digest, v->size));
        }
        return j;
}

static int verify_print_json(const struct dw_attest_result *res, const TPMS_ATTEST *at, const struct dw_tpm_pcrs *pcrs)
{
        _cleanup_(json_decrefp) json_t *j = json_object();
        const TPMS_QUOTE_INFO *q = &at->attested.quote;
        char sel[256], fw[17];

        json_object_set_new(j, "valid", json_boolean(res->valid));
        json_object_set_new(j, "reason", json_string(dw_attest_reason_name(res->reason)));
        json_object_set_new(j, "message", json_string(res->msg));
        json_object_set_new(j, "pcr_digest_checked", json_boolean(res->pcrs_checked));
        json_object_set_new(j, "qualified_signer", cli_json_hex(at->qualifiedSigner.name, at->qualifiedSigner.size));
        json_object_set_new(j, "extra_data", cli_json_hex(at->extraData.buffer, at->extraData.size));
        json_object_set_new(j, "clock", clock_json(&res->clock));
        snprintf(fw, sizeof(fw), "%016" PRIx64, (uint64_t)at->firmwareVersion);
        json_object_set_new(j, "firmware_version", json_string(fw));
        if (at->type == TPM2_ST_ATTEST_QUOTE) {
                json_object_set_new(j, "pcr_selection",
                                    json_string(dw_tpm_pcr_selection_format(&q->pcrSelect, sel, sizeof(sel))));
                json_object_set_new(j, "pcr_digest", cli_json_hex(q->pcrDigest.buffer, q->pcrDigest.size));
        }
        if (pcrs)
                json_object_set_new(j, "pcrs", pcrs_json(pcrs));
        return cli_json_print(j);
}

static int quote_verify(int argc, char **argv)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *ak = NULL;
        _cleanup_free_ TPMS_ATTEST *attest = calloc(1, sizeof(*attest));
        _cleanup_free_ TPMT_PUBLIC *ak_public = calloc(1, sizeof(*ak_public));
        struct evidence_files f = {};
        struct dw_attest_result res = {};
        struct dw_error err = {};
        struct quote_args a;
        uint8_t nonce[sizeof(((TPM2B_DATA *)0)->buffer)];
        size_t nonce_size = 0;
        bool has_public = false;
        int r;

        if (!attest || !ak_public)
                return cli_error("out of memory");
        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r;
        if (!a.ak || !a.nonce || !a.attest || !a.signature || a.positional)
                return cli_error("quote verify: needs --ak, --nonce, --attest and --signature (see --help)");
        r = parse_hex_arg("--nonce", a.nonce, nonce, sizeof(nonce), &nonce_size);
        if (r == 0)
                r = load_key(a.ak, &ak, ak_public, &has_public);
        if (r == 0)
                r = load_evidence(&a, &f);
        if (r == 0) {
                struct dw_attest_expect e = {
                        .ak = ak,
                        .ak_public = has_public ? ak_public : NULL,
                        .nonce = nonce,
                        .nonce_size = nonce_size,
                };
                struct dw_attest_evidence ev = {f.attest, f.attest_size, f.sig, f.sig_size};

                if (dw_tpm_quote_verify(&e, &ev, f.pcrs, &res, attest, &err) < 0)
                        r = cli_error("quote verify: %s", err.msg);
        }
        if (r == 0 && a.json)
                r = verify_print_json(&res, attest, f.pcrs);
        else if (r == 0 && res.valid)
                printf("%s\n", res.msg);
        if (r == 0 && !res.valid) {
                fprintf(stderr, "driftwatch: quote invalid (%s): %s\n", dw_attest_reason_name(res.reason), res.msg);
                r = EXIT_NEGATIVE;
        }
        evidence_files_done(&f);
        return r;
}

/* ---- ekcert ------------------------------------------------------------------------------------------------ */

static int load_public_file(const char *path, TPMT_PUBLIC *ret)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        size_t size;
        int r;

        r = cli_read_file(path, &buf, &size);
        if (r != 0)
                return r;
        if (dw_tpm_public_parse(buf, size, ret, &err) < 0)
                return file_error(path, &err);
        return 0;
}

static int load_trust(const struct quote_args *a, struct dw_ek_trust **ret)
{
        _cleanup_free_ uint8_t *ca = NULL, *crl = NULL;
        struct dw_error err = {};
        size_t ca_size, crl_size = 0;
        int r;

        r = cli_read_file(a->ca, &ca, &ca_size);
        if (r == 0 && a->crl)
                r = cli_read_file(a->crl, &crl, &crl_size);
        if (r != 0)
                return r;
        if (dw_ek_trust_new(ca, ca_size, crl, crl_size, ret, &err) < 0)
                return cli_error("%s%s%s: %s", a->ca, a->crl ? " / " : "", a->crl ?: "", err.msg);
        return 0;
}

static int quote_ekcert(int argc, char **argv)
{
        _cleanup_(dw_ek_trust_freep) struct dw_ek_trust *t = NULL;
        _cleanup_(dw_x509_freep) X509 *cert = NULL;
        _cleanup_free_ TPMT_PUBLIC *ek = calloc(1, sizeof(*ek));
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_ek_cert_result res;
        struct dw_error err = {};
        struct quote_args a;
        size_t size;
        int r;

        if (!ek)
                return cli_error("out of memory");
        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r;
        if (!a.ca || !a.positional)
                return cli_error("quote ekcert: needs --ca BUNDLE and a certificate (see --help)");
        r = load_trust(&a, &t);
        if (r == 0)
                r = cli_read_file(a.positional, &buf, &size);
        if (r == 0 && dw_ek_cert_parse(buf, size, &cert, &err) < 0)
                r = file_error(a.positional, &err);
        if (r == 0 && a.ek)
                r = load_public_file(a.ek, ek);
        if (r != 0)
                return r;
        if (dw_ek_cert_verify(t, cert, 0, a.ek ? ek : NULL, &res) < 0)
                return cli_error("out of memory");
        if (a.json) {
                _cleanup_(json_decrefp) json_t *j = json_object();

                json_object_set_new(j, "valid", json_boolean(res.valid));
                json_object_set_new(j, "reason", json_string(dw_ek_cert_reason_name(res.reason)));
                json_object_set_new(j, "message", json_string(res.msg));
                json_object_set_new(j, "depth", json_integer(res.depth));
                json_object_set_new(j, "ek_eku", json_boolean(res.ek_eku));
                json_object_set_new(j, "tpm_manufacturer", json_string(res.tpm.manufacturer));
                json_object_set_new(j, "tpm_model", json_string(res.tpm.model));
                json_object_set_new(j, "tpm_version", json_string(res.tpm.version));
                r = cli_json_print(j);
                if (r != 0)
                        return r;
        } else if (res.valid)
                printf("%s\n", res.msg);
        if (!res.valid) {
                fprintf(stderr, "driftwatch: EK certificate invalid (%s): %s\n", dw_ek_cert_reason_name(res.reason),
                        res.msg);
                return EXIT_NEGATIVE;
        }
        return 0;
}

/* ---- makecredential ---------------------------------------------------------------------------------------- */

/* The EK as a TPM public area: a TPM2B_PUBLIC as is, a PEM/DER key or certificate with the default template. */
static int load_ek(const char *path, TPMT_PUBLIC *ret)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *pkey = NULL;
        bool has_public = false;
        int r;

        r = load_key(path, &pkey, ret, &has_public);
        if (r != 0 || has_public)
                return r;
        r = dw_tpm_public_from_ek_pkey(pkey, ret);
        if (r < 0)
                return cli_error("%s: not an RSA or NIST P-256/384/521 key", path);
        return 0;
}

static int object_name(const struct quote_args *a, TPM2B_NAME *ret)
{
        TPMT_PUBLIC pub;
        size_t size;
        int r;

        if (a->name) {
                r = parse_hex_arg("--name", a->name, ret->name, sizeof(ret->name), &size);
                if (r != 0)
                        return r;
                ret->size = (UINT16)size;
                if (size < 2 || dw_tpm_hash_size((uint16_t)(ret->name[0] << 8 | ret->name[1])) != size - 2)
                        return cli_error("--name: not a Name (hash algorithm id and digest)");
                return 0;
        }
        r = load_public_file(a->ak, &pub);
        if (r != 0)
                return r;
        if (dw_tpm_public_name(&pub, ret) < 0)
                return cli_error("%s: cannot compute its Name (unknown name algorithm)", a->ak);
        return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t size)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0)
                return cli_error("%s: cannot create: %m", path);
        while (size > 0) {
                ssize_t n = write(fd, data, size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return cli_error("%s: cannot write: %m", path);
                data += n;
                size -= (size_t)n;
        }
        return 0;
}

static int quote_makecredential(int argc, char **argv)
{
        _cleanup_free_ uint8_t *secret = NULL, *out = NULL;
        TPM2B_ENCRYPTED_SECRET seed;
        TPM2B_ID_OBJECT blob;
        TPM2B_DIGEST credential = {};
        TPM2B_NAME name = {};
        struct quote_args a;
        TPMT_PUBLIC ek;
        size_t size, out_size;
        int r;

        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r;
        if (!a.ek || !a.secret || !a.output || !!a.ak == !!a.name || a.positional)
                return cli_error("quote makecredential: needs --ek, one of --ak and --name, --secret and --output "
                                 "(see --help)");
        r = load_ek(a.ek, &ek);
        if (r == 0)
                r = object_name(&a, &name);
        if (r == 0)
                r = cli_read_file(a.secret, &secret, &size);
        if (r != 0)
                return r;
        if (size == 0 || size > dw_tpm_hash_size(ek.nameAlg))
                return cli_error("%s: %zu bytes, the EK takes 1 to %zu", a.secret, size, dw_tpm_hash_size(ek.nameAlg));
        credential.size = (UINT16)size;
        memcpy(credential.buffer, secret, size);
        r = dw_tpm_make_credential(&ek, &name, &credential, &blob, &seed);
        if (r < 0)
                return cli_error("%s: cannot make a credential for this EK: %s", a.ek,
                                 r == -EOPNOTSUPP ? "unsupported symmetric or name algorithm" : strerror(-r));
        if (dw_tpm_credential_file_write(&blob, &seed, &out, &out_size) < 0)
                return cli_error("out of memory");
        return write_file(a.output, out, out_size);
}

int cli_quote_main(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {
                {"verify", quote_verify},
                {"ekcert", quote_ekcert},
                {"makecredential", quote_makecredential},
        };

        /* libtss2-mu logs unmarshalling failures on stderr; bad input gets our one line instead. */
        setenv("TSS2_LOG", "all+NONE", 0);
        return cli_dispatch("quote", verbs, ELEMENTSOF(verbs), quote_help, argc, argv);
}
