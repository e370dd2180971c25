/* SPDX-License-Identifier: MIT */
/* Tests of the TCG PC Client event log parser and replay (lib/tcg-eventlog.c): the real SeaBIOS log against the
 * TPM's PCRs, hand-built logs whose expected PCRs are computed here with OpenSSL directly, malformed input, and a
 * deterministic mutation fuzz loop (also run under ASan+UBSan). */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fileio.h"
#include "hex.h"
#include "macro.h"
#include "tcg-eventlog.h"

#define REAL_DIR     "/../shared/testdata/realkernel-ima-ng-seabios/"
#define REAL_LOG     REAL_DIR "binary_bios_measurements"
#define REAL_EVENTS  16
#define TPM_ALG_SHA3 0x0027

/* ---- Helpers ---------------------------------------------------------------------------------------------- */

static char *srcpath(const char *rel)
{
        const char *root = getenv("DW_SRCDIR");
        char *p;

        ck_assert_msg(root, "DW_SRCDIR is not set");
        ck_assert_int_ge(asprintf(&p, "%s%s", root, rel), 0);
        return p;
}

/* The file in a buffer of exactly its size, so that ASan sees any read past the end. */
static uint8_t *load_file(const char *rel, size_t *ret_len)
{
        _cleanup_free_ char *path = srcpath(rel);
        _cleanup_free_ uint8_t *data = NULL;
        uint8_t *copy;
        size_t len;

        ck_assert_int_eq(dw_read_full_file(path, 1 << 20, &data, &len), 0);
        copy = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, data, len);
        *ret_len = len;
        return copy;
}

/* "PCR-NN: HEX" lines as the TPM reported them. */
static void load_pcrs(const char *bank, uint8_t out[DW_TCG_NR_PCRS][DW_HASH_MAX_SIZE], size_t size)
{
        _cleanup_free_ char *rel = NULL, *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char line[256];
        unsigned seen = 0;

        ck_assert_int_ge(asprintf(&rel, REAL_DIR "pcrs-%s", bank), 0);
        path = srcpath(rel);
        f = fopen(path, "re");
        ck_assert_msg(f, "cannot open %s", path);
        while (fgets(line, sizeof(line), f)) {
                unsigned nr;
                char hex[160];

                if (sscanf(line, "PCR-%u: %159s", &nr, hex) != 2)
                        continue;
                ck_assert_uint_lt(nr, DW_TCG_NR_PCRS);
                ck_assert_int_eq(dw_hex_decode(hex, strlen(hex), out[nr], DW_HASH_MAX_SIZE), (int)size);
                seen++;
        }
        ck_assert_uint_eq(seen, DW_TCG_NR_PCRS);
}

static struct dw_hasher *hasher(void)
{
        struct dw_hasher *h = NULL;

        ck_assert_int_eq(dw_hasher_new(&h), 0);
        return h;
}

static const EVP_MD *md_of(enum dw_hash_alg alg)
{
        switch (alg) {
        case DW_HASH_SHA1:
                return EVP_sha1();
        case DW_HASH_SHA256:
                return EVP_sha256();
        case DW_HASH_SHA384:
                return EVP_sha384();
        case DW_HASH_SHA512:
                return EVP_sha512();
        default:
                ck_abort_msg("no OpenSSL digest for %d", alg);
                return NULL;
        }
}

static void ossl_hash(enum dw_hash_alg alg, const void *data, size_t len, uint8_t *out)
{
        unsigned n = 0;

        ck_assert_int_eq(EVP_Digest(data, len, out, &n, md_of(alg), NULL), 1);
        ck_assert_uint_eq(n, dw_hash_alg_size(alg));
}

/* pcr = H(pcr || digest), with OpenSSL directly rather than dw_pcr_extend(). */
static void ossl_extend(enum dw_hash_alg alg, uint8_t *pcr, const uint8_t *digest)
{
        size_t n = dw_hash_alg_size(alg);
        uint8_t buf[2 * DW_HASH_MAX_SIZE];

        memcpy(buf, pcr, n);
        memcpy(buf + n, digest, n);
        ossl_hash(alg, buf, 2 * n, pcr);
}

/* A growable byte buffer for building logs. */
struct bytes {
        uint8_t *data;
        size_t len, cap;
};

static void bytes_done(struct bytes *b)
{
        free(b->data);
        *b = (struct bytes){};
}

static void put(struct bytes *b, const void *p, size_t n)
{
        if (b->len + n > b->cap) {
                size_t cap = MAX(b->cap * 2, b->len + n + 64);

                b->data = realloc(b->data, cap);
                ck_assert_ptr_nonnull(b->data);
                b->cap = cap;
        }
        if (n > 0)
                memcpy(b->data + b->len, p, n);
        b->len += n;
}

static void put_u8(struct bytes *b, uint8_t v)
{
        put(b, &v, 1);
}

static void put_u16(struct bytes *b, uint16_t v)
{
        uint8_t le[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

        put(b, le, sizeof(le));
}

static void put_u32(struct bytes *b, uint32_t v)
{
        put_u16(b, (uint16_t)v);
        put_u16(b, (uint16_t)(v >> 16));
}

static void put_u64(struct bytes *b, uint64_t v)
{
        put_u32(b, (uint32_t)v);
        put_u32(b, (uint32_t)(v >> 32));
}

static void put_fill(struct bytes *b, uint8_t v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                put_u8(b, v);
}

/* A UCS-2 string of ASCII characters, with or without its NUL. */
static void put_ucs2(struct bytes *b, const char *s, bool nul)
{
        for (; *s; s++)
                put_u16(b, (uint8_t)*s);
        if (nul)
                put_u16(b, 0);
}

/* An exact-size heap copy, for ASan. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
        uint8_t *c = malloc(n ? n : 1);

        ck_assert_ptr_nonnull(c);
        if (n > 0)
                memcpy(c, p, n);
        return c;
}

struct alg_decl {
        uint16_t id;
        uint16_t size;
};

static const struct alg_decl SHA1_SHA256[] = {{DW_TPM_ALG_SHA1, 20}, {DW_TPM_ALG_SHA256, 32}};

/* The expected state of a hand-built log, kept with OpenSSL as the events are written. */
struct model {
        uint8_t pcr[_DW_HASH_ALG_MAX][DW_TCG_NR_PCRS][DW_HASH_MAX_SIZE];
        uint32_t touched[_DW_HASH_ALG_MAX];
        uint64_t events;
        size_t offsets[64];
};

static void model_begin(struct model *m, const struct bytes *b)
{
        ck_assert_uint_lt(m->events, ELEMENTSOF(m->offsets));
        m->offsets[m->events++] = b->len;
}

static void model_extend(struct model *m, enum dw_hash_alg alg, uint32_t pcr, const uint8_t *digest)
{
        if (!m)
                return;
        ossl_extend(alg, m->pcr[alg][pcr], digest);
        m->touched[alg] |= 1u << pcr;
}

static void model_locality(struct model *m, uint8_t locality)
{
        FOREACH_HASH_ALG (a) {
                if (dw_hash_alg_size(a) > 0)
                        m->pcr[a][0][dw_hash_alg_size(a) - 1] = locality;
        }
}

/* TCG_PCClientPCREvent with the digest computed (SHA-1 of the data, zeros for EV_NO_ACTION). */
static void put_sha1_event(struct bytes *b, struct model *m, uint32_t pcr, uint32_t type, const void *data,
                           uint32_t len)
{
        uint8_t digest[20] = {};

        if (m)
                model_begin(m, b);
        if (type != EV_NO_ACTION) {
                ossl_hash(DW_HASH_SHA1, data, len, digest);
                model_extend(m, DW_HASH_SHA1, pcr, digest);
        }
        put_u32(b, pcr);
        put_u32(b, type);
        put(b, digest, sizeof(digest));
        put_u32(b, len);
        put(b, data, len);
}

static void spec_id_data(struct bytes *d, uint32_t n_field, const struct alg_decl *algs, size_t n)
{
        put(d, "Spec ID Event03", 16);
        put_u32(d, 0); /* platformClass */
        put_u8(d, 0);  /* specVersionMinor */
        put_u8(d, 2);  /* specVersionMajor */
        put_u8(d, 2);  /* specErrata */
        put_u8(d, 2);  /* uintnSize */
        put_u32(d, n_field);
        for (size_t i = 0; i < n; i++) {
                put_u16(d, algs[i].id);
                put_u16(d, algs[i].size);
        }
}

/* The first event of a crypto-agile log declaring algs, with a 3-byte vendorInfo. */
static void put_spec_id(struct bytes *b, struct model *m, const struct alg_decl *algs, size_t n)
{
        _cleanup_(bytes_done) struct bytes d = {};

        spec_id_data(&d, (uint32_t)n, algs, n);
        put_u8(&d, 3);
        put(&d, "abc", 3);
        put_sha1_event(b, m, 0, EV_NO_ACTION, d.data, (uint32_t)d.len);
}

/* TCG_PCR_EVENT2 with one digest per alg: H(data) for algorithms OpenSSL knows, a pattern for the others, zeros
 * for EV_NO_ACTION. */
static void put_event2(struct bytes *b, struct model *m, uint32_t pcr, uint32_t type, const struct alg_decl *algs,
                       size_t n, const void *data, uint32_t len)
{
        if (m)
                model_begin(m, b);
        put_u32(b, pcr);
        put_u32(b, type);
        put_u32(b, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
                uint8_t digest[DW_HASH_MAX_SIZE];
                enum dw_hash_alg alg;

                memset(digest, 0xa5, sizeof(digest));
                put_u16(b, algs[i].id);
                if (type == EV_NO_ACTION)
                        memset(digest, 0, sizeof(digest));
                else if (dw_hash_alg_from_tpm_id(algs[i].id, &alg) >= 0 && alg != DW_HASH_SM3_256) {
                        ossl_hash(alg, data, len, digest);
                        model_extend(m, alg, pcr, digest);
                }
                put(b, digest, algs[i].size);
        }
        put_u32(b, len);
        put(b, data, len);
}

static int replay(const struct bytes *b, struct dw_tcg_replay *r, struct dw_error *err)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = hasher();
        _cleanup_free_ uint8_t *copy = dup_exact(b->data, b->len);

        return dw_tcg_replay_log(r, h, copy, b->len, err);
}

static void assert_replay_matches(const struct dw_tcg_replay *r, const struct model *m, enum dw_hash_alg alg)
{
        ck_assert(r->has_bank[alg]);
        ck_assert_uint_eq(r->touched[alg], m->touched[alg]);
        for (unsigned i = 0; i < DW_TCG_NR_PCRS; i++)
                ck_assert_msg(memcmp(r->pcr[alg][i], m->pcr[alg][i], dw_hash_alg_size(alg)) == 0, "%s PCR %u differs",
                              dw_hash_alg_name(alg), i);
}

static void describe_nth(const uint8_t *buf, size_t len, uint64_t nth, char *out, size_t size)
{
        struct dw_tcg_parser p;
        struct dw_tcg_event ev;
        struct dw_error err = {};

        ck_assert_int_eq(dw_tcg_parser_init(&p, buf, len, &err), 0);
        for (uint64_t i = 0; i <= nth; i++)
                ck_assert_int_eq(dw_tcg_parser_next(&p, &ev, &err), 1);
        dw_tcg_event_describe(&ev, out, size);
}

/* Describes one event of the given type and data (no log needed). */
static const char *describe(uint32_t type, const void *data, size_t len)
{
        static char out[512];
        _cleanup_free_ uint8_t *copy = dup_exact(data, len);
        struct dw_tcg_event ev = {.type = type, .data = copy, .data_len = (uint32_t)len};

        memset(out, 'X', sizeof(out));
        dw_tcg_event_describe(&ev, out, sizeof(out));
        ck_assert_uint_lt(strlen(out), sizeof(out));
        return out;
}

/* ---- The real SeaBIOS log --------------------------------------------------------------------------------- */

static const char *const REAL_BANKS[] = {"sha1", "sha256", "sha384", "sha512"};

START_TEST(test_real_replay)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = hasher();
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_error err = {};
        size_t len;

        log = load_file(REAL_LOG, &len);
        ck_assert_int_eq(dw_tcg_replay_log(r, h, log, len, &err), 0);
        ck_assert_uint_eq(r->events, REAL_EVENTS);
        ck_assert_uint_eq(r->startup_locality, 0);
        ck_assert(!r->has_bank[DW_HASH_SM3_256]);
        for (size_t i = 0; i < ELEMENTSOF(REAL_BANKS); i++) {
                uint8_t tpm[DW_TCG_NR_PCRS][DW_HASH_MAX_SIZE] = {};
                enum dw_hash_alg alg;
                size_t n;

                ck_assert_int_eq(dw_hash_alg_from_name(REAL_BANKS[i], strlen(REAL_BANKS[i]), &alg), 0);
                n = dw_hash_alg_size(alg);
                load_pcrs(REAL_BANKS[i], tpm, n);
                ck_assert(r->has_bank[alg]);
                ck_assert_uint_eq(r->touched[alg], 0xff);
                for (unsigned pcr = 0; pcr < 8; pcr++)
                        ck_assert_msg(memcmp(r->pcr[alg][pcr], tpm[pcr], n) == 0, "%s PCR %u differs from the TPM",
                                      REAL_BANKS[i], pcr);
                for (unsigned pcr = 8; pcr < DW_TCG_NR_PCRS; pcr++)
                        for (size_t k = 0; k < n; k++)
                                ck_assert_uint_eq(r->pcr[alg][pcr][k], 0);
        }
}
END_TEST

START_TEST(test_real_parse)
{
        static const struct alg_decl want[] = {
                {DW_TPM_ALG_SHA1, 20}, {DW_TPM_ALG_SHA256, 32}, {DW_TPM_ALG_SHA384, 48}, {DW_TPM_ALG_SHA512, 64}};
        _cleanup_free_ uint8_t *log = NULL;
        struct dw_tcg_parser p;
        struct dw_tcg_event ev;
        struct dw_error err = {};
        uint8_t sha1[20];
        size_t len, next = 0;
        uint64_t n = 0;
        int r;

        log = load_file(REAL_LOG, &len);
        ck_assert_uint_eq(len, 3121);
        ck_assert_int_eq(dw_tcg_parser_init(&p, log, len, &err), 0);
        ck_assert(p.crypto_agile);
        ck_assert_uint_eq(p.spec_id.platform_class, 0);
        ck_assert_uint_eq(p.spec_id.version_major, 2);
        ck_assert_uint_eq(p.spec_id.version_minor, 0);
        ck_assert_uint_eq(p.spec_id.errata, 2);
        ck_assert_uint_eq(p.spec_id.uintn_size, 2);
        ck_assert_uint_eq(p.spec_id.vendor_info_size, 0);
        ck_assert_uint_eq(p.spec_id.n_algs, 4);
        for (unsigned i = 0; i < 4; i++) {
                ck_assert_uint_eq(p.spec_id.algs[i].tpm_alg, want[i].id);
                ck_assert_uint_eq(p.spec_id.algs[i].size, want[i].size);
        }

        while ((r = dw_tcg_parser_next(&p, &ev, &err)) > 0) {
                ck_assert_uint_eq(ev.index, n);
                ck_assert_uint_eq(ev.offset, next);
                ck_assert_uint_lt(ev.pcr, 8);
                if (n == 0) {
                        ck_assert_uint_eq(ev.type, EV_NO_ACTION);
                        ck_assert_uint_eq(ev.pcr, 0);
                        ck_assert_uint_eq(ev.data_len, 45);
                        ck_assert_uint_eq(ev.n_digests, 1);
                        ck_assert_uint_eq(ev.digests[0].size, 20);
                } else {
                        ck_assert_uint_eq(ev.n_digests, 4);
                        for (unsigned i = 0; i < 4; i++) {
                                ck_assert_uint_eq(ev.digests[i].tpm_alg, want[i].id);
                                ck_assert_int_eq(ev.digests[i].alg, (int)i); /* sha1, sha256, sha384, sha512 */
                                ck_assert_uint_eq(ev.digests[i].size, want[i].size);
                        }
                }
                if (n == 1) {
                        ck_assert_uint_eq(ev.offset, 77);
                        ck_assert_uint_eq(ev.pcr, 1);
                        ck_assert_uint_eq(ev.type, EV_EVENT_TAG);
                        ck_assert_int_eq(dw_hex_decode("2105c180c62bf7faf29945bb69d10d04117cae0b", 40, sha1, 20), 20);
                        ck_assert_mem_eq(ev.digests[0].digest, sha1, 20);
                }
                if (n >= 8) {
                        ck_assert_uint_eq(ev.type, EV_SEPARATOR);
                        ck_assert_uint_eq(ev.pcr, n - 8);
                        /* SeaBIOS measures the 4-byte separator itself: the digest is the hash of the data. */
                        uint8_t sha256[32];

                        ossl_hash(DW_HASH_SHA256, ev.data, ev.data_len, sha256);
                        ck_assert_mem_eq(ev.digests[1].digest, sha256, 32);
                }
                next = ev.offset + (size_t)(ev.data + ev.data_len - (log + ev.offset));
                n++;
        }
        ck_assert_int_eq(r, 0);
        ck_assert_uint_eq(n, REAL_EVENTS);
        ck_assert_uint_eq(next, len);
        ck_assert_int_eq(dw_tcg_parser_next(&p, &ev, &err), 0); /* stays at the end */
}
END_TEST

START_TEST(test_real_describe)
{
        static const char *const want[REAL_EVENTS] = {
                "Spec ID Event03, 4 algorithms: sha1, sha256, sha384, sha512",
                "tag 0x1, 20 bytes",
                "Start Option ROM Scan",
                "tag 0x7, 24 bytes",
                "tag 0x7, 24 bytes",
                "tag 0x7, 24 bytes",
                "tag 0x7, 24 bytes",
                "Calling INT 19h",
                "ffffffff",
                "ffffffff",
                "ffffffff",
                "ffffffff",
                "ffffffff",
                "ffffffff",
                "ffffffff",
                "ffffffff",
        };
        _cleanup_free_ uint8_t *log = NULL;
        size_t len;

        log = load_file(REAL_LOG, &len);
        for (unsigned i = 0; i < REAL_EVENTS; i++) {
                char out[256];

                describe_nth(log, len, i, out, sizeof(out));
                ck_assert_str_eq(out, want[i]);
                /* Short buffers truncate and stay NUL-terminated. */
                for (size_t size = 1; size < 12; size++) {
                        char small[12];

                        memset(small, 'X', sizeof(small));
                        describe_nth(log, len, i, small, size);
                        ck_assert_uint_eq(strlen(small), MIN(size - 1, strlen(want[i])));
                        ck_assert(strncmp(small, want[i], size - 1) == 0);
                }
        }
}
END_TEST

/* ---- Hand-built logs -------------------------------------------------------------------------------------- */

START_TEST(test_type_names)
{
        static const uint32_t known[] = {
                EV_PREBOOT_CERT,
                EV_POST_CODE,
                EV_UNUSED,
                EV_NO_ACTION,
                EV_SEPARATOR,
                EV_ACTION,
                EV_EVENT_TAG,
                EV_S_CRTM_CONTENTS,
                EV_S_CRTM_VERSION,
                EV_CPU_MICROCODE,
                EV_PLATFORM_CONFIG_FLAGS,
                EV_TABLE_OF_DEVICES,
                EV_COMPACT_HASH,
                EV_IPL,
                EV_IPL_PARTITION_DATA,
                EV_NONHOST_CODE,
                EV_NONHOST_CONFIG,
                EV_NONHOST_INFO,
                EV_OMIT_BOOT_DEVICE_EVENTS,
                EV_POST_CODE2,
                EV_EFI_EVENT_BASE,
                EV_EFI_VARIABLE_DRIVER_CONFIG,
                EV_EFI_VARIABLE_BOOT,
                EV_EFI_BOOT_SERVICES_APPLICATION,
                EV_EFI_BOOT_SERVICES_DRIVER,
                EV_EFI_RUNTIME_SERVICES_DRIVER,
                EV_EFI_GPT_EVENT,
                EV_EFI_ACTION,
                EV_EFI_PLATFORM_FIRMWARE_BLOB,
                EV_EFI_HANDOFF_TABLES,
                EV_EFI_PLATFORM_FIRMWARE_BLOB2,
                EV_EFI_HANDOFF_TABLES2,
                EV_EFI_VARIABLE_BOOT2,
                EV_EFI_GPT_EVENT2,
                EV_EFI_HCRTM_EVENT,
                EV_EFI_VARIABLE_AUTHORITY,
                EV_EFI_SPDM_FIRMWARE_BLOB,
                EV_EFI_SPDM_FIRMWARE_CONFIG,
        };

        for (size_t i = 0; i < ELEMENTSOF(known); i++) {
                const char *name = dw_tcg_event_type_name(known[i]);

                ck_assert_msg(name && strncmp(name, "EV_", 3) == 0, "type 0x%x has no name", known[i]);
                for (size_t j = 0; j < i; j++)
                        ck_assert_str_ne(name, dw_tcg_event_type_name(known[j]));
        }
        ck_assert_str_eq(dw_tcg_event_type_name(EV_NO_ACTION), "EV_NO_ACTION");
        ck_assert_str_eq(dw_tcg_event_type_name(EV_SEPARATOR), "EV_SEPARATOR");
        ck_assert_str_eq(dw_tcg_event_type_name(EV_EFI_VARIABLE_BOOT), "EV_EFI_VARIABLE_BOOT");
        ck_assert_str_eq(dw_tcg_event_type_name(EV_EFI_BOOT_SERVICES_APPLICATION), "EV_EFI_BOOT_SERVICES_APPLICATION");
        ck_assert_ptr_null(dw_tcg_event_type_name(0x14));
        ck_assert_ptr_null(dw_tcg_event_type_name(0x8000000E));
        ck_assert_ptr_null(dw_tcg_event_type_name(0xFFFFFFFF));
}
END_TEST

/* A TPM 1.2-era SHA-1-only log: every event, the first included, is measured. */
static void build_legacy(struct bytes *b, struct model *m, const char *first_signature)
{
        _cleanup_(bytes_done) struct bytes ver = {};
        static const uint8_t sep[4] = {};

        if (first_signature) {
                uint8_t sig[24] = {};

                memcpy(sig, first_signature, strlen(first_signature));
                put_sha1_event(b, m, 0, EV_NO_ACTION, sig, sizeof(sig));
        }
        put_ucs2(&ver, "1.02", true);
        put_sha1_event(b, m, 0, EV_S_CRTM_VERSION, ver.data, (uint32_t)ver.len);
        put_sha1_event(b, m, 0, EV_POST_CODE, "POST CODE", 9);
        put_sha1_event(b, m, 4, EV_IPL, "grub_cmd: linux /vmlinuz", 24);
        put_sha1_event(b, m, 5, EV_ACTION, "Returning from INT 19h", 22);
        for (uint32_t pcr = 0; pcr < 8; pcr++)
                put_sha1_event(b, m, pcr, EV_SEPARATOR, sep, sizeof(sep));
        put_sha1_event(b, m, 23, EV_ACTION, "debug", 5);
}

START_TEST(test_legacy_log)
{
        static const char *const signatures[] = {NULL, "Spec ID Event00", "Spec ID Event02"};
        const char *sig = signatures[_i];
        _cleanup_(bytes_done) struct bytes b = {};
        _cleanup_free_ struct model *m = calloc(1, sizeof(*m));
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_tcg_parser p;
        struct dw_error err = {};
        char out[128];

        build_legacy(&b, m, sig);
        ck_assert_int_eq(dw_tcg_parser_init(&p, b.data, b.len, &err), 0);
        ck_assert(!p.crypto_agile);
        ck_assert_uint_eq(p.spec_id.n_algs, 0);

        ck_assert_int_eq(replay(&b, r, &err), 0);
        ck_assert_uint_eq(r->events, m->events);
        FOREACH_HASH_ALG (a) {
                ck_assert(r->has_bank[a] == (a == DW_HASH_SHA1));
        }
        ck_assert_uint_eq(m->touched[DW_HASH_SHA1], 0xff | 1u << 23);
        assert_replay_matches(r, m, DW_HASH_SHA1);

        describe_nth(b.data, b.len, sig ? 1 : 0, out, sizeof(out));
        ck_assert_str_eq(out, "1.02");
        if (sig) {
                describe_nth(b.data, b.len, 0, out, sizeof(out));
                ck_assert_str_eq(out, sig[14] == '0' ? "Spec ID Event00 (24 bytes)" : "Spec ID Event02 (24 bytes)");
        }
}
END_TEST

static void put_variable(struct bytes *b, const uint8_t guid[16], const char *name, const void *data, size_t len)
{
        put(b, guid, 16);
        put_u64(b, strlen(name));
        put_u64(b, len);
        put_ucs2(b, name, false);
        put(b, data, len);
}

static const uint8_t EFI_GLOBAL_VARIABLE[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                                0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
static const uint8_t SMBIOS_TABLE_GUID[16] = {0x31, 0x2d, 0x9d, 0xeb, 0x88, 0x2d, 0xd3, 0x11,
                                              0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d};

static void put_image(struct bytes *b, uint64_t base, uint64_t len, uint32_t path_len)
{
        put_u64(b, base);
        put_u64(b, len);
        put_u64(b, 0);
        put_u64(b, path_len);
        put_fill(b, 0x7f, path_len);
}

static void put_gpt(struct bytes *b, uint64_t n_partitions)
{
        put(b, "EFI PART", 8);
        put_u32(b, 0x10000);             /* revision */
        put_u32(b, 92);                  /* header size */
        put_u32(b, 0x12345678);          /* CRC32 */
        put_u32(b, 0);                   /* reserved */
        put_fill(b, 0x01, 32);           /* LBAs */
        put(b, EFI_GLOBAL_VARIABLE, 16); /* disk GUID */
        put_fill(b, 0x02, 20);           /* entry LBA, count, size, CRC */
        put_u64(b, n_partitions);
        put_fill(b, 0x33, 128 * n_partitions);
}

/* A UEFI-style crypto-agile log over algs, optionally starting at a locality, with every kind of event the
 * describer decodes. */
static void build_agile(struct bytes *b, struct model *m, const struct alg_decl *algs, size_t n, int locality)
{
        _cleanup_(bytes_done) struct bytes d = {};
        static const uint8_t sep[4] = {};

        put_spec_id(b, m, algs, n);
        if (locality >= 0) {
                uint8_t sl[17] = "StartupLocality";

                sl[16] = (uint8_t)locality;
                put_event2(b, m, 0, EV_NO_ACTION, algs, n, sl, sizeof(sl));
                if (m)
                        model_locality(m, (uint8_t)locality);
        }
        put_ucs2(&d, "EDK II", true);
        put_event2(b, m, 0, EV_S_CRTM_VERSION, algs, n, d.data, (uint32_t)d.len);
        d.len = 0;
        put_u64(&d, 0x820000);
        put_u64(&d, 0xe0000);
        put_event2(b, m, 0, EV_EFI_PLATFORM_FIRMWARE_BLOB, algs, n, d.data, (uint32_t)d.len);
        d.len = 0;
        put_u8(&d, 8);
        put(&d, "fv_image", 8);
        put_u64(&d, 0xffc00000);
        put_u64(&d, 0x400000);
        put_event2(b, m, 0, EV_EFI_PLATFORM_FIRMWARE_BLOB2, algs, n, d.data, (uint32_t)d.len);
        d.len = 0;
        put_u64(&d, 1);
        put(&d, SMBIOS_TABLE_GUID, 16);
        put_u64(&d, 0x7fb7d000);
        put_event2(b, m, 1, EV_EFI_HANDOFF_TABLES, algs, n, d.data, (uint32_t)d.len);
        d.len = 0;
        put_variable(&d, EFI_GLOBAL_VARIABLE, "SecureBoot", "\x01", 1);
        put_event2(b, m, 7, EV_EFI_VARIABLE_DRIVER_CONFIG, algs, n, d.data, (uint32_t)d.len);
        d.len = 0;
        put_variable(&d, EFI_GLOBAL_VARIABLE, "BootOrder", "\x01\x00\x02\x00", 4);
        put_event2(b, m, 1, EV_EFI_VARIABLE_BOOT, algs, n, d.data, (uint32_t)d.len);
        put_event2(b, m, 4, EV_EFI_ACTION, algs, n, "Calling EFI Application from Boot Option", 40);
        for (uint32_t pcr = 0; pcr < 8; pcr++)
                put_event2(b, m, pcr, EV_SEPARATOR, algs, n, sep, sizeof(sep));
        d.len = 0;
        put_gpt(&d, 3);
        put_event2(b, m, 5, EV_EFI_GPT_EVENT, algs, n, d.data, (uint32_t)d.len);
        d.len = 0;
        put_image(&d, 0x7e000000, 0x1000, 36);
        put_event2(b, m, 4, EV_EFI_BOOT_SERVICES_APPLICATION, algs, n, d.data, (uint32_t)d.len);
        put_event2(b, m, 5, EV_EFI_ACTION, algs, n, "Exit Boot Services Invocation", 29);
        put_event2(b, m, 9, EV_IPL, algs, n, "/boot/vmlinuz\0", 14);
}

START_TEST(test_agile_locality_two_banks)
{
        _cleanup_(bytes_done) struct bytes b = {};
        _cleanup_free_ struct model *m = calloc(1, sizeof(*m));
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_tcg_parser p;
        struct dw_error err = {};
        char out[256];

        build_agile(&b, m, SHA1_SHA256, 2, 3);
        ck_assert_int_eq(dw_tcg_parser_init(&p, b.data, b.len, &err), 0);
        ck_assert(p.crypto_agile);
        ck_assert_uint_eq(p.spec_id.n_algs, 2);
        ck_assert_uint_eq(p.spec_id.vendor_info_size, 3);
        ck_assert_mem_eq(p.spec_id.vendor_info, "abc", 3);

        ck_assert_int_eq(replay(&b, r, &err), 0);
        ck_assert_uint_eq(r->events, m->events);
        ck_assert_uint_eq(r->startup_locality, 3);
        ck_assert(r->has_bank[DW_HASH_SHA1] && r->has_bank[DW_HASH_SHA256]);
        ck_assert(!r->has_bank[DW_HASH_SHA384] && !r->has_bank[DW_HASH_SHA512] && !r->has_bank[DW_HASH_SM3_256]);
        ck_assert_uint_eq(m->touched[DW_HASH_SHA256], 0x2ff);
        assert_replay_matches(r, m, DW_HASH_SHA1);
        assert_replay_matches(r, m, DW_HASH_SHA256);
        /* PCR 0 really started at 00..03: from zeros the same log gives another value. */
        {
                uint8_t zero[32] = {}, pcr0[32] = {}, digest[32];
                struct bytes ver = {};

                put_ucs2(&ver, "EDK II", true);
                ossl_hash(DW_HASH_SHA256, ver.data, ver.len, digest);
                ossl_extend(DW_HASH_SHA256, pcr0, digest);
                zero[31] = 3;
                ossl_extend(DW_HASH_SHA256, zero, digest);
                ck_assert(memcmp(pcr0, zero, 32) != 0);
                bytes_done(&ver);
        }

        static const char *const want[] = {
                "Spec ID Event03, 2 algorithms: sha1, sha256",
                "StartupLocality 3",
                "EDK II",
                "base 0x820000 length 917504",
                "fv_image (base 0xffc00000 length 4194304)",
                "1 tables, first eb9d2d31-2d88-11d3-9a16-0090273fc14d",
                "8be4df61-93ca-11d2-aa0d-00e098032b8c:SecureBoot (1 bytes)",
                "8be4df61-93ca-11d2-aa0d-00e098032b8c:BootOrder (4 bytes)",
                "Calling EFI Application from Boot Option",
                "00000000",
        };
        for (unsigned i = 0; i < ELEMENTSOF(want); i++) {
                describe_nth(b.data, b.len, i, out, sizeof(out));
                ck_assert_str_eq(out, want[i]);
        }
        describe_nth(b.data, b.len, 17, out, sizeof(out));
        ck_assert_str_eq(out, "GPT \"EFI PART\" disk 8be4df61-93ca-11d2-aa0d-00e098032b8c, 3 partitions");
        describe_nth(b.data, b.len, 18, out, sizeof(out));
        ck_assert_str_eq(out, "image at 0x7e000000 length 4096, device path 36 bytes");
        describe_nth(b.data, b.len, 20, out, sizeof(out));
        ck_assert_str_eq(out, "/boot/vmlinuz");
}
END_TEST

START_TEST(test_agile_four_banks_locality4)
{
        static const struct alg_decl algs[] = {
                {DW_TPM_ALG_SHA512, 64}, {DW_TPM_ALG_SHA384, 48}, {DW_TPM_ALG_SHA256, 32}, {DW_TPM_ALG_SHA1, 20}};
        _cleanup_(bytes_done) struct bytes b = {};
        _cleanup_free_ struct model *m = calloc(1, sizeof(*m));
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_error err = {};

        build_agile(&b, m, algs, ELEMENTSOF(algs), 4);
        ck_assert_int_eq(replay(&b, r, &err), 0);
        ck_assert_uint_eq(r->startup_locality, 4);
        assert_replay_matches(r, m, DW_HASH_SHA1);
        assert_replay_matches(r, m, DW_HASH_SHA256);
        assert_replay_matches(r, m, DW_HASH_SHA384);
        assert_replay_matches(r, m, DW_HASH_SHA512);
}
END_TEST

START_TEST(test_agile_no_locality)
{
        _cleanup_(bytes_done) struct bytes b = {};
        _cleanup_free_ struct model *m = calloc(1, sizeof(*m));
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_error err = {};

        build_agile(&b, m, SHA1_SHA256 + 1, 1, -1);
        ck_assert_int_eq(replay(&b, r, &err), 0);
        ck_assert_uint_eq(r->startup_locality, 0);
        ck_assert(!r->has_bank[DW_HASH_SHA1]);
        assert_replay_matches(r, m, DW_HASH_SHA256);
}
END_TEST

START_TEST(test_undeclared_alg)
{
        _cleanup_(bytes_done) struct bytes b = {};
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_tcg_parser p;
        struct dw_tcg_event ev;
        struct dw_error err = {};
        size_t offset;

        put_spec_id(&b, NULL, SHA1_SHA256 + 1, 1); /* sha256 only */
        put_event2(&b, NULL, 0, EV_POST_CODE, SHA1_SHA256 + 1, 1, "ok", 2);
        offset = b.len;
        put_event2(&b, NULL, 0, EV_POST_CODE, SHA1_SHA256, 2, "sha1 too", 8); /* sha1 digest first */

        ck_assert_int_eq(dw_tcg_parser_init(&p, b.data, b.len, &err), 0);
        ck_assert_int_eq(dw_tcg_parser_next(&p, &ev, &err), 1);
        ck_assert_int_eq(dw_tcg_parser_next(&p, &ev, &err), 1);
        ck_assert_int_eq(dw_tcg_parser_next(&p, &ev, &err), -EBADMSG);
        ck_assert_uint_eq(err.index, 2);
        ck_assert_uint_eq(err.offset, offset);
        ck_assert_ptr_nonnull(strstr(err.msg, "0x0004"));
        ck_assert_ptr_nonnull(strstr(err.msg, "event 2 at offset"));

        memset(&err, 0, sizeof(err));
        r->events = 42;
        ck_assert_int_eq(replay(&b, r, &err), -EBADMSG);
        ck_assert_uint_eq(r->events, 42); /* untouched on failure */
        ck_assert_uint_eq(err.index, 2);
        ck_assert_uint_eq(err.offset, offset);
}
END_TEST

START_TEST(test_declared_unknown_alg)
{
        static const struct alg_decl algs[] = {{DW_TPM_ALG_SHA256, 32}, {TPM_ALG_SHA3, 32}, {0x7777, 7}};
        _cleanup_(bytes_done) struct bytes b = {};
        _cleanup_free_ struct model *m = calloc(1, sizeof(*m));
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_tcg_parser p;
        struct dw_tcg_event ev;
        struct dw_error err = {};
        char out[128];

        build_agile(&b, m, algs, ELEMENTSOF(algs), 0);
        ck_assert_int_eq(dw_tcg_parser_init(&p, b.data, b.len, &err), 0);
        ck_assert_uint_eq(p.spec_id.n_algs, 3);
        ck_assert_int_eq(dw_tcg_parser_next(&p, &ev, &err), 1);
        dw_tcg_event_describe(&ev, out, sizeof(out));
        ck_assert_str_eq(out, "Spec ID Event03, 3 algorithms: sha256, 0x0027, 0x7777");
        ck_assert_int_eq(dw_tcg_parser_next(&p, &ev, &err), 1);
        ck_assert_int_eq(dw_tcg_parser_next(&p, &ev, &err), 1);
        ck_assert_uint_eq(ev.type, EV_S_CRTM_VERSION);
        ck_assert_uint_eq(ev.n_digests, 3);
        ck_assert_int_eq(ev.digests[0].alg, DW_HASH_SHA256);
        ck_assert_uint_eq(ev.digests[1].tpm_alg, TPM_ALG_SHA3);
        ck_assert_int_eq(ev.digests[1].alg, _DW_HASH_ALG_INVALID);
        ck_assert_uint_eq(ev.digests[1].size, 32);
        ck_assert_uint_eq(ev.digests[2].tpm_alg, 0x7777);
        ck_assert_int_eq(ev.digests[2].alg, _DW_HASH_ALG_INVALID);
        ck_assert_uint_eq(ev.digests[2].size, 7);
        ck_assert_ptr_eq(ev.digests[2].digest + 7 + 4, ev.data); /* then eventSize, then the data */

        ck_assert_int_eq(replay(&b, r, &err), 0);
        FOREACH_HASH_ALG (a) {
                ck_assert(r->has_bank[a] == (a == DW_HASH_SHA256));
                if (a != DW_HASH_SHA256)
                        ck_assert_uint_eq(r->touched[a], 0);
        }
        assert_replay_matches(r, m, DW_HASH_SHA256);
}
END_TEST

/* An event may carry fewer digests than banks (the comparison with the TPM catches the missing extends). */
START_TEST(test_zero_digests)
{
        _cleanup_(bytes_done) struct bytes b = {};
        _cleanup_free_ struct model *m = calloc(1, sizeof(*m));
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_error err = {};

        put_spec_id(&b, m, SHA1_SHA256, 2);
        put_event2(&b, m, 3, EV_ACTION, SHA1_SHA256, 0, "no digest", 9);
        put_event2(&b, m, 3, EV_ACTION, SHA1_SHA256 + 1, 1, "sha256 only", 11);
        ck_assert_int_eq(replay(&b, r, &err), 0);
        ck_assert_uint_eq(r->events, 3);
        ck_assert_uint_eq(r->touched[DW_HASH_SHA1], 0);
        assert_replay_matches(r, m, DW_HASH_SHA1);
        assert_replay_matches(r, m, DW_HASH_SHA256);
}
END_TEST

/* ---- Bad input -------------------------------------------------------------------------------------------- */

static void assert_bad(const struct bytes *b, int want, uint64_t index, size_t offset, const char *needle)
{
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_error err = {};
        int k;

        k = replay(b, r, &err);
        ck_assert_msg(k == want, "got %d (%s), want %d", k, err.msg, want);
        ck_assert_uint_eq(err.index, index);
        ck_assert_uint_eq(err.offset, offset);
        ck_assert_msg(strlen(err.msg) > 0 && !strchr(err.msg, '\n'), "bad message '%s'", err.msg);
        if (needle)
                ck_assert_msg(strstr(err.msg, needle), "'%s' lacks '%s'", err.msg, needle);
}

START_TEST(test_empty)
{
        struct dw_tcg_parser p;
        struct dw_error err = {};
        uint8_t byte = 0;
        struct bytes b = {.data = &byte, .len = 0};

        ck_assert_int_lt(dw_tcg_parser_init(&p, &byte, 0, &err), 0);
        ck_assert_int_lt(dw_tcg_parser_init(&p, NULL, 0, &err), 0);
        assert_bad(&b, -ENODATA, 0, 0, "empty");
}
END_TEST

/* The first event with a Spec ID data of our making. */
static void spec_id_log(struct bytes *b, const struct bytes *data, uint32_t pcr, uint32_t type)
{
        put_sha1_event(b, NULL, pcr, type, data->data, (uint32_t)data->len);
        put_event2(b, NULL, 0, EV_POST_CODE, SHA1_SHA256 + 1, 1, "x", 1);
}

START_TEST(test_bad_spec_id)
{
        static const struct alg_decl many[DW_TCG_MAX_ALGS + 1] = {};
        static const struct {
                uint32_t n_field;
                struct alg_decl algs[3];
                size_t n;
                int vendor; /* vendorInfoSize, or -1 for none at all */
                size_t vendor_actual;
                const char *needle;
        } cases[] = {
                {0, {}, 0, 0, 0, "0 algorithms"},
                {0xFFFFFFFF, {}, 0, 0, 0, "4294967295 algorithms"},
                {2, {{DW_TPM_ALG_SHA256, 32}}, 1, 0, 0, "truncated"},
                {1, {{DW_TPM_ALG_SHA256, 20}}, 1, 0, 0, "sha256 with digest size 20"},
                {1, {{TPM_ALG_SHA3, 0}}, 1, 0, 0, "digest size 0"},
                {1, {{TPM_ALG_SHA3, 65}}, 1, 0, 0, "digest size 65"},
                {2, {{DW_TPM_ALG_SHA256, 32}, {DW_TPM_ALG_SHA256, 32}}, 2, 0, 0, "twice"},
                {1, {{DW_TPM_ALG_SHA256, 32}}, 1, -1, 0, "truncated"},
                {1, {{DW_TPM_ALG_SHA256, 32}}, 1, 10, 9, "truncated"},
                {1, {{DW_TPM_ALG_SHA256, 32}}, 1, 2, 5, "3 trailing bytes"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(bytes_done) struct bytes d = {}, b = {};

                spec_id_data(&d, cases[i].n_field, cases[i].algs, cases[i].n);
                if (cases[i].vendor >= 0) {
                        put_u8(&d, (uint8_t)cases[i].vendor);
                        put_fill(&d, 0, cases[i].vendor_actual);
                }
                spec_id_log(&b, &d, 0, EV_NO_ACTION);
                assert_bad(&b, -EBADMSG, 0, 0, cases[i].needle);
        }

        /* 17 algorithms, all written out. */
        {
                _cleanup_(bytes_done) struct bytes d = {}, b = {};

                spec_id_data(&d, DW_TCG_MAX_ALGS + 1, many, ELEMENTSOF(many));
                put_u8(&d, 0);
                spec_id_log(&b, &d, 0, EV_NO_ACTION);
                assert_bad(&b, -EBADMSG, 0, 0, "17 algorithms");
        }
        /* The signature in the wrong place. */
        {
                _cleanup_(bytes_done) struct bytes d = {}, b = {};

                spec_id_data(&d, 1, SHA1_SHA256 + 1, 1);
                put_u8(&d, 0);
                spec_id_log(&b, &d, 1, EV_NO_ACTION);
                assert_bad(&b, -EBADMSG, 0, 0, "PCR 1");
                b.len = 0;
                spec_id_log(&b, &d, 0, EV_POST_CODE);
                assert_bad(&b, -EBADMSG, 0, 0, "EV_POST_CODE");
        }
}
END_TEST

START_TEST(test_absurd_sizes)
{
        _cleanup_(bytes_done) struct bytes b = {};
        size_t start;

        /* The first event's eventDataSize. */
        put_u32(&b, 0);
        put_u32(&b, EV_NO_ACTION);
        put_fill(&b, 0, 20);
        put_u32(&b, 0xFFFFFFFF);
        put_fill(&b, 0, 64);
        assert_bad(&b, -EBADMSG, 0, 0, "exceeds");

        /* eventSize of a later event: absurd is malformed, merely large is a cut log. */
        b.len = 0;
        put_spec_id(&b, NULL, SHA1_SHA256 + 1, 1);
        start = b.len;
        put_event2(&b, NULL, 2, EV_ACTION, SHA1_SHA256 + 1, 1, "", 0);
        b.len -= 4;
        put_u32(&b, DW_TCG_EVENT_DATA_MAX + 1);
        put_fill(&b, 'a', 100);
        assert_bad(&b, -EBADMSG, 1, start, "exceeds");
        b.len = start;
        put_event2(&b, NULL, 2, EV_ACTION, SHA1_SHA256 + 1, 1, "", 0);
        b.len -= 4;
        put_u32(&b, DW_TCG_EVENT_DATA_MAX);
        put_fill(&b, 'a', 100);
        assert_bad(&b, -ENODATA, 1, start, "needs 16777116 more bytes");

        /* Digest counts. */
        static const uint32_t counts[] = {DW_TCG_MAX_ALGS + 1, 1000, 0xFFFFFFFF};
        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                b.len = start;
                put_u32(&b, 0);
                put_u32(&b, EV_ACTION);
                put_u32(&b, counts[i]);
                put_fill(&b, 0, 200);
                assert_bad(&b, -EBADMSG, 1, start, "digests");
        }

        /* Two digests of one algorithm. */
        b.len = start;
        put_u32(&b, 0);
        put_u32(&b, EV_ACTION);
        put_u32(&b, 2);
        put_u16(&b, DW_TPM_ALG_SHA256);
        put_fill(&b, 1, 32);
        put_u16(&b, DW_TPM_ALG_SHA256);
        put_fill(&b, 1, 32);
        put_u32(&b, 0);
        assert_bad(&b, -EBADMSG, 1, start, "two digests");
}
END_TEST

START_TEST(test_pcr_range)
{
        _cleanup_(bytes_done) struct bytes b = {};
        _cleanup_free_ struct model *m = calloc(1, sizeof(*m));
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_error err = {};
        size_t start;

        put_spec_id(&b, m, SHA1_SHA256, 2);
        put_event2(&b, m, 23, EV_ACTION, SHA1_SHA256, 2, "last", 4);
        ck_assert_int_eq(replay(&b, r, &err), 0);
        ck_assert_uint_eq(r->touched[DW_HASH_SHA256], 1u << 23);
        assert_replay_matches(r, m, DW_HASH_SHA256);

        start = b.len;
        put_event2(&b, NULL, 24, EV_ACTION, SHA1_SHA256, 2, "one too far", 11);
        assert_bad(&b, -EBADMSG, 2, start, "PCR index 24");
        b.len = start;
        put_event2(&b, NULL, 0xFFFFFFFF, EV_NO_ACTION, SHA1_SHA256, 2, "", 0);
        assert_bad(&b, -EBADMSG, 2, start, "PCR index 4294967295");

        /* Legacy format too, the first event included. */
        b.len = 0;
        put_sha1_event(&b, NULL, 0, EV_POST_CODE, "a", 1);
        start = b.len;
        put_sha1_event(&b, NULL, 30, EV_POST_CODE, "b", 1);
        assert_bad(&b, -EBADMSG, 1, start, "PCR index 30");
        b.len = 0;
        put_sha1_event(&b, NULL, 24, EV_POST_CODE, "a", 1);
        assert_bad(&b, -EBADMSG, 0, 0, "PCR index 24");
}
END_TEST

static void put_locality(struct bytes *b, uint32_t pcr, const uint8_t *data, uint32_t len)
{
        put_event2(b, NULL, pcr, EV_NO_ACTION, SHA1_SHA256, 2, data, len);
}

START_TEST(test_bad_startup_locality)
{
        _cleanup_(bytes_done) struct bytes b = {};
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        struct dw_error err = {};
        uint8_t sl[17] = "StartupLocality";
        size_t start, second;

        put_spec_id(&b, NULL, SHA1_SHA256, 2);
        start = b.len;

        sl[16] = 2;
        put_locality(&b, 0, sl, sizeof(sl));
        assert_bad(&b, -EBADMSG, 1, start, "StartupLocality 2");

        b.len = start;
        put_locality(&b, 0, sl, 16);
        assert_bad(&b, -EBADMSG, 1, start, "without a locality");

        b.len = start;
        sl[16] = 3;
        put_locality(&b, 0, sl, sizeof(sl));
        second = b.len;
        put_locality(&b, 0, sl, sizeof(sl));
        assert_bad(&b, -EBADMSG, 2, second, "second");

        b.len = start;
        put_event2(&b, NULL, 0, EV_POST_CODE, SHA1_SHA256, 2, "x", 1);
        second = b.len;
        put_locality(&b, 0, sl, sizeof(sl));
        assert_bad(&b, -EBADMSG, 2, second, "after PCR 0");

        /* A StartupLocality in another PCR is no StartupLocality; extends elsewhere do not matter. */
        b.len = start;
        put_event2(&b, NULL, 1, EV_POST_CODE, SHA1_SHA256, 2, "x", 1);
        put_locality(&b, 5, sl, sizeof(sl));
        ck_assert_int_eq(replay(&b, r, &err), 0);
        ck_assert_uint_eq(r->startup_locality, 0);
        put_locality(&b, 0, sl, sizeof(sl));
        ck_assert_int_eq(replay(&b, r, &err), 0);
        ck_assert_uint_eq(r->startup_locality, 3);
        ck_assert_uint_eq(r->pcr[DW_HASH_SHA256][0][31], 3);
        ck_assert_uint_eq(r->pcr[DW_HASH_SHA1][0][19], 3);
        ck_assert_uint_eq(r->pcr[DW_HASH_SHA1][0][18], 0);
}
END_TEST

/* Event start offsets of a valid log, and its length as the last entry. */
static size_t event_bounds(const uint8_t *buf, size_t len, size_t *bounds, size_t max)
{
        struct dw_tcg_parser p;
        struct dw_tcg_event ev;
        struct dw_error err = {};
        size_t n = 0;

        ck_assert_int_eq(dw_tcg_parser_init(&p, buf, len, &err), 0);
        while (dw_tcg_parser_next(&p, &ev, &err) > 0) {
                ck_assert_uint_lt(n, max - 1);
                bounds[n++] = ev.offset;
        }
        bounds[n] = len;
        return n;
}

START_TEST(test_truncated_real)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = hasher();
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        size_t len, bounds[REAL_EVENTS + 1], n, ev = 0;

        log = load_file(REAL_LOG, &len);
        n = event_bounds(log, len, bounds, ELEMENTSOF(bounds));
        ck_assert_uint_eq(n, REAL_EVENTS);

        for (size_t cut = 0; cut <= len; cut++) {
                _cleanup_free_ uint8_t *copy = dup_exact(log, cut);
                struct dw_error err = {.index = 999, .offset = 999999};
                int k;

                while (ev < n && bounds[ev + 1] <= cut)
                        ev++;
                k = dw_tcg_replay_log(r, h, copy, cut, &err);
                if (cut > 0 && cut == bounds[ev]) {
                        /* A cut between events leaves a shorter, valid log. */
                        ck_assert_msg(k == 0, "cut at %zu: %s", cut, err.msg);
                        ck_assert_uint_eq(r->events, ev);
                        continue;
                }
                ck_assert_msg(k == -ENODATA, "cut at %zu: got %d (%s)", cut, k, err.msg);
                ck_assert_uint_eq(err.index, ev);
                ck_assert_uint_eq(err.offset, bounds[ev]);
                if (cut > 0)
                        ck_assert_msg(strstr(err.msg, "cut short, needs"), "cut at %zu: '%s'", cut, err.msg);
        }
        {
                /* The exact message of a cut. */
                _cleanup_free_ uint8_t *copy = dup_exact(log, bounds[12] + 40);
                struct dw_error err = {};

                ck_assert_int_eq(dw_tcg_replay_log(r, h, copy, bounds[12] + 40, &err), -ENODATA);
                ck_assert_str_eq(err.msg, "event 12 at offset 2353: cut short, needs 28 more bytes");
        }
}
END_TEST

/* xorshift64*: a fixed sequence on every machine. */
static uint64_t rnd_state;

static uint64_t rnd(void)
{
        rnd_state ^= rnd_state >> 12;
        rnd_state ^= rnd_state << 25;
        rnd_state ^= rnd_state >> 27;
        return rnd_state * UINT64_C(2685821657736338717);
}

struct corpus {
        uint8_t *data;
        size_t len;
        size_t bounds[64];
        size_t n;
};

static void corpus_add(struct corpus *c, const uint8_t *data, size_t len)
{
        c->data = dup_exact(data, len);
        c->len = len;
        c->n = event_bounds(c->data, len, c->bounds, ELEMENTSOF(c->bounds));
}

/* Parses and describes every event it can; returns what the parser ended with. */
static int parse_and_describe(const uint8_t *buf, size_t len, uint64_t *ret_events, struct dw_error *ret_err)
{
        struct dw_tcg_parser p;
        struct dw_tcg_event ev;
        struct dw_error err = {};
        uint64_t n = 0;
        int k;

        k = dw_tcg_parser_init(&p, buf, len, &err);
        while (k >= 0) {
                char out[160], tiny[7];
                uint8_t *copy;

                k = dw_tcg_parser_next(&p, &ev, &err);
                if (k <= 0)
                        break;
                ck_assert_uint_eq(ev.index, n);
                ck_assert_uint_lt(ev.pcr, DW_TCG_NR_PCRS);
                ck_assert_uint_le(ev.n_digests, DW_TCG_MAX_ALGS);
                ck_assert(ev.data >= buf && ev.data + ev.data_len <= buf + len);
                /* On an exact-size copy of the data: reading past data_len would stay inside the log otherwise,
                 * where ASan cannot see it. */
                copy = dup_exact(ev.data, ev.data_len);
                ev.data = copy;
                dw_tcg_event_describe(&ev, out, sizeof(out));
                ck_assert_uint_lt(strlen(out), sizeof(out));
                dw_tcg_event_describe(&ev, tiny, sizeof(tiny));
                ck_assert_uint_lt(strlen(tiny), sizeof(tiny));
                free(copy);
                (void)dw_tcg_event_type_name(ev.type);
                n++;
        }
        if (k < 0) {
                ck_assert_msg(k == -ENODATA || k == -EBADMSG, "parser returned %d", k);
                ck_assert_uint_le(err.offset, len);
                ck_assert_uint_le(err.index, n);
                ck_assert_uint_gt(strlen(err.msg), 0);
        }
        *ret_events = n;
        *ret_err = err;
        return k;
}

START_TEST(test_fuzz)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = hasher();
        _cleanup_free_ struct dw_tcg_replay *r = calloc(1, sizeof(*r));
        _cleanup_(bytes_done) struct bytes agile = {}, legacy = {};
        _cleanup_free_ uint8_t *real = NULL;
        static const struct alg_decl algs[] = {{DW_TPM_ALG_SHA256, 32}, {TPM_ALG_SHA3, 32}, {DW_TPM_ALG_SHA1, 20}};
        struct corpus corpus[3] = {};
        unsigned ok = 0, bad = 0, events = 0;
        size_t len;

        real = load_file(REAL_LOG, &len);
        corpus_add(&corpus[0], real, len);
        build_agile(&agile, NULL, algs, ELEMENTSOF(algs), 3);
        corpus_add(&corpus[1], agile.data, agile.len);
        build_legacy(&legacy, NULL, "Spec ID Event00");
        corpus_add(&corpus[2], legacy.data, legacy.len);

        rnd_state = UINT64_C(0x5eed0f7c9e1db00d);
        for (unsigned iter = 0; iter < 20000; iter++) {
                const struct corpus *c = &corpus[iter % ELEMENTSOF(corpus)];
                size_t n = c->len;
                _cleanup_free_ uint8_t *buf = NULL;
                unsigned flips = 1 + (unsigned)(rnd() % 4);
                struct dw_error err = {}, perr = {};
                uint64_t parsed;
                int k, kp;

                if (rnd() % 8 == 0)
                        n = (size_t)(rnd() % (c->len + 1));
                buf = dup_exact(c->data, n);
                for (unsigned f = 0; f < flips && n > 0; f++) {
                        size_t pos;
                        uint8_t v;

                        /* Half the flips hit event headers, where the lengths and counts are. */
                        if (rnd() % 2)
                                pos = c->bounds[rnd() % c->n] + (size_t)(rnd() % 48);
                        else
                                pos = (size_t)(rnd() % n);
                        if (pos >= n)
                                continue;
                        switch (rnd() % 4) {
                        case 0:
                                v = (uint8_t)(buf[pos] ^ (1u << (rnd() % 8)));
                                break;
                        case 1:
                                v = (uint8_t)rnd();
                                break;
                        case 2:
                                v = 0xff;
                                break;
                        default:
                                v = (uint8_t)(rnd() % 24);
                                break;
                        }
                        buf[pos] = v;
                }

                kp = parse_and_describe(buf, n, &parsed, &perr);
                events += (unsigned)parsed;
                k = dw_tcg_replay_log(r, h, buf, n, &err);
                ck_assert_msg(k == 0 || k == -ENODATA || k == -EBADMSG, "iteration %u: replay returned %d", iter, k);
                if (k == 0) {
                        /* A replay that succeeds has parsed the whole log. */
                        ck_assert_int_eq(kp, 0);
                        ck_assert_uint_eq(r->events, parsed);
                        ok++;
                } else {
                        ck_assert_uint_le(err.offset, n);
                        ck_assert_uint_gt(strlen(err.msg), 0);
                        /* The parser's error, or a StartupLocality misuse the replay found earlier in the log. */
                        if (kp < 0)
                                ck_assert_msg((k == kp && err.index == perr.index && strcmp(err.msg, perr.msg) == 0) ||
                                                      err.index < perr.index,
                                              "iteration %u: replay '%s', parser '%s'", iter, err.msg, perr.msg);
                        bad++;
                }
        }
        /* Both outcomes are exercised. */
        ck_assert_uint_gt(ok, 1000);
        ck_assert_uint_gt(bad, 1000);
        ck_assert_uint_gt(events, 100000);
        for (size_t i = 0; i < ELEMENTSOF(corpus); i++)
                free(corpus[i].data);
}
END_TEST

/* ---- Descriptions of single events ------------------------------------------------------------------------ */

START_TEST(test_describe_variables)
{
        _cleanup_(bytes_done) struct bytes d = {};

        put_variable(&d, EFI_GLOBAL_VARIABLE, "SecureBoot", "\x01", 1);
        ck_assert_str_eq(describe(EV_EFI_VARIABLE_BOOT2, d.data, d.len),
                         "8be4df61-93ca-11d2-aa0d-00e098032b8c:SecureBoot (1 bytes)");
        ck_assert_str_eq(describe(EV_EFI_VARIABLE_AUTHORITY, d.data, d.len),
                         "8be4df61-93ca-11d2-aa0d-00e098032b8c:SecureBoot (1 bytes)");
        ck_assert_str_eq(describe(EV_EFI_VARIABLE_BOOT, d.data, d.len - 1), "52 bytes (malformed UEFI_VARIABLE_DATA)");
        ck_assert_str_eq(describe(EV_EFI_VARIABLE_BOOT, d.data, 31), "31 bytes (malformed UEFI_VARIABLE_DATA)");
        ck_assert_str_eq(describe(EV_EFI_VARIABLE_BOOT, d.data, 0), "0 bytes (malformed UEFI_VARIABLE_DATA)");
        /* Name lengths that overflow when doubled, data lengths past the end. */
        d.len = 0;
        put(&d, EFI_GLOBAL_VARIABLE, 16);
        put_u64(&d, UINT64_C(0x8000000000000001));
        put_u64(&d, 0);
        put_ucs2(&d, "ab", false);
        ck_assert_str_eq(describe(EV_EFI_VARIABLE_BOOT, d.data, d.len), "36 bytes (malformed UEFI_VARIABLE_DATA)");
        d.len = 16;
        put_u64(&d, 2);
        put_u64(&d, UINT64_MAX);
        put_ucs2(&d, "ab", false);
        ck_assert_str_eq(describe(EV_EFI_VARIABLE_BOOT, d.data, d.len), "36 bytes (malformed UEFI_VARIABLE_DATA)");
        /* Unprintable and non-ASCII name characters are escaped. */
        d.len = 16;
        put_u64(&d, 3);
        put_u64(&d, 0);
        put_u16(&d, 'A');
        put_u16(&d, 0x263a);
        put_u16(&d, '\n');
        ck_assert_str_eq(describe(EV_EFI_VARIABLE_DRIVER_CONFIG, d.data, d.len),
                         "8be4df61-93ca-11d2-aa0d-00e098032b8c:A\\u263a\\x0a (0 bytes)");
}
END_TEST

START_TEST(test_describe_images)
{
        _cleanup_(bytes_done) struct bytes d = {};

        put_image(&d, 0x7e000000, 0x1000, 4);
        ck_assert_str_eq(describe(EV_EFI_BOOT_SERVICES_DRIVER, d.data, d.len),
                         "image at 0x7e000000 length 4096, device path 4 bytes");
        ck_assert_str_eq(describe(EV_EFI_RUNTIME_SERVICES_DRIVER, d.data, d.len - 1),
                         "35 bytes (malformed UEFI_IMAGE_LOAD_EVENT)");
        ck_assert_str_eq(describe(EV_EFI_BOOT_SERVICES_APPLICATION, d.data, 31),
                         "31 bytes (malformed UEFI_IMAGE_LOAD_EVENT)");
        d.len = 0;
        put_image(&d, 1, 2, 0);
        ck_assert_str_eq(describe(EV_EFI_BOOT_SERVICES_APPLICATION, d.data, d.len),
                         "image at 0x1 length 2, device path 0 bytes");
}
END_TEST

START_TEST(test_describe_strings)
{
        _cleanup_(bytes_done) struct bytes d = {};
        uint8_t bin[40];

        ck_assert_str_eq(describe(EV_EFI_ACTION, "Exit Boot Services Invocation", 29), "Exit Boot Services Invocation");
        ck_assert_str_eq(describe(EV_ACTION, "\x01z\\\xff\0\0", 6), "\\x01z\\\\\\xff");
        ck_assert_str_eq(describe(EV_IPL, "a\0b\n", 4), "a\\x00b\\x0a");
        ck_assert_str_eq(describe(EV_POST_CODE, "POST CODE", 9), "POST CODE");
        ck_assert_str_eq(describe(EV_EFI_HCRTM_EVENT, "HCRTM", 5), "HCRTM");
        ck_assert_str_eq(describe(EV_OMIT_BOOT_DEVICE_EVENTS, "BOOT ATTEMPTS OMITTED", 21), "BOOT ATTEMPTS OMITTED");
        ck_assert_str_eq(describe(EV_EFI_ACTION, "", 0), "empty");

        /* EV_S_CRTM_VERSION: UCS-2, ASCII, or hex. */
        put_ucs2(&d, "1.0", true);
        ck_assert_str_eq(describe(EV_S_CRTM_VERSION, d.data, d.len), "1.0");
        ck_assert_str_eq(describe(EV_S_CRTM_VERSION, d.data, d.len - 2), "1.0");
        ck_assert_str_eq(describe(EV_S_CRTM_VERSION, "v2.1\0", 5), "v2.1");
        ck_assert_str_eq(describe(EV_S_CRTM_VERSION, "\0\0", 2), "0000");
        ck_assert_str_eq(describe(EV_S_CRTM_VERSION, "\x01\xfe\x80", 3), "01fe80");
        ck_assert_str_eq(describe(EV_S_CRTM_VERSION, "", 0), "0 bytes");
        for (size_t i = 0; i < sizeof(bin); i++)
                bin[i] = (uint8_t)(0x80 + i);
        ck_assert_str_eq(describe(EV_S_CRTM_VERSION, bin, sizeof(bin)),
                         "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f... (40 bytes)");

        /* A POST code logged as a firmware blob. */
        d.len = 0;
        put_u64(&d, 0xfff00000);
        put_u64(&d, 0x100000);
        ck_assert_str_eq(describe(EV_POST_CODE, d.data, d.len), "base 0xfff00000 length 1048576");
}
END_TEST

START_TEST(test_describe_misc)
{
        _cleanup_(bytes_done) struct bytes d = {};
        uint8_t sl[17] = "StartupLocality";
        uint8_t sp[32] = "SP800-155 Event";

        ck_assert_str_eq(describe(EV_SEPARATOR, "\x01\0\0\0", 4), "error");
        ck_assert_str_eq(describe(EV_SEPARATOR, "\0\0\0\0", 4), "00000000");
        ck_assert_str_eq(describe(EV_SEPARATOR, "\xff\xff\xff\xff", 4), "ffffffff");
        ck_assert_str_eq(describe(EV_SEPARATOR, "\x01", 1), "01");
        ck_assert_str_eq(describe(EV_SEPARATOR, "", 0), "0 bytes");

        sl[16] = 4;
        ck_assert_str_eq(describe(EV_NO_ACTION, sl, sizeof(sl)), "StartupLocality 4");
        ck_assert_str_eq(describe(EV_NO_ACTION, sl, 16), "16 bytes (malformed StartupLocality)");
        ck_assert_str_eq(describe(EV_NO_ACTION, sp, sizeof(sp)), "SP800-155 Event (32 bytes)");
        ck_assert_str_eq(describe(EV_NO_ACTION, "NvIndexInstance", 16), "NvIndexInstance (16 bytes)");
        ck_assert_str_eq(describe(EV_NO_ACTION, "SP800-1", 7), "7 bytes");
        ck_assert_str_eq(describe(EV_NO_ACTION, "\x01\x02", 2), "2 bytes");
        ck_assert_str_eq(describe(EV_NO_ACTION, "", 0), "0 bytes");
        spec_id_data(&d, 3, SHA1_SHA256, 2);
        ck_assert_str_eq(describe(EV_NO_ACTION, d.data, d.len),
                         "Spec ID Event03, 3 algorithms: sha1, sha256 (truncated)");
        ck_assert_str_eq(describe(EV_NO_ACTION, d.data, 20), "Spec ID Event03 (truncated)");

        d.len = 0;
        put_gpt(&d, 0);
        ck_assert_str_eq(describe(EV_EFI_GPT_EVENT2, d.data, d.len),
                         "GPT \"EFI PART\" disk 8be4df61-93ca-11d2-aa0d-00e098032b8c, 0 partitions");
        ck_assert_str_eq(describe(EV_EFI_GPT_EVENT, d.data, 99), "99 bytes (malformed UEFI_GPT_DATA)");

        d.len = 0;
        put_u64(&d, 0);
        ck_assert_str_eq(describe(EV_EFI_HANDOFF_TABLES, d.data, d.len), "0 tables");
        ck_assert_str_eq(describe(EV_EFI_HANDOFF_TABLES, d.data, 7), "7 bytes (malformed UEFI_HANDOFF_TABLE_POINTERS)");
        d.len = 0;
        put_u8(&d, 5);
        put(&d, "SMBIO", 5);
        put_u64(&d, 2);
        ck_assert_str_eq(describe(EV_EFI_HANDOFF_TABLES2, d.data, d.len), "SMBIO (2 tables)");
        ck_assert_str_eq(describe(EV_EFI_HANDOFF_TABLES2, d.data, d.len - 1),
                         "13 bytes (malformed UEFI_HANDOFF_TABLE_POINTERS2)");
        ck_assert_str_eq(describe(EV_EFI_HANDOFF_TABLES2, d.data, 0),
                         "0 bytes (malformed UEFI_HANDOFF_TABLE_POINTERS2)");

        d.len = 0;
        put_u8(&d, 0xff);
        put_fill(&d, 'a', 16);
        ck_assert_str_eq(describe(EV_EFI_PLATFORM_FIRMWARE_BLOB2, d.data, d.len),
                         "17 bytes (malformed UEFI_PLATFORM_FIRMWARE_BLOB2)");
        ck_assert_str_eq(describe(EV_EFI_PLATFORM_FIRMWARE_BLOB, d.data, 15),
                         "15 bytes (malformed UEFI_PLATFORM_FIRMWARE_BLOB)");
        ck_assert_str_eq(describe(EV_EFI_PLATFORM_FIRMWARE_BLOB2,
                                  "\x02"
                                  "ab\x01\x02",
                                  5),
                         "5 bytes (malformed UEFI_PLATFORM_FIRMWARE_BLOB2)");
        ck_assert_str_eq(describe(EV_EVENT_TAG, "\x01\0\0\0\0\0\0", 7), "7 bytes (malformed TCG_PCClientTaggedEvent)");
        ck_assert_str_eq(describe(EV_EVENT_TAG, "\x01\0\0\0\x01\0\0\0Z", 9), "tag 0x1, 1 bytes");
        ck_assert_str_eq(describe(EV_EVENT_TAG, "\x01\0\0\0\x09\0\0\0", 8),
                         "8 bytes (malformed TCG_PCClientTaggedEvent)");
        ck_assert_str_eq(describe(EV_CPU_MICROCODE, "0123456789ab", 12), "12 bytes");
        ck_assert_str_eq(describe(0x12345678, "", 0), "0 bytes");
}
END_TEST

START_TEST(test_describe_buffer_sizes)
{
        struct dw_tcg_event ev = {.type = EV_EFI_ACTION, .data = (const uint8_t *)"abcdef\x01", .data_len = 7};
        char out[16];

        memset(out, 'X', sizeof(out));
        dw_tcg_event_describe(&ev, out, 0);
        ck_assert_int_eq(out[0], 'X');
        dw_tcg_event_describe(&ev, out, 1);
        ck_assert_str_eq(out, "");
        dw_tcg_event_describe(&ev, out, 4);
        ck_assert_str_eq(out, "abc");
        dw_tcg_event_describe(&ev, out, 8);
        ck_assert_str_eq(out, "abcdef\\");
        dw_tcg_event_describe(&ev, out, sizeof(out));
        ck_assert_str_eq(out, "abcdef\\x01");
        dw_tcg_event_describe(&ev, NULL, 10);
}
END_TEST

static Suite *eventlog_suite(void)
{
        Suite *s = suite_create("tcg-eventlog");
        TCase *tc;

        tc = tcase_create("real");
        tcase_add_test(tc, test_real_replay);
        tcase_add_test(tc, test_real_parse);
        tcase_add_test(tc, test_real_describe);
        suite_add_tcase(s, tc);

        tc = tcase_create("built");
        tcase_add_test(tc, test_type_names);
        tcase_add_loop_test(tc, test_legacy_log, 0, 3);
        tcase_add_test(tc, test_agile_locality_two_banks);
        tcase_add_test(tc, test_agile_four_banks_locality4);
        tcase_add_test(tc, test_agile_no_locality);
        tcase_add_test(tc, test_undeclared_alg);
        tcase_add_test(tc, test_declared_unknown_alg);
        tcase_add_test(tc, test_zero_digests);
        suite_add_tcase(s, tc);

        tc = tcase_create("bad");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_empty);
        tcase_add_test(tc, test_bad_spec_id);
        tcase_add_test(tc, test_absurd_sizes);
        tcase_add_test(tc, test_pcr_range);
        tcase_add_test(tc, test_bad_startup_locality);
        tcase_add_test(tc, test_truncated_real);
        tcase_add_test(tc, test_fuzz);
        suite_add_tcase(s, tc);

        tc = tcase_create("describe");
        tcase_add_test(tc, test_describe_variables);
        tcase_add_test(tc, test_describe_images);
        tcase_add_test(tc, test_describe_strings);
        tcase_add_test(tc, test_describe_misc);
        tcase_add_test(tc, test_describe_buffer_sizes);
        suite_add_tcase(s, tc);

        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(eventlog_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
