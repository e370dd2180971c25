/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "fsutil.h"
#include "hash.h"
#include "recorder.h"
#include "tpm-marshal.h"
#include "tpm-quote.h"

#define STATE_MAGIC       "DWMR"
#define STATE_VERSION     1u
#define SUMMARY_KINDS_MAX 16 /* kinds counted one by one in a summary; the rest go to "other" */

struct summary_kind {
        char kind[DW_EVENT_KIND_MAX + 1];
        uint64_t count;
};

/* Events that could not be recorded one by one because the spool was full. */
struct summary {
        uint64_t total;
        uint64_t first_usec, last_usec;
        enum dw_event_severity severity;
        size_t n_kinds;
        struct summary_kind kinds[SUMMARY_KINDS_MAX];
        uint64_t other;
};

struct mon_recorder {
        struct mon_spool *spool; /* not owned */
        char *state_path;
        uint32_t ak_handle, event_key_handle, nv_index;
        size_t batch_max;
        struct dw_event_chain chain;
        uint8_t nv_prev[DW_EVENT_HEAD_SIZE];     /* the NV index before the last batch's extend */
        uint8_t nv_expected[DW_EVENT_HEAD_SIZE]; /* and after it */
        struct dw_event **queue;
        size_t n_queue;
        struct summary summary;
        uint64_t summarised;
};

static uint64_t now_usec(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- state file ---------------------------------------------------------------------------------------------- */

/* "DWMR", u32 version, u32 chain blob size, the chain blob (dw_event_chain_serialize), nv_prev, nv_expected, then
 * SHA-256 of everything before it. Little endian. */
static int state_save(const struct mon_recorder *r)
{
        _cleanup_free_ uint8_t *blob = NULL, *buf = NULL;
        size_t blob_size, size, off = 0;
        uint32_t v;
        int ret;

        ret = dw_event_chain_serialize(&r->chain, &blob, &blob_size);
        if (ret < 0)
                return ret;
        size = 4 + 4 + 4 + blob_size + 2 * DW_EVENT_HEAD_SIZE + 32;
        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, STATE_MAGIC, 4), off += 4;
        v = htole32(STATE_VERSION), memcpy(buf + off, &v, 4), off += 4;
        v = htole32((uint32_t)blob_size), memcpy(buf + off, &v, 4), off += 4;
        memcpy(buf + off, blob, blob_size), off += blob_size;
        memcpy(buf + off, r->nv_prev, DW_EVENT_HEAD_SIZE), off += DW_EVENT_HEAD_SIZE;
        memcpy(buf + off, r->nv_expected, DW_EVENT_HEAD_SIZE), off += DW_EVENT_HEAD_SIZE;
        ret = dw_hash_oneshot(DW_HASH_SHA256, buf, off, buf + off);
        if (ret < 0)
                return ret;
        return mon_write_file_atomic(r->state_path, buf, size, 0600);
}

/* 0 loaded, -ENOENT none, -EBADMSG damaged (err says why). */
static int state_load(struct mon_recorder *r, struct dw_error *err)
{
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t sum[32];
        size_t size, off = 12;
        uint32_t version, blob_size;
        int ret;

        ret = dw_read_full_file(r->state_path, 1u << 20, &buf, &size);
        if (ret == -ENOENT)
                return ret;
        if (ret < 0)
                return dw_error_set(err, -ret, 0, 0, "%s: cannot read: %s", r->state_path, strerror(-ret));
        if (size < 12 + 2 * DW_EVENT_HEAD_SIZE + 32 || memcmp(buf, STATE_MAGIC, 4) != 0)
                return dw_error_set(err, EBADMSG, 0, 0, "%s: not a driftwatch recorder state", r->state_path);
        memcpy(&version, buf + 4, 4);
        memcpy(&blob_size, buf + 8, 4);
        if (le32toh(version) != STATE_VERSION)
                return dw_error_set(err, EBADMSG, 0, 4, "%s: state version %u, expected %u", r->state_path,
                                    le32toh(version), STATE_VERSION);
        blob_size = le32toh(blob_size);
        if (blob_size != size - (12 + 2 * DW_EVENT_HEAD_SIZE + 32))
                return dw_error_set(err, EBADMSG, 0, 8, "%s: sizes do not add up", r->state_path);
        if (dw_hash_oneshot(DW_HASH_SHA256, buf, size - 32, sum) < 0 || memcmp(sum, buf + size - 32, 32) != 0)
                return dw_error_set(err, EBADMSG, 0, 0, "%s: checksum mismatch", r->state_path);
        ret = dw_event_chain_deserialize(buf + off, blob_size, &r->chain, err);
        if (ret < 0)
                return ret;
        off += blob_size;
        memcpy(r->nv_prev, buf + off, DW_EVENT_HEAD_SIZE);
        memcpy(r->nv_expected, buf + off + DW_EVENT_HEAD_SIZE, DW_EVENT_HEAD_SIZE);
        return 0;
}

/* ---- the chain's epoch --------------------------------------------------------------------------------------- */

static int boot_id_read(const char *path, uint8_t ret[static DW_EVENT_BOOT_ID_SIZE], struct dw_error *err)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;
        int r;

        r = dw_read_full_file(path, 64, &buf, &size);
        if (r < 0)
                return dw_error_set(err, -r, 0, 0, "%s: cannot read the boot id: %s", path, strerror(-r));
        if (dw_event_boot_id_parse((const char *)buf, size, ret) < 0)
                return dw_error_set(err, EBADMSG, 0, 0, "%s: not a boot id", path);
        return 0;
}

/* The TPM's resetCount, from a certification of the event key by the AK (signed, so it is the TPM's own). */
static int reset_count_read(struct dw_tpm *t, const struct mon_recorder *r, uint32_t *ret, struct dw_error *err)
{
        static const uint8_t qualifying[] = "driftwatch-epoch";
        struct dw_tpm_signed_attest cert;
        TPMS_ATTEST attest;
        int ret_;

        ret_ = dw_tpm_certify(t, r->event_key_handle, r->ak_handle, qualifying, sizeof(qualifying) - 1, &cert, err);
        if (ret_ < 0)
                return ret_;
        ret_ = dw_tpm_attest_parse(cert.attest.attestationData, cert.attest.size, &attest, err);
        if (ret_ < 0)
                return ret_;
        *ret = attest.clockInfo.resetCount;
        return 0;
}

/* The NV index now; all zeros when not written since the TPM reset (what an extend starts from). */
static int nv_value(struct dw_tpm *t, uint32_t index, uint8_t ret[static DW_EVENT_HEAD_SIZE], struct dw_error *err)
{
        int r = dw_tpm_nv_extend_read(t, index, ret, err);

        if (r == -ENODATA) {
                memset(ret, 0, DW_EVENT_HEAD_SIZE);
                return 0;
        }
        return r;
}

static void nv_after(const uint8_t prev[static DW_EVENT_HEAD_SIZE], const uint8_t head[static DW_EVENT_HEAD_SIZE],
                     uint8_t ret[static DW_EVENT_HEAD_SIZE])
{
        static const uint8_t zero[DW_EVENT_HEAD_SIZE];

        dw_event_nv_extend(memcmp(prev, zero, sizeof(zero)) == 0 ? NULL : prev, head, ret);
}

/* The spooled record after key (the oldest when first), skipping records found damaged (the spool moves them
 * aside and says so). */
static int spool_step(struct mon_spool *spool, bool first, uint64_t key, uint64_t *ret_key, uint8_t **ret_data,
                      size_t *ret_size, struct dw_error *err)
{
        for (;;) {
                int r = first ? mon_spool_oldest(spool, ret_key, ret_data, ret_size, err)
                              : mon_spool_next(spool, key, ret_key, ret_data, ret_size, err);
                if (r != -EBADMSG)
                        return r;
        }
}

/* A spooled batch of this chain that starts where the saved state ends: sealed and spooled, but the state was not
 * saved before a crash. Adopt it (and any after it). */
static int adopt_spooled(struct mon_recorder *r, bool *ret_adopted, struct dw_error *err)
{
        uint64_t key = 0;
        bool first = true;

        for (;;) {
                _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
                _cleanup_free_ uint8_t *data = NULL;
                struct dw_error perr = {};
                size_t size;
                int ret;

                ret = spool_step(r->spool, first, key, &key, &data, &size, err);
                if (ret == -ENOENT)
                        return 0;
                if (ret < 0)
                        return ret;
                first = false;
                if (dw_event_batch_parse_json((const char *)data, size, &b, &perr) >= 0 &&
                    dw_event_chain_id_equal(&b->chain, &r->chain.id) && b->first_seq == r->chain.next_seq &&
                    memcmp(b->prev_head, r->chain.head, DW_EVENT_HEAD_SIZE) == 0) {
                        r->chain.next_seq = b->first_seq + b->n_events;
                        memcpy(r->chain.head, b->head, DW_EVENT_HEAD_SIZE);
                        memcpy(r->nv_prev, r->nv_expected, DW_EVENT_HEAD_SIZE);
                        nv_after(r->nv_prev, b->head, r->nv_expected);
                        *ret_adopted = true;
                }
        }
}

static int nv_reconcile(struct mon_recorder *r, struct dw_tpm *t, struct mon_recorder_open_info *info,
                        struct dw_error *err)
{
        uint8_t now[DW_EVENT_HEAD_SIZE];
        int ret;

        ret = nv_value(t, r->nv_index, now, err);
        if (ret < 0)
                return ret;
        if (memcmp(now, r->nv_expected, sizeof(now)) == 0)
                return 0;
        if (memcmp(now, r->nv_prev, sizeof(now)) == 0) {
                ret = dw_tpm_nv_extend(t, r->nv_index, r->chain.head, DW_EVENT_HEAD_SIZE, err);
                if (ret < 0)
                        return ret;
                info->nv_repaired = true;
                return 0;
        }
        /* Someone else extended it, or our state is not the one that extended it: the verifier will see a
         * mismatch; we cannot repair the TPM, only say so and continue from what it holds. */
        info->nv_unexpected = true;
        memcpy(r->nv_prev, now, sizeof(now));
        memcpy(r->nv_expected, now, sizeof(now));
        return 0;
}

int mon_recorder_open(struct dw_tpm *t, struct mon_spool *spool, const struct mon_recorder_options *o,
                      struct mon_recorder **ret, struct mon_recorder_open_info *ret_info, struct dw_error *err)
{
        _cleanup_(mon_recorder_freep) struct mon_recorder *r = calloc(1, sizeof(*r));
        struct mon_recorder_open_info info = {};
        struct dw_tpm_nv_extend_info nv;
        struct dw_event_chain_id id;
        uint8_t boot_id[DW_EVENT_BOOT_ID_SIZE];
        int ret_;

        if (!r)
                return -ENOMEM;
        if (o->batch_max_events < 1 || o->batch_max_events > DW_EVENT_BATCH_EVENTS_MAX)
                return dw_error_set(err, EINVAL, 0, 0, "batch size %zu out of range", o->batch_max_events);
        r->spool = spool;
        r->ak_handle = o->ak_handle;
        r->event_key_handle = o->event_key_handle;
        r->nv_index = o->nv_index;
        r->batch_max = o->batch_max_events;
        if (asprintf(&r->state_path, "%s/%s", o->runtime_dir, MON_RECORDER_STATE_FILE) < 0) {
                r->state_path = NULL;
                return -ENOMEM;
        }
        ret_ = dw_tpm_nv_extend_define(t, o->nv_index, o->nv_owner_fallback, &nv, err);
        if (ret_ < 0)
                return ret_;
        info.nv_platform = nv.platform_created;
        ret_ = reset_count_read(t, r, &info.reset_count, err);
        if (ret_ < 0)
                return ret_;
        ret_ = boot_id_read(o->boot_id_file ?: "/proc/sys/kernel/random/boot_id", boot_id, err);
        if (ret_ < 0)
                return ret_;
        if (dw_event_chain_id_init(&id, o->gateway_id, info.reset_count, boot_id) < 0)
                return dw_error_set(err, EINVAL, 0, 0, "'%s' cannot name an event chain", o->gateway_id);

        ret_ = state_load(r, err);
        if (ret_ < 0 && ret_ != -ENOENT && ret_ != -EBADMSG)
                return ret_;
        if (ret_ < 0 || !dw_event_chain_id_equal(&r->chain.id, &id)) {
                /* A new boot or TPM epoch (or no usable state): a new chain, from the NV value as it is. */
                ret_ = dw_event_chain_init(&r->chain, &id);
                if (ret_ < 0)
                        return dw_error_set(err, -ret_, 0, 0, "cannot start an event chain");
                ret_ = nv_value(t, r->nv_index, r->nv_expected, err);
                if (ret_ < 0)
                        return ret_;
                memcpy(r->nv_prev, r->nv_expected, DW_EVENT_HEAD_SIZE);
                info.new_chain = true;
        } else {
                ret_ = adopt_spooled(r, &info.adopted_batch, err);
                if (ret_ < 0)
                        return ret_;
        }
        ret_ = nv_reconcile(r, t, &info, err);
        if (ret_ < 0)
                return ret_;
        ret_ = state_save(r);
        if (ret_ < 0)
                return dw_error_set(err, -ret_, 0, 0, "%s: cannot save: %s", r->state_path, strerror(-ret_));
        if (ret_info)
                *ret_info = info;
        *ret = TAKE_PTR(r);
        return 0;
}

void mon_recorder_free(struct mon_recorder *r)
{
        for (size_t i = 0; i < r->n_queue; i++)
                dw_event_free(r->queue[i]);
        free(r->queue);
        free(r->state_path);
        free(r);
}

/* ---- recording ----------------------------------------------------------------------------------------------- */

int mon_recorder_add(struct mon_recorder *r, struct dw_event *ev)
{
        struct dw_event **q;

        if (!ev->realtime_usec)
                ev->realtime_usec = now_usec(CLOCK_REALTIME);
        if (!ev->monotonic_usec)
                ev->monotonic_usec = now_usec(CLOCK_BOOTTIME);
        q = realloc(r->queue, (r->n_queue + 1) * sizeof(*q));
        if (!q) {
                dw_event_free(ev);
                return -ENOMEM;
        }
        r->queue = q;
        r->queue[r->n_queue++] = ev;
        return r->n_queue >= r->batch_max ? 1 : 0;
}

static void summary_add(struct summary *s, const struct dw_event *ev)
{
        size_t i;

        if (s->total == 0 || ev->realtime_usec < s->first_usec)
                s->first_usec = ev->realtime_usec;
        if (ev->realtime_usec > s->last_usec)
                s->last_usec = ev->realtime_usec;
        if (s->total == 0 || ev->severity > s->severity)
                s->severity = ev->severity;
        s->total++;
        for (i = 0; i < s->n_kinds; i++)
                if (strcmp(s->kinds[i].kind, ev->kind) == 0) {
                        s->kinds[i].count++;
                        return;
                }
        if (s->n_kinds < SUMMARY_KINDS_MAX) {
                snprintf(s->kinds[s->n_kinds].kind, sizeof(s->kinds[0].kind), "%s", ev->kind);
                s->kinds[s->n_kinds++].count = 1;
        } else
                s->other++;
}

/* One event standing for the summarised ones: "events_summarized" with total, first/last time, and a count field
 * per kind ("count_<kind>", keys cut to fit). */
static int summary_event(const struct summary *s, struct dw_event **ret)
{
        _cleanup_(dw_event_freep) struct dw_event *ev = NULL;
        int r;

        r = dw_event_new("events_summarized", s->severity, &ev);
        if (r < 0)
                return r;
        ev->realtime_usec = now_usec(CLOCK_REALTIME);
        ev->monotonic_usec = now_usec(CLOCK_BOOTTIME);
        r = dw_event_add_int(ev, "total", (int64_t)s->total);
        if (r >= 0)
                r = dw_event_add_int(ev, "first_usec", (int64_t)s->first_usec);
        if (r >= 0)
                r = dw_event_add_int(ev, "last_usec", (int64_t)s->last_usec);
        if (r >= 0 && s->other)
                r = dw_event_add_int(ev, "count_other", (int64_t)s->other);
        for (size_t i = 0; r >= 0 && i < s->n_kinds; i++) {
                char key[DW_EVENT_KEY_MAX + 1];

                snprintf(key, sizeof(key), "count_%s", s->kinds[i].kind);
                r = dw_event_add_int(ev, key, (int64_t)s->kinds[i].count);
                if (r == -EEXIST) /* two kinds cut to the same key */
                        r = 0;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ev);
        return 0;
}

/* Signs events[0..n) as the chain's next batch and formats it; the chain copy c advances. */
static int batch_build(struct mon_recorder *r, struct dw_tpm *t, struct dw_event_chain *c, struct dw_event **events,
                       size_t n, struct dw_event_batch **ret, char **ret_json, struct dw_error *err)
{
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        uint8_t digest[DW_EVENT_HEAD_SIZE];
        TPMT_SIGNATURE sig;
        int ret_;

        ret_ = dw_event_batch_new(c, &b);
        if (ret_ < 0)
                return ret_;
        for (size_t i = 0; i < n; i++) {
                ret_ = dw_event_chain_append(c, b, events[i]);
                if (ret_ == -E2BIG)
                        return ret_;
                if (ret_ < 0)
                        return dw_error_set(err, -ret_, 0, 0, "event %s cannot be recorded", events[i]->kind);
                events[i] = NULL; /* the batch owns it now */
        }
        ret_ = dw_event_batch_digest(b, digest);
        if (ret_ < 0)
                return ret_;
        ret_ = dw_tpm_sign_digest(t, r->event_key_handle, digest, sizeof(digest), &sig, err);
        if (ret_ < 0)
                return ret_;
        ret_ = dw_event_batch_set_signature(b, &sig);
        if (ret_ < 0)
                return ret_;
        ret_ = dw_event_batch_format_json(b, ret_json);
        if (ret_ < 0)
                return ret_;
        *ret = TAKE_PTR(b);
        return 0;
}

/* Spooled: save the state, then extend (crash safety: see the header). */
static int batch_commit(struct mon_recorder *r, struct dw_tpm *t, const struct dw_event_chain *c,
                        const struct dw_event_batch *b, struct dw_error *err)
{
        uint8_t prev[DW_EVENT_HEAD_SIZE];
        int ret;

        memcpy(prev, r->nv_expected, sizeof(prev));
        r->chain = *c;
        memcpy(r->nv_prev, prev, sizeof(prev));
        nv_after(prev, b->head, r->nv_expected);
        ret = state_save(r);
        if (ret < 0)
                return dw_error_set(err, -ret, 0, 0, "%s: cannot save: %s", r->state_path, strerror(-ret));
        return dw_tpm_nv_extend(t, r->nv_index, b->head, DW_EVENT_HEAD_SIZE, err);
}

/* Seals events[0..n) into one batch; the batch takes them over (entries set to NULL), also on failure of a later
 * step, so pass copies. */
static int seal_events(struct mon_recorder *r, struct dw_tpm *t, struct dw_event **events, size_t n,
                       struct dw_error *err)
{
        _cleanup_(dw_event_batch_freep) struct dw_event_batch *b = NULL;
        _cleanup_free_ char *json = NULL;
        struct dw_event_chain c = r->chain;
        int ret;

        ret = batch_build(r, t, &c, events, n, &b, &json, err);
        if (ret < 0)
                return ret;
        ret = mon_spool_put(r->spool, json, strlen(json), NULL, err);
        if (ret < 0)
                return ret;
        return batch_commit(r, t, &c, b, err);
}

static int event_copy(const struct dw_event *src, struct dw_event **ret)
{
        _cleanup_(dw_event_freep) struct dw_event *ev = NULL;
        int r;

        r = dw_event_new(src->kind, src->severity, &ev);
        if (r < 0)
                return r;
        ev->realtime_usec = src->realtime_usec;
        ev->monotonic_usec = src->monotonic_usec;
        for (size_t i = 0; i < src->n_fields; i++) {
                const struct dw_event_field *f = &src->fields[i];

                r = f->type == DW_EVENT_VALUE_INT ? dw_event_add_int(ev, f->key, f->num)
                                                  : dw_event_add_string(ev, f->key, f->str, f->str_len);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(ev);
        return 0;
}

static void events_free(struct dw_event **events, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (events[i])
                        dw_event_free(events[i]);
}

/* Seals the first n queued events (copies of them, so that a failure leaves the queue as it was). */
static int seal_queued(struct mon_recorder *r, struct dw_tpm *t, size_t n, struct dw_error *err)
{
        _cleanup_free_ struct dw_event **copies = calloc(n, sizeof(*copies));
        size_t made;
        int ret = 0;

        if (!copies)
                return -ENOMEM;
        for (made = 0; made < n && ret >= 0; made++)
                ret = event_copy(r->queue[made], &copies[made]);
        if (ret >= 0)
                ret = seal_events(r, t, copies, n, err);
        events_free(copies, made);
        return ret;
}

static void queue_drop_first(struct mon_recorder *r, size_t n)
{
        events_free(r->queue, n);
        memmove(r->queue, r->queue + n, (r->n_queue - n) * sizeof(*r->queue));
        r->n_queue -= n;
}

/* The spool is full: the queued events are kept as a summary, recorded as soon as it has room. */
static void queue_summarise(struct mon_recorder *r)
{
        for (size_t i = 0; i < r->n_queue; i++)
                summary_add(&r->summary, r->queue[i]);
        r->summarised += r->n_queue;
        queue_drop_first(r, r->n_queue);
}

static int seal_summary(struct mon_recorder *r, struct dw_tpm *t, struct dw_error *err)
{
        struct dw_event *ev = NULL;
        int ret;

        ret = summary_event(&r->summary, &ev);
        if (ret < 0)
                return dw_error_set(err, -ret, 0, 0, "cannot make the summary event");
        ret = seal_events(r, t, &ev, 1, err);
        if (ev)
                dw_event_free(ev);
        if (ret >= 0)
                memset(&r->summary, 0, sizeof(r->summary));
        return ret;
}

int mon_recorder_seal(struct mon_recorder *r, struct dw_tpm *t, struct dw_error *err)
{
        size_t chunk = r->n_queue, recorded = 0;
        int ret;

        /* A pending summary goes first, so the stream stays in time order. */
        if (r->summary.total > 0) {
                ret = seal_summary(r, t, err);
                if (ret == -ENOSPC) {
                        queue_summarise(r);
                        return 0;
                }
                if (ret < 0)
                        return ret;
                recorded++;
        }
        while (r->n_queue > 0) {
                size_t n = MIN(chunk, r->n_queue);

                ret = seal_queued(r, t, n, err);
                if (ret == -E2BIG && n > 1) { /* the encoding would exceed a batch's size limit */
                        chunk = n / 2;
                        continue;
                }
                if (ret == -ENOSPC) {
                        queue_summarise(r);
                        break;
                }
                if (ret < 0)
                        return ret;
                queue_drop_first(r, n);
                recorded += n;
        }
        return (int)MIN(recorded, (size_t)INT32_MAX);
}

size_t mon_recorder_queued(const struct mon_recorder *r)
{
        return r->n_queue;
}

uint64_t mon_recorder_next_seq(const struct mon_recorder *r)
{
        return r->chain.next_seq;
}

const struct dw_event_chain *mon_recorder_chain(const struct mon_recorder *r)
{
        return &r->chain;
}

uint64_t mon_recorder_summarised(const struct mon_recorder *r)
{
        return r->summarised;
}
