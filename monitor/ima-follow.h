/* SPDX-License-Identifier: MIT */
#pragma once

/* Follows the kernel's binary IMA measurement list while it grows: reads what was appended since the last poll,
 * parses complete entries (a cut last entry waits for the next poll), checks each template digest, replays PCR 10
 * in the sha1 and sha256 banks (native rule: what the kernel extends) and hands every new entry to a callback.
 *
 * It keeps the replayed PCR 10 value after each of the last MON_IMA_HISTORY entries, so that a PCR 10 read from the
 * TPM can be matched against the log: the kernel appends an entry to the list before it extends the PCR, so a TPM
 * value read at any moment equals the replay after some entry the follower has seen (once it has polled after the
 * read). No match means the log or the PCR was tampered with.
 *
 * Nothing read is trusted: lengths are checked by lib/ima-log's parser; a malformed entry or a template digest that
 * is not the hash of its data stops the follower at that entry (-EBADMSG, err names the index and offset) and
 * every later poll reports the same error. A file that shrinks or is replaced (-ESTALE) means the log restarted,
 * which the kernel never does within a boot. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dw-error.h"
#include "hash.h"
#include "ima-log.h"

#define MON_IMA_HISTORY     4096                /* entries whose PCR 10 values are kept for matching */
#define MON_IMA_READ_CHUNK  (256u * 1024)       /* bytes read per read() */
#define MON_IMA_PENDING_MAX (17u * 1024 * 1024) /* a cut entry may be this large (template data ≤ 16 MiB) */

struct mon_ima_follow;

/* Called for each new complete entry, in order. A negative return stops the poll and is returned by it. */
typedef int (*mon_ima_entry_fn)(const struct dw_ima_entry *e, void *userdata);

int mon_ima_follow_new(const char *path, enum dw_hash_alg log_alg, struct mon_ima_follow **ret);
void mon_ima_follow_free(struct mon_ima_follow *f);
static inline void mon_ima_follow_freep(struct mon_ima_follow **f)
{
        if (*f)
                mon_ima_follow_free(*f);
}

/* Reads and replays what was appended; the number of new entries (≥ 0), or a negative errno with err set (the
 * entries before a bad one are replayed and were handed to fn). */
int mon_ima_follow_poll(struct mon_ima_follow *f, mon_ima_entry_fn fn, void *userdata, struct dw_error *err);

/* From now on (call it before the first poll), note in o where every MON_IMA_OFFSET_EVERY-th entry starts, for
 * rounds to read the log from there (ima-slice.h). o must outlive f. */
struct mon_ima_offsets;
void mon_ima_follow_set_offsets(struct mon_ima_follow *f, struct mon_ima_offsets *o);

/* From now on, remember the file digest of every entry read (call it before the first poll to have them all): for
 * mon_ima_follow_has_digest(). Violations (all-zero digests) are not remembered. -ENOMEM. */
int mon_ima_follow_track_digests(struct mon_ima_follow *f);
/* Whether an entry read so far carries this file digest (the algorithm counts: "sha256:<d>" is not "sha1:<d>").
 * Digests longer than 32 bytes are compared on their first 32. */
bool mon_ima_follow_has_digest(const struct mon_ima_follow *f, enum dw_hash_alg alg, const uint8_t *digest,
                               size_t size);
/* The algorithms of the file digests remembered, a bit per enum dw_hash_alg. */
unsigned mon_ima_follow_digest_algs(const struct mon_ima_follow *f);
/* Whether the log is the kernel's own (on securityfs), not a file (the IMA simulator's). Known after the first
 * poll; false before. */
bool mon_ima_follow_is_kernel(const struct mon_ima_follow *f);
/* Whether the follower stopped trusting the log (a bad entry, a log that shrank...). */
bool mon_ima_follow_failed(const struct mon_ima_follow *f);

/* Entries replayed so far (= index of the next). */
uint64_t mon_ima_follow_count(const struct mon_ima_follow *f);
/* Violations among them. */
uint64_t mon_ima_follow_violations(const struct mon_ima_follow *f);

/* The replayed PCR 10 of bank alg (sha1 or sha256) now. -EOPNOTSUPP for another bank. */
int mon_ima_follow_pcr(const struct mon_ima_follow *f, enum dw_hash_alg alg, uint8_t ret[static DW_HASH_MAX_SIZE]);

/* Whether value (PCR 10 of bank alg, as the TPM holds it) equals the replay after some entry still in the history
 * (or after none, for an empty log). 1 with *ret_count = the number of entries it covers, 0 when no replay point
 * matches, -EOPNOTSUPP for a bank that is not replayed. */
int mon_ima_follow_match(const struct mon_ima_follow *f, enum dw_hash_alg alg, const uint8_t *value, size_t size,
                         uint64_t *ret_count);
