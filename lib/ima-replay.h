/* SPDX-License-Identifier: MIT */
#pragma once

/* PCR replay of an IMA measurement list, incremental: the state is plain data that a verifier can persist and
 * resume from, so that each round only processes the entries it has not seen. */

#include "ima-log.h"

/* How the kernel extends a bank (ima_calc_field_array_hash, ima_crypto.c):
 *  - native: the bank's own hash of the template data (kernel >= 5.11, when the algorithm was available at IMA
 *    init);
 *  - sha1-padded: the SHA-1 template digest zero-padded to the bank size (older kernels for every bank, and newer
 *    ones for banks whose algorithm was not available at IMA init). SHA-1 is the same under both rules.
 * A violation extends all ones (0xff * bank size) under both rules. */
enum dw_ima_bank_rule {
        DW_IMA_BANK_NATIVE,
        DW_IMA_BANK_SHA1_PADDED,
        _DW_IMA_BANK_RULE_MAX,
};

const char *dw_ima_bank_rule_name(enum dw_ima_bank_rule rule); /* "native", "sha1-padded" */

struct dw_ima_replay {
        uint64_t next_index; /* entries replayed so far = index of the next entry */
        uint64_t violations; /* violations among them */
        bool check_digests;  /* verify each entry's logged template digest (default true) */
        bool enabled[_DW_HASH_ALG_MAX][_DW_IMA_BANK_RULE_MAX];
        uint32_t touched; /* bitmask of PCR indices extended */
        uint8_t pcr[_DW_HASH_ALG_MAX][_DW_IMA_BANK_RULE_MAX][DW_IMA_NR_PCRS][DW_HASH_MAX_SIZE];
};

/* All PCRs zero, no entry replayed, digests checked, no bank enabled. */
void dw_ima_replay_init(struct dw_ima_replay *r);
void dw_ima_replay_enable(struct dw_ima_replay *r, enum dw_hash_alg alg, enum dw_ima_bank_rule rule);

/* Extends one entry into every enabled bank. The entry's index must be r->next_index. On error nothing changes. */
int dw_ima_replay_entry(struct dw_ima_replay *r, struct dw_hasher *h, const struct dw_ima_entry *e,
                        struct dw_error *err);

/* Replays every complete entry of buf, which starts at an entry boundary and holds entries from r->next_index on.
 * Returns 0 when all of buf was replayed; -EAGAIN when its tail is an incomplete entry (every entry before it is
 * replayed, err says where it was cut); any other negative errno with err set on a malformed entry or a template
 * digest mismatch (entries before it stay replayed). *ret_consumed (if not NULL) is always set to the bytes of
 * buf that were replayed. */
int dw_ima_replay_feed(struct dw_ima_replay *r, struct dw_hasher *h, enum dw_ima_format format,
                       enum dw_hash_alg digest_alg, const uint8_t *buf, size_t len, size_t *ret_consumed,
                       struct dw_error *err);
