/* SPDX-License-Identifier: MIT */
/* Judging IMA entries and executed files against a loaded runtime policy. Only reads the policy. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-policy-internal.h"

#define STACK_NAME 512

/* ---- names ---- */

/* Strict UTF-8 (no overlong forms, surrogates or code points above U+10FFFF), as JSON strings must be. */
static bool utf8_valid(const uint8_t *s, size_t len)
{
        size_t i = 0;

        while (i < len) {
                uint8_t c = s[i];
                size_t n;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        n = 1;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 2;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 3;
                else
                        return false;
                cp = c & (0x3f >> n);
                if (len - i <= n)
                        return false;
                for (size_t k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += n + 1;
        }
        return true;
}

/* A name as the policy holds it: JSON keys are UTF-8, so a name that is not is looked up the way `driftwatch ima
 * show --json` prints it, with every byte outside printable ASCII, and the backslash, as \xNN. */
struct policy_name {
        const char *s;
        size_t len;
        char *heap;
        char stack[STACK_NAME];
};

static void policy_name_done(struct policy_name *n)
{
        free(n->heap);
}

static int policy_name_init(struct policy_name *n, const char *name, size_t len)
{
        char *out = n->stack;
        size_t o = 0;

        n->heap = NULL;
        n->s = name;
        n->len = len;
        if (utf8_valid((const uint8_t *)name, len))
                return 0;
        if (len > SIZE_MAX / 4 - 1)
                return -ENOMEM;
        if (4 * len + 1 > sizeof(n->stack)) {
                n->heap = malloc(4 * len + 1);
                if (!n->heap)
                        return -ENOMEM;
                out = n->heap;
        }
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)name[i];

                if (c >= 0x20 && c < 0x7f && c != '\\')
                        out[o++] = (char)c;
                else
                        o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
        }
        out[o] = '\0';
        n->s = out;
        n->len = o;
        return 0;
}

/* The first exclude pattern that matches name from its first byte (Python's re.match, as Keylime uses), or NULL. */
static const char *excluded(const struct dw_runtime_policy *p, const char *name, size_t len)
{
        for (size_t i = 0; i < p->n_excludes; i++) {
                regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)len};

                /* The leftmost match starts at 0 exactly when some match does. */
                if (regexec(&p->excludes[i].re, name, 1, &m, REG_STARTEND) == 0 && m.rm_so == 0)
                        return p->excludes[i].pattern;
        }
        return NULL;
}

/* Sets v->result; a failure on an excluded name becomes "excluded". */
static void finish(const struct dw_runtime_policy *p, const struct policy_name *n, enum dw_policy_result r,
                   struct dw_policy_verdict *v)
{
        const char *pattern;

        v->result = r;
        if (!dw_policy_result_is_failure(r) || p->n_excludes == 0)
                return;
        pattern = excluded(p, n->s, n->len);
        if (!pattern)
                return;
        v->result = DW_POLICY_EXCLUDED;
        snprintf(v->detail, sizeof(v->detail), "matches exclude \"%.80s\" (else %s)", pattern,
                 dw_policy_result_name(r));
}

/* ---- files ---- */

static bool digest_usable(const struct dw_policy_file *f)
{
        return f->alg >= 0 && f->alg < _DW_HASH_ALG_MAX && f->digest && f->digest_len == dw_hash_alg_size(f->alg);
}

static int judge_signature(const struct dw_runtime_policy *p, const struct dw_policy_file *f,
                           struct dw_policy_verdict *v)
{
        int r = dw_policy_sig_check(p, f, v);

        if (r < 0)
                return r;
        if (r == DW_SIG_GOOD)
                return DW_POLICY_ACCEPT;
        if (r == DW_SIG_BAD || p->require_signatures)
                return DW_POLICY_BAD_SIGNATURE;
        /* A signature by a key we do not trust proves nothing either way: judge the digest. */
        v->detail[0] = '\0';
        return -EAGAIN;
}

/* Returns a dw_policy_result, or a negative errno. */
static int judge_file(const struct dw_runtime_policy *p, const struct dw_policy_file *f, const struct policy_name *n,
                      struct dw_policy_verdict *v)
{
        const struct dw_pmap_record *known;
        int r;

        if (!digest_usable(f)) {
                snprintf(v->detail, sizeof(v->detail), "no file digest in an algorithm a policy can hold");
                return DW_POLICY_UNSUPPORTED_DIGEST;
        }
        if (f->sig && f->sig_len > 0 && (p->n_keys > 0 || p->require_signatures)) {
                r = judge_signature(p, f, v);
                if (r != -EAGAIN)
                        return r;
        } else if (p->require_signatures) {
                snprintf(v->detail, sizeof(v->detail), "no signature, and the policy requires one");
                return DW_POLICY_UNSIGNED;
        }

        known = dw_pmap_find(&p->files, n->s, n->len);
        if (!known) {
                snprintf(v->detail, sizeof(v->detail), "path not in the policy");
                return DW_POLICY_NOT_IN_ALLOWLIST;
        }
        if (dw_pmap_accepts(&p->files, known, f->alg, f->verity, f->digest))
                return DW_POLICY_ACCEPT;
        snprintf(v->detail, sizeof(v->detail), "%s%s digest not among the %u accepted for this path",
                 f->verity ? "fs-verity " : "", dw_hash_alg_name(f->alg), known->n_digests);
        return DW_POLICY_DIGEST_MISMATCH;
}

int dw_runtime_policy_judge_file(const struct dw_runtime_policy *p, const struct dw_policy_file *f,
                                 struct dw_policy_verdict *ret)
{
        struct dw_policy_verdict v = {};
        struct policy_name n;
        int r;

        if (!p || !f || !ret || (!f->path && f->path_len > 0))
                return -EINVAL;
        r = policy_name_init(&n, f->path ?: "", f->path_len);
        if (r < 0)
                return r;
        r = judge_file(p, f, &n, &v);
        if (r >= 0)
                finish(p, &n, (enum dw_policy_result)r, &v);
        policy_name_done(&n);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

/* ---- IMA entries ---- */

/* The algorithm name of an entry's file digest field, for messages about one we cannot judge. */
static const char *digest_algo_label(const struct dw_ima_entry *e, char buf[static 32])
{
        const uint8_t *data;
        const char *start;
        uint32_t len;
        size_t n;

        if (dw_ima_entry_field(e, DW_IMA_FIELD_D, &data, &len) == 0)
                return len == 16 ? "md5" : "unknown";
        if (dw_ima_entry_field(e, DW_IMA_FIELD_D_NG, &data, &len) < 0 &&
            dw_ima_entry_field(e, DW_IMA_FIELD_D_NGV2, &data, &len) < 0)
                return "unknown";
        n = strnlen((const char *)data, len);
        start = memchr(data, ':', n);
        /* d-ngv2 is "<type>:<algo>:", d-ng "<algo>:". */
        if (start && memchr(start + 1, ':', n - (size_t)(start + 1 - (const char *)data)))
                start++;
        else
                start = (const char *)data;
        n = strcspn(start, ":");
        snprintf(buf, 32, "%.*s", (int)MIN(n, (size_t)24), start);
        for (char *c = buf; *c; c++)
                if (*c < 0x20 || *c >= 0x7f)
                        *c = '?';
        return buf;
}

static enum dw_policy_result judge_buffer(const struct dw_runtime_policy *p, const struct dw_policy_file *f,
                                          const struct policy_name *n, struct dw_policy_verdict *v)
{
        const struct dw_pmap_record *known;

        if (!digest_usable(f)) {
                snprintf(v->detail, sizeof(v->detail), "no buffer digest in an algorithm a policy can hold");
                return DW_POLICY_UNSUPPORTED_DIGEST;
        }
        known = dw_pmap_find(&p->buffers, n->s, n->len);
        if (!known) {
                snprintf(v->detail, sizeof(v->detail), "no ima_buf entry for this event name");
                return DW_POLICY_IMA_BUF_UNKNOWN;
        }
        if (dw_pmap_accepts(&p->buffers, known, f->alg, false, f->digest))
                return DW_POLICY_ACCEPT;
        snprintf(v->detail, sizeof(v->detail), "%s buffer digest not accepted for this event name",
                 dw_hash_alg_name(f->alg));
        return DW_POLICY_IMA_BUF_MISMATCH;
}

/* The file (or buffer) an entry describes. */
static void entry_file(const struct dw_ima_entry *e, const char *name, size_t len, struct dw_policy_file *ret)
{
        const uint8_t *sig = NULL;
        uint32_t sig_len = 0;
        const char *type = NULL;

        *ret = (struct dw_policy_file){.path = name, .path_len = len, .alg = _DW_HASH_ALG_INVALID};
        if (dw_ima_entry_file_digest(e, &ret->alg, &ret->digest, &ret->digest_len, &type) < 0) {
                ret->alg = _DW_HASH_ALG_INVALID;
                ret->digest = NULL;
                ret->digest_len = 0;
        }
        ret->verity = type && strcmp(type, "verity") == 0;
        if (dw_ima_entry_field(e, DW_IMA_FIELD_SIG, &sig, &sig_len) == 0) {
                ret->sig = sig;
                ret->sig_len = sig_len;
        }
}

static int judge_entry(const struct dw_runtime_policy *p, const struct dw_ima_entry *e, const struct policy_name *n,
                       struct dw_policy_verdict *v)
{
        struct dw_policy_file f;
        char label[32];
        int r;

        if (e->violation) {
                snprintf(v->detail, sizeof(v->detail), "measurement violation (ToMToU or open writers)");
                return p->allow_violations ? DW_POLICY_VIOLATION_ALLOWED : DW_POLICY_VIOLATION;
        }
        entry_file(e, n->s, n->len, &f);
        /* ima-buf: a non-empty buffer makes the entry a buffer measurement (a key, critical data, the kexec command
         * line), judged by event name; the template's files have an empty buf. */
        if (dw_ima_entry_field(e, DW_IMA_FIELD_BUF, NULL, NULL) == 0)
                r = judge_buffer(p, &f, n, v);
        else
                r = judge_file(p, &f, n, v);
        if (r == DW_POLICY_UNSUPPORTED_DIGEST && !f.digest)
                snprintf(v->detail, sizeof(v->detail), "the entry has no file digest");
        else if (r == DW_POLICY_UNSUPPORTED_DIGEST)
                snprintf(v->detail, sizeof(v->detail), "%s digest cannot be judged (sha1, sha256, sha384, sha512, sm3)",
                         digest_algo_label(e, label));
        return r;
}

int dw_runtime_policy_judge_entry(const struct dw_runtime_policy *p, const struct dw_ima_entry *e,
                                  struct dw_policy_verdict *ret)
{
        struct dw_policy_verdict v = {};
        const char *name = "";
        struct policy_name n;
        size_t len = 0;
        int r;

        if (!p || !e || !ret)
                return -EINVAL;
        if (dw_ima_entry_event_name(e, &name, &len) < 0) {
                name = "";
                len = 0;
        }
        if (!e->violation && len == 14 && memcmp(name, "boot_aggregate", 14) == 0) {
                *ret = (struct dw_policy_verdict){.result = DW_POLICY_BOOT_AGGREGATE};
                return 0;
        }
        r = policy_name_init(&n, name, len);
        if (r < 0)
                return r;
        r = judge_entry(p, e, &n, &v);
        if (r >= 0)
                finish(p, &n, (enum dw_policy_result)r, &v);
        policy_name_done(&n);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}
