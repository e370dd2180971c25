/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "ima-replay.h"
#include "macro.h"

#define SHA1_SIZE 20

const char *dw_ima_bank_rule_name(enum dw_ima_bank_rule rule)
{
        switch (rule) {
        case DW_IMA_BANK_NATIVE:
                return "native";
        case DW_IMA_BANK_SHA1_PADDED:
                return "sha1-padded";
        default:
                return NULL;
        }
}

void dw_ima_replay_init(struct dw_ima_replay *r)
{
        memset(r, 0, sizeof(*r));
        r->check_digests = true;
}

void dw_ima_replay_enable(struct dw_ima_replay *r, enum dw_hash_alg alg, enum dw_ima_bank_rule rule)
{
        if (alg < 0 || alg >= _DW_HASH_ALG_MAX || rule < 0 || rule >= _DW_IMA_BANK_RULE_MAX)
                return;
        r->enabled[alg][rule] = true;
}

/* The template digests of one entry per algorithm, each computed at most once. */
struct entry_digests {
        bool known[_DW_HASH_ALG_MAX];
        uint8_t digest[_DW_HASH_ALG_MAX][DW_HASH_MAX_SIZE];
};

static int digest_get(struct dw_hasher *h, const struct dw_ima_entry *e, struct entry_digests *d, enum dw_hash_alg alg,
                      struct dw_error *err, const uint8_t **ret)
{
        int r;

        if (!d->known[alg]) {
                r = dw_ima_entry_template_hash(h, e, alg, d->digest[alg]);
                if (r < 0)
                        return dw_error_set(err, r, e->index, e->offset, "cannot compute the %s template digest",
                                            dw_hash_alg_name(alg));
                d->known[alg] = true;
        }
        *ret = d->digest[alg];
        return 0;
}

/* Checks the logged template digest, remembering what the check computed: the logged digest is then the
 * template digest for its algorithm (or, for a sha1-padded log, for SHA-1). */
static int entry_check(struct dw_hasher *h, const struct dw_ima_entry *e, struct entry_digests *d, struct dw_error *err)
{
        size_t size = dw_hash_alg_size(e->digest_alg);
        const uint8_t *computed = NULL;
        int r;

        if (e->violation || size == 0)
                return dw_ima_entry_check_digest(h, e, err);
        r = digest_get(h, e, d, e->digest_alg, err, &computed);
        if (r < 0)
                return r;
        if (memcmp(computed, e->template_digest, size) == 0)
                return 0;
        /* Not the native digest: either sha1-padded, which the check accepts, or a mismatch it reports. */
        r = dw_ima_entry_check_digest(h, e, err);
        if (r < 0)
                return r;
        memcpy(d->digest[DW_HASH_SHA1], e->template_digest, SHA1_SIZE);
        d->known[DW_HASH_SHA1] = true;
        return 0;
}

/* What the kernel extends into a bank for this entry. */
static int extend_value(struct dw_hasher *h, const struct dw_ima_entry *e, struct entry_digests *d,
                        enum dw_hash_alg alg, enum dw_ima_bank_rule rule, struct dw_error *err, uint8_t *out)
{
        size_t size = dw_hash_alg_size(alg);
        const uint8_t *digest = NULL;
        int r;

        if (e->violation) {
                memset(out, 0xff, size);
                return 0;
        }
        if (rule == DW_IMA_BANK_SHA1_PADDED && alg != DW_HASH_SHA1) {
                r = digest_get(h, e, d, DW_HASH_SHA1, err, &digest);
                if (r < 0)
                        return r;
                memset(out, 0, size);
                memcpy(out, digest, SHA1_SIZE);
                return 0;
        }
        r = digest_get(h, e, d, alg, err, &digest);
        if (r < 0)
                return r;
        memcpy(out, digest, size);
        return 0;
}

int dw_ima_replay_entry(struct dw_ima_replay *r, struct dw_hasher *h, const struct dw_ima_entry *e,
                        struct dw_error *err)
{
        uint8_t new_pcr[_DW_HASH_ALG_MAX][_DW_IMA_BANK_RULE_MAX][DW_HASH_MAX_SIZE];
        struct entry_digests d;
        int k;

        if (!r || !h || !e)
                return dw_error_set(err, EINVAL, e ? e->index : 0, e ? e->offset : 0, "invalid argument");
        if (e->index != r->next_index)
                return dw_error_set(err, EINVAL, e->index, e->offset,
                                    "entry %" PRIu64 " is out of order: the replay expects entry %" PRIu64, e->index,
                                    r->next_index);
        if (e->pcr >= DW_IMA_NR_PCRS)
                return dw_error_set(err, EBADMSG, e->index, e->offset, "PCR index %" PRIu32 " out of range", e->pcr);

        /* Without a check, the logged digest is trusted only where it is the digest of its own algorithm. */
        memset(d.known, 0, sizeof(d.known));
        if (r->check_digests) {
                k = entry_check(h, e, &d, err);
                if (k < 0)
                        return k;
        }

        /* Compute everything first, so that an error leaves r untouched. */
        FOREACH_HASH_ALG (alg) {
                for (enum dw_ima_bank_rule rule = 0; rule < _DW_IMA_BANK_RULE_MAX; rule++) {
                        uint8_t value[DW_HASH_MAX_SIZE];

                        if (!r->enabled[alg][rule])
                                continue;
                        if (alg == DW_HASH_SHA1 && rule == DW_IMA_BANK_SHA1_PADDED &&
                            r->enabled[alg][DW_IMA_BANK_NATIVE]) {
                                /* SHA-1 is the same under both rules. */
                                memcpy(new_pcr[alg][rule], new_pcr[alg][DW_IMA_BANK_NATIVE], SHA1_SIZE);
                                continue;
                        }
                        k = extend_value(h, e, &d, alg, rule, err, value);
                        if (k < 0)
                                return k;
                        memcpy(new_pcr[alg][rule], r->pcr[alg][rule][e->pcr], dw_hash_alg_size(alg));
                        k = dw_pcr_extend(h, alg, new_pcr[alg][rule], value);
                        if (k < 0)
                                return dw_error_set(err, k, e->index, e->offset, "cannot extend the %s bank",
                                                    dw_hash_alg_name(alg));
                }
        }

        FOREACH_HASH_ALG (alg)
                for (enum dw_ima_bank_rule rule = 0; rule < _DW_IMA_BANK_RULE_MAX; rule++)
                        if (r->enabled[alg][rule])
                                memcpy(r->pcr[alg][rule][e->pcr], new_pcr[alg][rule], dw_hash_alg_size(alg));
        r->touched |= UINT32_C(1) << e->pcr;
        if (e->violation)
                r->violations++;
        r->next_index++;
        return 0;
}

int dw_ima_replay_feed(struct dw_ima_replay *r, struct dw_hasher *h, enum dw_ima_format format,
                       enum dw_hash_alg digest_alg, const uint8_t *buf, size_t len, size_t *ret_consumed,
                       struct dw_error *err)
{
        struct dw_ima_parser p;
        int k;

        if (ret_consumed)
                *ret_consumed = 0;
        if (!r || !h)
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");

        dw_ima_parser_init(&p, format, digest_alg, buf, len);
        dw_ima_parser_set_index(&p, r->next_index);
        for (;;) {
                struct dw_ima_entry e;

                k = dw_ima_parser_next(&p, &e, err);
                if (k <= 0)
                        break;
                k = dw_ima_replay_entry(r, h, &e, err);
                if (k < 0) {
                        /* p.pos is past the entry that failed: report its start instead. */
                        p.pos = e.offset;
                        break;
                }
        }
        if (ret_consumed)
                *ret_consumed = p.pos;
        dw_ima_parser_done(&p);
        return k;
}
