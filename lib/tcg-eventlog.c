/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "tcg-eventlog.h"

#define TCG_SIGNATURE_SIZE        16
#define SHA1_EVENT_HEADER_SIZE    32 /* pcrIndex, eventType, SHA-1 digest, eventDataSize */
#define SPEC_ID_FIXED_SIZE        28 /* signature, platformClass, 4 version bytes, numberOfAlgorithms */
#define DESCRIBE_HEX_MAX          32 /* bytes shown when an event's data is printed as hex */
#define EFI_GUID_SIZE             16
#define GPT_HEADER_SIZE           92 /* UEFI_PARTITION_TABLE_HEADER as logged */
#define UEFI_VARIABLE_HEADER_SIZE 32 /* GUID, UnicodeNameLength, VariableDataLength */
#define UEFI_IMAGE_HEADER_SIZE    32 /* location, length, link time address, LengthOfDevicePath */

static const char SPEC_ID_EVENT03[TCG_SIGNATURE_SIZE] = "Spec ID Event03";
static const char STARTUP_LOCALITY[TCG_SIGNATURE_SIZE] = "StartupLocality";

static uint16_t le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
        return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

const char *dw_tcg_event_type_name(uint32_t type)
{
        switch (type) {
        case EV_PREBOOT_CERT:
                return "EV_PREBOOT_CERT";
        case EV_POST_CODE:
                return "EV_POST_CODE";
        case EV_UNUSED:
                return "EV_UNUSED";
        case EV_NO_ACTION:
                return "EV_NO_ACTION";
        case EV_SEPARATOR:
                return "EV_SEPARATOR";
        case EV_ACTION:
                return "EV_ACTION";
        case EV_EVENT_TAG:
                return "EV_EVENT_TAG";
        case EV_S_CRTM_CONTENTS:
                return "EV_S_CRTM_CONTENTS";
        case EV_S_CRTM_VERSION:
                return "EV_S_CRTM_VERSION";
        case EV_CPU_MICROCODE:
                return "EV_CPU_MICROCODE";
        case EV_PLATFORM_CONFIG_FLAGS:
                return "EV_PLATFORM_CONFIG_FLAGS";
        case EV_TABLE_OF_DEVICES:
                return "EV_TABLE_OF_DEVICES";
        case EV_COMPACT_HASH:
                return "EV_COMPACT_HASH";
        case EV_IPL:
                return "EV_IPL";
        case EV_IPL_PARTITION_DATA:
                return "EV_IPL_PARTITION_DATA";
        case EV_NONHOST_CODE:
                return "EV_NONHOST_CODE";
        case EV_NONHOST_CONFIG:
                return "EV_NONHOST_CONFIG";
        case EV_NONHOST_INFO:
                return "EV_NONHOST_INFO";
        case EV_OMIT_BOOT_DEVICE_EVENTS:
                return "EV_OMIT_BOOT_DEVICE_EVENTS";
        case EV_POST_CODE2:
                return "EV_POST_CODE2";
        case EV_EFI_EVENT_BASE:
                return "EV_EFI_EVENT_BASE";
        case EV_EFI_VARIABLE_DRIVER_CONFIG:
                return "EV_EFI_VARIABLE_DRIVER_CONFIG";
        case EV_EFI_VARIABLE_BOOT:
                return "EV_EFI_VARIABLE_BOOT";
        case EV_EFI_BOOT_SERVICES_APPLICATION:
                return "EV_EFI_BOOT_SERVICES_APPLICATION";
        case EV_EFI_BOOT_SERVICES_DRIVER:
                return "EV_EFI_BOOT_SERVICES_DRIVER";
        case EV_EFI_RUNTIME_SERVICES_DRIVER:
                return "EV_EFI_RUNTIME_SERVICES_DRIVER";
        case EV_EFI_GPT_EVENT:
                return "EV_EFI_GPT_EVENT";
        case EV_EFI_ACTION:
                return "EV_EFI_ACTION";
        case EV_EFI_PLATFORM_FIRMWARE_BLOB:
                return "EV_EFI_PLATFORM_FIRMWARE_BLOB";
        case EV_EFI_HANDOFF_TABLES:
                return "EV_EFI_HANDOFF_TABLES";
        case EV_EFI_PLATFORM_FIRMWARE_BLOB2:
                return "EV_EFI_PLATFORM_FIRMWARE_BLOB2";
        case EV_EFI_HANDOFF_TABLES2:
                return "EV_EFI_HANDOFF_TABLES2";
        case EV_EFI_VARIABLE_BOOT2:
                return "EV_EFI_VARIABLE_BOOT2";
        case EV_EFI_GPT_EVENT2:
                return "EV_EFI_GPT_EVENT2";
        case EV_EFI_HCRTM_EVENT:
                return "EV_EFI_HCRTM_EVENT";
        case EV_EFI_VARIABLE_AUTHORITY:
                return "EV_EFI_VARIABLE_AUTHORITY";
        case EV_EFI_SPDM_FIRMWARE_BLOB:
                return "EV_EFI_SPDM_FIRMWARE_BLOB";
        case EV_EFI_SPDM_FIRMWARE_CONFIG:
                return "EV_EFI_SPDM_FIRMWARE_CONFIG";
        default:
                return NULL;
        }
}

/* ---- Parsing ---------------------------------------------------------------------------------------------- */

/* A bounds-checked cursor over one event (in the log) or over a structure inside an event's data. Running out of
 * bytes is a log cut short (-ENODATA) in the first case and a malformed structure (-EBADMSG) in the second. */
struct reader {
        const uint8_t *buf;
        size_t len;
        size_t pos;
        uint64_t index;   /* of the event being read */
        size_t start;     /* its offset in the log */
        const char *what; /* NULL: reading the log itself; else the name of the structure being read */
        struct dw_error *err;
};

static int _printf_(3, 4) reader_fail(const struct reader *rd, int errnum, const char *fmt, ...)
{
        char detail[160];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        return dw_error_set(rd->err, errnum, rd->index, rd->start, "event %" PRIu64 " at offset %zu: %s", rd->index,
                            rd->start, detail);
}

static int reader_need(const struct reader *rd, size_t n)
{
        size_t left = rd->len - rd->pos;

        if (left >= n)
                return 0;
        if (rd->what)
                return reader_fail(rd, EBADMSG, "%s is truncated, needs %zu more bytes", rd->what, n - left);
        return reader_fail(rd, ENODATA, "cut short, needs %zu more bytes", n - left);
}

static int reader_bytes(struct reader *rd, size_t n, const uint8_t **ret)
{
        int r = reader_need(rd, n);

        if (r < 0)
                return r;
        *ret = rd->buf + rd->pos;
        rd->pos += n;
        return 0;
}

static int reader_u8(struct reader *rd, uint8_t *ret)
{
        const uint8_t *p;
        int r = reader_bytes(rd, 1, &p);

        if (r < 0)
                return r;
        *ret = p[0];
        return 0;
}

static int reader_u16(struct reader *rd, uint16_t *ret)
{
        const uint8_t *p;
        int r = reader_bytes(rd, 2, &p);

        if (r < 0)
                return r;
        *ret = le16(p);
        return 0;
}

static int reader_u32(struct reader *rd, uint32_t *ret)
{
        const uint8_t *p;
        int r = reader_bytes(rd, 4, &p);

        if (r < 0)
                return r;
        *ret = le32(p);
        return 0;
}

static int read_pcr_and_type(struct reader *rd, struct dw_tcg_event *ev)
{
        int r;

        r = reader_u32(rd, &ev->pcr);
        if (r < 0)
                return r;
        if (ev->pcr >= DW_TCG_NR_PCRS)
                return reader_fail(rd, EBADMSG, "PCR index %" PRIu32 " out of range", ev->pcr);
        return reader_u32(rd, &ev->type);
}

static int read_event_data(struct reader *rd, struct dw_tcg_event *ev)
{
        uint32_t size;
        int r;

        r = reader_u32(rd, &size);
        if (r < 0)
                return r;
        if (size > DW_TCG_EVENT_DATA_MAX)
                return reader_fail(rd, EBADMSG, "event data size %" PRIu32 " exceeds the limit of %u", size,
                                   DW_TCG_EVENT_DATA_MAX);
        r = reader_bytes(rd, size, &ev->data);
        if (r < 0)
                return r;
        ev->data_len = size;
        return 0;
}

/* TCG_PCClientPCREvent: the first event of every log, and every event of a legacy log. */
static int read_sha1_event(struct reader *rd, struct dw_tcg_event *ev)
{
        const uint8_t *digest;
        int r;

        r = read_pcr_and_type(rd, ev);
        if (r < 0)
                return r;
        r = reader_bytes(rd, dw_hash_alg_size(DW_HASH_SHA1), &digest);
        if (r < 0)
                return r;
        ev->n_digests = 1;
        ev->digests[0] = (struct dw_tcg_digest){
                .tpm_alg = DW_TPM_ALG_SHA1,
                .alg = DW_HASH_SHA1,
                .digest = digest,
                .size = (uint16_t)dw_hash_alg_size(DW_HASH_SHA1),
        };
        return read_event_data(rd, ev);
}

static int spec_id_digest_size(const struct dw_tcg_spec_id *s, uint16_t tpm_alg, uint16_t *ret)
{
        for (unsigned i = 0; i < s->n_algs; i++)
                if (s->algs[i].tpm_alg == tpm_alg) {
                        *ret = s->algs[i].size;
                        return 0;
                }
        return -ENOENT;
}

static bool event_has_digest(const struct dw_tcg_event *ev, uint16_t tpm_alg)
{
        for (unsigned i = 0; i < ev->n_digests; i++)
                if (ev->digests[i].tpm_alg == tpm_alg)
                        return true;
        return false;
}

static int read_digest2(struct reader *rd, const struct dw_tcg_spec_id *s, struct dw_tcg_event *ev)
{
        struct dw_tcg_digest *d = &ev->digests[ev->n_digests];
        uint16_t tpm_alg, size;
        const uint8_t *digest;
        enum dw_hash_alg alg;
        int r;

        r = reader_u16(rd, &tpm_alg);
        if (r < 0)
                return r;
        if (spec_id_digest_size(s, tpm_alg, &size) < 0)
                return reader_fail(rd, EBADMSG, "digest of algorithm 0x%04x, which the Spec ID event does not declare",
                                   tpm_alg);
        if (event_has_digest(ev, tpm_alg))
                return reader_fail(rd, EBADMSG, "two digests of algorithm 0x%04x", tpm_alg);
        r = reader_bytes(rd, size, &digest);
        if (r < 0)
                return r;
        if (dw_hash_alg_from_tpm_id(tpm_alg, &alg) < 0)
                alg = _DW_HASH_ALG_INVALID;
        *d = (struct dw_tcg_digest){.tpm_alg = tpm_alg, .alg = alg, .digest = digest, .size = size};
        ev->n_digests++;
        return 0;
}

/* TCG_PCR_EVENT2: every event of a crypto-agile log but the first. */
static int read_event2(struct reader *rd, const struct dw_tcg_spec_id *s, struct dw_tcg_event *ev)
{
        uint32_t count;
        int r;

        r = read_pcr_and_type(rd, ev);
        if (r < 0)
                return r;
        r = reader_u32(rd, &count);
        if (r < 0)
                return r;
        if (count > DW_TCG_MAX_ALGS)
                return reader_fail(rd, EBADMSG, "%" PRIu32 " digests, at most %u allowed", count, DW_TCG_MAX_ALGS);
        for (uint32_t i = 0; i < count; i++) {
                r = read_digest2(rd, s, ev);
                if (r < 0)
                        return r;
        }
        return read_event_data(rd, ev);
}

static bool has_signature(const struct dw_tcg_event *ev, const char sig[static TCG_SIGNATURE_SIZE])
{
        return ev->data_len >= TCG_SIGNATURE_SIZE && memcmp(ev->data, sig, TCG_SIGNATURE_SIZE) == 0;
}

static int read_spec_id_alg(struct reader *rd, struct dw_tcg_spec_id *s)
{
        uint16_t tpm_alg, size, dummy;
        enum dw_hash_alg alg;
        int r;

        r = reader_u16(rd, &tpm_alg);
        if (r < 0)
                return r;
        r = reader_u16(rd, &size);
        if (r < 0)
                return r;
        if (spec_id_digest_size(s, tpm_alg, &dummy) >= 0)
                return reader_fail(rd, EBADMSG, "Spec ID event declares algorithm 0x%04x twice", tpm_alg);
        if (size == 0 || size > DW_HASH_MAX_SIZE)
                return reader_fail(rd, EBADMSG, "Spec ID event declares algorithm 0x%04x with digest size %u", tpm_alg,
                                   size);
        if (dw_hash_alg_from_tpm_id(tpm_alg, &alg) >= 0 && dw_hash_alg_size(alg) != size)
                return reader_fail(rd, EBADMSG, "Spec ID event declares %s with digest size %u, not %zu",
                                   dw_hash_alg_name(alg), size, dw_hash_alg_size(alg));
        s->algs[s->n_algs].tpm_alg = tpm_alg;
        s->algs[s->n_algs].size = size;
        s->n_algs++;
        return 0;
}

/* TCG_EfiSpecIdEvent, in the data of the first event. */
static int parse_spec_id(const struct dw_tcg_event *ev, struct dw_error *err, struct dw_tcg_spec_id *ret)
{
        struct reader rd = {
                .buf = ev->data,
                .len = ev->data_len,
                .index = ev->index,
                .start = ev->offset,
                .what = "Spec ID event",
                .err = err,
        };
        struct dw_tcg_spec_id s = {};
        const uint8_t *fixed;
        uint32_t n_algs;
        int r;

        r = reader_bytes(&rd, SPEC_ID_FIXED_SIZE, &fixed);
        if (r < 0)
                return r;
        s.platform_class = le32(fixed + 16);
        s.version_minor = fixed[20];
        s.version_major = fixed[21];
        s.errata = fixed[22];
        s.uintn_size = fixed[23];
        n_algs = le32(fixed + 24);
        if (n_algs == 0 || n_algs > DW_TCG_MAX_ALGS)
                return reader_fail(&rd, EBADMSG, "Spec ID event declares %" PRIu32 " algorithms, expected 1 to %u",
                                   n_algs, DW_TCG_MAX_ALGS);
        for (uint32_t i = 0; i < n_algs; i++) {
                r = read_spec_id_alg(&rd, &s);
                if (r < 0)
                        return r;
        }
        r = reader_u8(&rd, &s.vendor_info_size);
        if (r < 0)
                return r;
        r = reader_bytes(&rd, s.vendor_info_size, &s.vendor_info);
        if (r < 0)
                return r;
        if (rd.pos != rd.len)
                return reader_fail(&rd, EBADMSG, "Spec ID event has %zu trailing bytes", rd.len - rd.pos);
        *ret = s;
        return 0;
}

static int read_event(struct dw_tcg_parser *p, struct dw_tcg_event *ev, struct dw_error *err)
{
        struct reader rd = {
                .buf = p->buf,
                .len = p->len,
                .pos = p->pos,
                .index = p->index,
                .start = p->pos,
                .err = err,
        };
        int r;

        *ev = (struct dw_tcg_event){.index = p->index, .offset = p->pos};
        if (p->index == 0 || !p->crypto_agile)
                r = read_sha1_event(&rd, ev);
        else
                r = read_event2(&rd, &p->spec_id, ev);
        if (r < 0)
                return r;
        p->pos = rd.pos;
        p->index++;
        return 0;
}

int dw_tcg_parser_init(struct dw_tcg_parser *p, const uint8_t *buf, size_t len, struct dw_error *err)
{
        struct dw_tcg_parser t = {.buf = buf, .len = len};
        struct dw_tcg_event first;
        int r;

        if (!buf || len == 0)
                return dw_error_set(err, ENODATA, 0, 0, "empty event log");
        r = read_event(&t, &first, err);
        if (r < 0)
                return r;
        if (has_signature(&first, SPEC_ID_EVENT03)) {
                if (first.type != EV_NO_ACTION || first.pcr != 0)
                        return dw_error_set(err, EBADMSG, 0, 0,
                                            "event 0 at offset 0: Spec ID Event03 in a %s event in PCR %" PRIu32,
                                            dw_tcg_event_type_name(first.type) ?: "unknown", first.pcr);
                r = parse_spec_id(&first, err, &t.spec_id);
                if (r < 0)
                        return r;
                t.crypto_agile = true;
        }
        /* Rewind: the first call to dw_tcg_parser_next() returns the first event again. */
        t.pos = 0;
        t.index = 0;
        *p = t;
        return 0;
}

int dw_tcg_parser_next(struct dw_tcg_parser *p, struct dw_tcg_event *ret, struct dw_error *err)
{
        struct dw_tcg_event ev;
        int r;

        if (p->pos >= p->len)
                return 0;
        r = read_event(p, &ev, err);
        if (r < 0)
                return r;
        *ret = ev;
        return 1;
}

/* ---- Replay ----------------------------------------------------------------------------------------------- */

static void replay_init_banks(struct dw_tcg_replay *r, const struct dw_tcg_parser *p, struct dw_hasher *h)
{
        enum dw_hash_alg alg;

        if (!p->crypto_agile) {
                r->has_bank[DW_HASH_SHA1] = dw_hasher_has(h, DW_HASH_SHA1);
                return;
        }
        for (unsigned i = 0; i < p->spec_id.n_algs; i++)
                if (dw_hash_alg_from_tpm_id(p->spec_id.algs[i].tpm_alg, &alg) >= 0)
                        r->has_bank[alg] = dw_hasher_has(h, alg);
}

static int replay_fail(const struct dw_tcg_event *ev, struct dw_error *err, int errnum, const char *detail)
{
        return dw_error_set(err, errnum, ev->index, ev->offset, "event %" PRIu64 " at offset %zu: %s", ev->index,
                            ev->offset, detail);
}

/* "StartupLocality": PCR 0 of every bank starts as zeros with the locality in its last byte. */
static int replay_startup_locality(struct dw_tcg_replay *r, const struct dw_tcg_event *ev, bool *seen,
                                   struct dw_error *err)
{
        uint8_t locality;

        if (ev->data_len < TCG_SIGNATURE_SIZE + 1)
                return replay_fail(ev, err, EBADMSG, "StartupLocality event without a locality");
        if (*seen)
                return replay_fail(ev, err, EBADMSG, "second StartupLocality event");
        FOREACH_HASH_ALG (a) {
                if (r->touched[a] & 1u)
                        return replay_fail(ev, err, EBADMSG, "StartupLocality event after PCR 0 was extended");
        }
        locality = ev->data[TCG_SIGNATURE_SIZE];
        if (locality != 0 && locality != 3 && locality != 4)
                return dw_error_set(err, EBADMSG, ev->index, ev->offset,
                                    "event %" PRIu64 " at offset %zu: StartupLocality %u is not 0, 3 or 4", ev->index,
                                    ev->offset, locality);
        FOREACH_HASH_ALG (a) {
                size_t n = dw_hash_alg_size(a);

                memset(r->pcr[a][0], 0, n);
                r->pcr[a][0][n - 1] = locality;
        }
        r->startup_locality = locality;
        *seen = true;
        return 0;
}

static int replay_extend(struct dw_tcg_replay *r, struct dw_hasher *h, const struct dw_tcg_event *ev,
                         struct dw_error *err)
{
        for (unsigned i = 0; i < ev->n_digests; i++) {
                const struct dw_tcg_digest *d = &ev->digests[i];
                int k;

                if (d->alg < 0 || d->alg >= _DW_HASH_ALG_MAX || !r->has_bank[d->alg])
                        continue;
                k = dw_pcr_extend(h, d->alg, r->pcr[d->alg][ev->pcr], d->digest);
                if (k < 0)
                        return dw_error_set(err, k, ev->index, ev->offset,
                                            "event %" PRIu64 " at offset %zu: extending %s PCR %" PRIu32 " failed",
                                            ev->index, ev->offset, dw_hash_alg_name(d->alg), ev->pcr);
                r->touched[d->alg] |= UINT32_C(1) << ev->pcr;
        }
        return 0;
}

int dw_tcg_replay_log(struct dw_tcg_replay *r, struct dw_hasher *h, const uint8_t *buf, size_t len,
                      struct dw_error *err)
{
        struct dw_tcg_replay t = {};
        struct dw_tcg_parser p;
        struct dw_tcg_event ev;
        bool locality_seen = false;
        int k;

        k = dw_tcg_parser_init(&p, buf, len, err);
        if (k < 0)
                return k;
        replay_init_banks(&t, &p, h);
        for (;;) {
                k = dw_tcg_parser_next(&p, &ev, err);
                if (k < 0)
                        return k;
                if (k == 0)
                        break;
                t.events++;
                if (ev.type != EV_NO_ACTION)
                        k = replay_extend(&t, h, &ev, err);
                else if (ev.pcr == 0 && has_signature(&ev, STARTUP_LOCALITY))
                        k = replay_startup_locality(&t, &ev, &locality_seen, err);
                if (k < 0)
                        return k;
        }
        *r = t;
        return 0;
}

/* ---- Descriptions ----------------------------------------------------------------------------------------- */

/* A truncating string builder: appends while there is room, always NUL-terminated. */
struct sbuf {
        char *buf;
        size_t size;
        size_t len;
};

static void _printf_(2, 3) sb_printf(struct sbuf *sb, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (sb->len + 1 >= sb->size)
                return;
        va_start(ap, fmt);
        n = vsnprintf(sb->buf + sb->len, sb->size - sb->len, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        sb->len = MIN(sb->len + (size_t)n, sb->size - 1);
}

static void sb_hex(struct sbuf *sb, const uint8_t *data, size_t len)
{
        for (size_t i = 0; i < MIN(len, (size_t)DESCRIBE_HEX_MAX); i++)
                sb_printf(sb, "%02x", data[i]);
        if (len > DESCRIBE_HEX_MAX)
                sb_printf(sb, "... (%zu bytes)", len);
}

static void sb_char(struct sbuf *sb, uint32_t c)
{
        if (c == '\\')
                sb_printf(sb, "\\\\");
        else if (c >= 0x20 && c < 0x7f)
                sb_printf(sb, "%c", (char)c);
        else if (c <= 0xff)
                sb_printf(sb, "\\x%02" PRIx32, c);
        else
                sb_printf(sb, "\\u%04" PRIx32, c);
}

/* An 8-bit string, without its trailing NULs; anything unprintable escaped. */
static void sb_ascii(struct sbuf *sb, const uint8_t *s, size_t len)
{
        while (len > 0 && s[len - 1] == 0)
                len--;
        for (size_t i = 0; i < len && sb->len + 1 < sb->size; i++)
                sb_char(sb, s[i]);
}

/* A UCS-2 string of n characters, up to its first NUL. */
static void sb_ucs2(struct sbuf *sb, const uint8_t *s, size_t n)
{
        for (size_t i = 0; i < n && sb->len + 1 < sb->size; i++) {
                uint16_t c = le16(s + 2 * i);

                if (c == 0)
                        break;
                sb_char(sb, c);
        }
}

static void sb_guid(struct sbuf *sb, const uint8_t *g)
{
        sb_printf(sb, "%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", le32(g), le16(g + 4), le16(g + 6),
                  g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

static void sb_size(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        sb_printf(sb, "%" PRIu32 " bytes", ev->data_len);
}

static void sb_malformed(struct sbuf *sb, const struct dw_tcg_event *ev, const char *what)
{
        sb_printf(sb, "%" PRIu32 " bytes (malformed %s)", ev->data_len, what);
}

static bool is_printable_ascii(const uint8_t *s, size_t len)
{
        while (len > 0 && s[len - 1] == 0)
                len--;
        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++)
                if (s[i] < 0x20 || s[i] >= 0x7f)
                        return false;
        return true;
}

/* Printable ASCII characters up to a NUL, then only NULs. */
static bool is_printable_ucs2(const uint8_t *s, size_t len)
{
        size_t n = len / 2, i = 0;

        if (len % 2 != 0 || n == 0)
                return false;
        for (; i < n && le16(s + 2 * i) != 0; i++)
                if (le16(s + 2 * i) < 0x20 || le16(s + 2 * i) >= 0x7f)
                        return false;
        if (i == 0)
                return false;
        for (; i < n; i++)
                if (le16(s + 2 * i) != 0)
                        return false;
        return true;
}

static void describe_crtm_version(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        if (is_printable_ucs2(ev->data, ev->data_len))
                sb_ucs2(sb, ev->data, ev->data_len / 2);
        else if (is_printable_ascii(ev->data, ev->data_len))
                sb_ascii(sb, ev->data, ev->data_len);
        else if (ev->data_len > 0)
                sb_hex(sb, ev->data, ev->data_len);
        else
                sb_size(sb, ev);
}

static void describe_string(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        if (ev->data_len == 0)
                sb_printf(sb, "empty");
        else
                sb_ascii(sb, ev->data, ev->data_len);
}

/* UEFI_PLATFORM_FIRMWARE_BLOB: u64 base, u64 length. */
static void describe_blob(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        if (ev->data_len != 16) {
                sb_malformed(sb, ev, "UEFI_PLATFORM_FIRMWARE_BLOB");
                return;
        }
        sb_printf(sb, "base 0x%" PRIx64 " length %" PRIu64, le64(ev->data), le64(ev->data + 8));
}

static void describe_post_code(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        /* Usually a string; some firmware logs a UEFI_PLATFORM_FIRMWARE_BLOB instead. */
        if (ev->data_len == 16 && !is_printable_ascii(ev->data, ev->data_len))
                describe_blob(sb, ev);
        else
                describe_string(sb, ev);
}

/* UEFI_PLATFORM_FIRMWARE_BLOB2: u8 description size, description, u64 base, u64 length. */
static void describe_blob2(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        size_t n;

        if (ev->data_len < 1) {
                sb_malformed(sb, ev, "UEFI_PLATFORM_FIRMWARE_BLOB2");
                return;
        }
        n = ev->data[0];
        if (ev->data_len != 1 + n + 16) {
                sb_malformed(sb, ev, "UEFI_PLATFORM_FIRMWARE_BLOB2");
                return;
        }
        sb_ascii(sb, ev->data + 1, n);
        sb_printf(sb, " (base 0x%" PRIx64 " length %" PRIu64 ")", le64(ev->data + 1 + n), le64(ev->data + 9 + n));
}

/* UEFI_VARIABLE_DATA: GUID, u64 UnicodeNameLength (characters), u64 VariableDataLength, name, data. */
static void describe_variable(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        uint64_t name_len, var_len;
        size_t rest;

        if (ev->data_len < UEFI_VARIABLE_HEADER_SIZE) {
                sb_malformed(sb, ev, "UEFI_VARIABLE_DATA");
                return;
        }
        name_len = le64(ev->data + 16);
        var_len = le64(ev->data + 24);
        rest = ev->data_len - UEFI_VARIABLE_HEADER_SIZE;
        if (name_len > rest / 2 || var_len > rest - 2 * name_len) {
                sb_malformed(sb, ev, "UEFI_VARIABLE_DATA");
                return;
        }
        sb_guid(sb, ev->data);
        sb_printf(sb, ":");
        sb_ucs2(sb, ev->data + UEFI_VARIABLE_HEADER_SIZE, (size_t)name_len);
        sb_printf(sb, " (%" PRIu64 " bytes)", var_len);
}

/* UEFI_IMAGE_LOAD_EVENT: u64 location, u64 length, u64 link time address, u64 device path length, device path. */
static void describe_image(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        uint64_t path_len;

        if (ev->data_len < UEFI_IMAGE_HEADER_SIZE) {
                sb_malformed(sb, ev, "UEFI_IMAGE_LOAD_EVENT");
                return;
        }
        path_len = le64(ev->data + 24);
        if (path_len > ev->data_len - UEFI_IMAGE_HEADER_SIZE) {
                sb_malformed(sb, ev, "UEFI_IMAGE_LOAD_EVENT");
                return;
        }
        sb_printf(sb, "image at 0x%" PRIx64 " length %" PRIu64 ", device path %" PRIu64 " bytes", le64(ev->data),
                  le64(ev->data + 8), path_len);
}

static void describe_separator(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        if (ev->data_len == 4 && le32(ev->data) == 1)
                sb_printf(sb, "error");
        else if (ev->data_len > 0)
                sb_hex(sb, ev->data, ev->data_len);
        else
                sb_size(sb, ev);
}

/* UEFI_GPT_DATA: UEFI_PARTITION_TABLE_HEADER (92 bytes), u64 NumberOfPartitions, partitions. */
static void describe_gpt(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        if (ev->data_len < GPT_HEADER_SIZE + 8) {
                sb_malformed(sb, ev, "UEFI_GPT_DATA");
                return;
        }
        sb_printf(sb, "GPT \"");
        sb_ascii(sb, ev->data, 8);
        sb_printf(sb, "\" disk ");
        sb_guid(sb, ev->data + 56);
        sb_printf(sb, ", %" PRIu64 " partitions", le64(ev->data + GPT_HEADER_SIZE));
}

/* UEFI_HANDOFF_TABLE_POINTERS: u64 NumberOfTables, then {GUID, pointer} each. */
static void describe_handoff_tables(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        uint64_t n;

        if (ev->data_len < 8) {
                sb_malformed(sb, ev, "UEFI_HANDOFF_TABLE_POINTERS");
                return;
        }
        n = le64(ev->data);
        sb_printf(sb, "%" PRIu64 " tables", n);
        if (n > 0 && ev->data_len >= 8 + EFI_GUID_SIZE) {
                sb_printf(sb, ", first ");
                sb_guid(sb, ev->data + 8);
        }
}

/* UEFI_HANDOFF_TABLE_POINTERS2: u8 description size, description, u64 NumberOfTables, tables. */
static void describe_handoff_tables2(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        size_t n;

        if (ev->data_len < 1) {
                sb_malformed(sb, ev, "UEFI_HANDOFF_TABLE_POINTERS2");
                return;
        }
        n = ev->data[0];
        if (ev->data_len < 1 + n + 8) {
                sb_malformed(sb, ev, "UEFI_HANDOFF_TABLE_POINTERS2");
                return;
        }
        sb_ascii(sb, ev->data + 1, n);
        sb_printf(sb, " (%" PRIu64 " tables)", le64(ev->data + 1 + n));
}

/* TCG_PCClientTaggedEvent: u32 taggedEventID, u32 taggedEventDataSize, data. */
static void describe_tag(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        if (ev->data_len < 8 || le32(ev->data + 4) != ev->data_len - 8) {
                sb_malformed(sb, ev, "TCG_PCClientTaggedEvent");
                return;
        }
        sb_printf(sb, "tag 0x%" PRIx32 ", %" PRIu32 " bytes", le32(ev->data), le32(ev->data + 4));
}

static void describe_spec_id(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        uint32_t n;

        sb_printf(sb, "Spec ID Event03");
        if (ev->data_len < SPEC_ID_FIXED_SIZE) {
                sb_printf(sb, " (truncated)");
                return;
        }
        n = le32(ev->data + 24);
        sb_printf(sb, ", %" PRIu32 " algorithms", n);
        for (uint32_t i = 0; i < n && i < DW_TCG_MAX_ALGS; i++) {
                enum dw_hash_alg alg;
                uint16_t id;

                if (ev->data_len - SPEC_ID_FIXED_SIZE < 4 * (i + 1)) {
                        sb_printf(sb, " (truncated)");
                        return;
                }
                id = le16(ev->data + SPEC_ID_FIXED_SIZE + 4 * i);
                sb_printf(sb, "%s", i == 0 ? ": " : ", ");
                if (dw_hash_alg_from_tpm_id(id, &alg) >= 0)
                        sb_printf(sb, "%s", dw_hash_alg_name(alg));
                else
                        sb_printf(sb, "0x%04x", id);
        }
}

static void describe_no_action(struct sbuf *sb, const struct dw_tcg_event *ev)
{
        size_t n = 0;

        if (has_signature(ev, SPEC_ID_EVENT03)) {
                describe_spec_id(sb, ev);
                return;
        }
        if (has_signature(ev, STARTUP_LOCALITY)) {
                if (ev->data_len < TCG_SIGNATURE_SIZE + 1) {
                        sb_malformed(sb, ev, "StartupLocality");
                        return;
                }
                sb_printf(sb, "StartupLocality %u", ev->data[TCG_SIGNATURE_SIZE]);
                return;
        }
        /* Other signatures ("SP800-155 Event", "NvIndexInstance", "Spec ID Event00", ...): printable up to a NUL. */
        while (n < MIN((size_t)ev->data_len, (size_t)TCG_SIGNATURE_SIZE) && ev->data[n] >= 0x20 && ev->data[n] < 0x7f)
                n++;
        if (n >= 4 && (n == TCG_SIGNATURE_SIZE || (n < ev->data_len && ev->data[n] == 0))) {
                sb_ascii(sb, ev->data, n);
                sb_printf(sb, " (%" PRIu32 " bytes)", ev->data_len);
                return;
        }
        sb_size(sb, ev);
}

void dw_tcg_event_describe(const struct dw_tcg_event *ev, char *buf, size_t size)
{
        struct sbuf sb = {.buf = buf, .size = size};

        if (!buf || size == 0)
                return;
        buf[0] = '\0';
        if (!ev->data && ev->data_len > 0)
                return;

        switch (ev->type) {
        case EV_S_CRTM_VERSION:
                describe_crtm_version(&sb, ev);
                break;
        case EV_POST_CODE:
                describe_post_code(&sb, ev);
                break;
        case EV_ACTION:
        case EV_EFI_ACTION:
        case EV_IPL:
        case EV_OMIT_BOOT_DEVICE_EVENTS:
        case EV_EFI_HCRTM_EVENT:
                describe_string(&sb, ev);
                break;
        case EV_EFI_VARIABLE_DRIVER_CONFIG:
        case EV_EFI_VARIABLE_BOOT:
        case EV_EFI_VARIABLE_BOOT2:
        case EV_EFI_VARIABLE_AUTHORITY:
                describe_variable(&sb, ev);
                break;
        case EV_EFI_BOOT_SERVICES_APPLICATION:
        case EV_EFI_BOOT_SERVICES_DRIVER:
        case EV_EFI_RUNTIME_SERVICES_DRIVER:
                describe_image(&sb, ev);
                break;
        case EV_SEPARATOR:
                describe_separator(&sb, ev);
                break;
        case EV_EFI_GPT_EVENT:
        case EV_EFI_GPT_EVENT2:
                describe_gpt(&sb, ev);
                break;
        case EV_NO_ACTION:
                describe_no_action(&sb, ev);
                break;
        case EV_EFI_HANDOFF_TABLES:
                describe_handoff_tables(&sb, ev);
                break;
        case EV_EFI_HANDOFF_TABLES2:
                describe_handoff_tables2(&sb, ev);
                break;
        case EV_EFI_PLATFORM_FIRMWARE_BLOB:
                describe_blob(&sb, ev);
                break;
        case EV_EFI_PLATFORM_FIRMWARE_BLOB2:
                describe_blob2(&sb, ev);
                break;
        case EV_EVENT_TAG:
                describe_tag(&sb, ev);
                break;
        default:
                sb_size(&sb, ev);
                break;
        }
}
