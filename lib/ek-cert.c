/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ek-cert.h"
#include "macro.h"
#include "tpm-marshal.h"

#define OID_TCG_EK_CERTIFICATE "2.23.133.8.1"
#define OID_TPM_MANUFACTURER   "2.23.133.2.1"
#define OID_TPM_MODEL          "2.23.133.2.2"
#define OID_TPM_VERSION        "2.23.133.2.3"
#define OID_SUBJECT_DIR_ATTRS  "2.5.29.9"
#define OID_SUBJECT_KEY_ID     "2.5.29.14"
#define OID_AUTHORITY_KEY_ID   "2.5.29.35"
#define OID_AUTHORITY_INFO_ACC "1.3.6.1.5.5.7.1.1"

struct dw_ek_trust {
        X509_STORE *store; /* roots and CRLs */
        STACK_OF(X509) * intermediates;
        bool have_crls;
};

/* What the verify callback learned: the first failure it did not excuse. */
struct verify_state {
        int error;
        int depth;
        char subject[120];
        char detail[160];
};

static const char *const reason_names[_DW_EK_CERT_REASON_MAX] = {
        [DW_EK_CERT_OK] = "ok",
        [DW_EK_CERT_UNKNOWN_ISSUER] = "unknown-issuer",
        [DW_EK_CERT_BAD_SIGNATURE] = "bad-signature",
        [DW_EK_CERT_EXPIRED] = "expired",
        [DW_EK_CERT_NOT_YET_VALID] = "not-yet-valid",
        [DW_EK_CERT_REVOKED] = "revoked",
        [DW_EK_CERT_NO_CRL] = "no-crl",
        [DW_EK_CERT_BAD_CRL] = "bad-crl",
        [DW_EK_CERT_UNHANDLED_CRITICAL] = "unhandled-critical-extension",
        [DW_EK_CERT_INVALID_CA] = "invalid-ca",
        [DW_EK_CERT_KEY_MISMATCH] = "key-mismatch",
        [DW_EK_CERT_OTHER] = "invalid",
};

const char *dw_ek_cert_reason_name(enum dw_ek_cert_reason reason)
{
        if (reason < 0 || reason >= _DW_EK_CERT_REASON_MAX)
                return NULL;
        return reason_names[reason];
}

static void bio_freep(BIO **b)
{
        BIO_free(*b);
}

static void store_ctx_freep(X509_STORE_CTX **c)
{
        X509_STORE_CTX_free(*c);
}

void dw_ek_trust_free(struct dw_ek_trust *t)
{
        if (!t)
                return;
        X509_STORE_free(t->store);
        sk_X509_pop_free(t->intermediates, X509_free);
        free(t);
}

/* True when the last PEM read stopped because no more PEM blocks follow (not because one was malformed). */
static bool pem_at_end(void)
{
        unsigned long e = ERR_peek_last_error();
        bool end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;

        ERR_clear_error();
        return end;
}

static int load_cas(struct dw_ek_trust *t, const uint8_t *pem, size_t size, struct dw_error *err)
{
        _cleanup_(bio_freep) BIO *bio = BIO_new_mem_buf(pem, (int)size);
        unsigned n = 0, roots = 0;
        X509 *c;

        if (!bio)
                return -ENOMEM;
        while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
                bool self_signed = X509_check_issued(c, c) == X509_V_OK;
                int ok = self_signed ? X509_STORE_add_cert(t->store, c) : sk_X509_push(t->intermediates, c) > 0;

                if (self_signed)
                        X509_free(c); /* the store took its own reference */
                if (!ok) {
                        if (!self_signed)
                                X509_free(c);
                        return -ENOMEM;
                }
                n++;
                roots += self_signed;
        }
        if (!pem_at_end())
                return dw_error_set(err, EINVAL, n, 0, "CA bundle: certificate %u is malformed PEM", n);
        if (roots == 0)
                return dw_error_set(err, EINVAL, n, 0, "CA bundle: %u certificates, no self-signed root among them", n);
        return 0;
}

static int add_crl(struct dw_ek_trust *t, X509_CRL *crl)
{
        int ok = X509_STORE_add_crl(t->store, crl);

        X509_CRL_free(crl);
        if (!ok)
                return -ENOMEM;
        t->have_crls = true;
        return 0;
}

static int load_crls(struct dw_ek_trust *t, const uint8_t *buf, size_t size, struct dw_error *err)
{
        _cleanup_(bio_freep) BIO *bio = BIO_new_mem_buf(buf, (int)size);
        const unsigned char *p = buf;
        X509_CRL *crl;
        unsigned n = 0;
        int r;

        if (!bio)
                return -ENOMEM;
        while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
                r = add_crl(t, crl);
                if (r < 0)
                        return r;
                n++;
        }
        if (!pem_at_end())
                return dw_error_set(err, EINVAL, n, 0, "CRL file: CRL %u is malformed PEM", n);
        if (n > 0)
                return 0;
        crl = d2i_X509_CRL(NULL, &p, (long)size);
        if (!crl || p != buf + size) {
                X509_CRL_free(crl);
                return dw_error_set(err, EINVAL, 0, 0, "CRL file: no PEM CRL, and not one DER CRL");
        }
        return add_crl(t, crl);
}

int dw_ek_trust_new(const uint8_t *ca_pem, size_t ca_size, const uint8_t *crl_pem, size_t crl_size,
                    struct dw_ek_trust **ret, struct dw_error *err)
{
        struct dw_ek_trust *t;
        int r;

        if (ca_size > INT32_MAX || crl_size > INT32_MAX)
                return dw_error_set(err, EFBIG, 0, 0, "CA bundle or CRL file too large");
        if (!ca_pem || ca_size == 0)
                return dw_error_set(err, EINVAL, 0, 0, "empty CA bundle");
        if (crl_pem && crl_size == 0)
                return dw_error_set(err, EINVAL, 0, 0, "empty CRL file");
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->store = X509_STORE_new();
        t->intermediates = sk_X509_new_null();
        r = t->store && t->intermediates ? load_cas(t, ca_pem, ca_size, err) : -ENOMEM;
        if (r >= 0 && crl_pem)
                r = load_crls(t, crl_pem, crl_size, err);
        if (r < 0) {
                dw_ek_trust_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

static bool only_zeros(const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

int dw_ek_cert_parse(const uint8_t *buf, size_t size, X509 **ret, struct dw_error *err)
{
        const unsigned char *p = buf;
        X509 *cert;

        if (size > INT32_MAX)
                return dw_error_set(err, EFBIG, 0, 0, "certificate file too large");
        if (size >= 11 && memmem(buf, size, "-----BEGIN ", 11)) {
                _cleanup_(bio_freep) BIO *bio = BIO_new_mem_buf(buf, (int)size);

                if (!bio)
                        return -ENOMEM;
                cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                ERR_clear_error();
                if (!cert)
                        return dw_error_set(err, EINVAL, 0, 0, "no PEM certificate");
                *ret = cert;
                return 0;
        }
        cert = d2i_X509(NULL, &p, (long)size);
        ERR_clear_error();
        if (!cert)
                return dw_error_set(err, EINVAL, 0, 0, "not a DER or PEM X.509 certificate");
        if (!only_zeros(p, size - (size_t)(p - buf))) {
                X509_free(cert);
                return dw_error_set(err, EINVAL, 0, (size_t)(p - buf), "bytes after the DER certificate");
        }
        *ret = cert;
        return 0;
}

static bool oid_is(const ASN1_OBJECT *obj, const char *oid)
{
        char buf[80];

        return OBJ_obj2txt(buf, sizeof(buf), obj, 1) > 0 && strcmp(buf, oid) == 0;
}

/* The critical extensions of an EK certificate that OpenSSL does not process are all known EK certificate
 * extensions. Names the first unknown one in detail otherwise. */
static bool only_known_critical(X509 *cert, char *detail, size_t size)
{
        static const char *const known[] = {
                OID_SUBJECT_DIR_ATTRS,
                OID_SUBJECT_KEY_ID,
                OID_AUTHORITY_KEY_ID,
                OID_AUTHORITY_INFO_ACC,
        };

        for (int i = 0; i < X509_get_ext_count(cert); i++) {
                X509_EXTENSION *ext = X509_get_ext(cert, i);
                ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
                bool ok = false;
                char oid[80];

                if (!X509_EXTENSION_get_critical(ext) || X509_supported_extension(ext))
                        continue;
                for (size_t k = 0; k < ELEMENTSOF(known); k++)
                        ok = ok || oid_is(obj, known[k]);
                if (ok)
                        continue;
                if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
                        strcpy(oid, "?");
                snprintf(detail, size, "critical extension %s is not an EK certificate extension", oid);
                return false;
        }
        return true;
}

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
        struct verify_state *st = X509_STORE_CTX_get_app_data(ctx);
        int error = X509_STORE_CTX_get_error(ctx), depth = X509_STORE_CTX_get_error_depth(ctx);
        X509 *cert = X509_STORE_CTX_get_current_cert(ctx);

        if (ok)
                return 1;
        if (error == X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION && depth == 0 && cert &&
            only_known_critical(cert, st->detail, sizeof(st->detail)))
                return 1;
        /* CRLs are required for the EK certificate's issuer only; CAs are checked when their issuer's is there. */
        if (error == X509_V_ERR_UNABLE_TO_GET_CRL && depth > 0)
                return 1;
        if (st->error == 0) {
                st->error = error;
                st->depth = depth;
                if (cert)
                        X509_NAME_oneline(X509_get_subject_name(cert), st->subject, sizeof(st->subject));
        }
        return 0;
}

static enum dw_ek_cert_reason reason_of(int error)
{
        switch (error) {
        case X509_V_OK:
                return DW_EK_CERT_OK;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_CERT_UNTRUSTED:
                return DW_EK_CERT_UNKNOWN_ISSUER;
        case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
        case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
                return DW_EK_CERT_BAD_SIGNATURE;
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
                return DW_EK_CERT_EXPIRED;
        case X509_V_ERR_CERT_NOT_YET_VALID:
        case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
                return DW_EK_CERT_NOT_YET_VALID;
        case X509_V_ERR_CERT_REVOKED:
                return DW_EK_CERT_REVOKED;
        case X509_V_ERR_UNABLE_TO_GET_CRL:
        case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
                return DW_EK_CERT_NO_CRL;
        case X509_V_ERR_CRL_HAS_EXPIRED:
        case X509_V_ERR_CRL_NOT_YET_VALID:
        case X509_V_ERR_CRL_SIGNATURE_FAILURE:
        case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
        case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
        case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
        case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
                return DW_EK_CERT_BAD_CRL;
        case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
        case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
                return DW_EK_CERT_UNHANDLED_CRITICAL;
        case X509_V_ERR_INVALID_CA:
        case X509_V_ERR_PATH_LENGTH_EXCEEDED:
        case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
        case X509_V_ERR_INVALID_PURPOSE:
                return DW_EK_CERT_INVALID_CA;
        default:
                return DW_EK_CERT_OTHER;
        }
}

static void copy_string(const ASN1_STRING *s, char *out, size_t size)
{
        size_t n = 0;

        for (int i = 0; s && i < ASN1_STRING_length(s) && n + 1 < size; i++) {
                unsigned char c = ASN1_STRING_get0_data(s)[i];

                out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        out[n] = '\0';
}

static void tpm_info_from_name(const X509_NAME *name, struct dw_ek_tpm_info *info)
{
        for (int i = 0; i < X509_NAME_entry_count(name); i++) {
                const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
                const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
                const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);

                if (oid_is(obj, OID_TPM_MANUFACTURER))
                        copy_string(v, info->manufacturer, sizeof(info->manufacturer));
                else if (oid_is(obj, OID_TPM_MODEL))
                        copy_string(v, info->model, sizeof(info->model));
                else if (oid_is(obj, OID_TPM_VERSION))
                        copy_string(v, info->version, sizeof(info->version));
        }
}

int dw_ek_cert_tpm_info(X509 *cert, struct dw_ek_tpm_info *ret)
{
        GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
        struct dw_ek_tpm_info info = {};

        for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
                const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

                if (gn->type == GEN_DIRNAME)
                        tpm_info_from_name(gn->d.directoryName, &info);
        }
        GENERAL_NAMES_free(names);
        ERR_clear_error();
        *ret = info;
        return 0;
}

static bool has_ek_eku(X509 *cert)
{
        EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
        bool found = false;

        for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++)
                found = found || oid_is(sk_ASN1_OBJECT_value(eku, i), OID_TCG_EK_CERTIFICATE);
        EXTENDED_KEY_USAGE_free(eku);
        ERR_clear_error();
        return found;
}

_printf_(3, 4) static void result_set(struct dw_ek_cert_result *res, enum dw_ek_cert_reason reason, const char *fmt,
                                      ...)
{
        va_list ap;

        res->valid = reason == DW_EK_CERT_OK;
        res->reason = reason;
        va_start(ap, fmt);
        vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
        va_end(ap);
}

static int run_verify(const struct dw_ek_trust *t, X509 *cert, time_t at, struct verify_state *st)
{
        _cleanup_(store_ctx_freep) X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        X509_VERIFY_PARAM *param;
        int ok;

        if (!ctx)
                return -ENOMEM;
        if (X509_STORE_CTX_init(ctx, t->store, cert, t->intermediates) != 1)
                return -ENOMEM;
        param = X509_STORE_CTX_get0_param(ctx);
        if (at)
                X509_VERIFY_PARAM_set_time(param, at);
        if (t->have_crls)
                X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
        X509_STORE_CTX_set_app_data(ctx, st);
        X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
        ok = X509_verify_cert(ctx);
        if (ok != 1 && st->error == 0) {
                /* Failed without the callback seeing it (e.g. out of memory): report OpenSSL's error. */
                st->error = X509_STORE_CTX_get_error(ctx) ?: X509_V_ERR_UNSPECIFIED;
                st->depth = X509_STORE_CTX_get_error_depth(ctx);
        }
        ERR_clear_error();
        return ok == 1 ? 1 : 0;
}

int dw_ek_cert_verify(const struct dw_ek_trust *t, X509 *cert, time_t at, const TPMT_PUBLIC *ek,
                      struct dw_ek_cert_result *ret)
{
        struct dw_ek_cert_result res = {};
        struct verify_state st = {};
        int r;

        dw_ek_cert_tpm_info(cert, &res.tpm);
        res.ek_eku = has_ek_eku(cert);
        r = run_verify(t, cert, at, &st);
        if (r < 0)
                return r;
        if (r == 0) {
                enum dw_ek_cert_reason reason = reason_of(st.error);

                res.depth = st.depth;
                result_set(&res, reason, "%s at chain depth %d (%s)",
                           st.error == X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION && st.detail[0]
                                   ? st.detail
                                   : X509_verify_cert_error_string(st.error),
                           st.depth, st.subject[0] ? st.subject : "?");
        } else if (ek && !dw_tpm_public_matches_pkey(ek, X509_get0_pubkey(cert)))
                result_set(&res, DW_EK_CERT_KEY_MISMATCH,
                           "the certificate's key is not the TPM's EK (the chain is valid)");
        else
                result_set(&res, DW_EK_CERT_OK, "valid EK certificate%s%s%s%s%s",
                           res.tpm.manufacturer[0] ? " of TPM " : "", res.tpm.manufacturer, res.tpm.model[0] ? " " : "",
                           res.tpm.model, ek ? ", key is the TPM's EK" : "");
        *ret = res;
        return 0;
}
