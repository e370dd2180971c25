/* SPDX-License-Identifier: MIT */
/* The kernel's IMA policy grammar and its measure decision, after security/integrity/ima/ima_policy.c:
 * ima_parse_add_rule() (one rule per line, '#' comment lines), ima_parse_rule() (tokens separated by spaces or tabs,
 * match_token() patterns, a token starting with '#' ends the rule), ima_validate_rule() (which conditions each hook
 * takes), and ima_match_rules()/ima_match_policy() for the decision. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ima-policy-rules.h"

/* Flags of a rule that are not conditions (the kernel keeps them in the same word). */
enum {
        F_PCR = 1u << 0,
        F_DIGSIG = 1u << 1, /* appraise_type=imasig... */
        F_MODSIG = 1u << 2, /* appraise_type=imasig|modsig */
        F_VERITY = 1u << 3, /* digest_type=verity */
        F_ALGOS = 1u << 4,  /* appraise_algos= */
        F_DIRECTIO = 1u << 5,
        F_TEMPLATE = 1u << 6,
};

static const char *const func_names[_DW_IMA_FUNC_MAX] = {
        [DW_IMA_FUNC_NONE] = "NONE",
        [DW_IMA_FUNC_FILE_CHECK] = "FILE_CHECK",
        [DW_IMA_FUNC_MMAP_CHECK] = "MMAP_CHECK",
        [DW_IMA_FUNC_MMAP_CHECK_REQPROT] = "MMAP_CHECK_REQPROT",
        [DW_IMA_FUNC_BPRM_CHECK] = "BPRM_CHECK",
        [DW_IMA_FUNC_CREDS_CHECK] = "CREDS_CHECK",
        [DW_IMA_FUNC_POST_SETATTR] = "POST_SETATTR",
        [DW_IMA_FUNC_MODULE_CHECK] = "MODULE_CHECK",
        [DW_IMA_FUNC_FIRMWARE_CHECK] = "FIRMWARE_CHECK",
        [DW_IMA_FUNC_KEXEC_KERNEL_CHECK] = "KEXEC_KERNEL_CHECK",
        [DW_IMA_FUNC_KEXEC_INITRAMFS_CHECK] = "KEXEC_INITRAMFS_CHECK",
        [DW_IMA_FUNC_POLICY_CHECK] = "POLICY_CHECK",
        [DW_IMA_FUNC_KEXEC_CMDLINE] = "KEXEC_CMDLINE",
        [DW_IMA_FUNC_KEY_CHECK] = "KEY_CHECK",
        [DW_IMA_FUNC_CRITICAL_DATA] = "CRITICAL_DATA",
        [DW_IMA_FUNC_SETXATTR_CHECK] = "SETXATTR_CHECK",
};

static const char *const action_names[] = {
        [DW_IMA_ACTION_MEASURE] = "measure",     [DW_IMA_ACTION_DONT_MEASURE] = "dont_measure",
        [DW_IMA_ACTION_APPRAISE] = "appraise",   [DW_IMA_ACTION_DONT_APPRAISE] = "dont_appraise",
        [DW_IMA_ACTION_AUDIT] = "audit",         [DW_IMA_ACTION_HASH] = "hash",
        [DW_IMA_ACTION_DONT_HASH] = "dont_hash",
};

const char *dw_ima_func_name(enum dw_ima_func f)
{
        return (unsigned)f < _DW_IMA_FUNC_MAX ? func_names[f] : NULL;
}

const char *dw_ima_action_name(enum dw_ima_action a)
{
        return (unsigned)a < ELEMENTSOF(action_names) ? action_names[a] : NULL;
}

void dw_ima_policy_free(struct dw_ima_policy *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n_rules; i++) {
                free(p->rules[i].fsname);
                free(p->rules[i].text);
        }
        free(p->rules);
        free(p);
}

/* ---- values --------------------------------------------------------------------------------------------------- */

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* kstrtoull(): an optional '+', for base 16 an optional "0x", at least one digit, nothing after. */
static int parse_ull(const char *s, unsigned base, uint64_t *ret)
{
        uint64_t v = 0;

        if (*s == '+')
                s++;
        if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2;
        if (*s == '\0')
                return -EINVAL;
        for (; *s; s++) {
                int d = hex_digit(*s);

                if (d < 0 || (unsigned)d >= base)
                        return -EINVAL;
                if (v > (UINT64_MAX - (unsigned)d) / base)
                        return -ERANGE;
                v = v * base + (unsigned)d;
        }
        *ret = v;
        return 0;
}

/* A uid or gid: decimal, 32 bits, not (uid_t)-1 (make_kuid() gives INVALID_UID for it). */
static int parse_id(const char *s, uint32_t *ret)
{
        uint64_t v;

        if (parse_ull(s, 10, &v) < 0 || v >= UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

/* uuid_parse(): xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex of either case. */
static int parse_uuid(const char *s, uint8_t ret[16])
{
        static const unsigned pos[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

        if (strlen(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
                return -EINVAL;
        for (size_t i = 0; i < 16; i++) {
                int hi = hex_digit(s[pos[i]]), lo = hex_digit(s[pos[i] + 1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                ret[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
}

/* keyrings=, label=: items separated by '|', none empty. */
static bool opt_list_valid(const char *s)
{
        if (*s == '\0' || *s == '|')
                return false;
        for (; *s; s++)
                if (*s == '|' && (s[1] == '|' || s[1] == '\0'))
                        return false;
        return true;
}

/* template=: a built-in template, or a custom one named by its format (fields separated by '|'). */
static bool template_valid(const char *s)
{
        static const char *const names[] = {"ima",       "ima-ng",  "ima-ngv2",   "ima-sig",
                                            "ima-sigv2", "ima-buf", "ima-modsig", "evm-sig"};
        static const char *const fields[] = {"d",     "n",          "d-ng",         "d-ngv2",     "n-ng", "sig",
                                             "buf",   "d-modsig",   "modsig",       "evmsig",     "iuid", "igid",
                                             "imode", "xattrnames", "xattrlengths", "xattrvalues"};

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0)
                        return true;
        if (!opt_list_valid(s))
                return false;
        while (*s) {
                size_t len = strcspn(s, "|"), i;

                for (i = 0; i < ELEMENTSOF(fields); i++)
                        if (strlen(fields[i]) == len && strncmp(fields[i], s, len) == 0)
                                break;
                if (i == ELEMENTSOF(fields))
                        return false;
                s += len + (s[len] == '|');
        }
        return true;
}

/* appraise_algos=: hash algorithm names of the kernel (crypto/hash_info.c), separated by ','. */
static bool algos_valid(const char *s)
{
        static const char *const algos[] = {"md4",         "md5",         "sha1",     "rmd160",   "sha256",  "sha384",
                                            "sha512",      "sha224",      "rmd128",   "rmd256",   "rmd320",  "wp256",
                                            "wp384",       "wp512",       "tgr128",   "tgr160",   "tgr192",  "sm3",
                                            "streebog256", "streebog512", "sha3-256", "sha3-384", "sha3-512"};

        for (;;) {
                size_t len = strcspn(s, ","), i;

                for (i = 0; i < ELEMENTSOF(algos); i++)
                        if (strlen(algos[i]) == len && strncmp(algos[i], s, len) == 0)
                                break;
                if (i == ELEMENTSOF(algos))
                        return false;
                if (s[len] == '\0')
                        return true;
                s += len + 1;
        }
}

/* ---- one rule ------------------------------------------------------------------------------------------------- */

struct rule_parse {
        struct dw_ima_rule *rule;
        unsigned flags; /* F_* */
        bool lsm_seen[6];
        bool uid_set, gid_set, fowner_set, fgroup_set, fsuuid_set, algos_set, keyrings_set, label_set;
        char why[160];
};

_printf_(2, 3) static int fail(struct rule_parse *rp, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(rp->why, sizeof(rp->why), fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* "key<op>value" tokens: the value after the key and its operator, or NULL. */
static const char *after(const char *tok, const char *key)
{
        size_t n = strlen(key);

        return strncmp(tok, key, n) == 0 ? tok + n : NULL;
}

static int set_action(struct rule_parse *rp, enum dw_ima_action a)
{
        if (rp->rule->action != 0)
                return fail(rp, "a second action");
        rp->rule->action = a;
        return 0;
}

static int parse_func(struct rule_parse *rp, const char *v)
{
        static const struct {
                const char *name;
                enum dw_ima_func func;
        } aliases[] = {
                {"PATH_CHECK", DW_IMA_FUNC_FILE_CHECK}, /* backwards compatibility */
                {"FILE_MMAP", DW_IMA_FUNC_MMAP_CHECK},
        };
        struct dw_ima_rule *r = rp->rule;
        enum dw_ima_func f = DW_IMA_FUNC_NONE;

        if (r->func != DW_IMA_FUNC_NONE)
                return fail(rp, "a second func=");
        for (enum dw_ima_func i = DW_IMA_FUNC_FILE_CHECK; i < _DW_IMA_FUNC_MAX; i++)
                if (i != DW_IMA_FUNC_POST_SETATTR && strcmp(v, func_names[i]) == 0)
                        f = i;
        for (size_t i = 0; f == DW_IMA_FUNC_NONE && i < ELEMENTSOF(aliases); i++)
                if (strcmp(v, aliases[i].name) == 0)
                        f = aliases[i].func;
        if (f == DW_IMA_FUNC_NONE)
                return fail(rp, "unknown hook");
        r->func = f;
        r->conds |= DW_IMA_COND_FUNC;
        return 0;
}

static int parse_mask(struct rule_parse *rp, const char *v)
{
        static const struct {
                const char *name;
                unsigned mask;
        } masks[] = {
                {"MAY_EXEC", DW_IMA_MAY_EXEC},
                {"MAY_WRITE", DW_IMA_MAY_WRITE},
                {"MAY_READ", DW_IMA_MAY_READ},
                {"MAY_APPEND", DW_IMA_MAY_APPEND},
        };
        bool in = *v == '^';

        if (rp->rule->mask != 0)
                return fail(rp, "a second mask=");
        for (size_t i = 0; i < ELEMENTSOF(masks); i++)
                if (strcmp(v + in, masks[i].name) == 0) {
                        rp->rule->mask = masks[i].mask;
                        rp->rule->conds |= in ? DW_IMA_COND_INMASK : DW_IMA_COND_MASK;
                        return 0;
                }
        return fail(rp, "unknown mask");
}

/* uid, euid, gid, egid, fowner, fgroup with =, > or <. 1 when tok is one of them, 0 when not, < 0 on error. */
static int parse_id_cond(struct rule_parse *rp, const char *tok)
{
        static const struct {
                const char *key;
                unsigned cond;
        } keys[] = {
                {"uid", DW_IMA_COND_UID},   {"euid", DW_IMA_COND_EUID},     {"gid", DW_IMA_COND_GID},
                {"egid", DW_IMA_COND_EGID}, {"fowner", DW_IMA_COND_FOWNER}, {"fgroup", DW_IMA_COND_FGROUP},
        };
        struct dw_ima_rule *r = rp->rule;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *v = after(tok, keys[i].key);
                enum dw_ima_op op;
                uint32_t id, *field;
                enum dw_ima_op *opf;
                bool *set;

                if (!v || (*v != '=' && *v != '<' && *v != '>'))
                        continue;
                op = *v == '=' ? DW_IMA_OP_EQ : *v == '>' ? DW_IMA_OP_GT : DW_IMA_OP_LT;
                v++;
                if (*v == '\0')
                        return fail(rp, "no value");
                switch (keys[i].cond) {
                case DW_IMA_COND_UID:
                case DW_IMA_COND_EUID:
                        field = &r->uid, opf = &r->uid_op, set = &rp->uid_set;
                        break;
                case DW_IMA_COND_GID:
                case DW_IMA_COND_EGID:
                        field = &r->gid, opf = &r->gid_op, set = &rp->gid_set;
                        break;
                case DW_IMA_COND_FOWNER:
                        field = &r->fowner, opf = &r->fowner_op, set = &rp->fowner_set;
                        break;
                default:
                        field = &r->fgroup, opf = &r->fgroup_op, set = &rp->fgroup_set;
                        break;
                }
                /* The kernel keeps one uid for uid and euid, one gid for gid and egid. */
                if (*set)
                        return fail(rp, "a second %s condition",
                                    keys[i].cond & (DW_IMA_COND_UID | DW_IMA_COND_EUID)   ? "uid/euid"
                                    : keys[i].cond & (DW_IMA_COND_GID | DW_IMA_COND_EGID) ? "gid/egid"
                                                                                          : keys[i].key);
                if (parse_id(v, &id) < 0)
                        return fail(rp, "not a valid id");
                *field = id;
                *opf = op;
                *set = true;
                r->conds |= keys[i].cond;
                return 1;
        }
        return 0;
}

static int parse_token(struct rule_parse *rp, const char *tok)
{
        static const struct {
                const char *name;
                enum dw_ima_action action;
        } actions[] = {
                {"measure", DW_IMA_ACTION_MEASURE},     {"dont_measure", DW_IMA_ACTION_DONT_MEASURE},
                {"appraise", DW_IMA_ACTION_APPRAISE},   {"dont_appraise", DW_IMA_ACTION_DONT_APPRAISE},
                {"audit", DW_IMA_ACTION_AUDIT},         {"hash", DW_IMA_ACTION_HASH},
                {"dont_hash", DW_IMA_ACTION_DONT_HASH},
        };
        static const char *const lsm_keys[6] = {
                "obj_user=", "obj_role=", "obj_type=", "subj_user=", "subj_role=", "subj_type="};
        struct dw_ima_rule *r = rp->rule;
        const char *v;
        uint64_t n;
        int k;

        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (strcmp(tok, actions[i].name) == 0)
                        return set_action(rp, actions[i].action);
        if (strcmp(tok, "permit_directio") == 0) {
                rp->flags |= F_DIRECTIO;
                return 0;
        }
        k = parse_id_cond(rp, tok);
        if (k != 0)
                return k < 0 ? k : 0;
        for (size_t i = 0; i < ELEMENTSOF(lsm_keys); i++)
                if ((v = after(tok, lsm_keys[i]))) {
                        if (*v == '\0')
                                return fail(rp, "no value");
                        if (rp->lsm_seen[i])
                                return fail(rp, "a second %.*s condition", (int)strlen(lsm_keys[i]) - 1, lsm_keys[i]);
                        rp->lsm_seen[i] = true;
                        r->conds |= DW_IMA_COND_LSM;
                        return 0;
                }
        /* The other tokens are key=value with a non-empty value (match_token()'s %s takes at least a byte). */
        v = strchr(tok, '=');
        if (!v)
                return fail(rp, "unknown keyword");
        if (v[1] == '\0')
                return fail(rp, "no value");
        v++;
        if ((size_t)(v - tok) == 5 && strncmp(tok, "func=", 5) == 0)
                return parse_func(rp, v);
        if ((size_t)(v - tok) == 5 && strncmp(tok, "mask=", 5) == 0)
                return parse_mask(rp, v);
        if (after(tok, "fsmagic=") == v) {
                if (r->fsmagic != 0)
                        return fail(rp, "a second fsmagic=");
                if (parse_ull(v, 16, &n) < 0)
                        return fail(rp, "not a hexadecimal number");
                r->fsmagic = n;
                r->conds |= DW_IMA_COND_FSMAGIC;
                return 0;
        }
        if (after(tok, "fsname=") == v) {
                char *s = strdup(v);

                if (!s)
                        return -ENOMEM;
                free(r->fsname); /* the kernel takes the last one */
                r->fsname = s;
                r->conds |= DW_IMA_COND_FSNAME;
                return 0;
        }
        if (after(tok, "fsuuid=") == v) {
                if (rp->fsuuid_set)
                        return fail(rp, "a second fsuuid=");
                if (parse_uuid(v, r->fsuuid) < 0)
                        return fail(rp, "not a UUID");
                rp->fsuuid_set = true;
                r->conds |= DW_IMA_COND_FSUUID;
                return 0;
        }
        if (after(tok, "keyrings=") == v || after(tok, "label=") == v) {
                bool keyrings = tok[0] == 'k';
                bool *set = keyrings ? &rp->keyrings_set : &rp->label_set;

                if (*set)
                        return fail(rp, "a second %s", keyrings ? "keyrings=" : "label=");
                if (!opt_list_valid(v))
                        return fail(rp, "an empty item");
                *set = true;
                r->conds |= keyrings ? DW_IMA_COND_KEYRINGS : DW_IMA_COND_LABEL;
                return 0;
        }
        if (after(tok, "pcr=") == v) {
                bool neg = *v == '-';

                if (neg || parse_ull(v, 10, &n) < 0 || n > 63)
                        return fail(rp, "not a PCR the kernel can extend (0-63)");
                r->pcr = (int)n;
                rp->flags |= F_PCR;
                return 0;
        }
        if (after(tok, "template=") == v) {
                if (r->action != DW_IMA_ACTION_MEASURE)
                        return fail(rp, "template= needs the measure action before it");
                if ((rp->flags & F_TEMPLATE) || !template_valid(v))
                        return fail(rp, (rp->flags & F_TEMPLATE) ? "a second template=" : "unknown template");
                rp->flags |= F_TEMPLATE;
                return 0;
        }
        if (after(tok, "appraise_type=") == v) {
                if (strcmp(v, "imasig") == 0 || strcmp(v, "imasig|modsig") == 0) {
                        if (rp->flags & F_VERITY)
                                return fail(rp, "imasig with digest_type=verity");
                        rp->flags |= F_DIGSIG | (v[6] == '|' ? F_MODSIG : 0);
                        return 0;
                }
                if (strcmp(v, "sigv3") == 0) {
                        if (!(rp->flags & F_VERITY))
                                return fail(rp, "sigv3 needs digest_type=verity before it");
                        rp->flags |= F_DIGSIG;
                        return 0;
                }
                return fail(rp, "unknown appraise type");
        }
        if (after(tok, "appraise_flag=") == v)
                return 0; /* accepted and ignored, as by the kernel */
        if (after(tok, "appraise_algos=") == v) {
                if (rp->algos_set || !algos_valid(v))
                        return fail(rp, rp->algos_set ? "a second appraise_algos=" : "unknown hash algorithm");
                rp->algos_set = true;
                rp->flags |= F_ALGOS;
                return 0;
        }
        if (after(tok, "digest_type=") == v) {
                if ((rp->flags & F_DIGSIG) || strcmp(v, "verity") != 0)
                        return fail(rp, "only digest_type=verity, before appraise_type=");
                rp->flags |= F_VERITY;
                return 0;
        }
        return fail(rp, "unknown keyword");
}

/* ima_validate_rule(): an action, and conditions the hook takes. */
static int validate(struct rule_parse *rp)
{
        const struct dw_ima_rule *r = rp->rule;
        const unsigned file_conds = DW_IMA_COND_FUNC | DW_IMA_COND_MASK | DW_IMA_COND_INMASK | DW_IMA_COND_FSMAGIC |
                                    DW_IMA_COND_FSNAME | DW_IMA_COND_FSUUID | DW_IMA_COND_UID | DW_IMA_COND_EUID |
                                    DW_IMA_COND_GID | DW_IMA_COND_EGID | DW_IMA_COND_FOWNER | DW_IMA_COND_FGROUP |
                                    DW_IMA_COND_LSM;
        bool measure_only = false;
        unsigned allowed_conds, allowed_flags = F_TEMPLATE | F_PCR | F_DIRECTIO | F_DIGSIG | F_ALGOS;

        if (r->action == 0)
                return fail(rp, "no action (measure, dont_measure, appraise...)");
        if (r->action != DW_IMA_ACTION_MEASURE && (rp->flags & F_PCR))
                return fail(rp, "pcr= is only for measure rules");
        if (r->action != DW_IMA_ACTION_APPRAISE && (rp->flags & (F_DIGSIG | F_MODSIG | F_ALGOS)))
                return fail(rp, "appraise_type= and appraise_algos= are only for appraise rules");
        switch (r->func) {
        case DW_IMA_FUNC_NONE:
        case DW_IMA_FUNC_FILE_CHECK:
        case DW_IMA_FUNC_MMAP_CHECK:
        case DW_IMA_FUNC_MMAP_CHECK_REQPROT:
        case DW_IMA_FUNC_BPRM_CHECK:
        case DW_IMA_FUNC_CREDS_CHECK:
        case DW_IMA_FUNC_POST_SETATTR:
        case DW_IMA_FUNC_FIRMWARE_CHECK:
        case DW_IMA_FUNC_POLICY_CHECK:
                allowed_conds = file_conds;
                allowed_flags |= F_VERITY;
                break;
        case DW_IMA_FUNC_MODULE_CHECK:
        case DW_IMA_FUNC_KEXEC_KERNEL_CHECK:
        case DW_IMA_FUNC_KEXEC_INITRAMFS_CHECK:
                allowed_conds = file_conds;
                allowed_flags |= F_MODSIG;
                break;
        case DW_IMA_FUNC_KEXEC_CMDLINE:
                measure_only = true;
                allowed_conds = file_conds & ~(DW_IMA_COND_MASK | DW_IMA_COND_INMASK);
                allowed_flags = F_PCR | F_TEMPLATE;
                break;
        case DW_IMA_FUNC_KEY_CHECK:
        case DW_IMA_FUNC_CRITICAL_DATA:
                measure_only = true;
                allowed_conds = DW_IMA_COND_FUNC | DW_IMA_COND_UID | DW_IMA_COND_GID |
                                (r->func == DW_IMA_FUNC_KEY_CHECK ? DW_IMA_COND_KEYRINGS : DW_IMA_COND_LABEL);
                allowed_flags = F_PCR | F_TEMPLATE;
                break;
        case DW_IMA_FUNC_SETXATTR_CHECK:
                if (r->action != DW_IMA_ACTION_APPRAISE || !(rp->flags & F_ALGOS))
                        return fail(rp, "SETXATTR_CHECK takes only appraise with appraise_algos=");
                allowed_conds = DW_IMA_COND_FUNC;
                allowed_flags = F_ALGOS;
                break;
        default:
                return fail(rp, "unknown hook");
        }
        if (measure_only && r->action != DW_IMA_ACTION_MEASURE && r->action != DW_IMA_ACTION_DONT_MEASURE)
                return fail(rp, "%s takes only measure and dont_measure", func_names[r->func]);
        if (r->conds & ~allowed_conds)
                return fail(rp, "a condition %s does not take", r->func ? func_names[r->func] : "a rule without func=");
        if (rp->flags & ~allowed_flags)
                return fail(rp, "an option %s does not take", r->func ? func_names[r->func] : "a rule without func=");
        if (r->action == DW_IMA_ACTION_APPRAISE && (rp->flags & F_VERITY) && !(rp->flags & F_DIGSIG))
                return fail(rp, "digest_type=verity in an appraise rule needs appraise_type=sigv3");
        return 0;
}

/* One rule (line is a NUL-terminated copy, without its newline); *r is zeroed by the caller. */
static int parse_rule(char *line, struct dw_ima_rule *r, char *why, size_t why_size, char *bad_token, size_t bad_size)
{
        struct rule_parse rp = {.rule = r};
        char *save = NULL, *tok, *end;
        int ret = 0;

        r->pcr = -1;
        /* The rule as written: up to a token that starts a comment. */
        end = line + strlen(line);
        for (char *p = line; *p; p++)
                if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
                        end = p;
                        break;
                }
        while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        r->text = strndup(line, (size_t)(end - line));
        if (!r->text)
                return -ENOMEM;
        for (tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
                if (*tok == '#')
                        break;
                ret = parse_token(&rp, tok);
                if (ret < 0) {
                        /* The token goes into messages: printable ASCII only. */
                        snprintf(bad_token, bad_size, "%s", tok);
                        for (char *c = bad_token; *c; c++)
                                if (*c < 0x20 || *c > 0x7e)
                                        *c = '?';
                        break;
                }
        }
        if (ret == 0) {
                ret = validate(&rp);
                bad_token[0] = '\0';
        }
        if (ret == -EINVAL)
                snprintf(why, why_size, "%s", rp.why);
        return ret;
}

int dw_ima_policy_parse(const char *text, size_t len, struct dw_ima_policy **ret, struct dw_error *err)
{
        _cleanup_(dw_ima_policy_freep) struct dw_ima_policy *p = NULL;
        size_t cap = 0, off = 0;
        unsigned line_no = 0;

        if (len > DW_IMA_POLICY_MAX_SIZE)
                return dw_error_set(err, E2BIG, 0, 0, "the policy is larger than %u bytes", DW_IMA_POLICY_MAX_SIZE);
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        while (off < len) {
                const char *start = text + off, *nl = memchr(start, '\n', len - off);
                size_t n = nl ? (size_t)(nl - start) : len - off;
                _cleanup_free_ char *line = NULL;
                char why[160] = "", tok[64] = "";
                struct dw_ima_rule r = {};
                const char *s;
                int k;

                line_no++;
                if (memchr(start, '\0', n))
                        return dw_error_set(err, EINVAL, line_no - 1, off, "line %u: a NUL byte", line_no);
                line = strndup(start, n);
                if (!line)
                        return -ENOMEM;
                off += n + (nl ? 1 : 0);
                s = line + strspn(line, " \t");
                if (*s == '#' || *s == '\0')
                        continue;
                k = parse_rule((char *)s, &r, why, sizeof(why), tok, sizeof(tok));
                if (k < 0) {
                        free(r.fsname);
                        free(r.text);
                        if (k != -EINVAL)
                                return k;
                        return dw_error_set(err, EINVAL, line_no - 1, (size_t)(start - text), "line %u: %s%s%s%s",
                                            line_no, why, tok[0] ? ": '" : "", tok, tok[0] ? "'" : "");
                }
                r.line = line_no;
                if (p->n_rules == cap) {
                        size_t ncap = cap ? 2 * cap : 16;
                        struct dw_ima_rule *nr = realloc(p->rules, ncap * sizeof(*nr));

                        if (!nr) {
                                free(r.fsname);
                                free(r.text);
                                return -ENOMEM;
                        }
                        p->rules = nr;
                        cap = ncap;
                }
                p->rules[p->n_rules++] = r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- the decision --------------------------------------------------------------------------------------------- */

enum tri {
        NO = 0,
        YES = 1,
        UNKNOWN = 2,
};

static enum tri tri_and(enum tri a, enum tri b)
{
        if (a == NO || b == NO)
                return NO;
        return a == YES && b == YES ? YES : UNKNOWN;
}

static enum tri tri_or(enum tri a, enum tri b)
{
        if (a == YES || b == YES)
                return YES;
        return a == NO && b == NO ? NO : UNKNOWN;
}

static enum tri op_match(enum dw_ima_op op, uint32_t v, uint32_t rule_v, bool known)
{
        if (!known)
                return UNKNOWN;
        switch (op) {
        case DW_IMA_OP_GT:
                return v > rule_v ? YES : NO;
        case DW_IMA_OP_LT:
                return v < rule_v ? YES : NO;
        default:
                return v == rule_v ? YES : NO;
        }
}

/* euid/egid: with CAP_SETUID (CAP_SETGID) any of the effective, saved and real ids may match. */
static enum tri eid_match(enum dw_ima_op op, uint32_t rule_v, const struct dw_ima_access *a, bool user)
{
        unsigned k = a->known;
        enum tri e, s, r, cap;

        if (user) {
                e = op_match(op, a->euid, rule_v, k & DW_IMA_FACT_EUID);
                s = op_match(op, a->suid, rule_v, k & DW_IMA_FACT_SUID);
                r = op_match(op, a->uid, rule_v, k & DW_IMA_FACT_UID);
                cap = !(k & DW_IMA_FACT_CAP_SETUID) ? UNKNOWN : a->cap_setuid ? YES : NO;
        } else {
                e = op_match(op, a->egid, rule_v, k & DW_IMA_FACT_EGID);
                s = op_match(op, a->sgid, rule_v, k & DW_IMA_FACT_SGID);
                r = op_match(op, a->gid, rule_v, k & DW_IMA_FACT_GID);
                cap = !(k & DW_IMA_FACT_CAP_SETGID) ? UNKNOWN : a->cap_setgid ? YES : NO;
        }
        if (cap == NO)
                return e;
        if (cap == YES)
                return tri_or(e, tri_or(s, r));
        /* Either way: a match of the effective id matches both; no match of any id matches neither. */
        if (e == YES)
                return YES;
        return e == NO && tri_or(s, r) == NO ? NO : UNKNOWN;
}

/* ima_match_rules() for a file access. */
static enum tri rule_match(const struct dw_ima_rule *r, const struct dw_ima_access *a)
{
        unsigned c = r->conds, k = a->known;
        enum tri m = YES;

        if ((c & DW_IMA_COND_FUNC) && r->func != a->func)
                return NO;
        if ((c & DW_IMA_COND_MASK) && r->mask != a->mask)
                return NO;
        if ((c & DW_IMA_COND_INMASK) && !(r->mask & a->mask))
                return NO;
        if (c & (DW_IMA_COND_KEYRINGS | DW_IMA_COND_LABEL))
                return NO; /* KEY_CHECK and CRITICAL_DATA only, which a file access is not */
        if (c & DW_IMA_COND_FSMAGIC)
                m = tri_and(m, !(k & DW_IMA_FACT_FSMAGIC) ? UNKNOWN : r->fsmagic == a->fsmagic ? YES : NO);
        if (c & DW_IMA_COND_FSNAME)
                m = tri_and(m, !(k & DW_IMA_FACT_FSNAME) || !a->fsname ? UNKNOWN
                               : strcmp(r->fsname, a->fsname) == 0     ? YES
                                                                       : NO);
        if (c & DW_IMA_COND_FSUUID)
                m = tri_and(m, !(k & DW_IMA_FACT_FSUUID)                              ? UNKNOWN
                               : memcmp(r->fsuuid, a->fsuuid, sizeof(r->fsuuid)) == 0 ? YES
                                                                                      : NO);
        if (c & DW_IMA_COND_UID)
                m = tri_and(m, op_match(r->uid_op, a->uid, r->uid, k & DW_IMA_FACT_UID));
        if (c & DW_IMA_COND_EUID)
                m = tri_and(m, eid_match(r->uid_op, r->uid, a, true));
        if (c & DW_IMA_COND_GID)
                m = tri_and(m, op_match(r->gid_op, a->gid, r->gid, k & DW_IMA_FACT_GID));
        if (c & DW_IMA_COND_EGID)
                m = tri_and(m, eid_match(r->gid_op, r->gid, a, false));
        if (c & DW_IMA_COND_FOWNER)
                m = tri_and(m, op_match(r->fowner_op, a->fowner, r->fowner, k & DW_IMA_FACT_FOWNER));
        if (c & DW_IMA_COND_FGROUP)
                m = tri_and(m, op_match(r->fgroup_op, a->fgroup, r->fgroup, k & DW_IMA_FACT_FGROUP));
        if (c & DW_IMA_COND_LSM)
                m = tri_and(m, UNKNOWN); /* LSM labels of the task and the file are not known here */
        return m;
}

enum dw_ima_verdict dw_ima_policy_would_measure(const struct dw_ima_policy *p, const struct dw_ima_access *a,
                                                const struct dw_ima_rule **ret_rule)
{
        const struct dw_ima_rule *first_unknown = NULL, *decided = NULL;
        bool may_measure = false, may_not = false;

        for (size_t i = 0; p && i < p->n_rules; i++) {
                const struct dw_ima_rule *r = &p->rules[i];
                enum tri m;

                if (r->action != DW_IMA_ACTION_MEASURE && r->action != DW_IMA_ACTION_DONT_MEASURE)
                        continue;
                m = rule_match(r, a);
                if (m == NO)
                        continue;
                if (r->action == DW_IMA_ACTION_MEASURE)
                        may_measure = true;
                else
                        may_not = true;
                if (m == YES) {
                        decided = r;
                        break;
                }
                if (!first_unknown)
                        first_unknown = r;
        }
        if (!decided)
                may_not = true; /* no rule matched: not measured */
        if (may_measure && may_not) {
                if (ret_rule)
                        *ret_rule = first_unknown;
                return DW_IMA_UNDECIDED;
        }
        if (ret_rule)
                *ret_rule = decided;
        return may_measure ? DW_IMA_MEASURED : DW_IMA_NOT_MEASURED;
}
