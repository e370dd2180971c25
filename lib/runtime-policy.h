/* SPDX-License-Identifier: MIT */
#pragma once

/* The runtime policy (allowlist): which files and buffers a gateway may measure, judged one IMA entry, or one
 * executed file, at a time. The JSON format is documented in docs/runtime-policy.md. Pure: the policy is loaded from
 * a caller-provided buffer and nothing here does I/O.
 *
 * The verifier judges every entry of every gateway's IMA log with dw_runtime_policy_judge_entry(); the monitor
 * judges the files it sees executed with dw_runtime_policy_judge_file(); `driftwatch policy check` does the former
 * offline.
 *
 * A loaded policy is immutable: any number of threads may judge against the same policy at once. Judging costs O(1)
 * in the size of the policy (hash tables over the names and over the (name, digest) pairs); only an entry that would
 * fail is matched against the exclude patterns (one regexec() per pattern), and only an entry with a signature, when
 * the policy has keys, pays for a public-key verification. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hash.h"
#include "ima-log.h"
#include "macro.h"

/* The value of "driftwatch_runtime_policy" this build reads. */
#define DW_RUNTIME_POLICY_VERSION 1

struct dw_runtime_policy;

/* Why a policy was refused. */
struct dw_policy_error {
        /* JSON syntax errors: 1-based line and column of the problem. 0 when the JSON is well formed and a value in
         * it is wrong; where then names that value. */
        unsigned line;
        unsigned column;
        char where[192]; /* JSON path of the bad value, like $.digests["/usr/bin/ls"][1]; "" for syntax errors */
        char msg[256];   /* one line, no trailing newline */
};

/* Parses policy JSON (runtime or boot policy), refusing duplicate keys; a syntax error sets err's line, column and
 * msg and returns -EBADMSG. */
int dw_policy_json_parse(const void *json, size_t len, json_t **ret, struct dw_policy_error *err);

/* Parses, checks and compiles a policy: digests decoded, exclude patterns compiled, keys imported. Returns 0 and sets
 * *ret, or -EBADMSG when the policy is malformed or invalid, -EOPNOTSUPP for a format version this build does not
 * read (err says where and why for both), -ENOMEM. */
int dw_runtime_policy_load(const void *json, size_t len, struct dw_runtime_policy **ret, struct dw_policy_error *err);
/* The same for a document already parsed (dw_policy_json_parse()); root is only read. */
int dw_runtime_policy_load_tree(json_t *root, struct dw_runtime_policy **ret, struct dw_policy_error *err);
void dw_runtime_policy_free(struct dw_runtime_policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct dw_runtime_policy *, dw_runtime_policy_free);

/* What a loaded policy holds. Strings are NULL when absent and live as long as the policy. */
struct dw_runtime_policy_info {
        const char *name, *version, *created, *generator; /* from "meta" */
        size_t n_paths;                                   /* paths in "digests" */
        size_t n_digests;                                 /* accepted (path, digest) pairs, duplicates counted once */
        size_t n_excludes;
        size_t n_keys;
        size_t n_ima_buf; /* names in "ima_buf" */
        bool allow_violations;
        bool require_signatures;
};

void dw_runtime_policy_get_info(const struct dw_runtime_policy *p, struct dw_runtime_policy_info *ret);

/* The outcome of judging one entry. The first four are not failures. */
enum dw_policy_result {
        DW_POLICY_ACCEPT,             /* digest accepted for its name, or signed by a trusted key */
        DW_POLICY_EXCLUDED,           /* would have failed, but its name matches an exclude pattern */
        DW_POLICY_BOOT_AGGREGATE,     /* "boot_aggregate": for the verifier to check against the boot PCRs */
        DW_POLICY_VIOLATION_ALLOWED,  /* a violation, tolerated by options.allow_violations */
        DW_POLICY_NOT_IN_ALLOWLIST,   /* a file whose path the policy does not know */
        DW_POLICY_DIGEST_MISMATCH,    /* a known path, but its digest is not among those accepted for it */
        DW_POLICY_BAD_SIGNATURE,      /* a signature that does not verify, or by an unknown key when signatures
                                       * are required */
        DW_POLICY_UNSIGNED,           /* no signature, and options.require_signatures */
        DW_POLICY_VIOLATION,          /* a ToMToU/open-writers violation, not allowed */
        DW_POLICY_IMA_BUF_MISMATCH,   /* a known buffer name (ima-buf), but its digest is not accepted */
        DW_POLICY_IMA_BUF_UNKNOWN,    /* a buffer name the policy does not know */
        DW_POLICY_UNSUPPORTED_DIGEST, /* no digest, or one in an algorithm a policy cannot hold (md5, ...) */
        _DW_POLICY_RESULT_MAX,
        _DW_POLICY_RESULT_INVALID = -EINVAL,
};

/* "accept", "excluded", "boot_aggregate", "violation_allowed", "not_in_allowlist", "digest_mismatch",
 * "bad_signature", "unsigned", "violation", "ima_buf_mismatch", "ima_buf_unknown", "unsupported_digest". */
const char *dw_policy_result_name(enum dw_policy_result r);
int dw_policy_result_from_name(const char *name, enum dw_policy_result *ret);

static inline bool dw_policy_result_is_failure(enum dw_policy_result r)
{
        return r >= DW_POLICY_NOT_IN_ALLOWLIST;
}

struct dw_policy_verdict {
        enum dw_policy_result result;
        bool signed_by_key; /* the entry's signature named key keyid (parsed; whether it verified is in result) */
        uint32_t keyid;
        char detail[192]; /* for humans, one line: why it failed, or which key signed it; "" when nothing to add */
};

/* A file as the monitor sees it, or as an IMA entry describes it. */
struct dw_policy_file {
        const char *path; /* need not be NUL-terminated */
        size_t path_len;
        enum dw_hash_alg alg; /* _DW_HASH_ALG_INVALID for a digest algorithm a policy cannot hold */
        const uint8_t *digest;
        size_t digest_len;
        bool verity;        /* digest is an fs-verity file digest (d-ngv2 "verity:"), not a file hash */
        const uint8_t *sig; /* the security.ima signature (as the ima-sig template logs it), or NULL */
        size_t sig_len;
};

/* Judges one parsed IMA entry: boot_aggregate, violations, buffers (ima-buf) and files. The caller is expected to
 * have checked its template digest (dw_ima_entry_check_digest()). Returns 0 with *ret set, -EINVAL, or -ENOMEM
 * (signature verification could not allocate). */
int dw_runtime_policy_judge_entry(const struct dw_runtime_policy *p, const struct dw_ima_entry *e,
                                  struct dw_policy_verdict *ret);

/* Judges one file by path, digest and (optional) signature: the monitor's check of an executed file. Same rules and
 * results as a file entry of an IMA log. Returns 0 with *ret set, -EINVAL, or -ENOMEM. */
int dw_runtime_policy_judge_file(const struct dw_runtime_policy *p, const struct dw_policy_file *f,
                                 struct dw_policy_verdict *ret);

/* The header of an IMA signature, the security.ima extended attribute (struct signature_v2_hdr in the kernel's
 * security/integrity/integrity.h): type, version, hash_algo, keyid (big endian), sig_size (big endian), signature. */
#define DW_IMA_XATTR_DIGSIG        0x03 /* EVM_IMA_XATTR_DIGSIG */
#define DW_IMA_XATTR_VERITY_DIGSIG 0x06 /* IMA_VERITY_DIGSIG */

struct dw_ima_sig {
        uint8_t type;             /* DW_IMA_XATTR_DIGSIG or DW_IMA_XATTR_VERITY_DIGSIG */
        uint8_t version;          /* 2: signs the file digest; 3: signs the hash of struct ima_file_id */
        uint8_t kernel_hash_algo; /* the kernel's enum hash_algo (include/uapi/linux/hash_info.h) */
        enum dw_hash_alg alg;     /* the same as ours, or _DW_HASH_ALG_INVALID */
        uint32_t keyid;           /* last 4 bytes of the SHA-1 of the signer's subjectPublicKey (or its SKID) */
        const uint8_t *sig;       /* into the parsed data */
        size_t sig_len;
};

/* Parses a signature header. Returns 0, or -EBADMSG (too short, sizes disagree, a type or version the kernel does
 * not verify). */
int dw_ima_sig_parse(const uint8_t *data, size_t len, struct dw_ima_sig *ret);
