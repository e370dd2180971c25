/* SPDX-License-Identifier: MIT */
/* The measured-boot reference (boot policy): loading its JSON format (docs/attest-round.md) strictly, and checking
 * quoted PCR values and a boot event log against it. */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "boot-policy.h"
#include "hex.h"
#include "tcg-eventlog.h"

#define UEFI_VARIABLE_HEADER_SIZE 32 /* GUID, u64 UnicodeNameLength, u64 VariableDataLength */

struct golden {
        enum dw_hash_alg alg;
        uint32_t pcr;
        uint8_t value[DW_HASH_MAX_SIZE];
};

struct allowed_digest {
        uint8_t alg; /* enum dw_hash_alg */
        uint8_t bytes[DW_HASH_MAX_SIZE];
};

struct event_list {
        uint32_t type;
        char name[48];                  /* the key as written */
        bool has_alg[_DW_HASH_ALG_MAX]; /* algorithms the list uses */
        struct allowed_digest *digests; /* sorted by (alg, bytes) */
        size_t n_digests;
};

struct dw_boot_policy {
        char *name;
        struct golden *golden;
        size_t n_golden;
        struct event_list *events;
        size_t n_events;
        bool checks_secure_boot;
        bool secure_boot;
};

static const char *const secure_boot_names[_DW_SECURE_BOOT_MAX] = {
        [DW_SECURE_BOOT_ABSENT] = "absent",
        [DW_SECURE_BOOT_DISABLED] = "disabled",
        [DW_SECURE_BOOT_ENABLED] = "enabled",
        [DW_SECURE_BOOT_UNVERIFIABLE] = "unverifiable",
};

const char *dw_secure_boot_name(enum dw_secure_boot s)
{
        if (s < 0 || s >= _DW_SECURE_BOOT_MAX)
                return NULL;
        return secure_boot_names[s];
}

static const char *const finding_names[_DW_BOOT_FINDING_MAX] = {
        [DW_BOOT_PCR_MISMATCH] = "pcr_mismatch",
        [DW_BOOT_PCR_NOT_QUOTED] = "pcr_not_quoted",
        [DW_BOOT_EVENT_DIGEST] = "event_digest",
        [DW_BOOT_SECURE_BOOT] = "secure_boot",
};

const char *dw_boot_finding_kind_name(enum dw_boot_finding_kind kind)
{
        if (kind < 0 || kind >= _DW_BOOT_FINDING_MAX)
                return NULL;
        return finding_names[kind];
}

/* ---- loading ---------------------------------------------------------------------------------------------- */

_printf_(4, 5) static int fail(struct dw_policy_error *err, int errnum, const char *where, const char *fmt, ...)
{
        va_list ap;

        if (err) {
                *err = (struct dw_policy_error){};
                snprintf(err->where, sizeof(err->where), "%s", where);
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
        }
        return -errnum;
}

/* A key for messages and paths: printable ASCII, cut at 64 bytes. */
static const char *shown(const char *s, size_t len, char buf[static 72])
{
        size_t n = MIN(len, (size_t)64);

        for (size_t i = 0; i < n; i++)
                buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
        if (n < len) {
                memcpy(buf + n, "...", 4);
                return buf;
        }
        buf[n] = '\0';
        return buf;
}

static int check_fields(json_t *obj, const char *where, const char *const *fields, size_t n,
                        struct dw_policy_error *err)
{
        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
                const char *key = json_object_iter_key(it);
                char buf[72];
                bool known = false;

                for (size_t i = 0; i < n && !known; i++)
                        known = strcmp(key, fields[i]) == 0;
                if (!known)
                        return fail(err, EBADMSG, where, "unknown field \"%s\"", shown(key, strlen(key), buf));
        }
        return 0;
}

/* The event type of a name as dw_tcg_event_type_name() spells it, or of "0x<hex>". */
static int event_type_from_name(const char *name, uint32_t *ret)
{
        static const uint32_t ranges[][2] = {
                {EV_PREBOOT_CERT, EV_POST_CODE2},
                {EV_EFI_EVENT_BASE, EV_EFI_HCRTM_EVENT},
                {EV_EFI_VARIABLE_AUTHORITY, EV_EFI_SPDM_FIRMWARE_CONFIG},
        };
        char *end;

        for (size_t i = 0; i < ELEMENTSOF(ranges); i++)
                for (uint32_t t = ranges[i][0]; t <= ranges[i][1]; t++) {
                        const char *n = dw_tcg_event_type_name(t);

                        if (n && strcmp(n, name) == 0) {
                                *ret = t;
                                return 0;
                        }
                }
        if (strncmp(name, "0x", 2) == 0 && isxdigit((unsigned char)name[2])) {
                unsigned long v;

                errno = 0;
                v = strtoul(name + 2, &end, 16);
                if (errno == 0 && *end == '\0' && v <= UINT32_MAX) {
                        *ret = (uint32_t)v;
                        return 0;
                }
        }
        return -EINVAL;
}

/* "<alg>:<hex>" */
static int parse_digest(const char *s, size_t len, struct allowed_digest *ret, char *why, size_t why_size)
{
        const char *colon = memchr(s, ':', len);
        enum dw_hash_alg alg;
        size_t size, hexlen;

        if (!colon || dw_hash_alg_from_name(s, (size_t)(colon - s), &alg) < 0) {
                snprintf(why, why_size,
                         "expected \"<algorithm>:<hex digest>\" with sha1, sha256, sha384, sha512 or "
                         "sm3");
                return -EBADMSG;
        }
        size = dw_hash_alg_size(alg);
        hexlen = len - (size_t)(colon + 1 - s);
        if (hexlen != 2 * size || dw_hex_decode(colon + 1, hexlen, ret->bytes, sizeof(ret->bytes)) != (int)size) {
                snprintf(why, why_size, "a %s digest is %zu hex digits", dw_hash_alg_name(alg), 2 * size);
                return -EBADMSG;
        }
        ret->alg = (uint8_t)alg;
        return 0;
}

static int load_meta(struct dw_boot_policy *p, json_t *meta, struct dw_policy_error *err)
{
        json_t *name;

        if (!json_is_object(meta))
                return fail(err, EBADMSG, "$.meta", "expected an object");
        name = json_object_get(meta, "name");
        if (!name)
                return 0;
        if (!json_is_string(name))
                return fail(err, EBADMSG, "$.meta.name", "expected a string");
        p->name = strdup(json_string_value(name));
        return p->name ? 0 : -ENOMEM;
}

static int parse_pcr_index(const char *key, uint32_t *ret)
{
        char *end;
        unsigned long v;

        if (!isdigit((unsigned char)key[0]) || (key[0] == '0' && key[1] != '\0'))
                return -EINVAL;
        errno = 0;
        v = strtoul(key, &end, 10);
        if (errno != 0 || *end != '\0' || v >= DW_TCG_NR_PCRS)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

static int load_bank(struct dw_boot_policy *p, enum dw_hash_alg alg, json_t *bank, const char *where,
                     struct dw_policy_error *err)
{
        size_t size = dw_hash_alg_size(alg);
        char w[256];

        if (!json_is_object(bank))
                return fail(err, EBADMSG, where, "expected an object {\"<PCR>\": \"<hex>\", ...}");
        for (void *it = json_object_iter(bank); it; it = json_object_iter_next(bank, it)) {
                const char *key = json_object_iter_key(it);
                json_t *v = json_object_iter_value(it);
                struct golden *g = &p->golden[p->n_golden];
                char buf[72];

                snprintf(w, sizeof(w), "%.150s[\"%s\"]", where, shown(key, strlen(key), buf));
                if (parse_pcr_index(key, &g->pcr) < 0)
                        return fail(err, EBADMSG, w, "expected a PCR index from 0 to 23");
                if (!json_is_string(v) || json_string_length(v) != 2 * size ||
                    dw_hex_decode(json_string_value(v), 2 * size, g->value, sizeof(g->value)) != (int)size)
                        return fail(err, EBADMSG, w, "expected the %s PCR value, %zu hex digits", dw_hash_alg_name(alg),
                                    2 * size);
                g->alg = alg;
                p->n_golden++;
        }
        return 0;
}

static int load_pcrs(struct dw_boot_policy *p, json_t *pcrs, struct dw_policy_error *err)
{
        size_t n = 0;
        int r;

        if (!json_is_object(pcrs))
                return fail(err, EBADMSG, "$.pcrs", "expected an object {\"<bank>\": {\"<PCR>\": \"<hex>\"}}");
        for (void *it = json_object_iter(pcrs); it; it = json_object_iter_next(pcrs, it))
                if (json_is_object(json_object_iter_value(it)))
                        n += json_object_size(json_object_iter_value(it));
        p->golden = calloc(MAX(n, (size_t)1), sizeof(*p->golden));
        if (!p->golden)
                return -ENOMEM;
        for (void *it = json_object_iter(pcrs); it; it = json_object_iter_next(pcrs, it)) {
                const char *key = json_object_iter_key(it);
                json_t *v = json_object_iter_value(it);
                enum dw_hash_alg alg;
                char w[192], buf[72];

                snprintf(w, sizeof(w), "$.pcrs[\"%s\"]", shown(key, strlen(key), buf));
                if (dw_hash_alg_from_name(key, strlen(key), &alg) < 0)
                        return fail(err, EBADMSG, w, "unknown bank (sha1, sha256, sha384, sha512, sm3_256)");
                r = load_bank(p, alg, v, w, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int digest_cmp(const void *a, const void *b)
{
        const struct allowed_digest *x = a, *y = b;

        if (x->alg != y->alg)
                return x->alg < y->alg ? -1 : 1;
        return memcmp(x->bytes, y->bytes, dw_hash_alg_size(x->alg));
}

static int load_event_list(struct event_list *l, const char *key, json_t *list, const char *where,
                           struct dw_policy_error *err)
{
        char w[256], why[128];

        if (event_type_from_name(key, &l->type) < 0)
                return fail(err, EBADMSG, where, "unknown event type (expected a name like EV_IPL, or 0x<hex>)");
        if (l->type == EV_NO_ACTION)
                return fail(err, EBADMSG, where, "EV_NO_ACTION events are not extended, so not judged");
        snprintf(l->name, sizeof(l->name), "%s", key);
        if (!json_is_array(list))
                return fail(err, EBADMSG, where, "expected an array of \"<algorithm>:<hex digest>\" strings");
        l->digests = calloc(MAX(json_array_size(list), (size_t)1), sizeof(*l->digests));
        if (!l->digests)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(list); i++) {
                json_t *v = json_array_get(list, i);

                snprintf(w, sizeof(w), "%.200s[%zu]", where, i);
                if (!json_is_string(v))
                        return fail(err, EBADMSG, w, "expected a string \"<algorithm>:<hex digest>\"");
                if (parse_digest(json_string_value(v), json_string_length(v), &l->digests[l->n_digests], why,
                                 sizeof(why)) < 0)
                        return fail(err, EBADMSG, w, "%s", why);
                l->has_alg[l->digests[l->n_digests].alg] = true;
                l->n_digests++;
        }
        qsort(l->digests, l->n_digests, sizeof(*l->digests), digest_cmp);
        return 0;
}

static int load_events(struct dw_boot_policy *p, json_t *events, struct dw_policy_error *err)
{
        int r;

        if (!json_is_object(events))
                return fail(err, EBADMSG, "$.events", "expected an object {\"<event type>\": [\"<alg>:<hex>\"]}");
        p->events = calloc(MAX(json_object_size(events), (size_t)1), sizeof(*p->events));
        if (!p->events)
                return -ENOMEM;
        for (void *it = json_object_iter(events); it; it = json_object_iter_next(events, it)) {
                const char *key = json_object_iter_key(it);
                json_t *v = json_object_iter_value(it);
                char w[192], buf[72];

                snprintf(w, sizeof(w), "$.events[\"%s\"]", shown(key, strlen(key), buf));
                r = load_event_list(&p->events[p->n_events], key, v, w, err);
                /* Counted even on failure, so that freeing the policy frees its digests. */
                p->n_events++;
                if (r < 0)
                        return r;
                for (size_t i = 0; i + 1 < p->n_events; i++)
                        if (p->events[i].type == p->events[p->n_events - 1].type)
                                return fail(err, EBADMSG, w, "the same event type as $.events[\"%s\"]",
                                            p->events[i].name);
        }
        return 0;
}

static int load_root(struct dw_boot_policy *p, json_t *root, struct dw_policy_error *err)
{
        static const char *const fields[] = {"driftwatch_boot_policy", "meta", "pcrs", "events", "secure_boot"};
        json_t *v;
        int r;

        if (!json_is_object(root))
                return fail(err, EBADMSG, "$", "expected a JSON object");
        v = json_object_get(root, "driftwatch_boot_policy");
        if (!v)
                return fail(err, EBADMSG, "$", "not a driftwatch boot policy: no \"driftwatch_boot_policy\" field");
        if (!json_is_integer(v))
                return fail(err, EBADMSG, "$.driftwatch_boot_policy", "expected the format version, an integer");
        if (json_integer_value(v) != DW_BOOT_POLICY_VERSION)
                return fail(err, EOPNOTSUPP, "$.driftwatch_boot_policy",
                            "format version %" JSON_INTEGER_FORMAT " is not supported (this build reads version %d)",
                            json_integer_value(v), DW_BOOT_POLICY_VERSION);
        r = check_fields(root, "$", fields, ELEMENTSOF(fields), err);
        if (r < 0)
                return r;
        v = json_object_get(root, "meta");
        r = v ? load_meta(p, v, err) : 0;
        if (r < 0)
                return r;
        v = json_object_get(root, "pcrs");
        r = v ? load_pcrs(p, v, err) : 0;
        if (r < 0)
                return r;
        v = json_object_get(root, "events");
        r = v ? load_events(p, v, err) : 0;
        if (r < 0)
                return r;
        v = json_object_get(root, "secure_boot");
        if (v) {
                if (!json_is_boolean(v))
                        return fail(err, EBADMSG, "$.secure_boot", "expected true or false");
                p->checks_secure_boot = true;
                p->secure_boot = json_is_true(v);
        }
        return 0;
}

int dw_boot_policy_load(const void *json, size_t len, struct dw_boot_policy **ret, struct dw_policy_error *err)
{
        _cleanup_(dw_boot_policy_freep) struct dw_boot_policy *p = NULL;
        _cleanup_(json_decrefp) json_t *root = NULL;
        int r;

        if (!json || !ret)
                return fail(err, EINVAL, "", "invalid argument");
        r = dw_policy_json_parse(json, len, &root, err);
        if (r < 0)
                return r;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r = load_root(p, root, err);
        if (r == -ENOMEM)
                return fail(err, ENOMEM, "", "out of memory");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

void dw_boot_policy_free(struct dw_boot_policy *p)
{
        if (!p)
                return;
        free(p->name);
        free(p->golden);
        for (size_t i = 0; i < p->n_events; i++)
                free(p->events[i].digests);
        free(p->events);
        free(p);
}

void dw_boot_policy_get_info(const struct dw_boot_policy *p, struct dw_boot_policy_info *ret)
{
        size_t digests = 0;

        for (size_t i = 0; i < p->n_events; i++)
                digests += p->events[i].n_digests;
        *ret = (struct dw_boot_policy_info){
                .name = p->name,
                .n_golden = (unsigned)p->n_golden,
                .n_event_types = (unsigned)p->n_events,
                .n_event_digests = digests,
                .checks_secure_boot = p->checks_secure_boot,
                .secure_boot = p->secure_boot,
        };
}

/* ---- checks ----------------------------------------------------------------------------------------------- */

static const struct dw_tpm_pcr_value *quoted_value(const struct dw_tpm_pcrs *q, enum dw_hash_alg alg, uint32_t pcr)
{
        uint16_t id = dw_hash_alg_tpm_id(alg);

        for (size_t i = 0; i < q->n_values; i++)
                if (q->values[i].hash_alg == id && q->values[i].pcr == pcr)
                        return &q->values[i];
        return NULL;
}

int dw_boot_policy_check_pcrs(const struct dw_boot_policy *p, const struct dw_tpm_pcrs *quoted, dw_boot_finding_fn fn,
                              void *userdata)
{
        int n = 0, r;

        if (!p || !quoted || !fn)
                return -EINVAL;
        for (size_t i = 0; i < p->n_golden; i++) {
                const struct golden *g = &p->golden[i];
                const struct dw_tpm_pcr_value *v = quoted_value(quoted, g->alg, g->pcr);
                size_t size = dw_hash_alg_size(g->alg);
                struct dw_boot_finding f = {
                        .event = -1,
                        .pcr = g->pcr,
                        .alg = g->alg,
                };
                char want[2 * DW_HASH_MAX_SIZE + 1];

                if (v && v->size == size && memcmp(v->digest, g->value, size) == 0)
                        continue;
                snprintf(f.rule, sizeof(f.rule), "pcrs.%s.%" PRIu32, dw_hash_alg_name(g->alg), g->pcr);
                dw_hex_encode(g->value, size, want);
                if (!v) {
                        f.kind = DW_BOOT_PCR_NOT_QUOTED;
                        snprintf(f.msg, sizeof(f.msg), "%s PCR %" PRIu32 " has a golden value but is not quoted",
                                 dw_hash_alg_name(g->alg), g->pcr);
                } else {
                        f.kind = DW_BOOT_PCR_MISMATCH;
                        memcpy(f.digest, v->digest, MIN((size_t)v->size, sizeof(f.digest)));
                        f.digest_len = MIN((size_t)v->size, sizeof(f.digest));
                        snprintf(f.msg, sizeof(f.msg), "%s PCR %" PRIu32 " is not the golden value %.16s...",
                                 dw_hash_alg_name(g->alg), g->pcr, want);
                }
                r = fn(&f, userdata);
                if (r < 0)
                        return r;
                n++;
        }
        return n;
}

static const struct event_list *event_list_find(const struct dw_boot_policy *p, uint32_t type)
{
        for (size_t i = 0; i < p->n_events; i++)
                if (p->events[i].type == type)
                        return &p->events[i];
        return NULL;
}

static bool event_allowed(const struct event_list *l, const struct dw_tcg_event *ev, const struct dw_tcg_digest **ret)
{
        *ret = ev->n_digests > 0 ? &ev->digests[0] : NULL;
        for (unsigned i = 0; i < ev->n_digests; i++) {
                const struct dw_tcg_digest *d = &ev->digests[i];
                struct allowed_digest key = {};

                if (d->alg < 0 || d->alg >= _DW_HASH_ALG_MAX || !l->has_alg[d->alg] ||
                    d->size != dw_hash_alg_size(d->alg))
                        continue;
                *ret = d;
                key.alg = (uint8_t)d->alg;
                memcpy(key.bytes, d->digest, d->size);
                if (bsearch(&key, l->digests, l->n_digests, sizeof(*l->digests), digest_cmp))
                        return true;
        }
        return false;
}

static void event_label(const struct dw_tcg_event *ev, char *buf, size_t size)
{
        char desc[128];
        const char *type = dw_tcg_event_type_name(ev->type);

        dw_tcg_event_describe(ev, desc, sizeof(desc));
        if (type)
                snprintf(buf, size, "%s: %s", type, desc);
        else
                snprintf(buf, size, "0x%08" PRIx32 ": %s", ev->type, desc);
}

static int check_event(const struct event_list *l, const struct dw_tcg_event *ev, dw_boot_finding_fn fn, void *userdata)
{
        const struct dw_tcg_digest *d = NULL;
        struct dw_boot_finding f = {
                .kind = DW_BOOT_EVENT_DIGEST,
                .event = (int64_t)ev->index,
                .pcr = ev->pcr,
                .alg = _DW_HASH_ALG_INVALID,
        };
        char hex[2 * DW_HASH_MAX_SIZE + 1] = "";
        int r;

        if (event_allowed(l, ev, &d))
                return 0;
        snprintf(f.rule, sizeof(f.rule), "events.%s", l->name);
        event_label(ev, f.label, sizeof(f.label));
        if (d && d->alg >= 0 && d->size <= DW_HASH_MAX_SIZE) {
                f.alg = d->alg;
                memcpy(f.digest, d->digest, d->size);
                f.digest_len = d->size;
                dw_hex_encode(d->digest, MIN((size_t)d->size, (size_t)16), hex);
        }
        if (d && d->alg >= 0 && l->has_alg[d->alg])
                snprintf(f.msg, sizeof(f.msg), "event %" PRIu64 " (PCR %" PRIu32 ") has %s digest %s..., not allowed",
                         ev->index, ev->pcr, dw_hash_alg_name(d->alg), hex);
        else
                snprintf(f.msg, sizeof(f.msg),
                         "event %" PRIu64 " (PCR %" PRIu32 ") logs no digest in an algorithm of the allowlist",
                         ev->index, ev->pcr);
        r = fn(&f, userdata);
        return r < 0 ? r : 1;
}

/* EFI_GLOBAL_VARIABLE {8be4df61-93ca-11d2-aa0d-00e098032b8c} as it is laid out in memory, and L"SecureBoot". */
static const uint8_t efi_global_variable[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                                0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
static const char secure_boot_name[] = "SecureBoot";

static uint64_t le64(const uint8_t *p)
{
        uint64_t v = 0;

        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

/* The variable's value when ev measures SecureBoot: 1 with *ret_value, 0 for another variable, -EBADMSG for a
 * malformed UEFI_VARIABLE_DATA. */
static int secure_boot_value(const struct dw_tcg_event *ev, int *ret_value)
{
        const size_t name_chars = sizeof(secure_boot_name) - 1;
        uint64_t name_len, data_len;
        const uint8_t *name;

        if (ev->type != EV_EFI_VARIABLE_DRIVER_CONFIG)
                return 0;
        if (ev->data_len < UEFI_VARIABLE_HEADER_SIZE)
                return -EBADMSG;
        name_len = le64(ev->data + 16);
        data_len = le64(ev->data + 24);
        if (name_len > (ev->data_len - UEFI_VARIABLE_HEADER_SIZE) / 2 ||
            data_len > ev->data_len - UEFI_VARIABLE_HEADER_SIZE - 2 * name_len)
                return -EBADMSG;
        if (memcmp(ev->data, efi_global_variable, 16) != 0 || name_len != name_chars)
                return 0;
        name = ev->data + UEFI_VARIABLE_HEADER_SIZE;
        for (size_t i = 0; i < name_chars; i++)
                if (name[2 * i] != (uint8_t)secure_boot_name[i] || name[2 * i + 1] != 0)
                        return 0;
        if (data_len < 1)
                return -EBADMSG;
        *ret_value = name[2 * name_chars];
        return 1;
}

/* Whether every digest the event logs in an algorithm we can compute is the hash of its data (the PC Client spec's
 * rule for EV_EFI_VARIABLE_DRIVER_CONFIG), and there is at least one. */
static bool event_data_verified(struct dw_hasher *h, const struct dw_tcg_event *ev)
{
        unsigned checked = 0;

        for (unsigned i = 0; i < ev->n_digests; i++) {
                const struct dw_tcg_digest *d = &ev->digests[i];
                uint8_t md[DW_HASH_MAX_SIZE];

                if (d->alg < 0 || d->alg >= _DW_HASH_ALG_MAX || !dw_hasher_has(h, d->alg))
                        continue;
                if (d->size != dw_hash_alg_size(d->alg) || dw_hash_buf(h, d->alg, ev->data, ev->data_len, md) < 0 ||
                    memcmp(md, d->digest, d->size) != 0)
                        return false;
                checked++;
        }
        return checked > 0;
}

/* Walks the log once: event allowlists (when p) and the Secure Boot state. */
static int walk_log(const struct dw_boot_policy *p, struct dw_hasher *h, const uint8_t *log, size_t len,
                    dw_boot_finding_fn fn, void *userdata, enum dw_secure_boot *ret_sb, int64_t *ret_sb_event,
                    struct dw_error *err)
{
        enum dw_secure_boot sb = DW_SECURE_BOOT_ABSENT;
        struct dw_tcg_parser parser;
        struct dw_tcg_event ev;
        int64_t sb_event = -1;
        int n = 0, r;

        r = dw_tcg_parser_init(&parser, log, len, err);
        if (r < 0)
                return r;
        for (;;) {
                const struct event_list *l;
                int value = 0;

                r = dw_tcg_parser_next(&parser, &ev, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (ev.type == EV_NO_ACTION)
                        continue;
                l = p ? event_list_find(p, ev.type) : NULL;
                if (l) {
                        r = check_event(l, &ev, fn, userdata);
                        if (r < 0)
                                return r;
                        n += r;
                }
                r = secure_boot_value(&ev, &value);
                if (r == 0)
                        continue;
                sb_event = (int64_t)ev.index;
                if (r < 0 || ev.pcr != 7 || !event_data_verified(h, &ev) || (value != 0 && value != 1)) {
                        sb = DW_SECURE_BOOT_UNVERIFIABLE;
                        continue;
                }
                if (sb == DW_SECURE_BOOT_ABSENT)
                        sb = value ? DW_SECURE_BOOT_ENABLED : DW_SECURE_BOOT_DISABLED;
                else if (sb != (value ? DW_SECURE_BOOT_ENABLED : DW_SECURE_BOOT_DISABLED))
                        sb = DW_SECURE_BOOT_UNVERIFIABLE;
        }
        *ret_sb = sb;
        *ret_sb_event = sb_event;
        return n;
}

static int secure_boot_finding(const struct dw_boot_policy *p, enum dw_secure_boot sb, int64_t sb_event,
                               dw_boot_finding_fn fn, void *userdata)
{
        struct dw_boot_finding f = {
                .kind = DW_BOOT_SECURE_BOOT,
                .event = sb_event,
                .pcr = 7,
                .alg = _DW_HASH_ALG_INVALID,
                .rule = "secure_boot",
        };
        int r;

        if (sb_event >= 0)
                snprintf(f.label, sizeof(f.label), "EV_EFI_VARIABLE_DRIVER_CONFIG: SecureBoot");
        snprintf(f.msg, sizeof(f.msg), "Secure Boot is %s, the policy expects it %s%s", dw_secure_boot_name(sb),
                 p->secure_boot ? "enabled" : "disabled",
                 sb == DW_SECURE_BOOT_UNVERIFIABLE
                         ? " (the SecureBoot event's digest is not the hash of its data, or events disagree)"
                         : "");
        r = fn(&f, userdata);
        return r < 0 ? r : 1;
}

int dw_boot_policy_check_log(const struct dw_boot_policy *p, struct dw_hasher *h, const uint8_t *log, size_t len,
                             dw_boot_finding_fn fn, void *userdata, struct dw_error *err)
{
        enum dw_secure_boot sb, want;
        int64_t sb_event;
        int n, r;

        if (!p || !h || !fn || (!log && len))
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        n = walk_log(p, h, log, len, fn, userdata, &sb, &sb_event, err);
        if (n < 0 || !p->checks_secure_boot)
                return n;
        want = p->secure_boot ? DW_SECURE_BOOT_ENABLED : DW_SECURE_BOOT_DISABLED;
        /* A log that does not measure the variable comes from firmware without Secure Boot: disabled. */
        if (sb == want || (sb == DW_SECURE_BOOT_ABSENT && !p->secure_boot))
                return n;
        r = secure_boot_finding(p, sb, sb_event, fn, userdata);
        return r < 0 ? r : n + r;
}

static int ignore_finding(const struct dw_boot_finding *f _unused_, void *userdata _unused_)
{
        return 0;
}

int dw_boot_log_secure_boot(struct dw_hasher *h, const uint8_t *log, size_t len, enum dw_secure_boot *ret,
                            struct dw_error *err)
{
        enum dw_secure_boot sb;
        int64_t sb_event;
        int r;

        if (!h || !ret || (!log && len))
                return dw_error_set(err, EINVAL, 0, 0, "invalid argument");
        r = walk_log(NULL, h, log, len, ignore_finding, NULL, &sb, &sb_event, err);
        if (r < 0)
                return r;
        *ret = sb;
        return 0;
}
