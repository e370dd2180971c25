/* SPDX-License-Identifier: MIT */
#pragma once

/* Runtime policy documents for tools: the JSON of docs/runtime-policy.md as a jansson tree that `driftwatch policy
 * create|merge|diff|sign|import-keylime` build, change and write. The judging engine (runtime-policy.h) compiles a
 * document into its own tables; these functions never judge anything. Pure: trees and bytes in, trees and bytes
 * out, no I/O.
 *
 * A normalized document holds every digest as "<algorithm>:<lowercase hex>" (or "verity:<algorithm>:<hex>") with the
 * algorithm's canonical name (sha1, sha256, sha384, sha512, sm3), each digest list sorted and without duplicates.
 * Everything these functions build is normalized; dw_policy_doc_write() writes it in one deterministic form: members
 * in a fixed order, names sorted bytewise, one path per line. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "hash.h"
#include "ima-log.h"
#include "runtime-policy.h"

/* The two maps of names to digests. */
enum dw_policy_section {
        DW_POLICY_SECTION_DIGESTS, /* "digests": file paths */
        DW_POLICY_SECTION_IMA_BUF, /* "ima_buf": ima-buf event names */
        _DW_POLICY_SECTION_MAX,
};

const char *dw_policy_section_name(enum dw_policy_section s);

/* A new, empty document: {"driftwatch_runtime_policy": 1, "meta": {...}, "digests": {}}. Fields passed as NULL are
 * left out of meta. created must be RFC 3339 (use dw_policy_time_rfc3339()). Returns NULL on allocation failure. */
json_t *dw_policy_doc_new(const char *name, const char *version, const char *created, const char *generator);

/* "2026-11-23T10:00:00Z" for t (UTC) into buf (at least 21 bytes). */
char *dw_policy_time_rfc3339(int64_t t, char buf[static 32]);

/* Parses and checks a policy exactly as dw_runtime_policy_load() does (same errors), and returns its tree,
 * normalized. */
int dw_policy_doc_parse(const void *json, size_t len, json_t **ret, struct dw_policy_error *err);

/* Checks a tree as dw_runtime_policy_load() checks a document (err says where), without keeping the compiled
 * policy. */
int dw_policy_doc_check(json_t *doc, struct dw_policy_error *err);

/* The name as a policy holds it: the bytes themselves when they are UTF-8 without NUL, else every byte outside
 * printable ASCII, and the backslash, as \xNN (what `driftwatch ima show --json` prints, and what the engine looks up
 * for such a name). ima_name also turns spaces into '_', as the kernel does to the names it logs (a tree walked on
 * the build machine holds the names with spaces). Returns a malloc'd string, or NULL on allocation failure. */
char *dw_policy_name(const char *bytes, size_t len, bool ima_name);

/* Adds one accepted digest for name (already in policy form, see dw_policy_name()) to a section. Keeps the list
 * sorted and without duplicates. Returns 1 when added, 0 when already there, -EINVAL, -ENOMEM. */
int dw_policy_doc_add_digest(json_t *doc, enum dw_policy_section s, const char *name, size_t name_len,
                             enum dw_hash_alg alg, bool verity, const uint8_t *digest);

/* Lists name in a section with no digest yet (a path known to the policy whose every measurement fails). Returns 1
 * when added, 0 when already there. */
int dw_policy_doc_add_name(json_t *doc, enum dw_policy_section s, const char *name, size_t name_len);

/* "sha256:<hex>" into out (at least DW_POLICY_DIGEST_STR_MAX bytes). */
#define DW_POLICY_DIGEST_STR_MAX (7 + 8 + 1 + 2 * DW_HASH_MAX_SIZE + 1)
char *dw_policy_digest_string(enum dw_hash_alg alg, bool verity, const uint8_t *digest, char *out);
/* Parses "<alg>:<hex>" / "verity:<alg>:<hex>" as the loader does. Returns 0, or -EBADMSG. */
int dw_policy_digest_parse(const char *s, size_t len, enum dw_hash_alg *ret_alg, bool *ret_verity,
                           uint8_t ret_digest[static DW_HASH_MAX_SIZE]);

/* Normalizes every digest list of a checked document (see above). Returns 0 or -ENOMEM. */
int dw_policy_doc_normalize(json_t *doc);

/* What learning from an IMA log did with one entry. */
enum dw_policy_learn {
        DW_POLICY_LEARN_FILE,           /* a file digest added to "digests" (or already there) */
        DW_POLICY_LEARN_BUFFER,         /* an ima-buf measurement added to "ima_buf" */
        DW_POLICY_LEARN_BOOT_AGGREGATE, /* skipped: checked against the quoted PCRs, not by the policy */
        DW_POLICY_LEARN_VIOLATION,      /* skipped */
        DW_POLICY_LEARN_UNSUPPORTED,    /* skipped: no digest, or one a policy cannot hold (md5, ...) */
        _DW_POLICY_LEARN_MAX,
};

/* Learning mode: adds what one (checked) IMA entry measured, as `policy check` would need it to accept the entry.
 * Returns 0 with *ret set, or -ENOMEM. */
int dw_policy_doc_learn_entry(json_t *doc, const struct dw_ima_entry *e, enum dw_policy_learn *ret);

/* Writes a document in the deterministic form: two-space indentation, members in the order of
 * docs/runtime-policy.md, names sorted bytewise, one name per line, strings escaped only where JSON requires it
 * (UTF-8 is kept). Returns 0 with a malloc'd, NUL-terminated buffer, -EINVAL for a document that is not an object,
 * -ENOMEM. */
int dw_policy_doc_write(const json_t *doc, char **ret, size_t *ret_len);

/* Merging: into accepts, afterwards, everything either policy accepted: digest and ima_buf lists united per name,
 * excludes united (order kept, duplicates dropped), keys united by key id, allow_violations when either allowed,
 * require_signatures only when both required. meta is into's. Two keys with the same key id but other PEM text are
 * refused (-EEXIST, why says which). Returns 0, -EEXIST, -ENOMEM. */
int dw_policy_doc_merge(json_t *into, const json_t *from, char *why, size_t why_size);

/* What changed from old to new, as a JSON object (docs/cli.md, `policy diff --json`):
 * {"same": bool, "digests": {"added": {NAME: [D...]}, "removed": {NAME: [D...]}, "changed": {NAME: {"added": [D...],
 * "removed": [D...]}}}, "ima_buf": {same shape}, "excludes": {"added": [...], "removed": [...]}, "keys": {"added":
 * [KEYID...], "removed": [KEYID...]}, "options": {NAME: {"old": V, "new": V}}, "counts": {"added": N, "removed": N,
 * "changed": N}}. meta is not compared. Both documents must be checked and normalized. Returns 0 or -ENOMEM. */
int dw_policy_doc_diff(const json_t *old, const json_t *new, json_t **ret);

/* The names of a section (or the keys of an object), sorted bytewise. The strings belong to obj. Returns the count,
 * or -ENOMEM; *ret is malloc'd (free it, not the strings). */
ssize_t dw_json_sorted_keys(const json_t *obj, const char ***ret);
