/* SPDX-License-Identifier: MIT */
/* Loading a runtime policy without a tree of the whole document. The two members that grow with the policy,
 * "digests" and "ima_buf", are read token by token (json-stream.h) straight into the name maps; the others (the
 * version, meta, excludes, keys, options: small) are copied verbatim into a document of their own, which jansson
 * parses and runtime-policy.c checks and compiles exactly as it does a whole document. The time and memory of a
 * large policy are then its maps' (and one pass over the text), not jansson's objects for every path and digest.
 *
 * This loader only accepts what the DOM loader (dw_runtime_policy_load_tree() on jansson's tree) accepts, with the
 * same result, and refuses what it refuses: the tokenizer accepts what jansson does, the large members are checked
 * by the same rules, and the small ones by the same code. It does not say where a syntax error or a bad value of the
 * large members is: for those it returns -EAGAIN and dw_runtime_policy_load() loads the document again with jansson,
 * whose messages (line and column, or the JSON path) are the ones users see. A bad value in the small members of a
 * document otherwise valid is reported from here: the DOM loader would stop at the same value with the same words. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-stream.h"
#include "runtime-policy-internal.h"

/* The members other than "digests" and "ima_buf", as a JSON object of their own. */
struct rest {
        char *text;
        size_t len, size;
};

static void rest_done(struct rest *r)
{
        free(r->text);
}

static int rest_append(struct rest *r, const char *s, size_t n)
{
        if (n > r->size - r->len) {
                size_t size;
                char *t;

                if (n > SIZE_MAX / 4 - r->len)
                        return -E2BIG;
                size = MAX(2 * r->size, r->len + n + 256);
                t = realloc(r->text, size);
                if (!t)
                        return -ENOMEM;
                r->text = t;
                r->size = size;
        }
        memcpy(r->text + r->len, s, n);
        r->len += n;
        return 0;
}

static void stream_donep(struct dw_json_stream *s)
{
        dw_json_stream_done(s);
}

static bool key_is(const char *key, size_t len, const char *name)
{
        return len == strlen(name) && memcmp(key, name, len) == 0;
}

/* ["<alg>:<hex>", ...] into l. */
static int read_digests(struct dw_json_stream *s, struct dw_pmap_digests *l, bool files)
{
        int r;

        l->n = 0;
        if (!dw_json_consume(s, '['))
                return -EBADMSG;
        if (dw_json_consume(s, ']'))
                return 0;
        do {
                char why[DW_POLICY_WHY_MAX];
                struct dw_pmap_digest *d;
                enum dw_hash_alg alg;
                const char *v;
                size_t len;

                r = dw_pmap_digests_reserve(l, l->n + 1);
                if (r < 0)
                        return r;
                r = dw_json_string(s, &v, &len);
                if (r < 0)
                        return r;
                d = &l->d[l->n];
                if (dw_policy_parse_digest(v, len, &alg, &d->verity, d->bytes, why) < 0)
                        return -EBADMSG;
                if (d->verity && !files)
                        return -EBADMSG;
                d->alg = (uint8_t)alg;
                l->n++;
        } while (dw_json_consume(s, ','));
        return dw_json_consume(s, ']') ? 0 : -EBADMSG;
}

/* A name the tokenizer decoded into its own buffer, which the digests' strings reuse: copied aside. */
static int keep_name(const char **name, size_t len, char **copy, size_t *copy_size)
{
        if (len + 1 > *copy_size) {
                char *c = realloc(*copy, len + 1);

                if (!c)
                        return -ENOMEM;
                *copy = c;
                *copy_size = len + 1;
        }
        memcpy(*copy, *name, len);
        *name = *copy;
        return 0;
}

/* {"<name>": [...], ...} into m, finished. */
static int read_map(struct dw_json_stream *s, struct dw_pmap *m, bool files)
{
        _cleanup_(dw_pmap_digests_done) struct dw_pmap_digests l = {};
        _cleanup_free_ char *copy = NULL;
        size_t copy_size = 0;
        int r;

        if (!dw_json_consume(s, '{'))
                return -EBADMSG;
        if (!dw_json_consume(s, '}')) {
                do {
                        const char *name;
                        size_t len;

                        r = dw_json_string(s, &name, &len);
                        if (r < 0)
                                return r;
                        if (len == 0)
                                return -EBADMSG; /* "empty path", "empty event name" */
                        if (name == s->buf) {
                                r = keep_name(&name, len, &copy, &copy_size);
                                if (r < 0)
                                        return r;
                        }
                        if (!dw_json_consume(s, ':'))
                                return -EBADMSG;
                        r = read_digests(s, &l, files);
                        if (r < 0)
                                return r;
                        r = dw_pmap_append(m, name, len, l.d, l.n);
                        if (r < 0)
                                return r;
                } while (dw_json_consume(s, ','));
                if (!dw_json_consume(s, '}'))
                        return -EBADMSG;
        }
        return dw_pmap_finish(m); /* -EEXIST: a name listed twice, a duplicate key for jansson */
}

/* One member of the document, "key" (as written at key_text) and its value. */
static int read_member(struct dw_json_stream *s, struct dw_runtime_policy *p, struct rest *rest, bool *seen_files,
                       bool *seen_buffers)
{
        const char *key_text = (const char *)s->p, *key, *value;
        size_t key_len, key_text_len, value_len;
        int r;

        r = dw_json_string(s, &key, &key_len);
        if (r < 0)
                return r;
        key_text_len = (size_t)((const char *)s->p - key_text);
        if (!dw_json_consume(s, ':'))
                return -EBADMSG;
        if (key_is(key, key_len, "digests")) {
                if (*seen_files)
                        return -EBADMSG;
                *seen_files = true;
                return read_map(s, &p->files, true);
        }
        if (key_is(key, key_len, "ima_buf")) {
                if (*seen_buffers)
                        return -EBADMSG;
                *seen_buffers = true;
                return read_map(s, &p->buffers, false);
        }
        /* The key as written (jansson decodes it again), and the value unchecked: jansson checks it. */
        r = dw_json_skip_raw(s, &value, &value_len);
        if (r < 0)
                return r;
        if (rest->len > 1)
                r = rest_append(rest, ",", 1);
        if (r >= 0)
                r = rest_append(rest, key_text, key_text_len);
        if (r >= 0)
                r = rest_append(rest, ":", 1);
        if (r >= 0)
                r = rest_append(rest, value, value_len);
        return r;
}

/* The whole document: the maps into p, the rest into rest. */
static int read_document(struct dw_json_stream *s, struct dw_runtime_policy *p, struct rest *rest)
{
        bool seen_files = false, seen_buffers = false;
        int r;

        if (!dw_json_consume(s, '{'))
                return -EBADMSG;
        r = rest_append(rest, "{", 1);
        if (r < 0)
                return r;
        if (!dw_json_consume(s, '}')) {
                do {
                        /* The key's text starts at the quote, after the whitespace. */
                        if (dw_json_peek(s) != '"')
                                return -EBADMSG;
                        r = read_member(s, p, rest, &seen_files, &seen_buffers);
                        if (r < 0)
                                return r;
                } while (dw_json_consume(s, ','));
                if (!dw_json_consume(s, '}'))
                        return -EBADMSG;
        }
        if (!dw_json_at_end(s))
                return -EBADMSG;
        return rest_append(rest, "}", 1);
}

int dw_runtime_policy_load_stream(const void *json, size_t len, struct dw_runtime_policy **ret,
                                  struct dw_policy_error *err)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *p = NULL;
        _cleanup_(stream_donep) struct dw_json_stream s = {};
        _cleanup_(rest_done) struct rest rest = {};
        _cleanup_(json_decrefp) json_t *root = NULL;
        int r;

        if (!json || !ret)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -EAGAIN;
        dw_json_stream_init(&s, json, len);
        if (read_document(&s, p, &rest) < 0)
                return -EAGAIN;
        root = json_loadb(rest.text, rest.len, JSON_REJECT_DUPLICATES, NULL);
        if (!root)
                return -EAGAIN;
        r = dw_runtime_policy_compile(p, root, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
