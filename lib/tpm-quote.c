/* SPDX-License-Identifier: MIT */
/* ECDSA is verified with ECDSA_do_verify on (r, s) and a digest we compute: deprecated in OpenSSL 3 but still
 * shipped, and it skips the per-call provider fetch and the DER round trip of EVP_DigestVerify, which together
 * cost about a quarter of a verification (docs/benchmarks.md). */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "hex.h"
#include "tpm-quote.h"

#define HEX_SHOWN 16 /* bytes of a nonce shown in a message */

static const char *const reason_names[_DW_ATTEST_REASON_MAX] = {
        [DW_ATTEST_OK] = "ok",
        [DW_ATTEST_BAD_SIGNATURE] = "bad-signature",
        [DW_ATTEST_AK_NOT_RESTRICTED] = "ak-not-restricted",
        [DW_ATTEST_NOT_TPM_GENERATED] = "not-tpm-generated",
        [DW_ATTEST_WRONG_TYPE] = "wrong-type",
        [DW_ATTEST_NONCE_MISMATCH] = "nonce-mismatch",
        [DW_ATTEST_RESET_ROLLBACK] = "reset-rollback",
        [DW_ATTEST_RESTART_ROLLBACK] = "restart-rollback",
        [DW_ATTEST_CLOCK_REWIND] = "clock-rewind",
        [DW_ATTEST_PCR_SELECTION_MISMATCH] = "pcr-selection-mismatch",
        [DW_ATTEST_PCR_DIGEST_MISMATCH] = "pcr-digest-mismatch",
        [DW_ATTEST_NAME_MISMATCH] = "name-mismatch",
        [DW_ATTEST_QUALIFIED_NAME_MISMATCH] = "qualified-name-mismatch",
};

const char *dw_attest_reason_name(enum dw_attest_reason reason)
{
        if (reason < 0 || reason >= _DW_ATTEST_REASON_MAX)
                return NULL;
        return reason_names[reason];
}

/* Sets the verdict and its message; returns 0 so that checks can "return verdict(...)". */
_printf_(3, 4) static int verdict(struct dw_attest_result *res, enum dw_attest_reason reason, const char *fmt, ...)
{
        va_list ap;

        res->valid = reason == DW_ATTEST_OK;
        res->reason = reason;
        va_start(ap, fmt);
        vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
        va_end(ap);
        return 0;
}

/* Appends to the message of a valid verdict. */
_printf_(2, 3) static void note(struct dw_attest_result *res, const char *fmt, ...)
{
        size_t len = strlen(res->msg);
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(res->msg + len, sizeof(res->msg) - len, fmt, ap);
        va_end(ap);
}

/* Hex of at most HEX_SHOWN bytes, "..." when cut. */
static const char *short_hex(const uint8_t *data, size_t size, char buf[static 2 * HEX_SHOWN + 4])
{
        dw_hex_encode(data, MIN(size, (size_t)HEX_SHOWN), buf);
        if (size > HEX_SHOWN)
                strcat(buf, "...");
        if (size == 0)
                strcpy(buf, "(empty)");
        return buf;
}

int dw_tpm_attest_parse(const uint8_t *buf, size_t size, TPMS_ATTEST *ret, struct dw_error *err)
{
        _cleanup_free_ TPMS_ATTEST *a = calloc(1, sizeof(*a));
        size_t offset = 0;

        if (!a)
                return -ENOMEM;
        if (Tss2_MU_TPMS_ATTEST_Unmarshal(buf, size, &offset, a) != TSS2_RC_SUCCESS)
                return dw_error_set(err, EINVAL, 0, offset, "not a marshalled TPMS_ATTEST (%zu bytes)", size);
        if (offset != size)
                return dw_error_set(err, EINVAL, 0, offset, "%zu trailing bytes after the TPMS_ATTEST", size - offset);
        *ret = *a;
        return 0;
}

int dw_tpm_signature_parse(const uint8_t *buf, size_t size, TPMT_SIGNATURE *ret, struct dw_error *err)
{
        TPMT_SIGNATURE sig = {};
        size_t offset = 0;

        if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(buf, size, &offset, &sig) != TSS2_RC_SUCCESS)
                return dw_error_set(err, EINVAL, 0, offset, "not a marshalled TPMT_SIGNATURE (%zu bytes)", size);
        if (offset != size)
                return dw_error_set(err, EINVAL, 0, offset, "%zu trailing bytes after the TPMT_SIGNATURE",
                                    size - offset);
        *ret = sig;
        return 0;
}

static int verify_ecdsa(EVP_PKEY *key, uint16_t hash_alg, const uint8_t *data, size_t size,
                        const TPMS_SIGNATURE_ECC *ecc)
{
        const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(key);
        uint8_t digest[DW_HASH_MAX_SIZE];
        ECDSA_SIG *s;
        BIGNUM *r, *sv;
        int n, ok;

        if (!ec)
                return -EOPNOTSUPP;
        n = dw_tpm_hash(hash_alg, data, size, digest);
        if (n < 0)
                return n;
        s = ECDSA_SIG_new();
        r = BN_bin2bn(ecc->signatureR.buffer, ecc->signatureR.size, NULL);
        sv = BN_bin2bn(ecc->signatureS.buffer, ecc->signatureS.size, NULL);
        if (!s || !r || !sv || ECDSA_SIG_set0(s, r, sv) != 1) {
                ECDSA_SIG_free(s);
                BN_free(r);
                BN_free(sv);
                return -ENOMEM;
        }
        ok = ECDSA_do_verify(digest, n, s, (EC_KEY *)ec);
        ECDSA_SIG_free(s);
        return ok == 1;
}

static bool is_rsa(EVP_PKEY *key)
{
        return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA || EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA_PSS;
}

static int verify_digest_sig(EVP_PKEY *key, const char *md, int padding, const uint8_t *data, size_t size,
                             const uint8_t *sig, size_t sig_size)
{
        _cleanup_(dw_md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;

        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, key, NULL) != 1)
                return -EOPNOTSUPP;
        if (padding == RSA_PKCS1_PSS_PADDING && (EVP_PKEY_CTX_set_rsa_padding(pctx, padding) != 1 ||
                                                 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1))
                return -EOPNOTSUPP;
        if (padding == RSA_PKCS1_PADDING && EVP_PKEY_CTX_set_rsa_padding(pctx, padding) != 1)
                return -EOPNOTSUPP;
        return EVP_DigestVerify(ctx, sig, sig_size, data, size) == 1;
}

int dw_tpm_signature_verify(EVP_PKEY *key, const uint8_t *data, size_t size, const TPMT_SIGNATURE *sig, char *why,
                            size_t why_size)
{
        const char *md, *scheme;
        int r;

        switch (sig->sigAlg) {
        case TPM2_ALG_RSASSA:
        case TPM2_ALG_RSAPSS:
                scheme = sig->sigAlg == TPM2_ALG_RSASSA ? "RSASSA" : "RSAPSS";
                md = dw_tpm_hash_ossl_name(sig->signature.rsassa.hash);
                if (!md)
                        return -EOPNOTSUPP;
                if (!is_rsa(key)) {
                        snprintf(why, why_size, "%s signature, but the AK is not an RSA key", scheme);
                        return 0;
                }
                r = verify_digest_sig(key, md,
                                      sig->sigAlg == TPM2_ALG_RSASSA ? RSA_PKCS1_PADDING : RSA_PKCS1_PSS_PADDING, data,
                                      size, sig->signature.rsassa.sig.buffer, sig->signature.rsassa.sig.size);
                break;
        case TPM2_ALG_ECDSA:
                scheme = "ECDSA";
                md = dw_tpm_hash_ossl_name(sig->signature.ecdsa.hash);
                if (!md)
                        return -EOPNOTSUPP;
                if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
                        snprintf(why, why_size, "ECDSA signature, but the AK is not an ECC key");
                        return 0;
                }
                r = verify_ecdsa(key, sig->signature.ecdsa.hash, data, size, &sig->signature.ecdsa);
                break;
        default:
                return -EOPNOTSUPP;
        }
        if (r == 0)
                snprintf(why, why_size, "%s/%s signature does not verify with the AK", scheme, md);
        return r;
}

static struct dw_tpm_clock clock_of(const TPMS_CLOCK_INFO *c)
{
        return (struct dw_tpm_clock){
                .clock = c->clock,
                .reset_count = c->resetCount,
                .restart_count = c->restartCount,
                .safe = c->safe == TPM2_YES,
        };
}

bool dw_tpm_clock_check(const struct dw_tpm_clock *previous, const TPMS_CLOCK_INFO *now, struct dw_attest_result *ret)
{
        struct dw_tpm_clock c = clock_of(now);
        const struct dw_tpm_clock *p = previous;
        bool reset, restarted;

        ret->clock = c;
        ret->reset = ret->restarted = false;
        if (!p)
                return true;
        if (c.reset_count < p->reset_count) {
                verdict(ret, DW_ATTEST_RESET_ROLLBACK,
                        "resetCount went back from %" PRIu32 " to %" PRIu32
                        " (TPM cleared, or an old attestation replayed)",
                        p->reset_count, c.reset_count);
                return false;
        }
        reset = c.reset_count > p->reset_count;
        if (!reset && c.restart_count < p->restart_count) {
                verdict(ret, DW_ATTEST_RESTART_ROLLBACK,
                        "restartCount went back from %" PRIu32 " to %" PRIu32 " at resetCount %" PRIu32,
                        p->restart_count, c.restart_count, c.reset_count);
                return false;
        }
        restarted = !reset && c.restart_count > p->restart_count;
        if (c.clock < p->clock && !reset && !restarted) {
                verdict(ret, DW_ATTEST_CLOCK_REWIND,
                        "clock went back from %" PRIu64 " to %" PRIu64 " ms without a TPM reset or restart", p->clock,
                        c.clock);
                return false;
        }
        if (c.clock < p->clock && c.safe) {
                verdict(ret, DW_ATTEST_CLOCK_REWIND,
                        "clock went back from %" PRIu64 " to %" PRIu64 " ms across a %s, yet the TPM says safe",
                        p->clock, c.clock, reset ? "reset" : "restart");
                return false;
        }
        ret->reset = reset;
        ret->restarted = restarted;
        return true;
}

/* The AK key to check signatures with, and whether its public area (when known) is a restricted signing key. */
static int resolve_ak(const struct dw_attest_expect *e, EVP_PKEY **ret_owned, EVP_PKEY **ret_key)
{
        EVP_PKEY *key = NULL;
        int r;

        if (!e->ak_public) {
                if (!e->ak)
                        return -EINVAL;
                *ret_owned = NULL;
                *ret_key = e->ak;
                return 0;
        }
        if (e->ak) {
                /* Both given: ak is the key of ak_public, derived once by the caller (at enrollment). Deriving and
                 * comparing it again on every round would cost as much as the signature check itself. */
                *ret_owned = NULL;
                *ret_key = e->ak;
                return 0;
        }
        r = dw_tpm_public_to_pkey(e->ak_public, &key);
        if (r < 0)
                return r;
        *ret_owned = key;
        *ret_key = key;
        return 0;
}

static bool restricted_signing(const TPMT_PUBLIC *pub)
{
        TPMA_OBJECT want = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;

        return (pub->objectAttributes & want) == want && !(pub->objectAttributes & TPMA_OBJECT_DECRYPT);
}

static const char *attest_type_name(TPM2_ST type)
{
        switch (type) {
        case TPM2_ST_ATTEST_QUOTE:
                return "quote";
        case TPM2_ST_ATTEST_CERTIFY:
                return "certify";
        case TPM2_ST_ATTEST_NV:
                return "NV certify";
        case TPM2_ST_ATTEST_CREATION:
                return "creation";
        case TPM2_ST_ATTEST_TIME:
                return "time";
        case TPM2_ST_ATTEST_COMMAND_AUDIT:
                return "command audit";
        case TPM2_ST_ATTEST_SESSION_AUDIT:
                return "session audit";
        default:
                return "unknown";
        }
}

/* Parses the evidence and runs the checks every attestation type shares. Returns <0 when the evidence cannot be
 * judged; 0 with the verdict so far in res (res->valid false: stop there). */
static int attest_common(const struct dw_attest_expect *e, const struct dw_attest_evidence *ev, TPM2_ST type,
                         TPMS_ATTEST *a, TPMT_SIGNATURE *sig, struct dw_attest_result *res, struct dw_error *err)
{
        _cleanup_(dw_pkey_freep) EVP_PKEY *owned = NULL;
        char why[160], h1[2 * HEX_SHOWN + 4], h2[2 * HEX_SHOWN + 4];
        EVP_PKEY *key;
        int r;

        *res = (struct dw_attest_result){};
        if (!e || !ev || (!e->nonce && e->nonce_size))
                return dw_error_set(err, EINVAL, 0, 0, "no AK or nonce to check against");
        r = dw_tpm_attest_parse(ev->attest, ev->attest_size, a, err);
        if (r < 0)
                return r;
        r = dw_tpm_signature_parse(ev->signature, ev->signature_size, sig, err);
        if (r < 0)
                return r;
        r = resolve_ak(e, &owned, &key);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "AK: %s",
                                    r == -EOPNOTSUPP ? "unsupported key type or curve"
                                                     : "no key, a malformed public area, or two different keys given");
        res->clock = clock_of(&a->clockInfo);

        if (e->ak_public && !restricted_signing(e->ak_public))
                return verdict(res, DW_ATTEST_AK_NOT_RESTRICTED,
                               "the AK is not a restricted signing key (attributes 0x%08x), so it could sign forged "
                               "attestations",
                               e->ak_public->objectAttributes);
        why[0] = '\0';
        r = dw_tpm_signature_verify(key, ev->attest, ev->attest_size, sig, why, sizeof(why));
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "signature scheme 0x%04x with hash 0x%04x: cannot verify it",
                                    sig->sigAlg, sig->signature.any.hashAlg);
        if (r == 0)
                return verdict(res, DW_ATTEST_BAD_SIGNATURE, "%s", why);
        if (a->magic != TPM2_GENERATED_VALUE)
                return verdict(res, DW_ATTEST_NOT_TPM_GENERATED, "magic 0x%08x is not TPM_GENERATED_VALUE", a->magic);
        if (a->type != type)
                return verdict(res, DW_ATTEST_WRONG_TYPE, "a %s attestation (type 0x%04x), not a %s",
                               attest_type_name(a->type), a->type, attest_type_name(type));
        if (a->extraData.size != e->nonce_size ||
            (e->nonce_size && memcmp(a->extraData.buffer, e->nonce, e->nonce_size) != 0))
                return verdict(res, DW_ATTEST_NONCE_MISMATCH, "extraData %s is not the nonce issued, %s",
                               short_hex(a->extraData.buffer, a->extraData.size, h1),
                               short_hex(e->nonce, e->nonce_size, h2));
        if (!dw_tpm_clock_check(e->previous, &a->clockInfo, res))
                return 0;
        res->valid = true;
        res->reason = DW_ATTEST_OK;
        return 0;
}

static void clock_note(const struct dw_attest_expect *e, struct dw_attest_result *res)
{
        note(res, "; clock %" PRIu64 " resetCount %" PRIu32 " restartCount %" PRIu32, res->clock.clock,
             res->clock.reset_count, res->clock.restart_count);
        if (res->reset)
                note(res, "; TPM reset (reboot) since the previous attestation (resetCount %" PRIu32 " -> %" PRIu32 ")",
                     e->previous->reset_count, res->clock.reset_count);
        if (res->restarted)
                note(res, "; TPM restarted (resume) since the previous attestation");
}

int dw_tpm_quote_verify(const struct dw_attest_expect *expect, const struct dw_attest_evidence *ev,
                        const struct dw_tpm_pcrs *pcrs, struct dw_attest_result *ret, TPMS_ATTEST *ret_attest,
                        struct dw_error *err)
{
        _cleanup_free_ TPMS_ATTEST *a = calloc(1, sizeof(*a));
        struct dw_attest_result res;
        const TPMS_QUOTE_INFO *q;
        uint8_t digest[DW_HASH_MAX_SIZE];
        char sel[256], h1[2 * HEX_SHOWN + 4];
        TPMT_SIGNATURE sig;
        int r;

        if (!a)
                return -ENOMEM;
        r = attest_common(expect, ev, TPM2_ST_ATTEST_QUOTE, a, &sig, &res, err);
        if (r < 0)
                return r;
        q = &a->attested.quote;
        dw_tpm_pcr_selection_format(&q->pcrSelect, sel, sizeof(sel));
        if (res.valid && !pcrs)
                verdict(&res, DW_ATTEST_OK, "valid quote of %s (PCR digest unchecked: no PCR values given)", sel);
        if (res.valid && pcrs && !dw_tpm_pcr_selection_equal(&pcrs->selection, &q->pcrSelect)) {
                char claimed[256];

                verdict(&res, DW_ATTEST_PCR_SELECTION_MISMATCH, "PCR values are for %s, the quote is of %s",
                        dw_tpm_pcr_selection_format(&pcrs->selection, claimed, sizeof(claimed)), sel);
        }
        if (res.valid && pcrs) {
                /* pcrDigest is computed with the hash of the AK's signing scheme. */
                r = dw_tpm_pcrs_digest(pcrs, sig.signature.any.hashAlg, digest);
                if (r < 0)
                        return dw_error_set(err, r, 0, 0, "cannot hash PCR values with 0x%04x",
                                            sig.signature.any.hashAlg);
                if ((size_t)r != q->pcrDigest.size || memcmp(digest, q->pcrDigest.buffer, (size_t)r) != 0)
                        verdict(&res, DW_ATTEST_PCR_DIGEST_MISMATCH,
                                "PCR values of %s do not hash to the quoted pcrDigest %s", sel,
                                short_hex(q->pcrDigest.buffer, q->pcrDigest.size, h1));
                else {
                        res.pcrs_checked = true;
                        verdict(&res, DW_ATTEST_OK, "valid quote of %s: PCR values match the pcrDigest", sel);
                }
        }
        if (res.valid)
                clock_note(expect, &res);
        if (ret_attest)
                *ret_attest = *a;
        *ret = res;
        return 0;
}

static bool name_equal(const TPM2B_NAME *a, const TPM2B_NAME *b)
{
        return a->size == b->size && a->size <= sizeof(a->name) && memcmp(a->name, b->name, a->size) == 0;
}

int dw_tpm_certify_verify(const struct dw_attest_expect *expect, const struct dw_attest_evidence *ev,
                          const TPMT_PUBLIC *certified, const TPM2B_NAME *qualified_name, struct dw_attest_result *ret,
                          TPMS_ATTEST *ret_attest, struct dw_error *err)
{
        _cleanup_free_ TPMS_ATTEST *a = calloc(1, sizeof(*a));
        struct dw_attest_result res;
        char h1[2 * HEX_SHOWN + 4], h2[2 * HEX_SHOWN + 4];
        TPMT_SIGNATURE sig;
        TPM2B_NAME name;
        int r;

        if (!a)
                return -ENOMEM;
        if (!certified)
                return dw_error_set(err, EINVAL, 0, 0, "no certified object to check against");
        r = dw_tpm_public_name(certified, &name);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "cannot compute the Name of the certified object");
        r = attest_common(expect, ev, TPM2_ST_ATTEST_CERTIFY, a, &sig, &res, err);
        if (r < 0)
                return r;
        if (res.valid && !name_equal(&a->attested.certify.name, &name))
                verdict(&res, DW_ATTEST_NAME_MISMATCH, "certified Name %s is not the expected object's %s",
                        short_hex(a->attested.certify.name.name, a->attested.certify.name.size, h1),
                        short_hex(name.name, name.size, h2));
        if (res.valid && qualified_name && !name_equal(&a->attested.certify.qualifiedName, qualified_name))
                verdict(&res, DW_ATTEST_QUALIFIED_NAME_MISMATCH, "certified qualifiedName %s is not the expected %s",
                        short_hex(a->attested.certify.qualifiedName.name, a->attested.certify.qualifiedName.size, h1),
                        short_hex(qualified_name->name, qualified_name->size, h2));
        if (res.valid) {
                verdict(&res, DW_ATTEST_OK, "valid certification of object %s%s", short_hex(name.name, name.size, h1),
                        qualified_name ? " (qualified Name checked)" : "");
                clock_note(expect, &res);
        }
        if (ret_attest)
                *ret_attest = *a;
        *ret = res;
        return 0;
}

int dw_tpm_nv_certify_verify(const struct dw_attest_expect *expect, const struct dw_attest_evidence *ev,
                             const TPM2B_NAME *index_name, struct dw_attest_result *ret, TPMS_ATTEST *ret_attest,
                             struct dw_error *err)
{
        _cleanup_free_ TPMS_ATTEST *a = calloc(1, sizeof(*a));
        struct dw_attest_result res;
        char h1[2 * HEX_SHOWN + 4], h2[2 * HEX_SHOWN + 4];
        const TPMS_NV_CERTIFY_INFO *nv;
        TPMT_SIGNATURE sig;
        int r;

        if (!a)
                return -ENOMEM;
        if (!index_name)
                return dw_error_set(err, EINVAL, 0, 0, "no NV index Name to check against");
        r = attest_common(expect, ev, TPM2_ST_ATTEST_NV, a, &sig, &res, err);
        if (r < 0)
                return r;
        nv = &a->attested.nv;
        if (res.valid && !name_equal(&nv->indexName, index_name))
                verdict(&res, DW_ATTEST_NAME_MISMATCH, "certified NV index Name %s is not the expected %s",
                        short_hex(nv->indexName.name, nv->indexName.size, h1),
                        short_hex(index_name->name, index_name->size, h2));
        if (res.valid) {
                verdict(&res, DW_ATTEST_OK, "valid NV certification: %u bytes at offset %u", nv->nvContents.size,
                        nv->offset);
                clock_note(expect, &res);
        }
        if (ret_attest)
                *ret_attest = *a;
        *ret = res;
        return 0;
}
