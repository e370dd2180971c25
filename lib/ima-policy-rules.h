/* SPDX-License-Identifier: MIT */
#pragma once

/* The kernel's IMA policy: the rules as the kernel prints them (/sys/kernel/security/ima/policy, with
 * CONFIG_IMA_READ_POLICY) and as administrators write them (/etc/ima/ima-policy), with the grammar and the checks of
 * security/integrity/ima/ima_policy.c (ima_parse_rule(), ima_validate_rule()) and Documentation/ABI/testing/
 * ima_policy; and the kernel's decision for one access (ima_match_policy()): would IMA measure it?
 *
 * Pure: text in, rules out, no I/O. Nothing in the text is trusted: a line the kernel would refuse is an error
 * naming the line (1-based) and the token. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dw-error.h"

enum dw_ima_action {
        DW_IMA_ACTION_MEASURE = 1,
        DW_IMA_ACTION_DONT_MEASURE,
        DW_IMA_ACTION_APPRAISE,
        DW_IMA_ACTION_DONT_APPRAISE,
        DW_IMA_ACTION_AUDIT,
        DW_IMA_ACTION_HASH,
        DW_IMA_ACTION_DONT_HASH,
};

/* The kernel's hooks (enum ima_hooks), named as it prints them. */
enum dw_ima_func {
        DW_IMA_FUNC_NONE = 0,
        DW_IMA_FUNC_FILE_CHECK,
        DW_IMA_FUNC_MMAP_CHECK,
        DW_IMA_FUNC_MMAP_CHECK_REQPROT,
        DW_IMA_FUNC_BPRM_CHECK,
        DW_IMA_FUNC_CREDS_CHECK,
        DW_IMA_FUNC_POST_SETATTR,
        DW_IMA_FUNC_MODULE_CHECK,
        DW_IMA_FUNC_FIRMWARE_CHECK,
        DW_IMA_FUNC_KEXEC_KERNEL_CHECK,
        DW_IMA_FUNC_KEXEC_INITRAMFS_CHECK,
        DW_IMA_FUNC_POLICY_CHECK,
        DW_IMA_FUNC_KEXEC_CMDLINE,
        DW_IMA_FUNC_KEY_CHECK,
        DW_IMA_FUNC_CRITICAL_DATA,
        DW_IMA_FUNC_SETXATTR_CHECK,
        _DW_IMA_FUNC_MAX,
};

/* The access mask (include/linux/fs.h). */
#define DW_IMA_MAY_EXEC   0x1
#define DW_IMA_MAY_WRITE  0x2
#define DW_IMA_MAY_READ   0x4
#define DW_IMA_MAY_APPEND 0x8

/* Conditions of a rule (a bit each). */
enum {
        DW_IMA_COND_FUNC = 1u << 0,
        DW_IMA_COND_MASK = 1u << 1,   /* mask=MAY_X: the access is exactly X */
        DW_IMA_COND_INMASK = 1u << 2, /* mask=^MAY_X: the access includes X */
        DW_IMA_COND_FSMAGIC = 1u << 3,
        DW_IMA_COND_FSNAME = 1u << 4,
        DW_IMA_COND_FSUUID = 1u << 5,
        DW_IMA_COND_UID = 1u << 6,
        DW_IMA_COND_EUID = 1u << 7,
        DW_IMA_COND_GID = 1u << 8,
        DW_IMA_COND_EGID = 1u << 9,
        DW_IMA_COND_FOWNER = 1u << 10,
        DW_IMA_COND_FGROUP = 1u << 11,
        DW_IMA_COND_LSM = 1u << 12, /* obj_user/role/type, subj_user/role/type: LSM labels */
        DW_IMA_COND_KEYRINGS = 1u << 13,
        DW_IMA_COND_LABEL = 1u << 14,
};

enum dw_ima_op {
        DW_IMA_OP_EQ, /* uid=N */
        DW_IMA_OP_GT, /* uid>N */
        DW_IMA_OP_LT, /* uid<N */
};

struct dw_ima_rule {
        unsigned line; /* in the text, 1-based */
        enum dw_ima_action action;
        unsigned conds; /* DW_IMA_COND_* */
        enum dw_ima_func func;
        unsigned mask;
        uint64_t fsmagic;
        uint8_t fsuuid[16];
        char *fsname;
        uint32_t uid, gid, fowner, fgroup; /* uid is also euid's, gid egid's (one each per rule, as in the kernel) */
        enum dw_ima_op uid_op, gid_op, fowner_op, fgroup_op;
        int pcr;    /* -1: none */
        char *text; /* the rule as written, without comment and surrounding blanks */
};

struct dw_ima_policy {
        struct dw_ima_rule *rules;
        size_t n_rules;
};

#define DW_IMA_POLICY_MAX_SIZE (4u * 1024 * 1024)

/* Parses a whole policy (rules separated by newlines; '#' starts a comment line or ends a rule). An empty policy
 * (no rule) is valid. -EINVAL with err (index = line - 1, offset = the line's first byte): "line N: why: token";
 * -E2BIG over DW_IMA_POLICY_MAX_SIZE; -ENOMEM. */
int dw_ima_policy_parse(const char *text, size_t len, struct dw_ima_policy **ret, struct dw_error *err);
void dw_ima_policy_free(struct dw_ima_policy *p);
static inline void dw_ima_policy_freep(struct dw_ima_policy **p)
{
        if (*p)
                dw_ima_policy_free(*p);
}

const char *dw_ima_func_name(enum dw_ima_func f);
const char *dw_ima_action_name(enum dw_ima_action a);

/* What is known of an access (ima_match_rules()'s inode, cred and hook). A fact whose bit is not in `known` is
 * unknown: a rule that depends on it cannot be evaluated. LSM labels are never known. */
enum {
        DW_IMA_FACT_FSMAGIC = 1u << 0,
        DW_IMA_FACT_FSUUID = 1u << 1,
        DW_IMA_FACT_FSNAME = 1u << 2,
        DW_IMA_FACT_UID = 1u << 3,
        DW_IMA_FACT_EUID = 1u << 4,
        DW_IMA_FACT_SUID = 1u << 5,
        DW_IMA_FACT_GID = 1u << 6,
        DW_IMA_FACT_EGID = 1u << 7,
        DW_IMA_FACT_SGID = 1u << 8,
        DW_IMA_FACT_FOWNER = 1u << 9,
        DW_IMA_FACT_FGROUP = 1u << 10,
        DW_IMA_FACT_CAP_SETUID = 1u << 11, /* whether the task has CAP_SETUID (cap_setuid below) */
        DW_IMA_FACT_CAP_SETGID = 1u << 12,
};

struct dw_ima_access {
        enum dw_ima_func func; /* DW_IMA_FUNC_BPRM_CHECK for an exec */
        unsigned mask;         /* DW_IMA_MAY_EXEC for an exec */
        unsigned known;        /* DW_IMA_FACT_* */
        uint64_t fsmagic;
        uint8_t fsuuid[16];
        const char *fsname;
        uint32_t uid, euid, suid, gid, egid, sgid;
        uint32_t fowner, fgroup;
        bool cap_setuid, cap_setgid;
};

enum dw_ima_verdict {
        DW_IMA_NOT_MEASURED = 0, /* the first deciding rule is dont_measure, or no measure rule matches */
        DW_IMA_MEASURED = 1,     /* the first deciding rule is measure */
        DW_IMA_UNDECIDED = 2,    /* a rule that cannot be evaluated (LSM labels, an unknown fact) could change it */
};

/* Would the kernel measure this access under policy p? Follows ima_match_policy() for the measure/dont_measure
 * actions: the first rule of that family that matches decides. A rule that cannot be evaluated makes both answers
 * possible from there on; the verdict is certain only when every possible path gives the same. ret_rule (may be
 * NULL): for MEASURED the rule that measures it, for NOT_MEASURED the dont_measure rule (NULL: none matched), for
 * UNDECIDED the first rule that could not be evaluated. */
enum dw_ima_verdict dw_ima_policy_would_measure(const struct dw_ima_policy *p, const struct dw_ima_access *a,
                                                const struct dw_ima_rule **ret_rule);
