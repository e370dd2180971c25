/* SPDX-License-Identifier: MIT */
/* PCR selections, PCR reads and quotes on the gateway's TPM. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "tpm-gateway-internal.h"

#define PCR_SELECT_BYTES 3 /* 24 PCRs: TPM2_PCR_SELECT_MIN, what PC Client TPMs have */
#define QUOTE_TRIES      5

static int parse_pcr_number(const char *s, size_t len, unsigned *ret)
{
        unsigned v = 0;

        if (len == 0 || len > 2)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v >= PCR_SELECT_BYTES * 8)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* "0,1,2", "0-7,10" or "all" into a bit mask. */
static int parse_pcr_list(const char *s, size_t len, uint32_t *ret)
{
        uint32_t mask = 0;

        if (len == 3 && strncmp(s, "all", 3) == 0) {
                *ret = (1u << (PCR_SELECT_BYTES * 8)) - 1;
                return 0;
        }
        while (len > 0) {
                const char *comma = memchr(s, ',', len);
                size_t item = comma ? (size_t)(comma - s) : len;
                const char *dash = memchr(s, '-', item);
                unsigned lo, hi;

                if (parse_pcr_number(s, dash ? (size_t)(dash - s) : item, &lo) < 0)
                        return -EINVAL;
                hi = lo;
                if (dash && parse_pcr_number(dash + 1, item - (size_t)(dash - s) - 1, &hi) < 0)
                        return -EINVAL;
                if (hi < lo)
                        return -EINVAL;
                for (unsigned i = lo; i <= hi; i++)
                        mask |= 1u << i;
                s += item;
                len -= item;
                if (comma) {
                        s++;
                        len--;
                        if (len == 0)
                                return -EINVAL;
                }
        }
        if (mask == 0)
                return -EINVAL;
        *ret = mask;
        return 0;
}

static int add_bank(TPML_PCR_SELECTION *sel, enum dw_hash_alg alg, uint32_t mask)
{
        uint16_t id = dw_hash_alg_tpm_id(alg);
        TPMS_PCR_SELECTION *b;

        for (uint32_t i = 0; i < sel->count; i++)
                if (sel->pcrSelections[i].hash == id)
                        return -EEXIST;
        if (sel->count >= TPM2_NUM_PCR_BANKS)
                return -E2BIG;
        b = &sel->pcrSelections[sel->count++];
        *b = (TPMS_PCR_SELECTION){.hash = id, .sizeofSelect = PCR_SELECT_BYTES};
        for (unsigned i = 0; i < PCR_SELECT_BYTES; i++)
                b->pcrSelect[i] = (uint8_t)(mask >> (8 * i));
        return 0;
}

int dw_tpm_pcr_selection_from_string(const char *s, TPML_PCR_SELECTION *ret, struct dw_error *err)
{
        TPML_PCR_SELECTION sel = {};
        const char *p = s;

        for (;;) {
                const char *end = strchrnul(p, '+'), *colon = memchr(p, ':', (size_t)(end - p));
                enum dw_hash_alg alg;
                uint32_t mask;
                int r;

                if (!colon)
                        return dw_error_set(err, EINVAL, 0, 0, "PCR selection '%s': expected BANK:PCRS", s);
                if (dw_hash_alg_from_name(p, (size_t)(colon - p), &alg) < 0)
                        return dw_error_set(err, EINVAL, 0, 0, "PCR selection '%s': unknown bank '%.*s'", s,
                                            (int)(colon - p), p);
                if (parse_pcr_list(colon + 1, (size_t)(end - colon - 1), &mask) < 0)
                        return dw_error_set(err, EINVAL, 0, 0,
                                            "PCR selection '%s': bad PCR list '%.*s' (numbers 0-23, ranges, or all)", s,
                                            (int)(end - colon - 1), colon + 1);
                r = add_bank(&sel, alg, mask);
                if (r < 0)
                        return dw_error_set(err, EINVAL, 0, 0, "PCR selection '%s': bank %s %s", s,
                                            dw_hash_alg_name(alg), r == -EEXIST ? "given twice" : "too many");
                if (*end == '\0')
                        break;
                p = end + 1;
        }
        *ret = sel;
        return 0;
}

/* Clears from remaining the PCRs the TPM returned (out). */
static void selection_subtract(TPML_PCR_SELECTION *remaining, const TPML_PCR_SELECTION *out)
{
        for (uint32_t i = 0; i < out->count; i++)
                for (uint32_t j = 0; j < remaining->count; j++) {
                        TPMS_PCR_SELECTION *r = &remaining->pcrSelections[j];
                        const TPMS_PCR_SELECTION *o = &out->pcrSelections[i];

                        if (r->hash != o->hash)
                                continue;
                        for (unsigned k = 0; k < MIN(r->sizeofSelect, o->sizeofSelect); k++)
                                r->pcrSelect[k] &= (uint8_t)~o->pcrSelect[k];
                }
}

static int bank_error(const TPML_PCR_SELECTION *remaining, struct dw_error *err)
{
        char buf[128];

        return dw_error_set(err, ENOENT, 0, 0, "the TPM returns no values for PCRs %s (bank not active?)",
                            dw_tpm_pcr_selection_format(remaining, buf, sizeof(buf)));
}

/* One pass over the selection; -EAGAIN when the pcrUpdateCounter changed between two calls. */
static int pcr_read_once(struct dw_tpm *t, const TPML_PCR_SELECTION *sel, struct dw_tpm_pcrs *ret,
                         uint32_t *ret_counter, struct dw_error *err)
{
        _cleanup_free_ TPML_DIGEST *digests = NULL;
        TPML_PCR_SELECTION remaining = *sel;
        uint32_t first = 0;
        size_t n = 0;
        int total;

        total = dw_tpm_pcr_selection_count(sel);
        if (total <= 0)
                return dw_error_set(err, EINVAL, 0, 0, "empty or malformed PCR selection");
        digests = calloc((size_t)total, sizeof(*digests));
        if (!digests)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        while (dw_tpm_pcr_selection_count(&remaining) > 0) {
                _cleanup_esys_ TPML_PCR_SELECTION *out = NULL;
                _cleanup_esys_ TPML_DIGEST *values = NULL;
                uint32_t counter;
                TSS2_RC rc;

                rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &remaining, &counter, &out,
                                   &values);
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_error(err, rc, "TPM2_PCR_Read");
                if (n == 0)
                        first = counter;
                else if (counter != first)
                        return -EAGAIN;
                if (values->count == 0 || dw_tpm_pcr_selection_count(out) != (int)values->count)
                        return bank_error(&remaining, err);
                if (n == (size_t)total)
                        return dw_error_set(err, EIO, 0, 0, "TPM2_PCR_Read returned more values than selected");
                digests[n++] = *values;
                selection_subtract(&remaining, out);
        }
        if (dw_tpm_pcrs_from_digests(sel, digests, n, ret, err) < 0)
                return -EIO;
        *ret_counter = first;
        return 0;
}

int dw_tpm_pcr_read(struct dw_tpm *t, const TPML_PCR_SELECTION *sel, struct dw_tpm_pcrs *ret,
                    uint32_t *ret_update_counter, struct dw_error *err)
{
        uint32_t counter;

        for (unsigned i = 0; i < QUOTE_TRIES; i++) {
                int r = pcr_read_once(t, sel, ret, &counter, err);

                if (r == -EAGAIN)
                        continue;
                if (r < 0)
                        return r;
                if (ret_update_counter)
                        *ret_update_counter = counter;
                return 0;
        }
        return dw_error_set(err, EAGAIN, 0, 0, "PCRs kept changing during %u reads", QUOTE_TRIES);
}

/* The pcrUpdateCounter alone: a PCR_Read of an empty selection. */
static int pcr_update_counter(struct dw_tpm *t, uint32_t *ret, struct dw_error *err)
{
        _cleanup_esys_ TPML_PCR_SELECTION *out = NULL;
        _cleanup_esys_ TPML_DIGEST *values = NULL;
        const TPML_PCR_SELECTION none = {};
        TSS2_RC rc;

        rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &none, ret, &out, &values);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_PCR_Read");
        return 0;
}

/* The quote covers exactly the values read: same selection, and pcrDigest = H_sig(values). */
static int quote_covers(const TPM2B_ATTEST *quoted, const TPMT_SIGNATURE *sig, const struct dw_tpm_pcrs *pcrs,
                        struct dw_error *err)
{
        uint8_t digest[DW_HASH_MAX_SIZE];
        TPMS_ATTEST attest;
        size_t off = 0;
        int size;

        if (Tss2_MU_TPMS_ATTEST_Unmarshal(quoted->attestationData, quoted->size, &off, &attest) != TSS2_RC_SUCCESS ||
            attest.type != TPM2_ST_ATTEST_QUOTE)
                return dw_error_set(err, EIO, 0, 0, "the TPM's quote does not parse as a TPMS_ATTEST quote");
        if (!dw_tpm_pcr_selection_equal(&attest.attested.quote.pcrSelect, &pcrs->selection))
                return dw_error_set(err, EIO, 0, 0, "the TPM quoted another PCR selection than asked");
        size = dw_tpm_pcrs_digest(pcrs, sig->signature.any.hashAlg, digest);
        if (size <= 0)
                return dw_error_set(err, EIO, 0, 0, "cannot hash PCR values with the signature's hash 0x%04x",
                                    sig->signature.any.hashAlg);
        if (attest.attested.quote.pcrDigest.size != size ||
            memcmp(attest.attested.quote.pcrDigest.buffer, digest, (size_t)size) != 0)
                return -EAGAIN;
        return 0;
}

static int quote_once(struct dw_tpm *t, ESYS_TR ak, const TPM2B_DATA *qualifying, const TPML_PCR_SELECTION *sel,
                      struct dw_tpm_signed_attest *ret_quote, struct dw_tpm_pcrs *ret_pcrs, struct dw_error *err)
{
        _cleanup_esys_ TPM2B_ATTEST *quoted = NULL;
        _cleanup_esys_ TPMT_SIGNATURE *signature = NULL;
        const TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
        uint32_t before, after;
        TSS2_RC rc;
        int r;

        r = pcr_read_once(t, sel, ret_pcrs, &before, err);
        if (r < 0)
                return r;
        rc = Esys_Quote(t->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, qualifying, &scheme, sel, &quoted,
                        &signature);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_Quote");
        r = pcr_update_counter(t, &after, err);
        if (r < 0)
                return r;
        if (after != before)
                return -EAGAIN;
        r = quote_covers(quoted, signature, ret_pcrs, err);
        if (r < 0)
                return r;
        ret_quote->attest = *quoted;
        ret_quote->signature = *signature;
        return 0;
}

int dw_tpm_quote_pcrs(struct dw_tpm *t, uint32_t ak_handle, const uint8_t *nonce, size_t nonce_size,
                      const TPML_PCR_SELECTION *sel, struct dw_tpm_signed_attest *ret_quote,
                      struct dw_tpm_pcrs *ret_pcrs, struct dw_error *err)
{
        _cleanup_tpm_obj_ struct tpm_obj ak = TPM_OBJ_INIT(t);
        _cleanup_free_ struct dw_tpm_pcrs *pcrs = NULL;
        struct dw_tpm_signed_attest quote;
        struct dw_tpm_key key;
        TPM2B_DATA qualifying;
        int r;

        r = tpm_data_from(nonce, nonce_size, &qualifying, err);
        if (r < 0)
                return r;
        pcrs = malloc(sizeof(*pcrs));
        if (!pcrs)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        r = dw_tpm_ak_load(t, ak_handle, &key, err); /* refuses keys that are not AKs */
        if (r < 0)
                return r;
        r = tpm_obj_open(t, ak_handle, &ak, err);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < QUOTE_TRIES; i++) {
                r = quote_once(t, ak.tr, &qualifying, sel, &quote, pcrs, err);
                if (r == -EAGAIN)
                        continue;
                if (r < 0)
                        return r;
                *ret_quote = quote;
                *ret_pcrs = *pcrs;
                return 0;
        }
        return dw_error_set(err, EAGAIN, 0, 0, "PCRs kept changing during %u quotes", QUOTE_TRIES);
}
