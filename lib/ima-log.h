/* SPDX-License-Identifier: MIT */
#pragma once

/* The kernel's IMA measurement list (security/integrity/ima/): binary_runtime_measurements[_<bank>] and
 * ascii_runtime_measurements[_<bank>]. Pure: parses caller-provided memory, never does I/O.
 *
 * Names follow the kernel's: templates ("ima", "ima-ng", ...), template fields ("d", "n", "d-ng", ...), template
 * data (the fields as hashed into the template digest) and template digest (what is extended into the PCR). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dw-error.h"
#include "hash.h"

/* Template field ids (ima_template.c, supported_fields[]). */
enum dw_ima_field_id {
        DW_IMA_FIELD_D,            /* "d": digest, 20 bytes, no algorithm (only in the "ima" template) */
        DW_IMA_FIELD_N,            /* "n": event name, at most 255 bytes */
        DW_IMA_FIELD_D_NG,         /* "d-ng": "<algo>:\0" + digest */
        DW_IMA_FIELD_D_NGV2,       /* "d-ngv2": "<type>:<algo>:\0" + digest, type "ima" or "verity" */
        DW_IMA_FIELD_N_NG,         /* "n-ng": event name, NUL-terminated, any length */
        DW_IMA_FIELD_SIG,          /* "sig": security.ima signature (type 3 or verity), raw */
        DW_IMA_FIELD_BUF,          /* "buf": the measured buffer itself (ima-buf) */
        DW_IMA_FIELD_D_MODSIG,     /* "d-modsig": digest without the appended signature, d-ng format */
        DW_IMA_FIELD_MODSIG,       /* "modsig": the appended (PKCS#7) signature, raw */
        DW_IMA_FIELD_EVMSIG,       /* "evmsig": security.evm portable signature, raw */
        DW_IMA_FIELD_IUID,         /* "iuid": inode uid, unsigned int */
        DW_IMA_FIELD_IGID,         /* "igid": inode gid, unsigned int */
        DW_IMA_FIELD_IMODE,        /* "imode": inode mode, umode_t (16 bits) */
        DW_IMA_FIELD_XATTRNAMES,   /* "xattrnames": '|'-separated names, NUL-terminated */
        DW_IMA_FIELD_XATTRLENGTHS, /* "xattrlengths": u32 length per xattr */
        DW_IMA_FIELD_XATTRVALUES,  /* "xattrvalues": the xattr values, concatenated */
        _DW_IMA_FIELD_MAX,
};

#define DW_IMA_TEMPLATE_FIELDS_MAX 15  /* IMA_TEMPLATE_NUM_FIELDS_MAX */
#define DW_IMA_EVENT_NAME_LEN_MAX  255 /* IMA_EVENT_NAME_LEN_MAX */
#define DW_IMA_TEMPLATE_NAME_MAX   255 /* longest template name or custom "f1|f2|..." descriptor we accept */
#define DW_IMA_TEMPLATE_DATA_MAX   (16u * 1024 * 1024) /* larger template data is rejected as absurd */
#define DW_IMA_NR_PCRS             24

const char *dw_ima_field_id_name(enum dw_ima_field_id id);

/* A template descriptor: a built-in template ("ima-ng" -> d-ng|n-ng) or a custom one named by its format string
 * ("d-ng|n-ng|iuid"), which is how the kernel names custom templates in the log. */
struct dw_ima_template {
        enum dw_ima_field_id fields[DW_IMA_TEMPLATE_FIELDS_MAX];
        unsigned n_fields;
        bool is_ima; /* the original "ima" template: its own binary layout and template digest rule */
};

/* Returns 0, or -EBADMSG for an unknown template name or field id. */
int dw_ima_template_lookup(const char *name, size_t len, struct dw_ima_template *ret);

struct dw_ima_field {
        enum dw_ima_field_id id;
        const uint8_t *data; /* the field's data as the kernel holds it (strings include their NUL) */
        uint32_t len;
};

struct dw_ima_entry {
        uint64_t index; /* 0-based position in the whole log */
        size_t offset;  /* binary: byte offset of the entry; ascii: byte offset of its line */
        uint32_t pcr;
        enum dw_hash_alg digest_alg; /* algorithm of the logged template digest */
        uint8_t template_digest[DW_HASH_MAX_SIZE];
        const char *template_name; /* not NUL-terminated */
        size_t template_name_len;
        struct dw_ima_template tmpl;
        struct dw_ima_field fields[DW_IMA_TEMPLATE_FIELDS_MAX];
        /* For every template but "ima": the template data exactly as hashed, i.e. each field as u32 length (little
         * endian) + data. For "ima": NULL (its digest is sha1(d || n padded to 256 bytes)). */
        const uint8_t *template_data;
        uint32_t template_data_len;
        bool violation; /* logged template digest is all zeros: a ToMToU/open-writers violation */
};

/* Accessors, for labels and policy. Return 0 and set the out-parameters, or -ENOENT when the template has no
 * such field (or it is empty), -EBADMSG when it is malformed. */
/* File digest from d / d-ng / d-ngv2. ret_type is "ima" or "verity" for d-ngv2, NULL otherwise. */
int dw_ima_entry_file_digest(const struct dw_ima_entry *e, enum dw_hash_alg *ret_alg, const uint8_t **ret_digest,
                             size_t *ret_len, const char **ret_type);
/* Event name from n / n-ng, without its NUL. */
int dw_ima_entry_event_name(const struct dw_ima_entry *e, const char **ret_name, size_t *ret_len);
/* Raw data of a field by id. */
int dw_ima_entry_field(const struct dw_ima_entry *e, enum dw_ima_field_id id, const uint8_t **ret_data,
                       uint32_t *ret_len);

/* out = the template digest of e for a bank's algorithm, computed from its template data as the kernel does. */
int dw_ima_entry_template_hash(struct dw_hasher *h, const struct dw_ima_entry *e, enum dw_hash_alg alg, uint8_t *out);

/* Checks the logged template digest against the template data. A violation passes: its digest is zero by rule.
 * Returns 0, or -EBADMSG with err set ("template digest mismatch"). */
int dw_ima_entry_check_digest(struct dw_hasher *h, const struct dw_ima_entry *e, struct dw_error *err);

enum dw_ima_format {
        DW_IMA_FORMAT_BINARY,
        DW_IMA_FORMAT_ASCII,
};

/* Iterates over the entries of a log held in memory. Entries point into buf (binary) or into the parser's own
 * scratch buffer (ascii, and the "ima" template), valid until the next call to next() or done(). */
struct dw_ima_parser {
        enum dw_ima_format format;
        enum dw_hash_alg digest_alg; /* binary: algorithm of the logged template digests (file name's bank) */
        const uint8_t *buf;
        size_t len;
        size_t pos;     /* offset of the next entry */
        uint64_t index; /* index of the next entry */
        uint8_t *scratch;
        size_t scratch_size;
};

/* For ascii logs digest_alg is taken from each line (hex length) and the argument only sets the default. */
void dw_ima_parser_init(struct dw_ima_parser *p, enum dw_ima_format format, enum dw_hash_alg digest_alg,
                        const uint8_t *buf, size_t len);
/* Numbers the entries from first_index: used when buf holds only the tail of a log (incremental replay). */
void dw_ima_parser_set_index(struct dw_ima_parser *p, uint64_t first_index);
/* Returns 1 with *ret filled, 0 at the clean end of buf, -EAGAIN when the rest of buf is an incomplete entry (a
 * log cut mid-entry, or still being written: p->pos stays at its start, err says where), or -EBADMSG / -E2BIG /
 * -EOPNOTSUPP with err set for malformed input. */
int dw_ima_parser_next(struct dw_ima_parser *p, struct dw_ima_entry *ret, struct dw_error *err);
void dw_ima_parser_done(struct dw_ima_parser *p);
