/* SPDX-License-Identifier: MIT */
/* Tokens are signed with ECDSA_do_sign on a SHA-256 digest computed here: deprecated in OpenSSL 3, but without a
 * provider fetch and a DER round trip per token (see vf_pki_sign_es256). */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "fileio.h"
#include "hex.h"
#include "log.h"
#include "pki.h"
#include "util.h"

#define CA_LIFETIME_DAYS     (20 * 365)
#define SERVER_LIFETIME_DAYS 825

struct vf_pki {
        EVP_PKEY *ca_key;
        X509 *ca_cert;
        char *ca_pem;
        char *server_cert_pem;
        char *server_key_pem;
        EVP_PKEY *token_key;
        const EC_KEY *token_ec; /* token_key's, for ECDSA_do_sign */
        char *jwks;
        char kid[64];
};

static void bio_freep(BIO **b)
{
        BIO_free(*b);
}
static void x509_req_freep(X509_REQ **r)
{
        X509_REQ_free(*r);
}
static void x509_freep(X509 **x)
{
        X509_free(*x);
}
static void pkey_freep(EVP_PKEY **k)
{
        EVP_PKEY_free(*k);
}
static void bn_freep(BIGNUM **b)
{
        BN_free(*b);
}

_printf_(3, 4) static int fail(char *msg, size_t size, const char *fmt, ...)
{
        unsigned long e = ERR_peek_last_error();
        char ossl[160] = "";
        va_list ap;
        size_t n;

        va_start(ap, fmt);
        vsnprintf(msg, size, fmt, ap);
        va_end(ap);
        if (e != 0) {
                ERR_error_string_n(e, ossl, sizeof(ossl));
                n = strlen(msg);
                snprintf(msg + n, size > n ? size - n : 0, " (%s)", ossl);
        }
        ERR_clear_error();
        return -EIO;
}

static char *bio_text(BIO *b)
{
        char *data;
        long n = BIO_get_mem_data(b, &data);

        return n > 0 ? strndup(data, (size_t)n) : NULL;
}

static char *cert_to_pem(X509 *x)
{
        _cleanup_(bio_freep) BIO *b = BIO_new(BIO_s_mem());

        if (!b || PEM_write_bio_X509(b, x) != 1)
                return NULL;
        return bio_text(b);
}

static char *key_to_pem(EVP_PKEY *k)
{
        _cleanup_(bio_freep) BIO *b = BIO_new(BIO_s_mem());

        if (!b || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1)
                return NULL;
        return bio_text(b);
}

/* ---- files --------------------------------------------------------------------------------------------------- */

static int read_text(const char *path, char **ret)
{
        _cleanup_free_ uint8_t *data = NULL;
        char *text;
        size_t size;
        int r;

        r = dw_read_full_file(path, 1024 * 1024, &data, &size);
        if (r < 0)
                return r;
        text = strndup((const char *)data, size);
        OPENSSL_cleanse(data, size);
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

static int load_key(const char *path, EVP_PKEY **ret)
{
        _cleanup_free_ char *pem = NULL;
        _cleanup_(bio_freep) BIO *b = NULL;
        EVP_PKEY *k;
        int r;

        r = read_text(path, &pem);
        if (r < 0)
                return r;
        b = BIO_new_mem_buf(pem, -1);
        k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        OPENSSL_cleanse(pem, strlen(pem));
        if (!k)
                return -EBADMSG;
        *ret = k;
        return 0;
}

static int load_cert(const char *path, X509 **ret)
{
        _cleanup_free_ char *pem = NULL;
        _cleanup_(bio_freep) BIO *b = NULL;
        X509 *x;
        int r;

        r = read_text(path, &pem);
        if (r < 0)
                return r;
        b = BIO_new_mem_buf(pem, -1);
        x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        if (!x)
                return -EBADMSG;
        *ret = x;
        return 0;
}

static int save_key(const char *path, EVP_PKEY *k)
{
        _cleanup_free_ char *pem = key_to_pem(k);
        int r;

        if (!pem)
                return -ENOMEM;
        r = vf_write_file_atomic(path, pem, strlen(pem), 0600);
        OPENSSL_cleanse(pem, strlen(pem));
        return r;
}

static int save_cert(const char *path, X509 *x)
{
        _cleanup_free_ char *pem = cert_to_pem(x);

        if (!pem)
                return -ENOMEM;
        return vf_write_file_atomic(path, pem, strlen(pem), 0644);
}

/* ---- certificates -------------------------------------------------------------------------------------------- */

static int random_serial(X509 *x, char ret_hex[static 41])
{
        _cleanup_(bn_freep) BIGNUM *bn = NULL;
        uint8_t serial[16];

        if (vf_random_bytes(serial, sizeof(serial)) < 0)
                return -EIO;
        serial[0] &= 0x7f; /* positive */
        serial[0] |= 0x40; /* and always 16 bytes long */
        bn = BN_bin2bn(serial, sizeof(serial), NULL);
        if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
                return -ENOMEM;
        dw_hex_encode(serial, sizeof(serial), ret_hex);
        return 0;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
        X509V3_CTX ctx;
        X509_EXTENSION *ext;
        int ok;

        X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!ext)
                return -EINVAL;
        ok = X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        return ok ? 0 : -ENOMEM;
}

struct cert_spec {
        const char *cn;
        const char *org;
        EVP_PKEY *key; /* the subject's public key */
        X509 *issuer;  /* NULL: self-signed */
        EVP_PKEY *issuer_key;
        uint64_t lifetime_sec;
        const char *const *exts; /* pairs: NID name, value; NULL-terminated */
};

static int cert_build(const struct cert_spec *spec, X509 **ret, char ret_serial[static 41])
{
        _cleanup_(x509_freep) X509 *x = X509_new();
        X509_NAME *name = X509_NAME_new();
        int r = 0;

        if (!x || !name) {
                X509_NAME_free(name);
                return -ENOMEM;
        }
        if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)spec->org, -1, -1, 0) != 1 ||
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)spec->cn, -1, -1, 0) != 1)
                r = -EINVAL;
        if (r == 0 && (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_subject_name(x, name) != 1 ||
                       X509_set_issuer_name(x, spec->issuer ? X509_get_subject_name(spec->issuer) : name) != 1 ||
                       X509_set_pubkey(x, spec->key) != 1))
                r = -ENOMEM;
        X509_NAME_free(name);
        if (r == 0)
                r = random_serial(x, ret_serial);
        if (r == 0 && (!X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
                       !X509_time_adj_ex(X509_getm_notAfter(x), (int)(spec->lifetime_sec / 86400),
                                         (long)(spec->lifetime_sec % 86400), NULL)))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && spec->exts[i]; i += 2)
                r = add_ext(x, spec->issuer ? spec->issuer : x, OBJ_txt2nid(spec->exts[i]), spec->exts[i + 1]);
        if (r < 0)
                return r;
        if (X509_sign(x, spec->issuer_key, EVP_sha256()) <= 0)
                return -EIO;
        *ret = TAKE_PTR(x);
        return 0;
}

static int create_ca(struct vf_pki *p, const char *dir, const char *verifier_id, char *msg, size_t msg_size)
{
        static const char *const exts[] = {
                "basicConstraints",
                "critical,CA:TRUE,pathlen:0",
                "keyUsage",
                "critical,keyCertSign,cRLSign",
                "subjectKeyIdentifier",
                "hash",
                NULL,
        };
        _cleanup_free_ char *cn = vf_strprintf("driftwatch-verifier CA %s", verifier_id);
        _cleanup_free_ char *key_path = vf_strprintf("%s/ca.key", dir), *cert_path = vf_strprintf("%s/ca.pem", dir);
        char serial[41];
        int r;

        if (!cn || !key_path || !cert_path)
                return -ENOMEM;
        p->ca_key = EVP_EC_gen("P-256");
        if (!p->ca_key)
                return fail(msg, msg_size, "cannot generate the CA key");
        r = cert_build(&(struct cert_spec){.cn = cn,
                                           .org = "driftwatch",
                                           .key = p->ca_key,
                                           .issuer_key = p->ca_key,
                                           .lifetime_sec = CA_LIFETIME_DAYS * 86400ull,
                                           .exts = exts},
                       &p->ca_cert, serial);
        if (r < 0)
                return fail(msg, msg_size, "cannot build the CA certificate");
        /* The key first: a certificate without its key would be useless on the next start. */
        r = save_key(key_path, p->ca_key);
        if (r == 0)
                r = save_cert(cert_path, p->ca_cert);
        if (r < 0)
                return fail(msg, msg_size, "%s: cannot write the CA: %s", dir, strerror(-r));
        vf_log_json(VF_LOG_INFO, "ca-created", json_pack("{s:s, s:s}", "certificate", cert_path, "serial", serial));
        return 0;
}

static int load_or_create_ca(struct vf_pki *p, const char *dir, const char *verifier_id, char *msg, size_t msg_size)
{
        _cleanup_free_ char *key_path = vf_strprintf("%s/ca.key", dir), *cert_path = vf_strprintf("%s/ca.pem", dir);
        int rk, rc;

        if (!key_path || !cert_path)
                return -ENOMEM;
        rk = load_key(key_path, &p->ca_key);
        rc = load_cert(cert_path, &p->ca_cert);
        if (rk == -ENOENT && rc == -ENOENT)
                return create_ca(p, dir, verifier_id, msg, msg_size);
        if (rk < 0)
                return fail(msg, msg_size, "%s: cannot load the CA key: %s", key_path, strerror(-rk));
        if (rc < 0)
                return fail(msg, msg_size, "%s: cannot load the CA certificate: %s", cert_path, strerror(-rc));
        if (X509_check_private_key(p->ca_cert, p->ca_key) != 1)
                return fail(msg, msg_size, "%s does not match %s", cert_path, key_path);
        return 0;
}

/* "DNS:host,DNS:localhost,IP:127.0.0.1,..." from the comma-separated server_names. */
static char *san_value(const char *server_names)
{
        _cleanup_free_ char *copy = strdup(server_names), *out = strdup("");
        char *save = NULL;

        if (!copy || !out)
                return NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                uint8_t addr[16];
                bool ip = inet_pton(AF_INET, t, addr) == 1 || inet_pton(AF_INET6, t, addr) == 1;
                char *next;

                while (*t == ' ')
                        t++;
                if (*t == '\0')
                        continue;
                next = vf_strprintf("%s%s%s:%s", out, out[0] ? "," : "", ip ? "IP" : "DNS", t);
                if (!next)
                        return NULL;
                free(out);
                out = next;
        }
        return TAKE_PTR(out);
}

static int create_server_cert(struct vf_pki *p, const char *dir, const char *server_names, char *msg, size_t msg_size)
{
        _cleanup_free_ char *san = san_value(server_names);
        _cleanup_free_ char *key_path = vf_strprintf("%s/server.key", dir);
        _cleanup_free_ char *cert_path = vf_strprintf("%s/server.pem", dir);
        _cleanup_(pkey_freep) EVP_PKEY *key = NULL;
        _cleanup_(x509_freep) X509 *cert = NULL;
        _cleanup_free_ char *first = NULL;
        char serial[41];
        int r;

        if (!san || !key_path || !cert_path)
                return -ENOMEM;
        if (san[0] == '\0')
                return fail(msg, msg_size, "server_names is empty");
        first = strndup(server_names, strcspn(server_names, ","));
        key = EVP_EC_gen("P-256");
        if (!key || !first)
                return fail(msg, msg_size, "cannot generate the server key");
        {
                const char *exts[] = {
                        "basicConstraints",
                        "critical,CA:FALSE",
                        "keyUsage",
                        "critical,digitalSignature",
                        "extendedKeyUsage",
                        "serverAuth",
                        "subjectKeyIdentifier",
                        "hash",
                        "authorityKeyIdentifier",
                        "keyid",
                        "subjectAltName",
                        san,
                        NULL,
                };

                r = cert_build(&(struct cert_spec){.cn = first,
                                                   .org = "driftwatch",
                                                   .key = key,
                                                   .issuer = p->ca_cert,
                                                   .issuer_key = p->ca_key,
                                                   .lifetime_sec = SERVER_LIFETIME_DAYS * 86400ull,
                                                   .exts = exts},
                               &cert, serial);
        }
        if (r < 0)
                return fail(msg, msg_size, "cannot build the server certificate for '%s'", server_names);
        p->server_cert_pem = cert_to_pem(cert);
        p->server_key_pem = key_to_pem(key);
        if (!p->server_cert_pem || !p->server_key_pem)
                return -ENOMEM;
        r = save_key(key_path, key);
        if (r == 0)
                r = save_cert(cert_path, cert);
        if (r < 0)
                return fail(msg, msg_size, "%s: cannot write the server certificate: %s", dir, strerror(-r));
        vf_log_json(VF_LOG_INFO, "server-certificate",
                    json_pack("{s:s, s:s, s:s}", "certificate", cert_path, "subject_alt_names", san, "serial", serial));
        return 0;
}

/* ---- token key and JWK --------------------------------------------------------------------------------------- */

static int load_or_create_token_key(struct vf_pki *p, const char *dir, char *msg, size_t msg_size)
{
        _cleanup_free_ char *path = vf_strprintf("%s/token.key", dir);
        int r;

        if (!path)
                return -ENOMEM;
        r = load_key(path, &p->token_key);
        if (r == -ENOENT) {
                p->token_key = EVP_EC_gen("P-256");
                if (!p->token_key)
                        return fail(msg, msg_size, "cannot generate the token-signing key");
                r = save_key(path, p->token_key);
                if (r < 0)
                        return fail(msg, msg_size, "%s: cannot write: %s", path, strerror(-r));
                vf_log_json(VF_LOG_INFO, "token-key-created", json_pack("{s:s}", "path", path));
                return 0;
        }
        if (r < 0)
                return fail(msg, msg_size, "%s: cannot load the token-signing key: %s", path, strerror(-r));
        if (EVP_PKEY_get_base_id(p->token_key) != EVP_PKEY_EC || EVP_PKEY_get_bits(p->token_key) != 256)
                return fail(msg, msg_size, "%s: not an ECDSA P-256 key", path);
        return 0;
}

static int ec_coordinate(EVP_PKEY *k, const char *param, char **ret_b64)
{
        _cleanup_(bn_freep) BIGNUM *bn = NULL;
        uint8_t buf[32];

        if (EVP_PKEY_get_bn_param(k, param, &bn) != 1 || BN_bn2binpad(bn, buf, sizeof(buf)) != sizeof(buf))
                return -EINVAL;
        *ret_b64 = vf_base64url_encode(buf, sizeof(buf));
        return *ret_b64 ? 0 : -ENOMEM;
}

static int build_jwks(struct vf_pki *p)
{
        _cleanup_free_ char *x = NULL, *y = NULL, *canon = NULL, *kid = NULL;
        _cleanup_(json_decrefp) json_t *jwks = NULL;
        uint8_t digest[SHA256_DIGEST_LENGTH];
        int r;

        r = ec_coordinate(p->token_key, OSSL_PKEY_PARAM_EC_PUB_X, &x);
        if (r == 0)
                r = ec_coordinate(p->token_key, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
        if (r < 0)
                return r;
        /* RFC 7638: the required members in lexicographic order, no whitespace. */
        canon = vf_strprintf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
        if (!canon)
                return -ENOMEM;
        SHA256((const uint8_t *)canon, strlen(canon), digest);
        kid = vf_base64url_encode(digest, sizeof(digest));
        if (!kid)
                return -ENOMEM;
        snprintf(p->kid, sizeof(p->kid), "%s", kid);
        jwks = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty", "EC", "crv", "P-256", "x", x, "y",
                         y, "use", "sig", "alg", "ES256", "kid", kid);
        if (!jwks)
                return -ENOMEM;
        p->jwks = json_dumps(jwks, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        return p->jwks ? 0 : -ENOMEM;
}

int vf_pki_load_or_create(const char *state_dir, const char *server_names, const char *verifier_id, struct vf_pki **ret,
                          char *msg, size_t msg_size)
{
        _cleanup_(vf_pki_freep) struct vf_pki *p = calloc(1, sizeof(struct vf_pki));
        int r;

        if (!p)
                return -ENOMEM;
        r = load_or_create_ca(p, state_dir, verifier_id, msg, msg_size);
        if (r < 0)
                return r;
        p->ca_pem = cert_to_pem(p->ca_cert);
        if (!p->ca_pem)
                return -ENOMEM;
        r = create_server_cert(p, state_dir, server_names, msg, msg_size);
        if (r < 0)
                return r;
        r = load_or_create_token_key(p, state_dir, msg, msg_size);
        if (r < 0)
                return r;
        p->token_ec = EVP_PKEY_get0_EC_KEY(p->token_key);
        if (!p->token_ec)
                return fail(msg, msg_size, "the token-signing key is unusable");
        r = build_jwks(p);
        if (r < 0)
                return fail(msg, msg_size, "cannot build the JWK set of the token key");
        *ret = TAKE_PTR(p);
        return 0;
}

void vf_pki_free(struct vf_pki *p)
{
        if (!p)
                return;
        EVP_PKEY_free(p->ca_key);
        X509_free(p->ca_cert);
        free(p->ca_pem);
        free(p->server_cert_pem);
        if (p->server_key_pem) {
                OPENSSL_cleanse(p->server_key_pem, strlen(p->server_key_pem));
                free(p->server_key_pem);
        }
        EVP_PKEY_free(p->token_key);
        free(p->jwks);
        free(p);
}

const char *vf_pki_ca_pem(const struct vf_pki *p)
{
        return p->ca_pem;
}

const char *vf_pki_server_cert_pem(const struct vf_pki *p)
{
        return p->server_cert_pem;
}

const char *vf_pki_server_key_pem(const struct vf_pki *p)
{
        return p->server_key_pem;
}

const char *vf_pki_jwks_json(const struct vf_pki *p)
{
        return p->jwks;
}

const char *vf_pki_token_kid(const struct vf_pki *p)
{
        return p->kid;
}

/* ---- client certificates ------------------------------------------------------------------------------------- */

void vf_issued_cert_done(struct vf_issued_cert *c)
{
        free(c->pem);
        c->pem = NULL;
}

static int csr_parse(const char *pem, size_t size, X509_REQ **ret_req, EVP_PKEY **ret_key, char *why, size_t why_size)
{
        _cleanup_(bio_freep) BIO *b = NULL;
        _cleanup_(x509_req_freep) X509_REQ *req = NULL;
        EVP_PKEY *key; /* owned by req */
        int type, bits;

        if (size > 64 * 1024 || size > INT32_MAX)
                return snprintf(why, why_size, "CSR larger than 64 KiB"), -EINVAL;
        b = BIO_new_mem_buf(pem, (int)size);
        if (!b)
                return -ENOMEM;
        req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
        ERR_clear_error();
        if (!req)
                return snprintf(why, why_size, "not a PEM certificate request (PKCS#10)"), -EINVAL;
        key = X509_REQ_get0_pubkey(req);
        if (!key)
                return snprintf(why, why_size, "the CSR has no usable public key"), -EINVAL;
        if (X509_REQ_verify(req, key) != 1) {
                ERR_clear_error();
                return snprintf(why, why_size, "the CSR's signature does not verify with its key"), -EINVAL;
        }
        type = EVP_PKEY_get_base_id(key);
        bits = EVP_PKEY_get_bits(key);
        if (!((type == EVP_PKEY_EC && (bits == 256 || bits == 384)) || (type == EVP_PKEY_RSA && bits >= 2048)))
                return snprintf(why, why_size, "the CSR's key must be ECDSA P-256/P-384 or RSA >= 2048 bits"), -EINVAL;
        *ret_key = key;
        *ret_req = TAKE_PTR(req);
        return 0;
}

int vf_pki_check_csr(const char *csr_pem, size_t csr_size, char *why, size_t why_size)
{
        _cleanup_(x509_req_freep) X509_REQ *req = NULL;
        EVP_PKEY *key;

        return csr_parse(csr_pem, csr_size, &req, &key, why, why_size);
}

static int fingerprint(X509 *x, char ret_hex[static 65])
{
        unsigned char *der = NULL;
        uint8_t digest[SHA256_DIGEST_LENGTH];
        int n = i2d_X509(x, &der);

        if (n <= 0)
                return -ENOMEM;
        SHA256(der, (size_t)n, digest);
        OPENSSL_free(der);
        dw_hex_encode(digest, sizeof(digest), ret_hex);
        return 0;
}

int vf_pki_issue_client_cert(struct vf_pki *p, const char *csr_pem, size_t csr_size, const char *gateway_id,
                             uint64_t lifetime_sec, struct vf_issued_cert *ret, char *why, size_t why_size)
{
        _cleanup_(x509_req_freep) X509_REQ *req = NULL;
        _cleanup_(x509_freep) X509 *cert = NULL;
        _cleanup_free_ char *san = vf_strprintf("URI:urn:driftwatch:gateway:%s", gateway_id);
        struct vf_issued_cert c = {};
        EVP_PKEY *key;
        int r;

        if (!san)
                return -ENOMEM;
        r = csr_parse(csr_pem, csr_size, &req, &key, why, why_size);
        if (r < 0)
                return r;
        {
                const char *exts[] = {
                        "basicConstraints",
                        "critical,CA:FALSE",
                        "keyUsage",
                        "critical,digitalSignature",
                        "extendedKeyUsage",
                        "clientAuth",
                        "subjectKeyIdentifier",
                        "hash",
                        "authorityKeyIdentifier",
                        "keyid",
                        "subjectAltName",
                        san,
                        NULL,
                };

                r = cert_build(&(struct cert_spec){.cn = gateway_id,
                                                   .org = "driftwatch gateway",
                                                   .key = key,
                                                   .issuer = p->ca_cert,
                                                   .issuer_key = p->ca_key,
                                                   .lifetime_sec = lifetime_sec,
                                                   .exts = exts},
                               &cert, c.serial);
        }
        if (r < 0) {
                ERR_clear_error();
                snprintf(why, why_size, "cannot issue the certificate");
                return -EIO;
        }
        r = fingerprint(cert, c.fingerprint);
        if (r < 0)
                return r;
        c.pem = cert_to_pem(cert);
        if (!c.pem)
                return -ENOMEM;
        c.not_after = vf_now_usec() + lifetime_sec * 1000000u;
        *ret = c;
        return 0;
}

int vf_pki_sign_es256(struct vf_pki *p, const void *data, size_t size, uint8_t ret_sig[static 64])
{
        uint8_t digest[SHA256_DIGEST_LENGTH];
        ECDSA_SIG *sig;
        int r = -EIO;

        /* Signing does not modify the key: one EC_KEY serves every thread. */
        SHA256(data, size, digest);
        sig = ECDSA_do_sign(digest, sizeof(digest), (EC_KEY *)p->token_ec);
        if (sig && BN_bn2binpad(ECDSA_SIG_get0_r(sig), ret_sig, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), ret_sig + 32, 32) == 32)
                r = 0;
        ECDSA_SIG_free(sig);
        OPENSSL_cleanse(digest, sizeof(digest));
        return r;
}
