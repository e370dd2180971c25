/* SPDX-License-Identifier: MIT */
#pragma once

/* Writes IMA measurement list entries as the kernel does (ima_template_lib.c, ima_fs.c): template data, template
 * digest, and the binary_runtime_measurements and ascii_runtime_measurements forms. For tests, benchmarks and an
 * IMA simulator. Pure: builds into memory, never does I/O.
 *
 * The writer is faithful rather than strict: it does not check digest sizes against algorithm names, so that tests
 * can build malformed entries with it too. It does what the kernel does to values: spaces in event names become
 * '_', an "n" event name is cut at 255 bytes, a violation's file digests are zeros. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "ima-log.h"
#include "ima-replay.h"

/* A growable byte buffer. Zero-initialize it; free it with dw_ima_buf_done(). */
struct dw_ima_buf {
        uint8_t *data;
        size_t len;
        size_t allocated;
};

void dw_ima_buf_done(struct dw_ima_buf *b);
/* Returns 0 or -ENOMEM. */
int dw_ima_buf_append(struct dw_ima_buf *b, const void *data, size_t len);

/* A measurement: the values a template's fields are built from. Fields the template does not have are ignored;
 * NULL or zero-length values give empty fields where the kernel writes them (sig, buf, modsig, ...). */
struct dw_ima_event {
        uint32_t pcr;
        const char *template_name; /* "ima-ng", "ima-sig", ..., or a custom "d-ng|n-ng|iuid" */
        bool violation;            /* file digests become zeros and the template digest is zero */

        /* File digest for d, d-ng, d-ngv2: algo is the kernel's name ("sha256", "md5", ...); d takes the bare
         * digest (20 bytes in the "ima" template). A violation writes zeros instead: digest may then be NULL, and
         * digest_len 0 means the algorithm's size (20 for d). */
        const char *digest_algo;
        const uint8_t *digest;
        size_t digest_len;
        const char *digest_type; /* d-ngv2: "ima" (when NULL) or "verity" */

        const char *name; /* n, n-ng: event name (file path, "boot_aggregate", ...) */

        const uint8_t *sig; /* sig: security.ima signature */
        size_t sig_len;
        const uint8_t *buf; /* buf: the measured buffer (ima-buf) */
        size_t buf_len;

        /* d-modsig and modsig: written only when modsig_len > 0, like the kernel without an appended signature. */
        const char *modsig_digest_algo;
        const uint8_t *modsig_digest;
        size_t modsig_digest_len;
        const uint8_t *modsig;
        size_t modsig_len;

        const uint8_t *evmsig; /* evmsig: security.evm portable signature */
        size_t evmsig_len;

        bool has_inode; /* iuid, igid, imode are written only when true (the kernel needs a file) */
        uint32_t uid, gid;
        uint16_t mode;

        const char *xattrnames; /* "security.ima|security.selinux"; NULL or "" for none */
        const uint8_t *xattrlengths;
        size_t xattrlengths_len;
        const uint8_t *xattrvalues;
        size_t xattrvalues_len;
};

/* An entry built from an event, with the storage it points into. Zero-initialize it; free it with
 * dw_ima_built_entry_done(). entry.index and entry.offset are 0: set them if they matter. */
struct dw_ima_built_entry {
        struct dw_ima_entry entry;
        char template_name[DW_IMA_TEMPLATE_NAME_MAX + 1];
        struct dw_ima_buf data; /* template data; for "ima": d then n with its NUL, no lengths */
};

void dw_ima_built_entry_done(struct dw_ima_built_entry *b);

/* Builds ev into ret (any previous content is freed) with the template digest the kernel logs for a bank of
 * digest_alg under rule: native H(template data), or the SHA-1 one zero-padded; zero for a violation. Returns 0,
 * -EINVAL for a bad event (unknown template, no event name, "ima" with a digest that is not 20 bytes...),
 * -E2BIG when the template data exceeds DW_IMA_TEMPLATE_DATA_MAX, -ENOMEM, or a hashing error. */
int dw_ima_event_build(struct dw_hasher *h, const struct dw_ima_event *ev, enum dw_hash_alg digest_alg,
                       enum dw_ima_bank_rule rule, struct dw_ima_built_entry *ret);

/* Appends an entry, as parsed or built, in the binary format (its template digest is dw_hash_alg_size(
 * e->digest_alg) bytes, the bank of the file it goes to) or in the ascii format, exactly as the kernel shows it:
 * a parsed binary log rewritten in ascii is the kernel's ascii file byte for byte, and the other way round. On
 * error nothing is appended. Return 0, -EINVAL, -ENOMEM. */
int dw_ima_entry_write_binary(const struct dw_ima_entry *e, struct dw_ima_buf *out);
int dw_ima_entry_write_ascii(const struct dw_ima_entry *e, struct dw_ima_buf *out);

/* Builds ev and appends it to out in format: dw_ima_event_build() and then one of the above. */
int dw_ima_event_write(struct dw_hasher *h, const struct dw_ima_event *ev, enum dw_ima_format format,
                       enum dw_hash_alg digest_alg, enum dw_ima_bank_rule rule, struct dw_ima_buf *out);
