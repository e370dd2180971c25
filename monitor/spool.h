/* SPDX-License-Identifier: MIT */
#pragma once

/* The monitor's store-and-forward spool: a directory of records (signed event batches, in the JSON the verifier
 * takes), each written durably before spool_put returns (temporary file, fsync, rename, fsync of the directory), so
 * a monitor killed with SIGKILL and restarted finds every record it had put and none half-written. Records are read
 * back oldest first and removed once the verifier has acknowledged them.
 *
 * Records are named by a 64-bit key the spool assigns, one more than the largest it holds or has held since it was
 * opened ("%020" PRIu64 ".rec"); a record file carries a small header (magic "DWSP", version, payload size, CRC-32C
 * or SHA-256 of the payload) so a damaged record is found and reported at open rather than sent. Anything else in the
 * directory is ignored (leftover temporary files of an interrupted put are removed).
 *
 * The spool is bounded by max_bytes (payloads plus headers): spool_put refuses with -ENOSPC what would exceed it;
 * the caller (the event recorder) then summarises instead of recording event by event, so nothing is dropped
 * silently. Not thread-safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dw-error.h"

struct mon_spool;

/* Opens (creating it 0700 if missing) the directory and indexes what it holds. A damaged record (bad header,
 * checksum, truncated) is moved aside to "<name>.damaged" and counted in ret_damaged (optional), not fatal. */
int mon_spool_open(const char *dir, uint64_t max_bytes, struct mon_spool **ret, size_t *ret_damaged,
                   struct dw_error *err);
void mon_spool_close(struct mon_spool *s);
static inline void mon_spool_closep(struct mon_spool **s)
{
        if (*s)
                mon_spool_close(*s);
}

/* Durably stores a record; its key in ret_key (optional). -ENOSPC when it would exceed max_bytes (or the file
 * system is full), -EIO and friends for write errors; on any error nothing of the record remains. */
int mon_spool_put(struct mon_spool *s, const void *data, size_t size, uint64_t *ret_key, struct dw_error *err);

/* The oldest record (a malloc'd copy, NUL-terminated after size bytes for convenience). -ENOENT when empty. */
int mon_spool_oldest(struct mon_spool *s, uint64_t *ret_key, uint8_t **ret_data, size_t *ret_size,
                     struct dw_error *err);

/* The record after key (the next larger key), as mon_spool_oldest. -ENOENT when there is none. */
int mon_spool_next(struct mon_spool *s, uint64_t key, uint64_t *ret_key, uint8_t **ret_data, size_t *ret_size,
                   struct dw_error *err);

/* Removes a record (durably: the directory is fsync'd). -ENOENT when there is no such key. */
int mon_spool_remove(struct mon_spool *s, uint64_t key, struct dw_error *err);

size_t mon_spool_count(const struct mon_spool *s);
uint64_t mon_spool_bytes(const struct mon_spool *s); /* what the records take against max_bytes */
uint64_t mon_spool_max_bytes(const struct mon_spool *s);
/* Whether a record of size bytes would fit now. */
bool mon_spool_fits(const struct mon_spool *s, size_t size);
