/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "ima-log.h"
#include "ima-slice.h"
#include "macro.h"

struct mon_ima_offset {
        uint64_t index, offset;
};

struct mon_ima_offsets {
        pthread_mutex_t lock;
        struct mon_ima_offset *v; /* increasing index */
        size_t n, cap;
        uint64_t seen;
};

int mon_ima_offsets_new(struct mon_ima_offsets **ret)
{
        struct mon_ima_offsets *o = calloc(1, sizeof(*o));

        if (!o)
                return -ENOMEM;
        pthread_mutex_init(&o->lock, NULL);
        *ret = o;
        return 0;
}

void mon_ima_offsets_free(struct mon_ima_offsets *o)
{
        if (!o)
                return;
        pthread_mutex_destroy(&o->lock);
        free(o->v);
        free(o);
}

int mon_ima_offsets_note(struct mon_ima_offsets *o, uint64_t index, uint64_t offset)
{
        int r = 0;

        pthread_mutex_lock(&o->lock);
        if (o->n > 0 && index <= o->v[o->n - 1].index)
                goto out;
        if (o->n == o->cap) {
                size_t cap = o->cap ? o->cap * 2 : 64;
                struct mon_ima_offset *v = reallocarray(o->v, cap, sizeof(*v));

                if (!v) {
                        r = -ENOMEM;
                        goto out;
                }
                o->v = v;
                o->cap = cap;
        }
        o->v[o->n++] = (struct mon_ima_offset){.index = index, .offset = offset};
out:
        pthread_mutex_unlock(&o->lock);
        return r;
}

void mon_ima_offsets_seen(struct mon_ima_offsets *o, uint64_t seen)
{
        pthread_mutex_lock(&o->lock);
        o->seen = seen;
        pthread_mutex_unlock(&o->lock);
}

void mon_ima_offsets_reset(struct mon_ima_offsets *o)
{
        pthread_mutex_lock(&o->lock);
        o->n = 0;
        o->seen = 0;
        pthread_mutex_unlock(&o->lock);
}

int mon_ima_offsets_find(struct mon_ima_offsets *o, uint64_t from, uint64_t *ret_index, uint64_t *ret_offset)
{
        size_t lo = 0, hi;
        int r = 0;

        pthread_mutex_lock(&o->lock);
        /* Past what was read, the verifier counts entries of another boot (or the follower is behind): the round
         * decides from the whole log. */
        if (from > o->seen)
                goto out;
        hi = o->n;
        while (lo < hi) { /* the first noted index > from */
                size_t mid = lo + (hi - lo) / 2;

                if (o->v[mid].index <= from)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo > 0) {
                *ret_index = o->v[lo - 1].index;
                *ret_offset = o->v[lo - 1].offset;
                r = 1;
        }
out:
        pthread_mutex_unlock(&o->lock);
        return r;
}

static void ima_parser_donep(struct dw_ima_parser *p)
{
        dw_ima_parser_done(p);
}

int mon_ima_slice_find(const uint8_t *log, size_t size, uint64_t log_first, enum dw_hash_alg alg, uint64_t from,
                       struct mon_ima_slice *ret, struct dw_error *err)
{
        _cleanup_(ima_parser_donep) struct dw_ima_parser p = {};
        size_t start = SIZE_MAX, end;
        uint64_t total;
        int r;

        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, alg, log, size);
        dw_ima_parser_set_index(&p, log_first);
        for (;;) {
                struct dw_ima_entry e;
                struct dw_error perr = {};
                size_t pos = p.pos;

                r = dw_ima_parser_next(&p, &e, &perr);
                if (r == 0 || r == -EAGAIN) /* the end, or a cut last entry: it goes next round */
                        break;
                if (r < 0)
                        return dw_error_set(err, r, perr.index, perr.offset, "IMA log: entry %llu at offset %zu: %s",
                                            (unsigned long long)perr.index, perr.offset, perr.msg);
                if (e.index == from)
                        start = pos;
        }
        end = p.pos;
        total = p.index;
        if (total < from) { /* fewer entries than the verifier verified: a new boot, its log from entry 0 */
                if (log_first != 0)
                        return dw_error_set(err, ERANGE, 0, 0, "IMA log: a new boot's is sent from entry 0, not %llu",
                                            (unsigned long long)log_first);
                from = 0;
                start = 0;
        } else if (from < log_first)
                return dw_error_set(err, ERANGE, 0, 0, "IMA log: the verifier asks from entry %llu, not %llu",
                                    (unsigned long long)from, (unsigned long long)log_first);
        else if (from == total)
                start = end; /* nothing new */
        *ret = (struct mon_ima_slice){.offset = start, .size = end - start, .first = from, .count = total - from};
        return 0;
}

static int slice_read(const char *path, uint64_t offset, uint64_t first, enum dw_hash_alg alg, size_t max,
                      uint64_t from, uint8_t **ret_data, struct mon_ima_slice *ret, struct dw_error *err)
{
        _cleanup_free_ uint8_t *data = NULL;
        struct mon_ima_slice s;
        size_t size;
        int r;

        r = dw_read_file_from(path, offset, max, &data, &size);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s: %s", path, strerror(-r));
        r = mon_ima_slice_find(data, size, first, alg, from, &s, err);
        if (r < 0)
                return r;
        s.read_from = offset;
        s.read_size = size;
        *ret_data = TAKE_PTR(data);
        *ret = s;
        return 0;
}

int mon_ima_slice_read(const char *path, struct mon_ima_offsets *offsets, enum dw_hash_alg alg, size_t max,
                       uint64_t from, uint8_t **ret_data, struct mon_ima_slice *ret, struct dw_error *err)
{
        uint64_t index, offset;

        /* A hint that does not hold (the file was replaced: another entry, or none, starts there) falls through to
         * the whole log, which decides. */
        if (offsets && mon_ima_offsets_find(offsets, from, &index, &offset) > 0 && index > 0) {
                struct dw_error ignored = {};

                if (slice_read(path, offset, index, alg, max, from, ret_data, ret, &ignored) == 0)
                        return 0;
        }
        return slice_read(path, 0, 0, alg, max, from, ret_data, ret, err);
}
