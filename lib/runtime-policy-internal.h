/* SPDX-License-Identifier: MIT */
#pragma once

/* Internals of the runtime policy, shared by lib/runtime-policy*.c. Not an API. */

#include <regex.h>

#include <openssl/evp.h>

#include "runtime-policy.h"

/* ---- name -> accepted digests map (runtime-policy-map.c) ----
 *
 * Each name (a path, or an ima-buf event name) has a record in one pool: its hash, its bytes, then its accepted
 * digests, so that judging a common entry touches two cache lines of a large policy: a slot of the open-addressing
 * table over the names (linear probing, at most half full, slots tagged with 32 bits of the hash), and the record.
 * A name with more than DW_PMAP_INLINE_MAX digests also has them in a second table over the (name, digest) pairs,
 * so that a lookup never scans more than DW_PMAP_INLINE_MAX digests: O(1) whatever the size of the policy and the
 * number of digests a name accepts. Lookups only read: a built map can be shared between threads. */

#define DW_PMAP_INLINE_MAX 16

struct dw_pmap_record {
        uint64_t hash;
        uint32_t len;         /* of the name */
        uint32_t n_digests;   /* distinct digests accepted (0: the name is known, nothing is accepted) */
        uint32_t max_digests; /* room for digests after the name */
        uint32_t digests_at;  /* offset of the first digest from the record */
        char name[];          /* len bytes and a NUL; the digests follow, each alg, verity, then the bytes */
};

/* A table slot: the entry's id + 1 (0: empty) and the high 32 bits of its hash, so that a probe compares in the
 * slot array and only touches the entry (another cache line) when those match. */
struct dw_pmap_slot {
        uint32_t id;
        uint32_t tag;
};

/* A digest of a name with many, in the pair table. */
struct dw_pdigest {
        uint32_t name; /* the name's record id */
        uint8_t alg;   /* enum dw_hash_alg */
        uint8_t verity;
        uint8_t bytes[DW_HASH_MAX_SIZE];
};

struct dw_pmap {
        uint8_t *pool; /* records, 8-byte aligned; a record's id is its offset / 8 */
        size_t pool_used, pool_size;
        size_t n_names, max_names;
        size_t n_digests; /* distinct (name, digest) pairs */
        struct dw_pmap_slot *name_slots;
        size_t name_mask;
        struct dw_pdigest *pairs;
        size_t n_pairs, max_pairs;
        struct dw_pmap_slot *pair_slots;
        size_t pair_mask;
};

/* Allocates room for max_names names of name_bytes bytes in all (without NULs), max_digests digests, of which
 * max_pair_digests belong to names declaring more than DW_PMAP_INLINE_MAX. */
int dw_pmap_init(struct dw_pmap *m, size_t max_names, size_t name_bytes, size_t max_digests, size_t max_pair_digests);
void dw_pmap_done(struct dw_pmap *m);
/* Adds a name that will accept at most max_digests digests. Returns 0 and the name's id, or -EEXIST, -ENOBUFS past
 * the sizes given to dw_pmap_init(). */
int dw_pmap_add_name(struct dw_pmap *m, const char *name, size_t len, size_t max_digests, uint32_t *ret_id);
/* Returns 1 when added, 0 when the name already accepted this digest, -ENOBUFS. */
int dw_pmap_add_digest(struct dw_pmap *m, uint32_t id, enum dw_hash_alg alg, bool verity, const uint8_t *bytes);
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
