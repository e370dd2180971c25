/* SPDX-License-Identifier: MIT */
#pragma once

/* Internals of the runtime policy, shared by lib/runtime-policy*.c. Not an API. */

#include <regex.h>

#include <openssl/evp.h>

#include "runtime-policy.h"

/* ---- name -> accepted digests map (runtime-policy-map.c) ----
 *
 * Each name (a path, or an ima-buf event name) has a record in one pool, an arena that grows by doubling and is
 * never scattered over per-name allocations: its length, its number of digests, its bytes, then its accepted digests,
 * so that judging a common entry touches two cache lines of a large policy: a slot of the open-addressing table over
 * the names (linear probing, at most half full, slots tagged with 32 bits of the hash), and the record. A name with
 * more than DW_PMAP_INLINE_MAX digests has them in a second table over the (name, digest) pairs instead, so that a
 * lookup never scans more than DW_PMAP_INLINE_MAX digests: O(1) whatever the size of the policy and the number of
 * digests a name accepts.
 *
 * A map is built in two steps: dw_pmap_append() for each name with all its digests, in any order, then
 * dw_pmap_finish(), which sizes the tables exactly and fills them (and finds a name appended twice). Lookups only
 * read: a finished map can be shared between threads. */

#define DW_PMAP_INLINE_MAX 16

struct dw_pmap_record {
        uint32_t len;       /* of the name */
        uint32_t n_digests; /* distinct digests accepted (0: the name is known, nothing is accepted) */
        char name[];        /* len bytes and a NUL; then, for at most DW_PMAP_INLINE_MAX digests, each digest: one
                             * byte (the algorithm, | 0x80 for fs-verity) and its bytes */
};

/* A table slot: the entry's id + 1 (0: empty) and the high 32 bits of its hash, so that a probe compares in the
 * slot array and only touches the entry (another cache line) when those match. */
struct dw_pmap_slot {
        uint32_t id;
        uint32_t tag;
};

/* A digest as given to dw_pmap_append(). */
struct dw_pmap_digest {
        uint8_t alg; /* enum dw_hash_alg */
        bool verity;
        uint8_t bytes[DW_HASH_MAX_SIZE];
};

/* A digest of a name with many, in the pair table. */
struct dw_pdigest {
        uint32_t name; /* the name's record id */
        struct dw_pmap_digest d;
};

struct dw_pmap {
        uint8_t *pool; /* records, 4-byte aligned; a record's id is its offset / 4 */
        size_t pool_used, pool_size;
        size_t n_names;
        size_t n_digests; /* distinct (name, digest) pairs */
        struct dw_pmap_slot *name_slots;
        size_t name_mask;
        struct dw_pdigest *pairs;
        size_t n_pairs, max_pairs;
        struct dw_pmap_slot *pair_slots;
        size_t pair_mask;
};

/* Optional: makes room at once for names of name_bytes bytes in all (without NULs) accepting digests digests.
 * Returns 0, -E2BIG or -ENOMEM. */
int dw_pmap_reserve(struct dw_pmap *m, size_t names, size_t name_bytes, size_t digests);
/* Adds a name and the n digests it accepts. d is reordered and its duplicates dropped in place. Returns 0, -E2BIG
 * (past what ids can address) or -ENOMEM. */
int dw_pmap_append(struct dw_pmap *m, const char *name, size_t len, struct dw_pmap_digest *d, size_t n);
/* Builds the lookup tables. Returns 0, -EEXIST when a name was appended twice, or -ENOMEM. */
int dw_pmap_finish(struct dw_pmap *m);
void dw_pmap_done(struct dw_pmap *m);

/* A growable array of digests, for dw_pmap_append(). */
struct dw_pmap_digests {
        struct dw_pmap_digest *d;
        size_t n, size;
};

/* Makes room for n digests in all. Returns 0, -E2BIG or -ENOMEM. */
int dw_pmap_digests_reserve(struct dw_pmap_digests *l, size_t n);
void dw_pmap_digests_done(struct dw_pmap_digests *l);
const struct dw_pmap_record *dw_pmap_find(const struct dw_pmap *m, const char *name, size_t len);
bool dw_pmap_accepts(const struct dw_pmap *m, const struct dw_pmap_record *r, enum dw_hash_alg alg, bool verity,
                     const uint8_t *bytes);

/* ---- the policy ---- */

struct dw_policy_key {
        uint32_t keyid;
        EVP_PKEY *pkey;
};

struct dw_policy_exclude {
        regex_t re;
        char *pattern;
};

struct dw_runtime_policy {
        char *name, *version, *created, *generator;
        struct dw_pmap files;   /* "digests": path -> file digests */
        struct dw_pmap buffers; /* "ima_buf": event name -> buffer digests */
        struct dw_policy_exclude *excludes;
        size_t n_excludes;
        struct dw_policy_key *keys;
        size_t n_keys;
        EVP_MD *md[_DW_HASH_ALG_MAX]; /* fetched once for signature checks; NULL when OpenSSL lacks one */
        bool allow_violations;
        bool require_signatures;
};

/* Parses "<alg>:<hex>" or "verity:<alg>:<hex>" into out (DW_HASH_MAX_SIZE bytes). Returns 0, or -EBADMSG with why
 * (DW_POLICY_WHY_MAX bytes) set. */
#define DW_POLICY_WHY_MAX 192
int dw_policy_parse_digest(const char *s, size_t len, enum dw_hash_alg *ret_alg, bool *ret_verity, uint8_t *out,
                           char *why);

/* Checks and compiles the members of root into p (runtime-policy.c), then fetches what judging needs. p's maps may
 * already hold "digests" and "ima_buf" when root lacks those members. Returns 0, or -EBADMSG, -EOPNOTSUPP or -ENOMEM
 * with err set. */
int dw_runtime_policy_compile(struct dw_runtime_policy *p, json_t *root, struct dw_policy_error *err);

/* The streaming loader (runtime-policy-stream.c): "digests" and "ima_buf" read token by token into the maps, the
 * rest of the document parsed by jansson and compiled as dw_runtime_policy_load_tree() does. Returns 0 and sets *ret;
 * -EBADMSG, -EOPNOTSUPP or -ENOMEM with err set exactly as dw_runtime_policy_load_tree() would set it (a value of the
 * small members is wrong, in a document that is otherwise valid); or -EAGAIN when the document is refused for a
 * reason this loader does not describe (a syntax error, a bad value in the large members, no memory for them): the
 * DOM loader then says where and why. */
int dw_runtime_policy_load_stream(const void *json, size_t len, struct dw_runtime_policy **ret,
                                  struct dw_policy_error *err);

/* ---- signatures (runtime-policy-sig.c) ---- */

/* Imports a PEM public key or certificate (RSA or EC). *ret_keyid is the kernel's key id for it: the last 4 bytes of a
 * certificate's subject key identifier, else of the SHA-1 of the subjectPublicKey (what evmctl computes). Returns 0,
 * or -EBADMSG with why set. */
int dw_policy_key_import(const char *pem, size_t len, EVP_PKEY **ret_pkey, uint32_t *ret_keyid, char *why,
                         size_t why_size);

enum dw_sig_status {
        DW_SIG_GOOD,
        DW_SIG_BAD,         /* malformed, wrong algorithm or type, or the verification fails */
        DW_SIG_UNKNOWN_KEY, /* well formed, but by a key the policy does not have */
};

/* Checks an entry's signature against the policy's keys. Returns a dw_sig_status with v->keyid, v->signed_by_key and
 * (for BAD and UNKNOWN_KEY) v->detail set, or -ENOMEM. */
int dw_policy_sig_check(const struct dw_runtime_policy *p, const struct dw_policy_file *f, struct dw_policy_verdict *v);
