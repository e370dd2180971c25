/* SPDX-License-Identifier: MIT */
#pragma once

/* A round carries the IMA entries the verifier has not seen yet: from entry `from` to the end of the log. The log on
 * securityfs has no index: reading it from the start each round costs the kernel a walk of the whole list and the
 * monitor a buffer of its whole size, both growing with the gateway's uptime. So the follower, which reads every
 * entry anyway, notes where every MON_IMA_OFFSET_EVERY-th entry starts (mon_ima_offsets), and a round reads from
 * the nearest noted entry at or before `from`.
 *
 * A noted offset is only a hint: the log it was noted in may have been replaced since (a tampered file, a test's
 * simulator). Whatever is read from it is parsed again, and when it does not parse as entries from the noted index
 * on, the round reads the whole log as before. What is sent is judged by the verifier against the quoted PCR 10
 * either way. */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "dw-error.h"
#include "hash.h"

#define MON_IMA_OFFSET_EVERY 256u /* entries between two noted offsets: a round reads at most this many extra */

/* Where noted entries start in the log. Written by the follower (the main loop), read by the uplink's worker. */
struct mon_ima_offsets;

int mon_ima_offsets_new(struct mon_ima_offsets **ret);
void mon_ima_offsets_free(struct mon_ima_offsets *o);
static inline void mon_ima_offsets_freep(struct mon_ima_offsets **o)
{
        if (*o)
                mon_ima_offsets_free(*o);
}

/* Entry index starts at byte offset; indexes are noted in increasing order (others are ignored). The number of
 * entries read so far is `seen` (entries index < seen exist). -ENOMEM: the note is lost, and rounds read more. */
int mon_ima_offsets_note(struct mon_ima_offsets *o, uint64_t index, uint64_t offset);
void mon_ima_offsets_seen(struct mon_ima_offsets *o, uint64_t seen);
/* Forgets everything (the log restarted). */
void mon_ima_offsets_reset(struct mon_ima_offsets *o);
/* The last noted entry at or before from, when from is an entry the follower has read (or the end of what it has
 * read): 1 with *ret_index, *ret_offset; 0 when there is none (read the whole log). */
int mon_ima_offsets_find(struct mon_ima_offsets *o, uint64_t from, uint64_t *ret_index, uint64_t *ret_offset);

/* Where the entries to send are in a binary IMA log buffer whose first entry has index log_first. */
struct mon_ima_slice {
        size_t offset, size;
        uint64_t first, count;
        uint64_t read_from; /* mon_ima_slice_read: the byte of the file the buffer starts at */
        size_t read_size;   /* ... and its size */
};

/* The complete entries of log from index from on (a cut last entry is left for the next round). When the log has
 * fewer than from entries, it is a new boot's (the verifier's count is from the last one): all of it, which needs
 * log_first == 0 (-ERANGE otherwise); from < log_first is -ERANGE too. A malformed entry is its error. */
int mon_ima_slice_find(const uint8_t *log, size_t size, uint64_t log_first, enum dw_hash_alg alg, uint64_t from,
                       struct mon_ima_slice *ret, struct dw_error *err);

/* Reads the log at path (at most max bytes) and finds the entries from `from` on in it, starting at the offset
 * noted for the nearest entry when offsets (may be NULL) has one; *ret_data is the buffer ret indexes. */
int mon_ima_slice_read(const char *path, struct mon_ima_offsets *offsets, enum dw_hash_alg alg, size_t max,
                       uint64_t from, uint8_t **ret_data, struct mon_ima_slice *ret, struct dw_error *err);
