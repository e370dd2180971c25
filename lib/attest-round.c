/* SPDX-License-Identifier: MIT */
/* One attestation round: quote, measured boot, IMA replay up to the quoted PCR 10, runtime policy, event chain, and
 * the verdict with every reason. See lib/attest-round.h and docs/attest-round.md. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest-round.h"
#include "hex.h"
#include "tcg-eventlog.h"

#define HEX_SHOWN 8 /* bytes of a digest shown in a message */

struct dw_round_ctx {
        struct dw_hasher *h;
        struct dw_round_state in; /* a copy of the input state: the caller may pass &ret->state as state */
        struct dw_round_result res;
        struct dw_tpm_pcrs pcrs;
        struct dw_ima_replay replay;
        struct dw_tcg_replay boot;
        TPMS_ATTEST attest;
};

/* ---- names ------------------------------------------------------------------------------------------------ */

static const char *const verdict_names[_DW_ROUND_VERDICT_MAX] = {
        [DW_ROUND_UNKNOWN] = "unknown",
        [DW_ROUND_TRUSTED] = "trusted",
        [DW_ROUND_UNTRUSTED] = "untrusted",
};

const char *dw_round_verdict_name(enum dw_round_verdict v)
{
        if (v < 0 || v >= _DW_ROUND_VERDICT_MAX)
                return NULL;
        return verdict_names[v];
}

static const char *const reason_kind_names[_DW_ROUND_REASON_KIND_MAX] = {
        [DW_ROUND_EVIDENCE_MALFORMED] = "evidence_malformed",
        [DW_ROUND_QUOTE] = "quote",
        [DW_ROUND_QUOTE_SELECTION] = "quote_selection",
        [DW_ROUND_BOOT_LOG_REQUIRED] = "boot_log_required",
        [DW_ROUND_BOOT_LOG_MALFORMED] = "boot_log_malformed",
        [DW_ROUND_BOOT_LOG_MISMATCH] = "boot_log_mismatch",
        [DW_ROUND_BOOT_POLICY] = "boot_policy",
        [DW_ROUND_IMA_INDEX_GAP] = "ima_index_gap",
        [DW_ROUND_IMA_ENTRY_MALFORMED] = "ima_entry_malformed",
        [DW_ROUND_IMA_DIGEST_MISMATCH] = "ima_digest_mismatch",
        [DW_ROUND_IMA_LOG_MISMATCH] = "ima_log_mismatch",
        [DW_ROUND_BOOT_AGGREGATE] = "boot_aggregate",
        [DW_ROUND_RUNTIME_POLICY] = "runtime_policy",
        [DW_ROUND_EVENT_CHAIN_ATTEST] = "event_chain_attest",
        [DW_ROUND_EVENT_CHAIN_MISMATCH] = "event_chain_mismatch",
};

const char *dw_round_reason_kind_name(enum dw_round_reason_kind kind)
{
        if (kind < 0 || kind >= _DW_ROUND_REASON_KIND_MAX)
                return NULL;
        return reason_kind_names[kind];
}

static const char *const check_names[_DW_ROUND_CHECK_MAX] = {
        [DW_ROUND_NOT_CHECKED] = "not_checked",
        [DW_ROUND_PASSED] = "passed",
        [DW_ROUND_PASSED_EARLIER] = "passed_earlier",
        [DW_ROUND_FAILED] = "failed",
};

const char *dw_round_check_name(enum dw_round_check c)
{
        if (c < 0 || c >= _DW_ROUND_CHECK_MAX)
                return NULL;
        return check_names[c];
}

/* ---- state ------------------------------------------------------------------------------------------------ */

int dw_round_state_init(struct dw_round_state *s, enum dw_hash_alg ima_bank)
{
        if (!s || ima_bank < 0 || ima_bank >= _DW_HASH_ALG_MAX)
                return -EINVAL;
        *s = (struct dw_round_state){
                .last_verdict = DW_ROUND_UNKNOWN,
                .ima_bank = ima_bank,
                .ima_rule = -1,
        };
        return 0;
}

enum dw_round_verdict dw_round_state_verdict(const struct dw_round_state *s, uint64_t now, uint64_t max_age)
{
        if (!s)
                return DW_ROUND_UNKNOWN;
        if (s->sticky_count > 0)
                return DW_ROUND_UNTRUSTED;
        if (s->rounds == 0)
                return DW_ROUND_UNKNOWN;
        /* A clock behind the last round (the caller's clock stepped back) counts as fresh. */
        if (now > s->last_round_time && now - s->last_round_time > max_age)
                return DW_ROUND_UNKNOWN;
        return s->last_verdict;
}

uint32_t dw_round_state_acknowledge(struct dw_round_state *s, uint64_t through_round)
{
        uint32_t cleared = 0, kept = 0;

        if (!s || s->sticky_count == 0)
                return 0;
        if (through_round == 0 || through_round >= s->sticky_last_round) {
                cleared = s->sticky_count;
                s->sticky_count = 0;
                s->sticky_last_round = 0;
                s->epoch_runtime_count = 0;
                s->n_sticky = 0;
                memset(s->sticky, 0, sizeof(s->sticky));
                return cleared;
        }
        /* Keep what is newer than through_round. Failures that were not kept are of unknown rounds: they are
         * cleared with the kept ones they came with, i.e. only when everything up to sticky_last_round is. */
        for (uint32_t i = 0; i < s->n_sticky; i++) {
                if (s->sticky[i].round <= through_round) {
                        if (s->sticky[i].kind == DW_ROUND_RUNTIME_POLICY && s->sticky[i].epoch == s->reboots &&
                            s->epoch_runtime_count > 0)
                                s->epoch_runtime_count--;
                        cleared++;
                        continue;
                }
                s->sticky[kept++] = s->sticky[i];
        }
        memset(s->sticky + kept, 0, sizeof(s->sticky[0]) * (s->n_sticky - kept));
        s->n_sticky = kept;
        s->sticky_count -= cleared;
        return cleared;
}

static bool string_ok(const char *s, size_t size)
{
        return memchr(s, '\0', size) != NULL;
}

static bool reason_ok(const struct dw_round_reason *r)
{
        return r->kind >= 0 && r->kind < _DW_ROUND_REASON_KIND_MAX && string_ok(r->path, sizeof(r->path)) &&
               string_ok(r->digest, sizeof(r->digest)) && string_ok(r->rule, sizeof(r->rule)) &&
               string_ok(r->msg, sizeof(r->msg));
}

static bool state_ok(const struct dw_round_state *s)
{
        if (s->ima_bank < 0 || s->ima_bank >= _DW_HASH_ALG_MAX || s->ima_rule < -1 ||
            s->ima_rule >= _DW_IMA_BANK_RULE_MAX || s->last_verdict < 0 || s->last_verdict >= _DW_ROUND_VERDICT_MAX ||
            s->n_sticky > DW_ROUND_STICKY_MAX || s->n_sticky > s->sticky_count ||
            s->epoch_runtime_count > s->sticky_count)
                return false;
        for (uint32_t i = 0; i < s->n_sticky; i++)
                if (!reason_ok(&s->sticky[i]))
                        return false;
        return true;
}

/* ---- serialization: "DWRS", u16 version, u16 0, u32 payload size, payload, 8 bytes of SHA-256 of all before. ---- */

#define BLOB_MAGIC  "DWRS"
#define BLOB_HEADER 12
#define BLOB_CHECK  8

struct writer {
        uint8_t *buf;
        size_t len, size;
        bool oom;
};

static void w_bytes(struct writer *w, const void *p, size_t n)
{
        if (w->oom)
                return;
        if (w->len + n > w->size) {
                size_t size = MAX(w->size * 2, w->len + n + 256);
                uint8_t *b = realloc(w->buf, size);

                if (!b) {
                        w->oom = true;
                        return;
                }
                w->buf = b;
                w->size = size;
        }
        memcpy(w->buf + w->len, p, n);
        w->len += n;
}

static void w_uint(struct writer *w, uint64_t v, unsigned bytes)
{
        uint8_t b[8];

        for (unsigned i = 0; i < bytes; i++)
                b[i] = (uint8_t)(v >> (8 * i));
        w_bytes(w, b, bytes);
}

static void w_str(struct writer *w, const char *s)
{
        size_t n = strlen(s);

        w_uint(w, n, 2);
        w_bytes(w, s, n);
}

int dw_round_state_serialize(const struct dw_round_state *s, uint8_t **ret_buf, size_t *ret_size)
{
        struct writer w = {};
        size_t bank_size;
        uint8_t check[32];

        if (!s || !ret_buf || !ret_size || !state_ok(s))
                return -EINVAL;
        bank_size = dw_hash_alg_size(s->ima_bank);
        w_bytes(&w, BLOB_MAGIC, 4);
        w_uint(&w, DW_ROUND_STATE_VERSION, 2);
        w_uint(&w, 0, 2);
        w_uint(&w, 0, 4); /* payload size, set below */
        w_uint(&w, s->rounds, 8);
        w_uint(&w, s->rounds_untrusted, 8);
        w_uint(&w, s->reboots, 8);
        w_uint(&w, s->ima_entries, 8);
        w_uint(&w, s->last_round_time, 8);
        w_uint(&w, (uint64_t)s->last_verdict, 1);
        w_uint(&w, (s->has_clock ? 1u : 0u) | (s->clock.safe ? 2u : 0u) | (s->boot_verified ? 4u : 0u), 1);
        w_uint(&w, s->clock.clock, 8);
        w_uint(&w, s->clock.reset_count, 4);
        w_uint(&w, s->clock.restart_count, 4);
        w_uint(&w, (uint64_t)s->ima_bank, 1);
        w_uint(&w, (uint64_t)(uint8_t)(int8_t)s->ima_rule, 1);
        w_uint(&w, s->boot_reset_count, 4);
        for (unsigned pcr = 0; pcr < ELEMENTSOF(s->boot_pcrs); pcr++)
                w_bytes(&w, s->boot_pcrs[pcr], bank_size);
        w_uint(&w, s->ima_next_index, 8);
        w_uint(&w, s->ima_violations, 8);
        for (int rule = 0; rule < _DW_IMA_BANK_RULE_MAX; rule++)
                w_bytes(&w, s->ima_pcr[rule], bank_size);
        w_uint(&w, s->sticky_count, 4);
        w_uint(&w, s->sticky_last_round, 8);
        w_uint(&w, s->epoch_runtime_count, 4); /* version 2 */
        w_uint(&w, s->n_sticky, 1);
        for (uint32_t i = 0; i < s->n_sticky; i++) {
                const struct dw_round_reason *r = &s->sticky[i];

                w_uint(&w, (uint64_t)r->kind, 1);
                w_uint(&w, (r->sticky ? 1u : 0u) | (r->earlier ? 2u : 0u), 1);
                w_uint(&w, r->round, 8);
                w_uint(&w, r->epoch, 8); /* version 2 */
                w_uint(&w, (uint64_t)r->index, 8);
                w_str(&w, r->path);
                w_str(&w, r->digest);
                w_str(&w, r->rule);
                w_str(&w, r->msg);
        }
        if (w.oom) {
                free(w.buf);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < 4; i++)
                w.buf[8 + i] = (uint8_t)((w.len - BLOB_HEADER) >> (8 * i));
        if (dw_hash_oneshot(DW_HASH_SHA256, w.buf, w.len, check) < 0) {
                free(w.buf);
                return -EIO;
        }
        w_bytes(&w, check, BLOB_CHECK);
        if (w.oom) {
                free(w.buf);
                return -ENOMEM;
        }
        *ret_buf = w.buf;
        *ret_size = w.len;
        return 0;
}

struct reader {
        const uint8_t *buf;
        size_t len, pos;
        bool bad;
};

static const uint8_t *r_bytes(struct reader *r, size_t n)
{
        const uint8_t *p;

        if (r->bad || r->len - r->pos < n) {
                r->bad = true;
                return NULL;
        }
        p = r->buf + r->pos;
        r->pos += n;
        return p;
}

static uint64_t r_uint(struct reader *r, unsigned bytes)
{
        const uint8_t *p = r_bytes(r, bytes);
        uint64_t v = 0;

        if (!p)
                return 0;
        for (unsigned i = bytes; i > 0; i--)
                v = v << 8 | p[i - 1];
        return v;
}

static void r_copy(struct reader *r, void *out, size_t n)
{
        const uint8_t *p = r_bytes(r, n);

        if (p)
                memcpy(out, p, n);
}

static void r_str(struct reader *r, char *out, size_t size)
{
        size_t n = (size_t)r_uint(r, 2);
        const uint8_t *p;

        if (n >= size) {
                r->bad = true;
                return;
        }
        p = r_bytes(r, n);
        if (!p)
                return;
        if (memchr(p, '\0', n)) {
                r->bad = true;
                return;
        }
        memcpy(out, p, n);
        out[n] = '\0';
}

static int read_payload(struct reader *r, unsigned version, struct dw_round_state *s, struct dw_error *err)
{
        uint64_t bank, verdict, flags;
        int8_t rule;

        s->rounds = r_uint(r, 8);
        s->rounds_untrusted = r_uint(r, 8);
        s->reboots = r_uint(r, 8);
        s->ima_entries = r_uint(r, 8);
        s->last_round_time = r_uint(r, 8);
        verdict = r_uint(r, 1);
        flags = r_uint(r, 1);
        s->clock.clock = r_uint(r, 8);
        s->clock.reset_count = (uint32_t)r_uint(r, 4);
        s->clock.restart_count = (uint32_t)r_uint(r, 4);
        bank = r_uint(r, 1);
        rule = (int8_t)(uint8_t)r_uint(r, 1);
        if (r->bad || verdict >= _DW_ROUND_VERDICT_MAX || flags > 7 || bank >= _DW_HASH_ALG_MAX || rule < -1 ||
            rule >= _DW_IMA_BANK_RULE_MAX)
                return dw_error_set(err, EBADMSG, 0, r->pos, "state blob: bad verdict, flags, bank or rule");
        s->last_verdict = (enum dw_round_verdict)verdict;
        s->has_clock = flags & 1;
        s->clock.safe = flags & 2;
        s->boot_verified = flags & 4;
        s->ima_bank = (enum dw_hash_alg)bank;
        s->ima_rule = rule;
        s->boot_reset_count = (uint32_t)r_uint(r, 4);
        for (unsigned pcr = 0; pcr < ELEMENTSOF(s->boot_pcrs); pcr++)
                r_copy(r, s->boot_pcrs[pcr], dw_hash_alg_size(s->ima_bank));
        s->ima_next_index = r_uint(r, 8);
        s->ima_violations = r_uint(r, 8);
        for (int i = 0; i < _DW_IMA_BANK_RULE_MAX; i++)
                r_copy(r, s->ima_pcr[i], dw_hash_alg_size(s->ima_bank));
        s->sticky_count = (uint32_t)r_uint(r, 4);
        s->sticky_last_round = r_uint(r, 8);
        /* Version 1 did not tell the epochs apart: its runtime failures are of an unknown epoch (never re-judged). */
        s->epoch_runtime_count = version >= 2 ? (uint32_t)r_uint(r, 4) : 0;
        s->n_sticky = (uint32_t)r_uint(r, 1);
        if (r->bad || s->n_sticky > DW_ROUND_STICKY_MAX || s->n_sticky > s->sticky_count ||
            s->epoch_runtime_count > s->sticky_count)
                return dw_error_set(err, EBADMSG, 0, r->pos, "state blob: bad sticky failure count");
        for (uint32_t i = 0; i < s->n_sticky; i++) {
                struct dw_round_reason *x = &s->sticky[i];
                uint64_t kind = r_uint(r, 1), rflags = r_uint(r, 1);

                if (kind >= _DW_ROUND_REASON_KIND_MAX || rflags > 3)
                        return dw_error_set(err, EBADMSG, i, r->pos,
                                            "state blob: sticky failure %" PRIu32 " has a bad kind or flags", i);
                x->kind = (enum dw_round_reason_kind)kind;
                x->sticky = rflags & 1;
                x->earlier = rflags & 2;
                x->round = r_uint(r, 8);
                x->epoch = version >= 2 ? r_uint(r, 8) : DW_ROUND_EPOCH_UNKNOWN;
                x->index = (int64_t)r_uint(r, 8);
                r_str(r, x->path, sizeof(x->path));
                r_str(r, x->digest, sizeof(x->digest));
                r_str(r, x->rule, sizeof(x->rule));
                r_str(r, x->msg, sizeof(x->msg));
        }
        if (r->bad)
                return dw_error_set(err, EBADMSG, 0, r->pos, "state blob: truncated or bad string");
        if (r->pos != r->len)
                return dw_error_set(err, EBADMSG, 0, r->pos, "state blob: %zu bytes left over", r->len - r->pos);
        return 0;
}

int dw_round_state_deserialize(const uint8_t *buf, size_t size, struct dw_round_state *ret, struct dw_error *err)
{
        struct dw_round_state s = {};
        struct reader r;
        uint8_t check[32];
        uint32_t payload;
        uint16_t version;
        int k;

        if (!ret || (!buf && size))
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        if (size < BLOB_HEADER + BLOB_CHECK || memcmp(buf, BLOB_MAGIC, 4) != 0)
                return dw_error_set(err, EBADMSG, 0, 0, "not a driftwatch round state (%zu bytes)", size);
        version = (uint16_t)(buf[4] | buf[5] << 8);
        if (version < 1 || version > DW_ROUND_STATE_VERSION)
                return dw_error_set(err, version > DW_ROUND_STATE_VERSION ? EOPNOTSUPP : EBADMSG, 0, 4,
                                    "round state version %u (this build reads %u)", version, DW_ROUND_STATE_VERSION);
        payload = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
        if (buf[6] || buf[7] || payload != size - BLOB_HEADER - BLOB_CHECK)
                return dw_error_set(err, EBADMSG, 0, 6, "round state of %zu bytes says its payload is %" PRIu32, size,
                                    payload);
        if (dw_hash_oneshot(DW_HASH_SHA256, buf, size - BLOB_CHECK, check) < 0)
                return dw_error_set(err, EIO, 0, 0, "cannot hash the round state");
        if (memcmp(check, buf + size - BLOB_CHECK, BLOB_CHECK) != 0)
                return dw_error_set(err, EBADMSG, 0, size - BLOB_CHECK, "round state checksum mismatch (damaged)");
        r = (struct reader){.buf = buf + BLOB_HEADER, .len = payload};
        k = read_payload(&r, version, &s, err);
        if (k < 0)
                return k;
        *ret = s;
        return 0;
}

void dw_round_pcr_selection(const struct dw_round_state *s, TPML_PCR_SELECTION *ret)
{
        *ret = (TPML_PCR_SELECTION){.count = 1};
        ret->pcrSelections[0].hash = dw_hash_alg_tpm_id(s ? s->ima_bank : DW_HASH_SHA256);
        ret->pcrSelections[0].sizeofSelect = 3;
        ret->pcrSelections[0].pcrSelect[0] = 0xff; /* 0-7 */
        ret->pcrSelections[0].pcrSelect[1] = 0x07; /* 8, 9, 10 */
}

/* ---- context ---------------------------------------------------------------------------------------------- */

int dw_round_ctx_new(struct dw_round_ctx **ret)
{
        struct dw_round_ctx *ctx;
        int r;

        if (!ret)
                return -EINVAL;
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return -ENOMEM;
        r = dw_hasher_new(&ctx->h);
        if (r < 0) {
                free(ctx);
                return r;
        }
        *ret = ctx;
        return 0;
}

void dw_round_ctx_free(struct dw_round_ctx *ctx)
{
        if (!ctx)
                return;
        dw_hasher_free(ctx->h);
        free(ctx);
}

/* ---- the round: reasons and notes ------------------------------------------------------------------------- */

struct round {
        struct dw_round_ctx *ctx;
        const struct dw_round_state *old; /* the input state (ctx->in) */
        const struct dw_round_expect *expect;
        const struct dw_round_evidence *ev;
        struct dw_round_result *res;
        struct dw_round_state *st; /* the new state, res->state */
        uint32_t sticky_new;       /* sticky failures of this round, listed or omitted */
        struct dw_round_reason overflow;
        const struct dw_tpm_pcr_value *ima_pcr; /* the quoted PCR 10 of the state's bank */
        uint64_t round;                         /* the number of the round reasons are found in */
};

static struct dw_round_reason *reason_add(struct round *rd, enum dw_round_reason_kind kind, bool sticky, int64_t index)
{
        struct dw_round_result *res = rd->res;
        struct dw_round_reason *r;

        if (sticky)
                rd->sticky_new++;
        if (res->n_reasons < DW_ROUND_REASONS_MAX)
                r = &res->reasons[res->n_reasons++];
        else {
                res->reasons_omitted++;
                r = &rd->overflow;
        }
        *r = (struct dw_round_reason){
                .kind = kind,
                .sticky = sticky,
                .round = rd->round,
                .epoch = rd->st->reboots,
                .index = index,
        };
        return r;
}

_printf_(2, 3) static void reason_msg(struct dw_round_reason *r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
        va_end(ap);
}

_printf_(2, 3) static void reason_rule(struct dw_round_reason *r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(r->rule, sizeof(r->rule), fmt, ap);
        va_end(ap);
}

static void reason_digest(struct dw_round_reason *r, enum dw_hash_alg alg, const uint8_t *d, size_t len)
{
        const char *name = dw_hash_alg_name(alg);
        size_t o;

        if (!d || len == 0)
                return;
        len = MIN(len, (size_t)DW_HASH_MAX_SIZE);
        o = (size_t)snprintf(r->digest, sizeof(r->digest), "%s:", name ?: "unknown");
        if (o + 2 * len < sizeof(r->digest))
                dw_hex_encode(d, len, r->digest + o);
}

/* Strict UTF-8 without control characters: shown as it is; anything else byte by byte as \xNN (and the backslash),
 * as `driftwatch ima show --json` and the runtime policy spell such names. Cut with "..." when too long. */
static bool utf8_printable(const uint8_t *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                uint8_t c = s[i];
                size_t n;
                uint32_t cp;

                if (c < 0x80) {
                        if (c < 0x20 || c == 0x7f)
                                return false;
                        i++;
                        continue;
                }
                n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
                if (n == 0 || len - i <= n)
                        return false;
                cp = c & (0x3f >> n);
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

static void set_path(char *out, size_t size, const char *name, size_t len)
{
        const uint8_t *s = (const uint8_t *)name;
        bool plain = utf8_printable(s, len);
        size_t o = 0, i;

        for (i = 0; i < len; i++) {
                size_t need = plain || (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') ? 1 : 4;

                /* Room for this, and "..." if more follows. */
                if (o + need + (i + 1 < len ? 3 : 0) >= size)
                        break;
                if (plain && (s[i] & 0xc0) == 0xc0) {
                        /* A multi-byte character: copy it whole or not at all. */
                        size_t n = (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3 : 4;

                        if (o + n + 3 >= size)
                                break;
                        memcpy(out + o, s + i, n);
                        o += n;
                        i += n - 1;
                        continue;
                }
                if (need == 1)
                        out[o++] = (char)s[i];
                else
                        o += (size_t)snprintf(out + o, size - o, "\\x%02x", s[i]);
        }
        if (i < len && o + 3 < size) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        out[o] = '\0';
}

_printf_(2, 3) static void note(struct round *rd, const char *fmt, ...)
{
        char *notes = rd->res->notes;
        size_t len = strlen(notes), size = sizeof(rd->res->notes);
        va_list ap;

        if (len > 0 && len + 2 < size) {
                memcpy(notes + len, "; ", 3);
                len += 2;
        }
        if (len + 1 >= size)
                return;
        va_start(ap, fmt);
        vsnprintf(notes + len, size - len, fmt, ap);
        va_end(ap);
}

static const char *short_hex(const uint8_t *d, size_t len, char buf[static 2 * HEX_SHOWN + 4])
{
        dw_hex_encode(d, MIN(len, (size_t)HEX_SHOWN), buf);
        if (len > HEX_SHOWN)
                strcat(buf, "...");
        return buf;
}

static const struct dw_tpm_pcr_value *quoted_value(const struct dw_tpm_pcrs *q, enum dw_hash_alg alg, uint32_t pcr)
{
        uint16_t id = dw_hash_alg_tpm_id(alg);

        for (size_t i = 0; i < q->n_values; i++)
                if (q->values[i].hash_alg == id && q->values[i].pcr == pcr)
                        return &q->values[i];
        return NULL;
}

/* ---- the quote -------------------------------------------------------------------------------------------- */

static bool rollback_reason(enum dw_attest_reason r)
{
        return r == DW_ATTEST_RESET_ROLLBACK || r == DW_ATTEST_RESTART_ROLLBACK || r == DW_ATTEST_CLOCK_REWIND;
}

static void malformed(struct round *rd, enum dw_round_reason_kind kind, const char *what, const struct dw_error *err)
{
        struct dw_round_reason *r = reason_add(rd, kind, false, -1);

        reason_msg(r, "%s: %s", what, err->msg[0] ? err->msg : "malformed");
}

/* A new boot epoch: the IMA log starts again at entry 0 and the boot log is needed. */
static void new_epoch(struct round *rd)
{
        struct dw_round_state *st = rd->st;

        st->ima_rule = -1;
        st->ima_next_index = 0;
        st->ima_violations = 0;
        st->epoch_runtime_count = 0; /* the pending ones are of an earlier epoch from now on */
        memset(st->ima_pcr, 0, sizeof(st->ima_pcr));
        st->boot_verified = false;
}

static void check_selection(struct round *rd)
{
        const struct dw_tpm_pcrs *q = &rd->ctx->pcrs;
        enum dw_hash_alg bank = rd->st->ima_bank;
        uint32_t have = 0, missing;

        for (size_t i = 0; i < q->n_values; i++)
                if (q->values[i].hash_alg == dw_hash_alg_tpm_id(bank) && q->values[i].pcr < 32)
                        have |= UINT32_C(1) << q->values[i].pcr;
        missing = DW_ROUND_PCRS_REQUIRED & ~have;
        if (missing) {
                struct dw_round_reason *r = reason_add(rd, DW_ROUND_QUOTE_SELECTION, false, -1);
                char sel[160];

                reason_rule(r, "%s:0-7,10", dw_hash_alg_name(bank));
                reason_msg(r,
                           "the quote of %s lacks PCRs of %s (bitmask 0x%03" PRIx32 " missing); it must cover "
                           "PCRs 0-7 and 10",
                           dw_tpm_pcr_selection_format(&q->selection, sel, sizeof(sel)), dw_hash_alg_name(bank),
                           missing);
                rd->res->checks.quote = DW_ROUND_FAILED;
                return;
        }
        rd->ima_pcr = quoted_value(q, bank, DW_ROUND_IMA_PCR);
        rd->res->checks.quote = DW_ROUND_PASSED;
}

static int round_quote(struct round *rd)
{
        const struct dw_round_evidence *ev = rd->ev;
        struct dw_round_state *st = rd->st;
        struct dw_attest_expect ae = {
                .ak = rd->expect->ak,
                .ak_public = rd->expect->ak_public,
                .nonce = rd->expect->nonce,
                .nonce_size = rd->expect->nonce_size,
                .previous = rd->old->has_clock ? &rd->old->clock : NULL,
        };
        struct dw_attest_evidence ae_ev = {
                .attest = ev->quote,
                .attest_size = ev->quote_size,
                .signature = ev->signature,
                .signature_size = ev->signature_size,
        };
        struct dw_attest_result ar;
        struct dw_error err = {};
        int k;

        rd->res->checks.quote = DW_ROUND_FAILED;
        if (!ev->quote || !ev->signature || !ev->pcrs) {
                struct dw_round_reason *r = reason_add(rd, DW_ROUND_EVIDENCE_MALFORMED, false, -1);

                reason_msg(r, "no %s sent", !ev->quote ? "quote" : !ev->signature ? "quote signature" : "PCR values");
                return 0;
        }
        k = dw_tpm_pcrs_file_parse(ev->pcrs, ev->pcrs_size, &rd->ctx->pcrs, &err);
        if (k == -ENOMEM)
                return k;
        if (k < 0) {
                malformed(rd, DW_ROUND_EVIDENCE_MALFORMED, "PCR values", &err);
                return 0;
        }
        k = dw_tpm_quote_verify(&ae, &ae_ev, &rd->ctx->pcrs, &ar, &rd->ctx->attest, &err);
        if (k == -ENOMEM)
                return k;
        if (k < 0) {
                malformed(rd, DW_ROUND_EVIDENCE_MALFORMED, "quote", &err);
                return 0;
        }
        rd->res->clock = ar.clock;
        if (!ar.valid) {
                struct dw_round_reason *r = reason_add(rd, DW_ROUND_QUOTE, rollback_reason(ar.reason), -1);

                reason_rule(r, "%s", dw_attest_reason_name(ar.reason) ?: "invalid");
                reason_msg(r, "%s", ar.msg);
                return 0;
        }

        /* The TPM vouches for this clock: keep it, so that no later quote may go back from it. */
        if (!rd->old->has_clock || ar.reset) {
                if (rd->old->has_clock) {
                        st->reboots++;
                        rd->res->reboot = true;
                }
                new_epoch(rd);
        }
        st->has_clock = true;
        st->clock = ar.clock;
        check_selection(rd);
        return 0;
}

/* ---- measured boot ---------------------------------------------------------------------------------------- */

static bool is_boot_pcr(unsigned pcr)
{
        return pcr < 32 && (DW_ROUND_BOOT_PCRS & (UINT32_C(1) << pcr));
}

/* Whether a quoted PCR 0-9 of the state's bank is not what the verified boot log replayed to. */
static bool boot_pcrs_changed(const struct round *rd)
{
        const struct dw_tpm_pcrs *q = &rd->ctx->pcrs;
        const struct dw_round_state *st = rd->st;
        uint16_t id = dw_hash_alg_tpm_id(st->ima_bank);

        for (size_t i = 0; i < q->n_values; i++) {
                const struct dw_tpm_pcr_value *v = &q->values[i];

                if (v->hash_alg == id && is_boot_pcr(v->pcr) &&
                    (v->size != dw_hash_alg_size(st->ima_bank) || memcmp(v->digest, st->boot_pcrs[v->pcr], v->size)))
                        return true;
        }
        return false;
}

struct finding_ctx {
        struct round *rd;
        unsigned count;
};

static int on_boot_finding(const struct dw_boot_finding *f, void *userdata)
{
        struct finding_ctx *fc = userdata;
        /* A golden value that is not quoted is a gap in the evidence, not a bad state. */
        bool sticky = f->kind != DW_BOOT_PCR_NOT_QUOTED;
        struct dw_round_reason *r = reason_add(fc->rd, DW_ROUND_BOOT_POLICY, sticky, f->event);

        snprintf(r->rule, sizeof(r->rule), "%s", f->rule);
        set_path(r->path, sizeof(r->path), f->label, strlen(f->label));
        if (f->digest_len > 0)
                reason_digest(r, f->alg, f->digest, f->digest_len);
        reason_msg(r, "%s", f->msg);
        fc->count++;
        return 0;
}

/* Replays the boot log and compares it with every quoted PCR 0-9 of every bank it carries. Returns 1 when it
 * matches, 0 when not (reasons added), or a negative errno. */
static int boot_log_replay(struct round *rd)
{
        const struct dw_tpm_pcrs *q = &rd->ctx->pcrs;
        struct dw_tcg_replay *b = &rd->ctx->boot;
        enum dw_hash_alg bank = rd->st->ima_bank;
        struct dw_error err = {};
        unsigned mismatches = 0;
        int k;

        k = dw_tcg_replay_log(b, rd->ctx->h, rd->ev->boot_log, rd->ev->boot_log_size, &err);
        if (k == -ENOMEM)
                return k;
        if (k < 0) {
                struct dw_round_reason *r = reason_add(rd, DW_ROUND_BOOT_LOG_MALFORMED, false, (int64_t)err.index);

                reason_msg(r, "boot log: %s", err.msg[0] ? err.msg : "malformed");
                return 0;
        }
        rd->res->stats.boot_events = b->events;
        if (!b->has_bank[bank]) {
                struct dw_round_reason *r = reason_add(rd, DW_ROUND_BOOT_LOG_MISMATCH, false, -1);

                reason_rule(r, "%s", dw_hash_alg_name(bank));
                reason_msg(r, "the boot log carries no %s digests, the bank the quote is checked in",
                           dw_hash_alg_name(bank));
                return 0;
        }
        for (size_t i = 0; i < q->n_values; i++) {
                const struct dw_tpm_pcr_value *v = &q->values[i];
                char h1[2 * HEX_SHOWN + 4], h2[2 * HEX_SHOWN + 4];
                struct dw_round_reason *r;
                enum dw_hash_alg alg;

                if (!is_boot_pcr(v->pcr) || dw_hash_alg_from_tpm_id(v->hash_alg, &alg) < 0 || !b->has_bank[alg] ||
                    v->size != dw_hash_alg_size(alg))
                        continue;
                if (memcmp(b->pcr[alg][v->pcr], v->digest, v->size) == 0)
                        continue;
                r = reason_add(rd, DW_ROUND_BOOT_LOG_MISMATCH, false, -1);
                reason_rule(r, "%s:%u", dw_hash_alg_name(alg), v->pcr);
                reason_digest(r, alg, b->pcr[alg][v->pcr], v->size);
                reason_msg(r, "%s PCR %u: the boot log replays to %s, the quote says %s", dw_hash_alg_name(alg), v->pcr,
                           short_hex(b->pcr[alg][v->pcr], v->size, h1), short_hex(v->digest, v->size, h2));
                mismatches++;
        }
        return mismatches == 0;
}

static int round_boot(struct round *rd)
{
        const struct dw_boot_policy *policy = rd->expect->boot_policy;
        struct dw_round_result *res = rd->res;
        struct dw_round_state *st = rd->st;
        struct finding_ctx fc = {.rd = rd};
        bool needed;
        int k;

        needed = !st->boot_verified || st->boot_reset_count != st->clock.reset_count || boot_pcrs_changed(rd);
        if (st->boot_verified && needed && st->boot_reset_count == st->clock.reset_count)
                note(rd, "quoted PCRs 0-9 changed since the boot log was verified: it is needed again");
        if (needed)
                st->boot_verified = false;

        if (policy) {
                k = dw_boot_policy_check_pcrs(policy, &rd->ctx->pcrs, on_boot_finding, &fc);
                if (k < 0)
                        return k;
        }

        if (rd->ev->boot_log) {
                k = boot_log_replay(rd);
                if (k < 0)
                        return k;
                res->checks.boot_log = k ? DW_ROUND_PASSED : DW_ROUND_FAILED;
                if (k && policy) {
                        struct dw_error err = {};

                        k = dw_boot_policy_check_log(policy, rd->ctx->h, rd->ev->boot_log, rd->ev->boot_log_size,
                                                     on_boot_finding, &fc, &err);
                        if (k == -ENOMEM)
                                return k;
                        if (k < 0)
                                malformed(rd, DW_ROUND_BOOT_LOG_MALFORMED, "boot log", &err);
                }
                if (res->checks.boot_log == DW_ROUND_PASSED) {
                        st->boot_verified = true;
                        st->boot_reset_count = st->clock.reset_count;
                        for (unsigned pcr = 0; pcr < ELEMENTSOF(st->boot_pcrs); pcr++)
                                memcpy(st->boot_pcrs[pcr], rd->ctx->boot.pcr[st->ima_bank][pcr],
                                       dw_hash_alg_size(st->ima_bank));
                } else
                        st->boot_verified = false;
        } else if (needed) {
                struct dw_round_reason *r = reason_add(rd, DW_ROUND_BOOT_LOG_REQUIRED, false, -1);

                reason_msg(r,
                           "no boot log sent, and none was verified for this boot (resetCount %" PRIu32
                           ") that replays to the quoted PCRs 0-9",
                           st->clock.reset_count);
                res->checks.boot_log = DW_ROUND_FAILED;
        } else
                res->checks.boot_log = DW_ROUND_PASSED_EARLIER;

        if (!policy) {
                res->checks.boot_policy = DW_ROUND_NOT_CHECKED;
                note(rd, "no boot policy: measured boot replayed, not judged");
        } else
                res->checks.boot_policy = fc.count ? DW_ROUND_FAILED : DW_ROUND_PASSED;
        return 0;
}

/* ---- IMA ---------------------------------------------------------------------------------------------------- */

/* What a tentative part of the round added, to take back when the IMA log does not match. */
struct snapshot {
        size_t n_reasons, reasons_omitted, notes_len;
        uint32_t sticky_new;
        uint64_t rejected;
        enum dw_round_check boot_aggregate;
};

static void snapshot_take(struct round *rd, struct snapshot *s)
{
        *s = (struct snapshot){
                .n_reasons = rd->res->n_reasons,
                .reasons_omitted = rd->res->reasons_omitted,
                .notes_len = strlen(rd->res->notes),
                .sticky_new = rd->sticky_new,
                .rejected = rd->res->stats.entries_rejected,
                .boot_aggregate = rd->res->checks.boot_aggregate,
        };
}

static void snapshot_restore(struct round *rd, const struct snapshot *s)
{
        rd->res->n_reasons = s->n_reasons;
        rd->res->reasons_omitted = s->reasons_omitted;
        rd->res->notes[s->notes_len] = '\0';
        rd->sticky_new = s->sticky_new;
        rd->res->stats.entries_rejected = s->rejected;
        rd->res->checks.boot_aggregate = s->boot_aggregate;
}

static void entry_path(const struct dw_ima_entry *e, char *out, size_t size)
{
        const char *name;
        size_t len;

        if (dw_ima_entry_event_name(e, &name, &len) < 0) {
                out[0] = '\0';
                return;
        }
        set_path(out, size, name, len);
}

static void entry_digest(struct dw_round_reason *r, const struct dw_ima_entry *e)
{
        enum dw_hash_alg alg;
        const uint8_t *d;
        size_t len;

        if (dw_ima_entry_file_digest(e, &alg, &d, &len, NULL) < 0)
                return;
        reason_digest(r, alg, d, len);
}

static bool entry_is_boot_aggregate(const struct dw_ima_entry *e)
{
        const char *name;
        size_t len;

        return !e->violation && dw_ima_entry_event_name(e, &name, &len) >= 0 && len == 14 &&
               memcmp(name, "boot_aggregate", 14) == 0;
}

/* ima_calc_boot_aggregate: H(PCR 0 || ... || PCR 7), and PCRs 8-9 for every bank but SHA-1, in the bank of the
 * aggregate's own algorithm. */
static int check_boot_aggregate(struct round *rd, const struct dw_ima_entry *e)
{
        struct dw_hasher *h = rd->ctx->h;
        char h1[2 * HEX_SHOWN + 4], missing[64] = "";
        uint8_t want[DW_HASH_MAX_SIZE];
        struct dw_round_reason *r;
        enum dw_hash_alg alg;
        const uint8_t *d;
        unsigned n_pcrs;
        size_t len, size;
        int k;

        if (e->index != 0) {
                r = reason_add(rd, DW_ROUND_BOOT_AGGREGATE, true, (int64_t)e->index);
                snprintf(r->path, sizeof(r->path), "boot_aggregate");
                entry_digest(r, e);
                reason_msg(r, "a boot_aggregate entry at index %" PRIu64 ": the kernel writes it only as entry 0",
                           e->index);
                rd->res->checks.boot_aggregate = DW_ROUND_FAILED;
                return 0;
        }
        if (dw_ima_entry_file_digest(e, &alg, &d, &len, NULL) < 0 || alg < 0 || len != dw_hash_alg_size(alg)) {
                r = reason_add(rd, DW_ROUND_BOOT_AGGREGATE, true, 0);
                snprintf(r->path, sizeof(r->path), "boot_aggregate");
                reason_msg(r, "boot_aggregate without a digest of a known algorithm");
                rd->res->checks.boot_aggregate = DW_ROUND_FAILED;
                return 0;
        }
        size = len;
        n_pcrs = alg == DW_HASH_SHA1 ? 8 : 10;
        for (unsigned pcr = 0; pcr < n_pcrs; pcr++)
                if (!quoted_value(&rd->ctx->pcrs, alg, pcr))
                        snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%u",
                                 missing[0] ? "," : "", pcr);
        if (missing[0]) {
                note(rd, "boot_aggregate (%s) not checked: %s PCRs %s not quoted", dw_hash_alg_name(alg),
                     dw_hash_alg_name(alg), missing);
                rd->res->checks.boot_aggregate = DW_ROUND_NOT_CHECKED;
                return 0;
        }
        k = dw_hasher_init(h, alg);
        for (unsigned pcr = 0; k >= 0 && pcr < n_pcrs; pcr++) {
                const struct dw_tpm_pcr_value *v = quoted_value(&rd->ctx->pcrs, alg, pcr);

                k = dw_hasher_update(h, v->digest, v->size);
        }
        if (k >= 0)
                k = dw_hasher_final(h, want);
        if (k < 0)
                return k;
        if (memcmp(want, d, size) == 0) {
                rd->res->checks.boot_aggregate = DW_ROUND_PASSED;
                return 0;
        }
        r = reason_add(rd, DW_ROUND_BOOT_AGGREGATE, true, 0);
        snprintf(r->path, sizeof(r->path), "boot_aggregate");
        reason_digest(r, alg, d, size);
        reason_rule(r, "%s:0-%u", dw_hash_alg_name(alg), n_pcrs - 1);
        reason_msg(r, "boot_aggregate is not the %s of the quoted %s PCRs 0-%u (%s)%s", dw_hash_alg_name(alg),
                   dw_hash_alg_name(alg), n_pcrs - 1, short_hex(want, size, h1),
                   memcmp(d, (const uint8_t[DW_HASH_MAX_SIZE]){}, size) == 0
                           ? ": it is all zeros, the kernel found no TPM when IMA started"
                           : ": PCRs 0-9 changed after IMA started");
        rd->res->checks.boot_aggregate = DW_ROUND_FAILED;
        return 0;
}

/* The runtime policy's judgement of one consumed entry (not boot_aggregate): a sticky reason when it rejects it. The
 * same for the round and for a re-judge (dw_round_rejudge). */
static int judge_runtime(struct round *rd, const struct dw_runtime_policy *policy, const struct dw_ima_entry *e)
{
        struct dw_policy_verdict v = {};
        struct dw_round_reason *r;
        const char *name;
        int k;

        k = dw_runtime_policy_judge_entry(policy, e, &v);
        if (k == -ENOMEM)
                return k;
        if (k >= 0 && !dw_policy_result_is_failure(v.result))
                return 0;
        rd->res->stats.entries_rejected++;
        r = reason_add(rd, DW_ROUND_RUNTIME_POLICY, true, (int64_t)e->index);
        entry_path(e, r->path, sizeof(r->path));
        entry_digest(r, e);
        name = k < 0 ? "error" : dw_policy_result_name(v.result);
        reason_rule(r, "%s", name ?: "error");
        if (k < 0)
                reason_msg(r, "entry %" PRIu64 " cannot be judged: %s", e->index, strerror(-k));
        else if (v.detail[0])
                reason_msg(r, "entry %" PRIu64 " %s: %s", e->index, r->path, v.detail);
        else
                reason_msg(r, "entry %" PRIu64 " %s: %s", e->index, r->path, name);
        return 0;
}

static int judge_entry(struct round *rd, const struct dw_ima_entry *e)
{
        const struct dw_runtime_policy *policy = rd->expect->runtime_policy;
        struct dw_round_reason *r;

        if (entry_is_boot_aggregate(e))
                return check_boot_aggregate(rd, e);
        if (e->index == 0) {
                r = reason_add(rd, DW_ROUND_BOOT_AGGREGATE, true, 0);
                entry_path(e, r->path, sizeof(r->path));
                entry_digest(r, e);
                reason_msg(r, "entry 0 is not boot_aggregate: the kernel always writes that first");
                rd->res->checks.boot_aggregate = DW_ROUND_FAILED;
        }
        if (!policy)
                return 0;
        return judge_runtime(rd, policy, e);
}

/* Bitmask of the enabled rules whose running PCR 10 is the quoted value. */
static unsigned ima_match(const struct round *rd)
{
        const struct dw_ima_replay *rp = &rd->ctx->replay;
        enum dw_hash_alg bank = rd->st->ima_bank;
        size_t size = dw_hash_alg_size(bank);
        unsigned mask = 0;

        if (!rd->ima_pcr || rd->ima_pcr->size != size)
                return 0;
        for (int rule = 0; rule < _DW_IMA_BANK_RULE_MAX; rule++)
                if (rp->enabled[bank][rule] &&
                    memcmp(rp->pcr[bank][rule][DW_ROUND_IMA_PCR], rd->ima_pcr->digest, size) == 0)
                        mask |= 1u << rule;
        return mask;
}

/* Why the replay stopped before it matched. */
struct ima_failure {
        bool failed;
        enum dw_round_reason_kind kind;
        uint64_t index;
        char path[256];
        char digest[8 + 2 * DW_HASH_MAX_SIZE + 1];
        char msg[256];
};

static void ima_fail(struct ima_failure *f, enum dw_round_reason_kind kind, const struct dw_ima_entry *e,
                     uint64_t index, const char *msg)
{
        struct dw_round_reason tmp = {};

        f->failed = true;
        f->kind = kind;
        f->index = index;
        snprintf(f->msg, sizeof(f->msg), "%s", msg);
        if (e) {
                entry_path(e, f->path, sizeof(f->path));
                entry_digest(&tmp, e);
                memcpy(f->digest, tmp.digest, sizeof(f->digest));
        }
}

static void ima_prepare(struct round *rd)
{
        struct dw_ima_replay *rp = &rd->ctx->replay;
        const struct dw_round_state *st = rd->st;
        size_t size = dw_hash_alg_size(st->ima_bank);

        dw_ima_replay_init(rp);
        rp->next_index = st->ima_next_index;
        rp->violations = st->ima_violations;
        for (int rule = 0; rule < _DW_IMA_BANK_RULE_MAX; rule++) {
                if (st->ima_rule >= 0 && st->ima_rule != rule)
                        continue;
                dw_ima_replay_enable(rp, st->ima_bank, (enum dw_ima_bank_rule)rule);
                memcpy(rp->pcr[st->ima_bank][rule][DW_ROUND_IMA_PCR], st->ima_pcr[rule], size);
        }
}

static void ima_commit(struct round *rd, unsigned mask, uint64_t consumed)
{
        const struct dw_ima_replay *rp = &rd->ctx->replay;
        struct dw_round_state *st = rd->st;
        size_t size = dw_hash_alg_size(st->ima_bank);

        st->ima_next_index = rp->next_index;
        st->ima_violations = rp->violations;
        st->ima_entries += consumed;
        for (int rule = 0; rule < _DW_IMA_BANK_RULE_MAX; rule++)
                if (rp->enabled[st->ima_bank][rule])
                        memcpy(st->ima_pcr[rule], rp->pcr[st->ima_bank][rule][DW_ROUND_IMA_PCR], size);
        /* The rule the kernel follows is known once entries have been replayed and only one rule matched (SHA-1 is
         * the same under both: native). */
        if (st->ima_rule < 0 && st->ima_next_index > 0) {
                if (st->ima_bank == DW_HASH_SHA1)
                        st->ima_rule = DW_IMA_BANK_NATIVE;
                else if (mask == 1u << DW_IMA_BANK_NATIVE)
                        st->ima_rule = DW_IMA_BANK_NATIVE;
                else if (mask == 1u << DW_IMA_BANK_SHA1_PADDED)
                        st->ima_rule = DW_IMA_BANK_SHA1_PADDED;
        }
}

static void ima_report_failure(struct round *rd, const struct ima_failure *f, uint64_t consumed, uint64_t first)
{
        const struct dw_ima_replay *rp = &rd->ctx->replay;
        enum dw_hash_alg bank = rd->st->ima_bank;
        size_t size = dw_hash_alg_size(bank);
        char h1[2 * HEX_SHOWN + 4], h2[2 * HEX_SHOWN + 4];
        struct dw_round_reason *r;
        int rule;

        if (f->failed) {
                r = reason_add(rd, f->kind, false, (int64_t)f->index);
                memcpy(r->path, f->path, sizeof(r->path));
                memcpy(r->digest, f->digest, sizeof(r->digest));
                memcpy(r->msg, f->msg, sizeof(r->msg));
                return;
        }
        rule = rd->st->ima_rule >= 0 ? rd->st->ima_rule : DW_IMA_BANK_NATIVE;
        r = reason_add(rd, DW_ROUND_IMA_LOG_MISMATCH, false, -1);
        reason_rule(r, "%s:%d", dw_hash_alg_name(bank), DW_ROUND_IMA_PCR);
        reason_digest(r, bank, rd->ima_pcr->digest, size);
        if (consumed == 0)
                reason_msg(r,
                           "no IMA entry from index %" PRIu64 " on was sent, yet the quoted %s PCR 10 (%s) is not "
                           "the replayed value (%s)",
                           first, dw_hash_alg_name(bank), short_hex(rd->ima_pcr->digest, size, h1),
                           short_hex(rp->pcr[bank][rule][DW_ROUND_IMA_PCR], size, h2));
        else
                reason_msg(r,
                           "IMA entries %" PRIu64 "-%" PRIu64 " never replay to the quoted %s PCR 10 (%s; %s "
                           "after the last): entries dropped, added or changed",
                           first, first + consumed - 1, dw_hash_alg_name(bank),
                           short_hex(rd->ima_pcr->digest, size, h1),
                           short_hex(rp->pcr[bank][rule][DW_ROUND_IMA_PCR], size, h2));
}

static int round_ima(struct round *rd)
{
        const struct dw_round_evidence *ev = rd->ev;
        struct dw_round_result *res = rd->res;
        struct dw_round_state *st = rd->st;
        struct ima_failure f = {};
        struct dw_ima_parser p;
        struct snapshot snap;
        uint64_t consumed = 0, first = st->ima_next_index, incomplete_index = 0;
        bool incomplete = false;
        unsigned mask;
        int k = 0;

        res->checks.ima = DW_ROUND_FAILED;
        if (ev->ima_log && ev->ima_first_index > st->ima_next_index) {
                struct dw_round_reason *r = reason_add(rd, DW_ROUND_IMA_INDEX_GAP, false, (int64_t)ev->ima_first_index);

                reason_msg(r, "IMA entries sent from index %" PRIu64 ", but the next one to replay is %" PRIu64 "%s",
                           ev->ima_first_index, st->ima_next_index,
                           res->reboot ? " (the gateway rebooted: its log starts again at 0)" : "");
                return 0;
        }
        if (ev->ima_log_digest_alg < 0 || ev->ima_log_digest_alg >= _DW_HASH_ALG_MAX) {
                struct dw_round_reason *r = reason_add(rd, DW_ROUND_EVIDENCE_MALFORMED, false, -1);

                reason_msg(r, "IMA log with template digests of an unknown algorithm");
                return 0;
        }

        ima_prepare(rd);
        snapshot_take(rd, &snap);
        mask = ima_match(rd);
        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, ev->ima_log_digest_alg, ev->ima_log ?: (const uint8_t *)"",
                           ev->ima_log ? ev->ima_log_size : 0);
        dw_ima_parser_set_index(&p, ev->ima_first_index);
        for (;;) {
                struct dw_error err = {};
                struct dw_ima_entry e;

                k = dw_ima_parser_next(&p, &e, &err);
                if (k == 0 || k == -EAGAIN) {
                        if (k == -EAGAIN && mask == 0) {
                                incomplete = true;
                                incomplete_index = err.index;
                        }
                        k = 0;
                        break;
                }
                if (k == -ENOMEM)
                        break;
                if (k < 0) {
                        /* After the match it is the next round's business. */
                        if (mask == 0)
                                ima_fail(&f, DW_ROUND_IMA_ENTRY_MALFORMED, NULL, err.index, err.msg);
                        k = 0;
                        break;
                }
                if (e.index < st->ima_next_index) {
                        res->stats.entries_skipped++;
                        continue;
                }
                if (mask) {
                        res->stats.entries_pending++;
                        continue;
                }
                if (e.pcr != DW_ROUND_IMA_PCR) {
                        char msg[128];

                        snprintf(msg, sizeof(msg), "entry %" PRIu64 " extends PCR %" PRIu32 ", not PCR %d", e.index,
                                 e.pcr, DW_ROUND_IMA_PCR);
                        ima_fail(&f, DW_ROUND_IMA_ENTRY_MALFORMED, &e, e.index, msg);
                        break;
                }
                k = dw_ima_replay_entry(&rd->ctx->replay, rd->ctx->h, &e, &err);
                if (k == -ENOMEM)
                        break;
                if (k < 0) {
                        ima_fail(&f, k == -EBADMSG ? DW_ROUND_IMA_DIGEST_MISMATCH : DW_ROUND_IMA_ENTRY_MALFORMED, &e,
                                 e.index, err.msg);
                        k = 0;
                        break;
                }
                consumed++;
                k = judge_entry(rd, &e);
                if (k < 0)
                        break;
                mask = ima_match(rd);
        }
        dw_ima_parser_done(&p);
        if (k < 0)
                return k;

        if (!mask) {
                snapshot_restore(rd, &snap);
                ima_report_failure(rd, &f, consumed, first);
                if (incomplete)
                        note(rd, "the IMA log ends with an incomplete entry at index %" PRIu64, incomplete_index);
                return 0;
        }
        ima_commit(rd, mask, consumed);
        res->stats.entries_consumed = consumed;
        res->checks.ima = DW_ROUND_PASSED;
        if (!rd->expect->runtime_policy) {
                res->checks.runtime_policy = DW_ROUND_NOT_CHECKED;
                note(rd, "no runtime policy: %" PRIu64 " IMA entries not judged", consumed);
        } else
                res->checks.runtime_policy = res->stats.entries_rejected ? DW_ROUND_FAILED : DW_ROUND_PASSED;
        return 0;
}

/* ---- event chain ------------------------------------------------------------------------------------------ */

static int round_event_chain(struct round *rd)
{
        const struct dw_round_expect *x = rd->expect;
        const struct dw_round_evidence *ev = rd->ev;
        struct dw_round_result *res = rd->res;
        struct dw_attest_expect ae = {
                .ak = x->ak,
                .ak_public = x->ak_public,
                .nonce = x->nonce,
                .nonce_size = x->nonce_size,
                .previous = rd->old->has_clock ? &rd->old->clock : NULL,
        };
        struct dw_attest_evidence ae_ev = {
                .attest = ev->nv_attest,
                .attest_size = ev->nv_attest_size,
                .signature = ev->nv_signature,
                .signature_size = ev->nv_signature_size,
        };
        const TPMS_NV_CERTIFY_INFO *nv = &rd->ctx->attest.attested.nv;
        char h1[2 * HEX_SHOWN + 4], h2[2 * HEX_SHOWN + 4];
        struct dw_round_reason *r;
        struct dw_attest_result ar;
        struct dw_error err = {};
        int k;

        if (!ev->nv_attest && !ev->nv_signature) {
                if (x->event_chain_head) {
                        r = reason_add(rd, DW_ROUND_EVENT_CHAIN_ATTEST, false, -1);
                        reason_msg(r, "an event-chain head is expected, but no NV certification was sent");
                        res->checks.event_chain = DW_ROUND_FAILED;
                }
                return 0;
        }
        res->checks.event_chain = DW_ROUND_FAILED;
        if (!ev->nv_attest || !ev->nv_signature) {
                r = reason_add(rd, DW_ROUND_EVIDENCE_MALFORMED, false, -1);
                reason_msg(r, "NV certification without its %s", ev->nv_attest ? "signature" : "attestation");
                return 0;
        }
        k = dw_tpm_nv_certify_verify(&ae, &ae_ev, x->nv_index_name, &ar, &rd->ctx->attest, &err);
        if (k == -ENOMEM)
                return k;
        if (k < 0) {
                malformed(rd, DW_ROUND_EVIDENCE_MALFORMED, "NV certification", &err);
                return 0;
        }
        if (!ar.valid) {
                r = reason_add(rd, DW_ROUND_EVENT_CHAIN_ATTEST, false, -1);
                reason_rule(r, "%s", dw_attest_reason_name(ar.reason) ?: "invalid");
                reason_msg(r, "NV certification of the event-chain head: %s", ar.msg);
                return 0;
        }
        if (ar.clock.reset_count != rd->st->clock.reset_count) {
                r = reason_add(rd, DW_ROUND_EVENT_CHAIN_ATTEST, false, -1);
                reason_rule(r, "reset-count");
                reason_msg(r, "the NV certification is of resetCount %" PRIu32 ", the quote of %" PRIu32,
                           ar.clock.reset_count, rd->st->clock.reset_count);
                return 0;
        }
        if (nv->nvContents.size > sizeof(res->event_chain_head)) {
                r = reason_add(rd, DW_ROUND_EVENT_CHAIN_ATTEST, false, -1);
                reason_rule(r, "size");
                reason_msg(r, "the NV certification covers %u bytes, more than an event-chain head",
                           nv->nvContents.size);
                return 0;
        }
        res->event_chain_certified = true;
        res->event_chain_offset = nv->offset;
        res->event_chain_head_size = nv->nvContents.size;
        memcpy(res->event_chain_head, nv->nvContents.buffer, nv->nvContents.size);
        if (x->event_chain_head && (x->event_chain_head_size != nv->nvContents.size ||
                                    memcmp(x->event_chain_head, nv->nvContents.buffer, nv->nvContents.size) != 0)) {
                r = reason_add(rd, DW_ROUND_EVENT_CHAIN_MISMATCH, false, -1);
                reason_digest(r, DW_HASH_SHA256, nv->nvContents.buffer, nv->nvContents.size);
                reason_msg(r, "the TPM certifies event-chain head %s, the event stream says %s",
                           short_hex(nv->nvContents.buffer, nv->nvContents.size, h1),
                           short_hex(x->event_chain_head, x->event_chain_head_size, h2));
                return 0;
        }
        res->checks.event_chain = DW_ROUND_PASSED;
        return 0;
}

/* ---- verdict ---------------------------------------------------------------------------------------------- */

static void round_finish(struct round *rd)
{
        struct dw_round_result *res = rd->res;
        struct dw_round_state *st = rd->st;
        const struct dw_round_state *old = rd->old;

        /* Keep this round's sticky failures (the first ones, while there is room). */
        for (size_t i = 0; i < res->n_reasons && st->n_sticky < DW_ROUND_STICKY_MAX; i++)
                if (res->reasons[i].sticky && !res->reasons[i].earlier)
                        st->sticky[st->n_sticky++] = res->reasons[i];
        st->sticky_count += rd->sticky_new;
        if (rd->sticky_new)
                st->sticky_last_round = st->rounds;
        /* Every rejected entry is one sticky runtime failure of the epoch the state is in now. */
        st->epoch_runtime_count += (uint32_t)res->stats.entries_rejected;

        /* List the sticky failures of earlier rounds again: they still count. Runtime failures that a re-judge
         * before this round found (dw_round_rejudge: found in this round) are this round's. */
        for (uint32_t i = 0; i < old->n_sticky; i++) {
                struct dw_round_reason *r = reason_add(rd, old->sticky[i].kind, true, old->sticky[i].index);

                rd->sticky_new--; /* not new */
                *r = old->sticky[i];
                r->earlier = !(r->kind == DW_ROUND_RUNTIME_POLICY && r->round == st->rounds);
        }
        res->reasons_omitted += old->sticky_count - old->n_sticky;

        res->verdict = res->n_reasons + res->reasons_omitted > 0 ? DW_ROUND_UNTRUSTED : DW_ROUND_TRUSTED;
        st->last_verdict = res->verdict;
        if (res->verdict == DW_ROUND_UNTRUSTED)
                st->rounds_untrusted++;
        res->boot_log_needed = !st->has_clock || !st->boot_verified || st->boot_reset_count != st->clock.reset_count;
        res->ima_next_index = st->ima_next_index;
        res->ima_rule = st->ima_rule;
}

int dw_attest_round(struct dw_round_ctx *ctx, const struct dw_round_state *state, const struct dw_round_expect *expect,
                    const struct dw_round_evidence *ev, struct dw_round_result *ret)
{
        struct dw_round_result *res;
        struct round rd;
        int k;

        if (!ctx || !state || !expect || !ev || !ret || (!expect->ak && !expect->ak_public) || !expect->nonce ||
            expect->nonce_size == 0 || (expect->event_chain_head && expect->event_chain_head_size == 0) ||
            ((ev->nv_attest || ev->nv_signature) && !expect->nv_index_name) || !state_ok(state))
                return -EINVAL;

        ctx->in = *state;
        res = &ctx->res;
        memset(res, 0, offsetof(struct dw_round_result, reasons));
        res->ima_rule = -1;
        res->state = ctx->in;
        rd = (struct round){
                .ctx = ctx,
                .old = &ctx->in,
                .expect = expect,
                .ev = ev,
                .res = res,
                .st = &res->state,
        };
        rd.st->rounds++;
        rd.round = rd.st->rounds;
        rd.st->last_round_time = expect->now;

        k = round_quote(&rd);
        if (k >= 0 && res->checks.quote == DW_ROUND_PASSED) {
                k = round_boot(&rd);
                if (k >= 0)
                        k = round_ima(&rd);
                if (k >= 0)
                        k = round_event_chain(&rd);
        } else if (k >= 0)
                note(&rd, "the quote is not valid: nothing else was judged");
        if (k < 0)
                return k;
        round_finish(&rd);

        memcpy(ret, res, offsetof(struct dw_round_result, reasons) + res->n_reasons * sizeof(res->reasons[0]));
        return 0;
}

/* ---- re-judging an epoch under another runtime policy ------------------------------------------------------ */

/* Judges one stored entry: its record must parse as exactly one entry of its index. */
static int rejudge_entry(struct round *rd, const struct dw_runtime_policy *policy,
                         const struct dw_round_stored_entry *x, bool *ret_judged)
{
        struct dw_error err = {};
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        int k;

        *ret_judged = false;
        if (!x->record || x->digest_alg < 0 || x->digest_alg >= _DW_HASH_ALG_MAX)
                return -EBADMSG;
        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, x->digest_alg, x->record, x->record_size);
        dw_ima_parser_set_index(&p, x->index);
        k = dw_ima_parser_next(&p, &e, &err);
        if (k == 1 && (p.pos != x->record_size || e.pcr != DW_ROUND_IMA_PCR))
                k = -EBADMSG;
        else if (k == 1 && !entry_is_boot_aggregate(&e)) {
                *ret_judged = true;
                k = judge_runtime(rd, policy, &e);
        } else if (k == 1)
                k = 0;
        else if (k != -ENOMEM)
                k = -EBADMSG; /* empty, cut short or malformed */
        dw_ima_parser_done(&p);
        return k;
}

int dw_round_rejudge(struct dw_round_ctx *ctx, const struct dw_round_state *state,
                     const struct dw_runtime_policy *policy, const struct dw_round_stored_entry *entries, size_t n,
                     struct dw_round_rejudge_result *ret)
{
        struct dw_round_result *res;
        struct dw_round_state *st;
        uint32_t kept = 0, removed = 0, found, before;
        uint64_t judged = 0;
        struct round rd;
        int k;

        if (!ctx || !state || !policy || (!entries && n > 0) || !ret || !state_ok(state))
                return -EINVAL;
        if (n != state->ima_next_index)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                if (entries[i].index != i)
                        return -EBADMSG;

        ctx->in = *state;
        res = &ctx->res;
        memset(res, 0, offsetof(struct dw_round_result, reasons));
        res->state = ctx->in;
        st = &res->state;
        rd = (struct round){
                .ctx = ctx,
                .old = &ctx->in,
                .res = res,
                .st = st,
                .round = state->rounds + 1, /* found in the coming round */
        };
        for (size_t i = 0; i < n; i++) {
                bool j;

                k = rejudge_entry(&rd, policy, &entries[i], &j);
                if (k < 0)
                        return k;
                judged += j;
        }

        /* The epoch's runtime failures are replaced by what the new policy rejects. */
        for (uint32_t i = 0; i < st->n_sticky; i++) {
                if (st->sticky[i].kind == DW_ROUND_RUNTIME_POLICY && st->sticky[i].epoch == st->reboots) {
                        removed++;
                        continue;
                }
                st->sticky[kept++] = st->sticky[i];
        }
        if (removed > st->epoch_runtime_count)
                return -EINVAL; /* not a state this code wrote */
        memset(st->sticky + kept, 0, sizeof(st->sticky[0]) * (st->n_sticky - kept));
        st->n_sticky = kept;
        before = st->epoch_runtime_count;
        st->sticky_count -= before;
        found = (uint32_t)res->stats.entries_rejected;
        for (size_t i = 0; i < res->n_reasons && st->n_sticky < DW_ROUND_STICKY_MAX; i++)
                st->sticky[st->n_sticky++] = res->reasons[i];
        st->sticky_count += found;
        st->epoch_runtime_count = found;
        if (found > 0)
                st->sticky_last_round = MAX(st->sticky_last_round, rd.round);
        if (st->sticky_count == 0)
                st->sticky_last_round = 0;

        ret->verdict = st->rounds == 0        ? DW_ROUND_UNKNOWN
                       : st->sticky_count > 0 ? DW_ROUND_UNTRUSTED
                                              : DW_ROUND_TRUSTED;
        ret->entries = judged;
        ret->before = before;
        ret->found = found;
        ret->state = *st;
        ret->n_reasons = res->n_reasons;
        ret->reasons_omitted = res->reasons_omitted;
        memcpy(ret->reasons, res->reasons, res->n_reasons * sizeof(res->reasons[0]));
        return 0;
}

/* ---- JSON ------------------------------------------------------------------------------------------------- */

/* json_object_set_new that tolerates a NULL value (then the object is spoiled: *ok false). */
static void set(json_t *o, const char *key, json_t *v, bool *ok)
{
        if (!v || json_object_set_new(o, key, v) < 0)
                *ok = false;
}

static void set_str(json_t *o, const char *key, const char *v, bool *ok)
{
        if (v && v[0])
                set(o, key, json_string(v), ok);
}

json_t *dw_round_reason_to_json(const struct dw_round_reason *r)
{
        json_t *o = json_object();
        bool ok = o != NULL;

        if (!o)
                return NULL;
        set(o, "kind", json_string(dw_round_reason_kind_name(r->kind) ?: "unknown"), &ok);
        set(o, "sticky", json_boolean(r->sticky), &ok);
        set(o, "earlier", json_boolean(r->earlier), &ok);
        set(o, "round", json_integer((json_int_t)r->round), &ok);
        if (r->index >= 0)
                set(o, "index", json_integer(r->index), &ok);
        set_str(o, "path", r->path, &ok);
        set_str(o, "digest", r->digest, &ok);
        set_str(o, "rule", r->rule, &ok);
        set(o, "message", json_string(r->msg), &ok);
        if (!ok) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *checks_to_json(const struct dw_round_checks *c)
{
        const struct {
                const char *name;
                enum dw_round_check value;
        } fields[] = {
                {"quote", c->quote},
                {"boot_log", c->boot_log},
                {"boot_policy", c->boot_policy},
                {"boot_aggregate", c->boot_aggregate},
                {"ima", c->ima},
                {"runtime_policy", c->runtime_policy},
                {"event_chain", c->event_chain},
        };
        json_t *o = json_object();
        bool ok = o != NULL;

        for (size_t i = 0; ok && i < ELEMENTSOF(fields); i++)
                set(o, fields[i].name, json_string(dw_round_check_name(fields[i].value) ?: "unknown"), &ok);
        if (!ok) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *dw_round_result_to_json(const struct dw_round_result *r)
{
        char hex[2 * sizeof(r->event_chain_head) + 1];
        json_t *o = json_object(), *a, *x;
        bool ok = o != NULL;

        if (!o)
                return NULL;
        set(o, "verdict", json_string(dw_round_verdict_name(r->verdict) ?: "unknown"), &ok);
        set(o, "checks", checks_to_json(&r->checks), &ok);
        set(o, "notes", json_string(r->notes), &ok);
        set(o, "reboot", json_boolean(r->reboot), &ok);
        set(o, "boot_log_needed", json_boolean(r->boot_log_needed), &ok);
        set(o, "ima_next_index", json_integer((json_int_t)r->ima_next_index), &ok);
        set(o, "ima_rule", r->ima_rule >= 0 ? json_string(dw_ima_bank_rule_name(r->ima_rule)) : json_null(), &ok);
        set(o, "clock",
            json_pack("{s:I,s:I,s:I,s:b}", "clock", (json_int_t)r->clock.clock, "reset_count",
                      (json_int_t)r->clock.reset_count, "restart_count", (json_int_t)r->clock.restart_count, "safe",
                      r->clock.safe),
            &ok);
        if (r->event_chain_certified)
                set(o, "event_chain",
                    json_pack("{s:i,s:s}", "offset", (int)r->event_chain_offset, "head",
                              dw_hex_encode(r->event_chain_head,
                                            MIN((size_t)r->event_chain_head_size, sizeof(r->event_chain_head)), hex)),
                    &ok);
        set(o, "stats",
            json_pack("{s:I,s:I,s:I,s:I,s:I}", "entries_consumed", (json_int_t)r->stats.entries_consumed,
                      "entries_pending", (json_int_t)r->stats.entries_pending, "entries_skipped",
                      (json_int_t)r->stats.entries_skipped, "entries_rejected", (json_int_t)r->stats.entries_rejected,
                      "boot_events", (json_int_t)r->stats.boot_events),
            &ok);
        a = json_array();
        for (size_t i = 0; a && ok && i < MIN(r->n_reasons, (size_t)DW_ROUND_REASONS_MAX); i++) {
                x = dw_round_reason_to_json(&r->reasons[i]);
                if (!x || json_array_append_new(a, x) < 0)
                        ok = false;
        }
        set(o, "reasons", a, &ok);
        set(o, "reasons_omitted", json_integer((json_int_t)r->reasons_omitted), &ok);
        set(o, "sticky_pending", json_integer((json_int_t)r->state.sticky_count), &ok);
        if (!ok) {
                json_decref(o);
                return NULL;
        }
        return o;
}
