/* SPDX-License-Identifier: MIT */
/* driftwatch policy sign|verify|canonical: signed runtime policies (lib/policy-sign). */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "policy-cli.h"
#include "policy-doc.h"
#include "policy-sign.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);

/* A policy as it is (not normalized: the signature covers the document as written), checked. */
static int load_raw(const char *path, json_t **ret)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_policy_error err = {};
        json_t *doc = NULL;
        size_t size;
        int r;

        r = cli_read_file(path, &buf, &size);
        if (r != 0)
                return r;
        r = dw_policy_json_parse(buf, size, &doc, &err);
        if (r == 0)
                r = dw_policy_doc_check(doc, &err);
        if (r < 0) {
                json_decref(doc);
                return policy_error(path, r, &err);
        }
        *ret = doc;
        return 0;
}

static int openssl_error(const char *path, const char *what)
{
        char buf[256] = "";

        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        ERR_clear_error();
        return cli_error("%s: %s%s%s", path, what, buf[0] ? ": " : "", buf);
}

static int load_private_key(const char *path, EVP_PKEY **ret)
{
        _cleanup_(BIO_freep) BIO *bio = BIO_new_file(path, "r");

        if (!bio)
                return cli_error("%s: cannot read: %s", path, strerror(errno));
        *ret = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
        if (!*ret)
                return openssl_error(path, "not an unencrypted PEM private key");
        if (!dw_policy_sig_alg(*ret))
                return cli_error("%s: unsupported key type (RSA, or EC P-256, P-384, P-521)", path);
        return 0;
}

/* A PEM public key, or a certificate's key. */
static int load_public_key(const char *path, EVP_PKEY **ret)
{
        _cleanup_(BIO_freep) BIO *bio = BIO_new_file(path, "r");
        _cleanup_(X509_freep) X509 *cert = NULL;

        if (!bio)
                return cli_error("%s: cannot read: %s", path, strerror(errno));
        *ret = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        if (!*ret) {
                ERR_clear_error();
                (void)BIO_reset(bio);
                cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                *ret = cert ? X509_get_pubkey(cert) : NULL;
        }
        if (!*ret)
                return openssl_error(path, "not a PEM public key or certificate");
        if (!dw_policy_sig_alg(*ret))
                return cli_error("%s: unsupported key type (RSA, or EC P-256, P-384, P-521)", path);
        return 0;
}

static void sign_help(void)
{
        printf("Usage: driftwatch policy sign --key KEY.pem [--detached] -o OUT POLICY\n"
               "\n"
               "Sign a runtime policy with an RSA or EC (P-256, P-384, P-521) private key. The signature covers the\n"
               "policy's canonical form (RFC 8785, without meta.signature; `driftwatch policy canonical` prints it).\n"
               "Enveloped (default): OUT is the policy, normalized, with meta.signature = {\"alg\", \"keyid\",\n"
               "\"value\"}. --detached: OUT is the raw signature (DER ECDSA or PKCS#1 v1.5), as `openssl dgst -sign`\n"
               "makes it. Exit status: 0 written, 2 bad input.\n");
}

int cli_policy_sign(int argc, char **argv)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"key", required_argument, NULL, 'k'},
                {"detached", no_argument, NULL, 'd'},
                {"output", required_argument, NULL, 'o'},
                {},
        };
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(json_decrefp) json_t *doc = NULL;
        const char *key_path = NULL, *output = NULL;
        struct dw_policy_error err = {};
        bool detached = false;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "ho:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        sign_help();
                        exit(0);
                case 'k':
                        key_path = optarg;
                        break;
                case 'd':
                        detached = true;
                        break;
                case 'o':
                        output = optarg;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        if (!key_path || !output || argc - optind != 1)
                return cli_error("policy sign: --key KEY, -o OUT and one POLICY are required (see --help)");
        r = load_private_key(key_path, &key);
        if (r != 0)
                return r;
        if (detached) {
                _cleanup_free_ char *canon = NULL;
                _cleanup_free_ uint8_t *sig = NULL;
                size_t len, sig_len;

                r = load_raw(argv[optind], &doc);
                if (r != 0)
                        return r;
                r = dw_policy_canonical(doc, &canon, &len, &err);
                if (r < 0)
                        return policy_error(argv[optind], r, &err);
                r = dw_policy_sign_data(key, canon, len, &sig, &sig_len);
                if (r < 0)
                        return openssl_error(key_path, "cannot sign");
                return policy_write_file(output, sig, sig_len);
        }
        r = policy_load_doc(argv[optind], &doc);
        if (r != 0)
                return r;
        r = dw_policy_sign(doc, key, &err);
        if (r == -EDOM)
                return policy_error(argv[optind], r, &err);
        if (r < 0)
                return openssl_error(key_path, "cannot sign");
        return policy_write_doc(output, doc);
}

static void verify_help(void)
{
        printf("Usage: driftwatch policy verify --pubkey PUB.pem [--signature SIG] POLICY\n"
               "\n"
               "Check a signed runtime policy: its enveloped signature (meta.signature), or the detached signature\n"
               "SIG, must be by the key PUB.pem (a PEM public key or certificate) over the policy's canonical form.\n"
               "Exit status: 0 valid, 1 not signed, signed by another key, or changed after signing, 2 bad input.\n");
}

int cli_policy_verify(int argc, char **argv)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"pubkey", required_argument, NULL, 'k'},
                {"signature", required_argument, NULL, 's'},
                {},
        };
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_(json_decrefp) json_t *doc = NULL;
        const char *key_path = NULL, *sig_path = NULL;
        struct dw_policy_error err = {};
        enum dw_policy_sig_verdict v;
        char why[256];
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        verify_help();
                        exit(0);
                case 'k':
                        key_path = optarg;
                        break;
                case 's':
                        sig_path = optarg;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        if (!key_path || argc - optind != 1)
                return cli_error("policy verify: --pubkey PUB.pem and one POLICY are required (see --help)");
        r = load_public_key(key_path, &pub);
        if (r != 0)
                return r;
        r = load_raw(argv[optind], &doc);
        if (r != 0)
                return r;
        if (sig_path) {
                _cleanup_free_ uint8_t *sig = NULL;
                size_t sig_len;

                r = cli_read_file(sig_path, &sig, &sig_len);
                if (r != 0)
                        return r;
                r = dw_policy_verify_detached(doc, sig, sig_len, pub, &v, why, sizeof(why), &err);
        } else
                r = dw_policy_verify(doc, pub, &v, why, sizeof(why), &err);
        if (r < 0)
                return policy_error(argv[optind], r, &err);
        printf("%s: %s: %s\n", argv[optind], v == DW_POLICY_SIG_VALID ? "valid" : dw_policy_sig_verdict_name(v), why);
        return v == DW_POLICY_SIG_VALID ? 0 : EXIT_NEGATIVE;
}

int cli_policy_canonical(int argc, char **argv)
{
        _cleanup_(json_decrefp) json_t *doc = NULL;
        _cleanup_free_ char *canon = NULL;
        struct dw_policy_error err = {};
        const char *output = "-";
        size_t len;
        int c, r;

        optind = 1;
        while ((c = getopt(argc, argv, "ho:")) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: driftwatch policy canonical [-o OUT] POLICY\n\n"
                               "Print the bytes a policy signature covers: RFC 8785 of the policy without\n"
                               "meta.signature. Exit status: 0, 2 bad input.\n");
                        exit(0);
                case 'o':
                        output = optarg;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        if (argc - optind != 1)
                return cli_error("policy canonical: expected one POLICY (see --help)");
        r = load_raw(argv[optind], &doc);
        if (r != 0)
                return r;
        r = dw_policy_canonical(doc, &canon, &len, &err);
        if (r < 0)
                return policy_error(argv[optind], r, &err);
        return policy_write_file(output, canon, len);
}
