/* SPDX-License-Identifier: MIT */
/* The IMA measurement list: parser (binary and ascii), template digests, per-bank replay, and the writer. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fileio.h"
#include "hex.h"
#include "ima-log.h"
#include "ima-replay.h"
#include "ima-write.h"
#include "macro.h"

#define REAL_DIR       "/../shared/testdata/realkernel-ima-ng-seabios/"
#define REAL_ENTRIES   11
#define REAL_VIOLATION 9 /* index of the open-writers violation */

static struct dw_hasher *h;

static void hasher_setup(void)
{
        ck_assert_int_eq(dw_hasher_new(&h), 0);
}

static void hasher_teardown(void)
{
        dw_hasher_free(h);
        h = NULL;
}

/* ---- helpers ---- */

/* A file of the real kernel's test data, in a buffer of exactly its size (so ASan sees any overread). */
static uint8_t *real_file(const char *name, size_t *ret_len)
{
        const char *srcdir = getenv("DW_SRCDIR");
        _cleanup_free_ uint8_t *data = NULL;
        char path[4096];
        uint8_t *copy;
        size_t len;

        ck_assert_msg(srcdir, "DW_SRCDIR is not set");
        snprintf(path, sizeof(path), "%s" REAL_DIR "%s", srcdir, name);
        ck_assert_msg(dw_read_full_file(path, 1 << 20, &data, &len) == 0, "cannot read %s", path);
        copy = malloc(MAX(len, (size_t)1));
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, data, len);
        *ret_len = len;
        return copy;
}

static uint8_t *real_log(enum dw_ima_format format, size_t *ret_len)
{
        return real_file(format == DW_IMA_FORMAT_BINARY ? "binary_runtime_measurements" : "ascii_runtime_measurements",
                         ret_len);
}

/* PCR index of a bank from pcrs-<alg> ("PCR-10: HEX" lines). */
static void real_pcr(enum dw_hash_alg alg, unsigned index, uint8_t *out)
{
        _cleanup_free_ uint8_t *text = NULL;
        char name[32], key[16], *line, *nl;
        size_t len;

        snprintf(name, sizeof(name), "pcrs-%s", dw_hash_alg_name(alg));
        text = real_file(name, &len);
        text = realloc(text, len + 1);
        text[len] = '\0';
        snprintf(key, sizeof(key), "PCR-%02u: ", index);
        line = strstr((char *)text, key);
        ck_assert_ptr_nonnull(line);
        line += strlen(key);
        nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        ck_assert_int_eq(dw_hex_decode(line, (size_t)(nl - line), out, DW_HASH_MAX_SIZE), (int)dw_hash_alg_size(alg));
}

static void evp(const char *md, const void *data, size_t len, uint8_t *out)
{
        unsigned n = 0;

        ck_assert_int_eq(EVP_Digest(data, len, out, &n, EVP_get_digestbyname(md), NULL), 1);
}

static const char *evp_name(enum dw_hash_alg alg)
{
        static const char *const names[] = {"SHA1", "SHA256", "SHA384", "SHA512", "SM3"};

        return names[alg];
}

static void replay_init_all(struct dw_ima_replay *r)
{
        dw_ima_replay_init(r);
        FOREACH_HASH_ALG (alg) {
                if (!dw_hasher_has(h, alg))
                        continue;
                dw_ima_replay_enable(r, alg, DW_IMA_BANK_NATIVE);
                dw_ima_replay_enable(r, alg, DW_IMA_BANK_SHA1_PADDED);
        }
}

/* Byte offsets of the entries of a log (and its length at the end). */
static size_t entry_offsets(enum dw_ima_format format, const uint8_t *buf, size_t len, size_t *offsets, size_t max)
{
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        struct dw_error err = {};
        size_t n = 0;
        int r;

        dw_ima_parser_init(&p, format, DW_HASH_SHA1, buf, len);
        while ((r = dw_ima_parser_next(&p, &e, &err)) > 0) {
                ck_assert_uint_lt(n, max);
                offsets[n++] = e.offset;
        }
        ck_assert_msg(r == 0, "parse failed: %s", err.msg);
        ck_assert_uint_lt(n, max);
        offsets[n] = len;
        dw_ima_parser_done(&p);
        return n;
}

static void put(uint8_t *b, size_t *pos, const void *data, size_t len)
{
        memcpy(b + *pos, data, len);
        *pos += len;
}

static void put32(uint8_t *b, size_t *pos, uint32_t v)
{
        uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

        put(b, pos, le, 4);
}

/* A binary entry built by hand with a SHA-1 template digest of template data td (its length field may lie). */
static size_t raw_entry(uint8_t *out, uint32_t pcr, const char *tname, const uint8_t *td, size_t td_len,
                        uint32_t td_len_field)
{
        uint8_t digest[20];
        size_t pos = 0;

        evp("SHA1", td, td_len, digest);
        put32(out, &pos, pcr);
        put(out, &pos, digest, 20);
        put32(out, &pos, (uint32_t)strlen(tname));
        put(out, &pos, tname, strlen(tname));
        put32(out, &pos, td_len_field);
        put(out, &pos, td, td_len);
        return pos;
}

/* ima-ng template data for a sha256 file digest and a name. */
static size_t ima_ng_data(uint8_t *out, const uint8_t digest[32], const char *name)
{
        size_t pos = 0;

        put32(out, &pos, 8 + 32);
        put(out, &pos, "sha256:", 8);
        put(out, &pos, digest, 32);
        put32(out, &pos, (uint32_t)strlen(name) + 1);
        put(out, &pos, name, strlen(name) + 1);
        return pos;
}

static int parse_one(enum dw_ima_format format, enum dw_hash_alg alg, const uint8_t *buf, size_t len,
                     struct dw_ima_entry *e, struct dw_ima_parser *p, struct dw_error *err)
{
        dw_ima_parser_init(p, format, alg, buf, len);
        return dw_ima_parser_next(p, e, err);
}

static const void *memmem_str(const void *hay, size_t len, const char *needle)
{
        return memmem(hay, len, needle, strlen(needle));
}

/* ---- 1. the real kernel's log ---- */

START_TEST(test_real_parse)
{
        for (enum dw_ima_format format = 0; format <= DW_IMA_FORMAT_ASCII; format++) {
                _cleanup_free_ uint8_t *buf = NULL;
                struct dw_ima_parser p;
                struct dw_ima_entry e;
                struct dw_error err = {};
                size_t len, last_offset = 0;
                unsigned n = 0, violations = 0;
                int r;

                buf = real_log(format, &len);
                dw_ima_parser_init(&p, format, DW_HASH_SHA1, buf, len);
                while ((r = dw_ima_parser_next(&p, &e, &err)) > 0) {
                        ck_assert_uint_eq(e.index, n);
                        ck_assert(n == 0 || e.offset > last_offset);
                        last_offset = e.offset;
                        ck_assert_uint_eq(e.pcr, 10);
                        ck_assert_int_eq(e.digest_alg, DW_HASH_SHA1);
                        ck_assert_uint_eq(e.template_name_len, 6);
                        ck_assert_mem_eq(e.template_name, "ima-ng", 6);
                        ck_assert(!e.tmpl.is_ima);
                        ck_assert_uint_eq(e.tmpl.n_fields, 2);
                        ck_assert_msg(dw_ima_entry_check_digest(h, &e, &err) == 0, "entry %u: %s", n, err.msg);
                        ck_assert_int_eq(e.violation, n == REAL_VIOLATION);
                        violations += e.violation;
                        n++;
                }
                ck_assert_msg(r == 0, "%s", err.msg);
                ck_assert_uint_eq(n, REAL_ENTRIES);
                ck_assert_uint_eq(violations, 1);
                ck_assert_uint_eq(p.pos, len);
                dw_ima_parser_done(&p);
        }
}
END_TEST

START_TEST(test_real_accessors)
{
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t want[32];
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        struct dw_error err = {};
        const uint8_t *digest, *data;
        const char *name, *type = "x";
        enum dw_hash_alg alg;
        size_t len, name_len, dlen;
        uint32_t flen;

        buf = real_log(DW_IMA_FORMAT_BINARY, &len);
        ck_assert_int_eq(parse_one(DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, buf, len, &e, &p, &err), 1);
        ck_assert_int_eq(dw_ima_entry_file_digest(&e, &alg, &digest, &dlen, &type), 0);
        ck_assert_int_eq(alg, DW_HASH_SHA256);
        ck_assert_uint_eq(dlen, 32);
        ck_assert_ptr_null(type);
        dw_hex_decode("4f46ba44d52134a1f1a7247f7121557973c59ac6646357a3e428d7ac754e63ef", 64, want, sizeof(want));
        ck_assert_mem_eq(digest, want, 32);
        ck_assert_int_eq(dw_ima_entry_event_name(&e, &name, &name_len), 0);
        ck_assert_uint_eq(name_len, strlen("boot_aggregate"));
        ck_assert_mem_eq(name, "boot_aggregate", name_len);
        ck_assert_int_eq(dw_ima_entry_field(&e, DW_IMA_FIELD_N_NG, &data, &flen), 0);
        ck_assert_uint_eq(flen, name_len + 1);
        ck_assert_int_eq(dw_ima_entry_field(&e, DW_IMA_FIELD_SIG, &data, &flen), -ENOENT);
        ck_assert_int_eq(dw_ima_entry_field(&e, DW_IMA_FIELD_BUF, NULL, NULL), -ENOENT);
        dw_ima_parser_done(&p);
}
END_TEST

START_TEST(test_real_replay)
{
        for (enum dw_ima_format format = 0; format <= DW_IMA_FORMAT_ASCII; format++) {
                _cleanup_free_ struct dw_ima_replay *r = malloc(sizeof(*r));
                _cleanup_free_ uint8_t *buf = NULL;
                struct dw_error err = {};
                uint8_t want[DW_HASH_MAX_SIZE];
                size_t len, consumed = 1;

                buf = real_log(format, &len);
                replay_init_all(r);
                ck_assert_msg(dw_ima_replay_feed(r, h, format, DW_HASH_SHA1, buf, len, &consumed, &err) == 0, "%s",
                              err.msg);
                ck_assert_uint_eq(consumed, len);
                ck_assert_uint_eq(r->next_index, REAL_ENTRIES);
                ck_assert_uint_eq(r->violations, 1);
                ck_assert_uint_eq(r->touched, 1u << 10);

                /* SHA-1 and SHA-256 banks: native; SHA-384 and SHA-512: this kernel's sha1-padded rule. */
                real_pcr(DW_HASH_SHA1, 10, want);
                ck_assert_mem_eq(r->pcr[DW_HASH_SHA1][DW_IMA_BANK_NATIVE][10], want, 20);
                ck_assert_mem_eq(r->pcr[DW_HASH_SHA1][DW_IMA_BANK_SHA1_PADDED][10], want, 20);
                real_pcr(DW_HASH_SHA256, 10, want);
                ck_assert_mem_eq(r->pcr[DW_HASH_SHA256][DW_IMA_BANK_NATIVE][10], want, 32);
                ck_assert(memcmp(r->pcr[DW_HASH_SHA256][DW_IMA_BANK_SHA1_PADDED][10], want, 32) != 0);
                real_pcr(DW_HASH_SHA384, 10, want);
                ck_assert_mem_eq(r->pcr[DW_HASH_SHA384][DW_IMA_BANK_SHA1_PADDED][10], want, 48);
                ck_assert(memcmp(r->pcr[DW_HASH_SHA384][DW_IMA_BANK_NATIVE][10], want, 48) != 0);
                real_pcr(DW_HASH_SHA512, 10, want);
                ck_assert_mem_eq(r->pcr[DW_HASH_SHA512][DW_IMA_BANK_SHA1_PADDED][10], want, 64);

                /* Untouched PCRs stay zero. */
                real_pcr(DW_HASH_SHA1, 11, want);
                ck_assert_mem_eq(r->pcr[DW_HASH_SHA1][DW_IMA_BANK_NATIVE][11], want, 20);

                /* Without the digest check the result is the same. */
                replay_init_all(r);
                r->check_digests = false;
                ck_assert_int_eq(dw_ima_replay_feed(r, h, format, DW_HASH_SHA1, buf, len, NULL, &err), 0);
                real_pcr(DW_HASH_SHA256, 10, want);
                ck_assert_mem_eq(r->pcr[DW_HASH_SHA256][DW_IMA_BANK_NATIVE][10], want, 32);
        }
}
END_TEST

START_TEST(test_real_ascii_matches_binary)
{
        _cleanup_free_ uint8_t *bin = NULL, *asc = NULL;
        struct dw_ima_parser pb, pa;
        struct dw_error err = {};
        size_t bin_len, asc_len;
        unsigned n = 0;

        bin = real_log(DW_IMA_FORMAT_BINARY, &bin_len);
        asc = real_log(DW_IMA_FORMAT_ASCII, &asc_len);
        dw_ima_parser_init(&pb, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, bin, bin_len);
        dw_ima_parser_init(&pa, DW_IMA_FORMAT_ASCII, DW_HASH_SHA1, asc, asc_len);
        for (;;) {
                struct dw_ima_entry b, a;
                int rb = dw_ima_parser_next(&pb, &b, &err), ra = dw_ima_parser_next(&pa, &a, &err);

                ck_assert_int_eq(rb, ra);
                if (rb == 0)
                        break;
                ck_assert_int_eq(rb, 1);
                ck_assert_uint_eq(a.index, b.index);
                ck_assert_uint_eq(a.pcr, b.pcr);
                ck_assert_int_eq(a.digest_alg, b.digest_alg);
                ck_assert_mem_eq(a.template_digest, b.template_digest, 20);
                ck_assert_uint_eq(a.template_name_len, b.template_name_len);
                ck_assert_mem_eq(a.template_name, b.template_name, b.template_name_len);
                ck_assert_uint_eq(a.template_data_len, b.template_data_len);
                ck_assert_mem_eq(a.template_data, b.template_data, b.template_data_len);
                ck_assert_uint_eq(a.tmpl.n_fields, b.tmpl.n_fields);
                for (unsigned i = 0; i < b.tmpl.n_fields; i++) {
                        ck_assert_int_eq(a.fields[i].id, b.fields[i].id);
                        ck_assert_uint_eq(a.fields[i].len, b.fields[i].len);
                        ck_assert_mem_eq(a.fields[i].data, b.fields[i].data, b.fields[i].len);
                }
                ck_assert_int_eq(a.violation, b.violation);
                n++;
        }
        ck_assert_uint_eq(n, REAL_ENTRIES);
        dw_ima_parser_done(&pb);
        dw_ima_parser_done(&pa);
}
END_TEST

/* The writer turns the parsed binary log into the kernel's ascii file byte for byte, and back. */
START_TEST(test_real_rewrite)
{
        for (enum dw_ima_format from = 0; from <= DW_IMA_FORMAT_ASCII; from++) {
                enum dw_ima_format to = !from;
                _cleanup_free_ uint8_t *src = NULL, *want = NULL;
                _cleanup_(dw_ima_buf_done) struct dw_ima_buf out = {};
                struct dw_ima_parser p;
                struct dw_ima_entry e;
                struct dw_error err = {};
                size_t src_len, want_len;
                int r;

                src = real_log(from, &src_len);
                want = real_log(to, &want_len);
                dw_ima_parser_init(&p, from, DW_HASH_SHA1, src, src_len);
                while ((r = dw_ima_parser_next(&p, &e, &err)) > 0)
                        ck_assert_int_eq(to == DW_IMA_FORMAT_ASCII ? dw_ima_entry_write_ascii(&e, &out)
                                                                   : dw_ima_entry_write_binary(&e, &out),
                                         0);
                ck_assert_int_eq(r, 0);
                ck_assert_uint_eq(out.len, want_len);
                ck_assert_mem_eq(out.data, want, want_len);
                dw_ima_parser_done(&p);
        }
}
END_TEST

/* ---- 2. hand-built vectors ---- */

static const uint8_t file_digest256[32] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                           0xcc, 0xdd, 0xee, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                           0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
static const uint8_t file_digest1[20] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t sig_bytes[] = {0x03, 0x02, 0x04, 0xaa, 0xbb, 0xcc, 0xdd, 0x00, 0x03, 0x30, 0x31, 0x32};

/* Parses exactly one entry of buf and checks its template digest. */
static void parse_single(enum dw_ima_format format, enum dw_hash_alg alg, const struct dw_ima_buf *buf,
                         struct dw_ima_parser *p, struct dw_ima_entry *e)
{
        struct dw_error err = {};
        struct dw_ima_entry extra;

        ck_assert_msg(parse_one(format, alg, buf->data, buf->len, e, p, &err) == 1, "%s", err.msg);
        ck_assert_msg(dw_ima_entry_check_digest(h, e, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(p->pos, buf->len);
        ck_assert_int_eq(dw_ima_parser_next(p, &extra, &err), 0);
}

START_TEST(test_vector_ima_ng_by_hand)
{
        _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
        _cleanup_(dw_ima_buf_done) struct dw_ima_buf bin = {}, asc = {};
        const struct dw_ima_event ev = {.pcr = 10,
                                        .template_name = "ima-ng",
                                        .digest_algo = "sha256",
                                        .digest = file_digest256,
                                        .digest_len = 32,
                                        .name = "/usr/bin/with space"};
        uint8_t td[256], entry[512], sha1[20], sha256[32];
        char hex[65], line[512];
        size_t td_len, pos = 0;
        struct dw_ima_parser p;
        struct dw_ima_entry e;

        /* Expected template data and digests, built and hashed here without the library. */
        td_len = ima_ng_data(td, file_digest256, "/usr/bin/with_space");
        ck_assert_uint_eq(td_len, 4 + 40 + 4 + 20);
        evp("SHA1", td, td_len, sha1);
        evp("SHA256", td, td_len, sha256);

        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), 0);
        ck_assert_uint_eq(b.entry.template_data_len, td_len);
        ck_assert_mem_eq(b.entry.template_data, td, td_len);
        ck_assert_mem_eq(b.entry.template_digest, sha1, 20);

        /* Binary entry by hand: pcr, digest, name length, name, data length, data. */
        put32(entry, &pos, 10);
        put(entry, &pos, sha1, 20);
        put32(entry, &pos, 6);
        put(entry, &pos, "ima-ng", 6);
        put32(entry, &pos, (uint32_t)td_len);
        put(entry, &pos, td, td_len);
        ck_assert_int_eq(dw_ima_entry_write_binary(&b.entry, &bin), 0);
        ck_assert_uint_eq(bin.len, pos);
        ck_assert_mem_eq(bin.data, entry, pos);

        parse_single(DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, &bin, &p, &e);
        ck_assert_mem_eq(e.template_data, td, td_len);
        dw_ima_parser_done(&p);

        /* Ascii line by hand. */
        ck_assert_int_eq(dw_ima_entry_write_ascii(&b.entry, &asc), 0);
        snprintf(line, sizeof(line), "10 %s ima-ng sha256:", dw_hex_encode(sha1, 20, hex));
        strcat(line, dw_hex_encode(file_digest256, 32, hex));
        strcat(line, " /usr/bin/with_space\n");
        ck_assert_uint_eq(asc.len, strlen(line));
        ck_assert_mem_eq(asc.data, line, asc.len);
        parse_single(DW_IMA_FORMAT_ASCII, DW_HASH_SHA1, &asc, &p, &e);
        ck_assert_uint_eq(e.template_data_len, td_len);
        ck_assert_mem_eq(e.template_data, td, td_len);
        dw_ima_parser_done(&p);

        /* A sha256 log: the native SHA-256 template digest. */
        dw_ima_buf_done(&bin);
        ck_assert_int_eq(dw_ima_event_write(h, &ev, DW_IMA_FORMAT_BINARY, DW_HASH_SHA256, DW_IMA_BANK_NATIVE, &bin), 0);
        parse_single(DW_IMA_FORMAT_BINARY, DW_HASH_SHA256, &bin, &p, &e);
        ck_assert_mem_eq(e.template_digest, sha256, 32);
        dw_ima_parser_done(&p);
}
END_TEST

/* The "ima" template: d without a length, n as strlen + name, digest over d || n zero-padded to 256 bytes. */
START_TEST(test_vector_ima_by_hand)
{
        static const size_t name_lens[] = {1, 14, 254, 255, 256, 300};

        for (size_t i = 0; i < ELEMENTSOF(name_lens); i++) {
                _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
                _cleanup_(dw_ima_buf_done) struct dw_ima_buf bin = {}, asc = {};
                char name[400], hex[41];
                uint8_t input[20 + 256] = {}, digest[20], entry[512];
                size_t kept = MIN(name_lens[i], (size_t)255), pos = 0;
                struct dw_ima_event ev = {
                        .pcr = 10, .template_name = "ima", .digest = file_digest1, .digest_len = 20, .name = name};
                struct dw_ima_parser p;
                struct dw_ima_entry e;
                const char *got;
                size_t got_len;

                memset(name, 'a' + (int)i, name_lens[i]);
                name[0] = '/';
                name[name_lens[i]] = '\0';
                memcpy(input, file_digest1, 20);
                memcpy(input + 20, name, kept); /* the kernel keeps 255 bytes, then the NUL and zeros */
                evp("SHA1", input, sizeof(input), digest);

                ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), 0);
                ck_assert(b.entry.tmpl.is_ima);
                ck_assert_ptr_null(b.entry.template_data);
                ck_assert_mem_eq(b.entry.template_digest, digest, 20);

                put32(entry, &pos, 10);
                put(entry, &pos, digest, 20);
                put32(entry, &pos, 3);
                put(entry, &pos, "ima", 3);
                put(entry, &pos, file_digest1, 20);
                put32(entry, &pos, (uint32_t)kept);
                put(entry, &pos, name, kept);
                ck_assert_int_eq(dw_ima_entry_write_binary(&b.entry, &bin), 0);
                ck_assert_uint_eq(bin.len, pos);
                ck_assert_mem_eq(bin.data, entry, pos);

                for (enum dw_ima_format format = 0; format <= DW_IMA_FORMAT_ASCII; format++) {
                        if (format == DW_IMA_FORMAT_ASCII)
                                ck_assert_int_eq(dw_ima_entry_write_ascii(&b.entry, &asc), 0);
                        parse_single(format, DW_HASH_SHA1, format == DW_IMA_FORMAT_ASCII ? &asc : &bin, &p, &e);
                        ck_assert(e.tmpl.is_ima);
                        ck_assert_ptr_null(e.template_data);
                        ck_assert_int_eq(e.fields[0].id, DW_IMA_FIELD_D);
                        ck_assert_mem_eq(e.fields[0].data, file_digest1, 20);
                        ck_assert_int_eq(e.fields[1].id, DW_IMA_FIELD_N);
                        ck_assert_uint_eq(e.fields[1].len, kept + 1);
                        ck_assert_int_eq(dw_ima_entry_event_name(&e, &got, &got_len), 0);
                        ck_assert_uint_eq(got_len, kept);
                        ck_assert_mem_eq(got, name, kept);
                        ck_assert_int_eq(dw_ima_entry_template_hash(h, &e, DW_HASH_SHA1, input), 0);
                        ck_assert_mem_eq(input, digest, 20);
                        dw_ima_parser_done(&p);
                }
                snprintf((char *)entry, sizeof(entry), "10 %s ima ", dw_hex_encode(digest, 20, hex));
                ck_assert_mem_eq(asc.data, entry, strlen((char *)entry));
        }
}
END_TEST

START_TEST(test_vector_ima_sig_by_hand)
{
        for (int with_sig = 0; with_sig <= 1; with_sig++) {
                _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
                _cleanup_(dw_ima_buf_done) struct dw_ima_buf bin = {}, asc = {};
                const struct dw_ima_event ev = {.pcr = 10,
                                                .template_name = "ima-sig",
                                                .digest_algo = "sha256",
                                                .digest = file_digest256,
                                                .digest_len = 32,
                                                .name = "/bin/ls",
                                                .sig = with_sig ? sig_bytes : NULL,
                                                .sig_len = sizeof(sig_bytes)};
                uint8_t td[256], digest[20];
                size_t pos;
                struct dw_ima_parser p;
                struct dw_ima_entry e;
                const uint8_t *data;
                uint32_t len;

                pos = ima_ng_data(td, file_digest256, "/bin/ls");
                put32(td, &pos, with_sig ? sizeof(sig_bytes) : 0);
                if (with_sig)
                        put(td, &pos, sig_bytes, sizeof(sig_bytes));
                evp("SHA1", td, pos, digest);

                ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), 0);
                ck_assert_uint_eq(b.entry.template_data_len, pos);
                ck_assert_mem_eq(b.entry.template_data, td, pos);
                ck_assert_mem_eq(b.entry.template_digest, digest, 20);

                ck_assert_int_eq(dw_ima_entry_write_binary(&b.entry, &bin), 0);
                ck_assert_int_eq(dw_ima_entry_write_ascii(&b.entry, &asc), 0);
                /* Without a signature the line ends in the separator of the empty field. */
                if (with_sig)
                        ck_assert_mem_eq(asc.data + asc.len - 26, " 030204aabbccdd0003303132\n", 26);
                else
                        ck_assert_mem_eq(asc.data + asc.len - 10, " /bin/ls \n", 10);

                for (enum dw_ima_format format = 0; format <= DW_IMA_FORMAT_ASCII; format++) {
                        parse_single(format, DW_HASH_SHA1, format == DW_IMA_FORMAT_ASCII ? &asc : &bin, &p, &e);
                        ck_assert_uint_eq(e.template_data_len, pos);
                        ck_assert_mem_eq(e.template_data, td, pos);
                        if (with_sig) {
                                ck_assert_int_eq(dw_ima_entry_field(&e, DW_IMA_FIELD_SIG, &data, &len), 0);
                                ck_assert_uint_eq(len, sizeof(sig_bytes));
                                ck_assert_mem_eq(data, sig_bytes, len);
                        } else
                                ck_assert_int_eq(dw_ima_entry_field(&e, DW_IMA_FIELD_SIG, &data, &len), -ENOENT);
                        dw_ima_parser_done(&p);
                }
        }
}
END_TEST

static const uint8_t modsig_bytes[] = {0x30, 0x82, 0x01, 0x02, 0xfe};
static const uint8_t evmsig_bytes[] = {0x05, 0x02, 0x04, 0x11, 0x22};
static const uint8_t xattr_lengths[] = {3, 0, 0, 0, 2, 0, 0, 0};
static const uint8_t xattr_values[] = {'a', 'b', 'c', 'x', 'y'};
static const uint8_t buf_bytes[] = {'r', 'o', 'o', 't', '=', '/', 'd', 'e', 'v', '/', 's', 'd', 'a', 0x00, 0xff};

static const char *const all_templates[] = {
        "ima",
        "ima-ng",
        "ima-ngv2",
        "ima-sig",
        "ima-sigv2",
        "ima-buf",
        "ima-modsig",
        "evm-sig",
        "d-ng|n-ng|iuid|igid|imode|xattrnames",
        "d|n",
        "n-ng|d-ngv2|buf",
        "d|n|d-ng|d-ngv2|n-ng|sig|buf|d-modsig|modsig|evmsig|iuid|igid|imode|xattrnames|xattrlengths",
};

/* An event with a value for every field; variant 1 leaves the optional ones empty, variant 2 is a violation. */
static struct dw_ima_event full_event(const char *tmpl, int variant)
{
        bool ima = strcmp(tmpl, "ima") == 0 || strcmp(tmpl, "d|n") == 0 || strncmp(tmpl, "d|n|", 4) == 0;
        struct dw_ima_event ev = {
                .pcr = variant == 1 ? 7 : 10,
                .template_name = tmpl,
                .violation = variant == 2,
                .digest_algo = ima ? "sha1" : "sha256",
                .digest = ima ? file_digest1 : file_digest256,
                .digest_len = ima ? 20 : 32,
                .digest_type = variant == 1 ? "verity" : NULL,
                .name = variant == 1 ? "kexec-cmdline" : "/usr/lib/modules/6.1/kernel/x.ko",
        };

        if (variant != 1) {
                ev.sig = sig_bytes;
                ev.sig_len = sizeof(sig_bytes);
                ev.buf = buf_bytes;
                ev.buf_len = sizeof(buf_bytes);
                ev.modsig_digest_algo = "sha512";
                ev.modsig_digest = (const uint8_t *)"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
                ev.modsig_digest_len = 64;
                ev.modsig = modsig_bytes;
                ev.modsig_len = sizeof(modsig_bytes);
                ev.evmsig = evmsig_bytes;
                ev.evmsig_len = sizeof(evmsig_bytes);
                ev.has_inode = true;
                ev.uid = 4294967294u;
                ev.gid = 0;
                ev.mode = 0100755;
                ev.xattrnames = "security.ima|security.selinux";
                ev.xattrlengths = xattr_lengths;
                ev.xattrlengths_len = sizeof(xattr_lengths);
                ev.xattrvalues = xattr_values;
                ev.xattrvalues_len = sizeof(xattr_values);
        }
        return ev;
}

static void assert_entries_equal(const struct dw_ima_entry *a, const struct dw_ima_entry *b)
{
        ck_assert_uint_eq(a->pcr, b->pcr);
        ck_assert_int_eq(a->digest_alg, b->digest_alg);
        ck_assert_mem_eq(a->template_digest, b->template_digest, dw_hash_alg_size(b->digest_alg));
        ck_assert_uint_eq(a->template_name_len, b->template_name_len);
        ck_assert_mem_eq(a->template_name, b->template_name, b->template_name_len);
        ck_assert_int_eq(a->tmpl.is_ima, b->tmpl.is_ima);
        ck_assert_uint_eq(a->tmpl.n_fields, b->tmpl.n_fields);
        ck_assert_uint_eq(a->template_data_len, b->template_data_len);
        if (b->template_data_len)
                ck_assert_mem_eq(a->template_data, b->template_data, b->template_data_len);
        for (unsigned i = 0; i < b->tmpl.n_fields; i++) {
                ck_assert_int_eq(a->fields[i].id, b->fields[i].id);
                ck_assert_uint_eq(a->fields[i].len, b->fields[i].len);
                if (b->fields[i].len)
                        ck_assert_mem_eq(a->fields[i].data, b->fields[i].data, b->fields[i].len);
        }
        ck_assert_int_eq(a->violation, b->violation);
}

/* Every built-in template and some custom ones: writer -> binary / ascii -> parser gives the same entry, and
 * each format rewritten from the other's parse is identical. */
START_TEST(test_vector_all_templates)
{
        static const enum dw_hash_alg algs[] = {DW_HASH_SHA1, DW_HASH_SHA256, DW_HASH_SHA512};

        for (size_t t = 0; t < ELEMENTSOF(all_templates); t++)
                for (int variant = 0; variant < 3; variant++)
                        for (size_t a = 0; a < ELEMENTSOF(algs); a++) {
                                _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
                                _cleanup_(dw_ima_buf_done) struct dw_ima_buf bin = {}, asc = {}, re = {};
                                struct dw_ima_event ev = full_event(all_templates[t], variant);
                                struct dw_ima_parser p;
                                struct dw_ima_entry e;

                                ck_assert_msg(dw_ima_event_build(h, &ev, algs[a], DW_IMA_BANK_NATIVE, &b) == 0, "%s",
                                              all_templates[t]);
                                ck_assert_int_eq(b.entry.violation, variant == 2);
                                ck_assert_int_eq(dw_ima_entry_write_binary(&b.entry, &bin), 0);
                                ck_assert_int_eq(dw_ima_entry_write_ascii(&b.entry, &asc), 0);

                                parse_single(DW_IMA_FORMAT_BINARY, algs[a], &bin, &p, &e);
                                assert_entries_equal(&e, &b.entry);
                                ck_assert_int_eq(dw_ima_entry_write_ascii(&e, &re), 0);
                                ck_assert_uint_eq(re.len, asc.len);
                                ck_assert_mem_eq(re.data, asc.data, asc.len);
                                dw_ima_parser_done(&p);

                                re.len = 0;
                                parse_single(DW_IMA_FORMAT_ASCII, algs[a], &asc, &p, &e);
                                assert_entries_equal(&e, &b.entry);
                                ck_assert_int_eq(dw_ima_entry_write_binary(&e, &re), 0);
                                ck_assert_uint_eq(re.len, bin.len);
                                ck_assert_mem_eq(re.data, bin.data, bin.len);
                                dw_ima_parser_done(&p);
                        }
}
END_TEST

START_TEST(test_vector_ascii_forms)
{
        _cleanup_(dw_ima_buf_done) struct dw_ima_buf asc = {};
        struct dw_ima_event ev = full_event("evm-sig", 0);
        struct dw_ima_event v2 = full_event("ima-sigv2", 1);
        const char *line, *type;
        enum dw_hash_alg alg;
        const uint8_t *digest;
        size_t len;
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        struct dw_error err = {};

        /* A single-digit PCR has a leading space; uid/gid/mode are decimal; xattrnames is a string. */
        ev.pcr = 9;
        ck_assert_int_eq(dw_ima_event_write(h, &ev, DW_IMA_FORMAT_ASCII, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &asc), 0);
        line = (const char *)asc.data;
        ck_assert_mem_eq(line, " 9 ", 3);
        ck_assert_ptr_nonnull(memmem_str(line, asc.len,
                                         " security.ima|security.selinux 0300000002000000 6162637879 4294967294 0 "
                                         "33261\n"));
        ck_assert_ptr_nonnull(memmem_str(line, asc.len, " evm-sig sha256:112233"));

        /* d-ngv2 shows its type; the accessor returns it. */
        asc.len = 0;
        ck_assert_int_eq(dw_ima_event_write(h, &v2, DW_IMA_FORMAT_ASCII, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &asc), 0);
        ck_assert_ptr_nonnull(memmem_str(asc.data, asc.len, " ima-sigv2 verity:sha256:1122"));
        ck_assert_mem_eq(asc.data + asc.len - 16, " kexec-cmdline \n", 16);
        ck_assert_int_eq(parse_one(DW_IMA_FORMAT_ASCII, DW_HASH_SHA1, asc.data, asc.len, &e, &p, &err), 1);
        ck_assert_int_eq(dw_ima_entry_file_digest(&e, &alg, &digest, &len, &type), 0);
        ck_assert_str_eq(type, "verity");
        ck_assert_int_eq(alg, DW_HASH_SHA256);
        ck_assert_uint_eq(len, 32);
        ck_assert_mem_eq(digest, file_digest256, 32);
        dw_ima_parser_done(&p);
}
END_TEST

START_TEST(test_vector_accessors)
{
        static const uint8_t md5[16] = {1, 2, 3};
        _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
        struct dw_ima_event ev = {
                .template_name = "ima-ng", .digest_algo = "md5", .digest = md5, .digest_len = 16, .name = "x"};
        enum dw_hash_alg alg = DW_HASH_SHA1;
        const uint8_t *digest;
        const char *type = "x";
        size_t len;

        /* An algorithm the kernel has but we cannot compute: parsed, reported as invalid. */
        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), 0);
        ck_assert_int_eq(dw_ima_entry_file_digest(&b.entry, &alg, &digest, &len, &type), 0);
        ck_assert_int_eq(alg, _DW_HASH_ALG_INVALID);
        ck_assert_uint_eq(len, 16);
        ck_assert_ptr_null(type);
        ck_assert_int_eq(dw_ima_entry_check_digest(h, &b.entry, NULL), 0);

        /* The "ima" template's d: SHA-1. */
        ev = full_event("ima", 0);
        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), 0);
        ck_assert_int_eq(dw_ima_entry_file_digest(&b.entry, &alg, &digest, &len, NULL), 0);
        ck_assert_int_eq(alg, DW_HASH_SHA1);
        ck_assert_mem_eq(digest, file_digest1, 20);

        /* No digest field at all. */
        ev = full_event("n-ng|sig", 0);
        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), 0);
        ck_assert_int_eq(dw_ima_entry_file_digest(&b.entry, &alg, &digest, &len, NULL), -ENOENT);
        ev = full_event("d-ng|sig", 0);
        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), 0);
        ck_assert_int_eq(dw_ima_entry_event_name(&b.entry, &type, &len), -ENOENT);
}
END_TEST

/* A violation: zero template digest, zero file digest, and every bank extended with all ones. */
START_TEST(test_vector_violation)
{
        for (size_t t = 0; t < ELEMENTSOF(all_templates); t++) {
                _cleanup_free_ struct dw_ima_replay *r = malloc(sizeof(*r));
                _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
                struct dw_ima_event ev = full_event(all_templates[t], 2);
                const uint8_t *digest;
                size_t len;
                struct dw_error err = {};

                ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA256, DW_IMA_BANK_NATIVE, &b), 0);
                ck_assert(b.entry.violation);
                for (size_t i = 0; i < 32; i++)
                        ck_assert_uint_eq(b.entry.template_digest[i], 0);
                if (dw_ima_entry_file_digest(&b.entry, NULL, &digest, &len, NULL) == 0)
                        for (size_t i = 0; i < len; i++)
                                ck_assert_uint_eq(digest[i], 0);

                replay_init_all(r);
                ck_assert_msg(dw_ima_replay_entry(r, h, &b.entry, &err) == 0, "%s", err.msg);
                ck_assert_uint_eq(r->violations, 1);
                FOREACH_HASH_ALG (alg) {
                        uint8_t in[2 * DW_HASH_MAX_SIZE] = {}, want[DW_HASH_MAX_SIZE];
                        size_t size = dw_hash_alg_size(alg);

                        if (!dw_hasher_has(h, alg))
                                continue;
                        memset(in + size, 0xff, size);
                        evp(evp_name(alg), in, 2 * size, want);
                        ck_assert_mem_eq(r->pcr[alg][DW_IMA_BANK_NATIVE][ev.pcr], want, size);
                        ck_assert_mem_eq(r->pcr[alg][DW_IMA_BANK_SHA1_PADDED][ev.pcr], want, size);
                }
        }
}
END_TEST

/* A log for a bank the kernel could not hash holds the SHA-1 digest zero-padded: it checks, and the replay still
 * computes the native digest for the native rule. */
START_TEST(test_vector_sha1_padded_log)
{
        _cleanup_free_ struct dw_ima_replay *r = malloc(sizeof(*r));
        _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
        struct dw_ima_event ev = full_event("ima-ng", 0);
        uint8_t td[256], sha1[20], sha256[32], in[64] = {}, want[32];
        struct dw_error err = {};
        size_t td_len;

        td_len = ima_ng_data(td, file_digest256, ev.name);
        evp("SHA1", td, td_len, sha1);
        evp("SHA256", td, td_len, sha256);

        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA256, DW_IMA_BANK_SHA1_PADDED, &b), 0);
        ck_assert_mem_eq(b.entry.template_digest, sha1, 20);
        for (size_t i = 20; i < 32; i++)
                ck_assert_uint_eq(b.entry.template_digest[i], 0);
        ck_assert_int_eq(dw_ima_entry_check_digest(h, &b.entry, &err), 0);

        dw_ima_replay_init(r);
        dw_ima_replay_enable(r, DW_HASH_SHA256, DW_IMA_BANK_NATIVE);
        dw_ima_replay_enable(r, DW_HASH_SHA256, DW_IMA_BANK_SHA1_PADDED);
        ck_assert_int_eq(dw_ima_replay_entry(r, h, &b.entry, &err), 0);
        memcpy(in + 32, sha256, 32);
        evp("SHA256", in, 64, want);
        ck_assert_mem_eq(r->pcr[DW_HASH_SHA256][DW_IMA_BANK_NATIVE][10], want, 32);
        memset(in + 32, 0, 32);
        memcpy(in + 32, sha1, 20);
        evp("SHA256", in, 64, want);
        ck_assert_mem_eq(r->pcr[DW_HASH_SHA256][DW_IMA_BANK_SHA1_PADDED][10], want, 32);
}
END_TEST

START_TEST(test_template_lookup)
{
        struct dw_ima_template t;

        ck_assert_int_eq(dw_ima_template_lookup("ima", 3, &t), 0);
        ck_assert(t.is_ima);
        ck_assert_uint_eq(t.n_fields, 2);
        ck_assert_int_eq(dw_ima_template_lookup("evm-sig", 7, &t), 0);
        ck_assert_uint_eq(t.n_fields, 9);
        ck_assert_int_eq(t.fields[8], DW_IMA_FIELD_IMODE);
        ck_assert_int_eq(dw_ima_template_lookup("ima-modsig", 10, &t), 0);
        ck_assert_int_eq(t.fields[3], DW_IMA_FIELD_D_MODSIG);
        ck_assert_int_eq(dw_ima_template_lookup("d|n", 3, &t), 0);
        ck_assert(!t.is_ima);
        ck_assert_int_eq(dw_ima_template_lookup("sig", 3, &t), 0);
        ck_assert_uint_eq(t.n_fields, 1);
        /* The length counts, not a NUL. */
        ck_assert_int_eq(dw_ima_template_lookup("ima-ngXX", 6, &t), 0);
        ck_assert_uint_eq(t.n_fields, 2);

        ck_assert_int_eq(dw_ima_template_lookup("ima-foo", 7, &t), -EBADMSG);
        ck_assert_int_eq(dw_ima_template_lookup("d-ng||n-ng", 10, &t), -EBADMSG);
        ck_assert_int_eq(dw_ima_template_lookup("d-ng|", 5, &t), -EBADMSG);
        ck_assert_int_eq(dw_ima_template_lookup("", 0, &t), -EBADMSG);
        ck_assert_int_eq(dw_ima_template_lookup("D-NG", 4, &t), -EBADMSG);
        ck_assert_int_eq(dw_ima_template_lookup("d|d|d|d|d|d|d|d|d|d|d|d|d|d|d", 29, &t), 0);
        ck_assert_uint_eq(t.n_fields, 15);
        ck_assert_int_eq(dw_ima_template_lookup("d|d|d|d|d|d|d|d|d|d|d|d|d|d|d|d", 31, &t), -EBADMSG);

        for (enum dw_ima_field_id id = 0; id < _DW_IMA_FIELD_MAX; id++) {
                const char *name = dw_ima_field_id_name(id);

                ck_assert_ptr_nonnull(name);
                ck_assert_int_eq(dw_ima_template_lookup(name, strlen(name), &t), 0);
                ck_assert_int_eq(t.fields[0], id);
        }
        ck_assert_ptr_null(dw_ima_field_id_name(_DW_IMA_FIELD_MAX));
        ck_assert_str_eq(dw_ima_bank_rule_name(DW_IMA_BANK_NATIVE), "native");
        ck_assert_str_eq(dw_ima_bank_rule_name(DW_IMA_BANK_SHA1_PADDED), "sha1-padded");
}
END_TEST

/* ---- 3. incremental replay ---- */

static void assert_same_pcrs(const struct dw_ima_replay *a, const struct dw_ima_replay *b)
{
        ck_assert_uint_eq(a->next_index, b->next_index);
        ck_assert_uint_eq(a->violations, b->violations);
        ck_assert_uint_eq(a->touched, b->touched);
        ck_assert_mem_eq(a->pcr, b->pcr, sizeof(a->pcr));
}

START_TEST(test_split_every_entry)
{
        for (enum dw_ima_format format = 0; format <= DW_IMA_FORMAT_ASCII; format++) {
                _cleanup_free_ struct dw_ima_replay *full = malloc(sizeof(*full)), *r = malloc(sizeof(*r)),
                                                    *saved = malloc(sizeof(*saved));
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len, offsets[REAL_ENTRIES + 2], consumed;
                struct dw_error err = {};

                buf = real_log(format, &len);
                ck_assert_uint_eq(entry_offsets(format, buf, len, offsets, ELEMENTSOF(offsets)), REAL_ENTRIES);
                replay_init_all(full);
                ck_assert_int_eq(dw_ima_replay_feed(full, h, format, DW_HASH_SHA1, buf, len, NULL, &err), 0);

                for (size_t k = 0; k <= REAL_ENTRIES; k++) {
                        replay_init_all(r);
                        ck_assert_int_eq(
                                dw_ima_replay_feed(r, h, format, DW_HASH_SHA1, buf, offsets[k], &consumed, &err), 0);
                        ck_assert_uint_eq(consumed, offsets[k]);
                        ck_assert_uint_eq(r->next_index, k);
                        /* The state is plain data: persist it and resume from the copy. */
                        memcpy(saved, r, sizeof(*r));
                        memset(r, 0xaa, sizeof(*r));
                        ck_assert_msg(dw_ima_replay_feed(saved, h, format, DW_HASH_SHA1, buf + offsets[k],
                                                         len - offsets[k], &consumed, &err) == 0,
                                      "%s", err.msg);
                        ck_assert_uint_eq(consumed, len - offsets[k]);
                        assert_same_pcrs(saved, full);
                }
        }
}
END_TEST

START_TEST(test_cut_every_offset)
{
        for (enum dw_ima_format format = 0; format <= DW_IMA_FORMAT_ASCII; format++) {
                _cleanup_free_ struct dw_ima_replay *full = malloc(sizeof(*full)), *r = malloc(sizeof(*r));
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len, offsets[REAL_ENTRIES + 2];
                struct dw_error err = {};

                buf = real_log(format, &len);
                entry_offsets(format, buf, len, offsets, ELEMENTSOF(offsets));
                replay_init_all(full);
                ck_assert_int_eq(dw_ima_replay_feed(full, h, format, DW_HASH_SHA1, buf, len, NULL, &err), 0);

                for (size_t cut = 0; cut <= len; cut++) {
                        _cleanup_free_ uint8_t *part = malloc(MAX(cut, (size_t)1));
                        size_t k = 0, consumed = SIZE_MAX, rest;
                        int ret;

                        while (k < REAL_ENTRIES && offsets[k + 1] <= cut)
                                k++;
                        memcpy(part, buf, cut);
                        replay_init_all(r);
                        memset(&err, 0, sizeof(err));
                        ret = dw_ima_replay_feed(r, h, format, DW_HASH_SHA1, part, cut, &consumed, &err);
                        ck_assert_uint_eq(r->next_index, k);
                        ck_assert_uint_eq(consumed, offsets[k]);
                        if (cut == offsets[k]) {
                                ck_assert_int_eq(ret, 0);
                        } else {
                                ck_assert_msg(ret == -EAGAIN, "cut at %zu: %d %s", cut, ret, err.msg);
                                ck_assert_uint_eq(err.index, k);
                                ck_assert_uint_eq(err.offset, offsets[k]);
                                ck_assert(err.msg[0] != '\0');
                        }
                        /* The rest, fed from where it stopped, completes the replay. */
                        rest = len - consumed;
                        ck_assert_int_eq(
                                dw_ima_replay_feed(r, h, format, DW_HASH_SHA1, buf + consumed, rest, NULL, &err), 0);
                        assert_same_pcrs(r, full);
                }
        }
}
END_TEST

START_TEST(test_cut_messages)
{
        _cleanup_free_ uint8_t *bin = NULL, *asc = NULL;
        size_t bin_len, asc_len;
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        struct dw_error err = {};

        bin = real_log(DW_IMA_FORMAT_BINARY, &bin_len);
        ck_assert_int_eq(parse_one(DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, bin, 10, &e, &p, &err), -EAGAIN);
        ck_assert_str_eq(err.msg, "entry cut short: needs 18 more bytes");
        ck_assert_uint_eq(p.pos, 0);
        dw_ima_parser_done(&p);
        asc = real_log(DW_IMA_FORMAT_ASCII, &asc_len);
        ck_assert_int_eq(parse_one(DW_IMA_FORMAT_ASCII, DW_HASH_SHA1, asc, 10, &e, &p, &err), -EAGAIN);
        ck_assert_ptr_nonnull(strstr(err.msg, "last line has no newline"));
        dw_ima_parser_done(&p);
}
END_TEST

/* ---- 4. bad input ---- */

/* Feeds the real log's first two entries, then bad: the error is for entry 2, at its offset, with those two
 * replayed. */
static void expect_bad(enum dw_ima_format format, const void *bad, size_t bad_len, int want, const char *msg)
{
        _cleanup_free_ struct dw_ima_replay *r = malloc(sizeof(*r));
        _cleanup_free_ uint8_t *real = NULL, *buf = NULL;
        size_t real_len, offsets[REAL_ENTRIES + 2], consumed = 0;
        struct dw_error err = {};
        int ret;

        real = real_log(format, &real_len);
        entry_offsets(format, real, real_len, offsets, ELEMENTSOF(offsets));
        buf = malloc(offsets[2] + bad_len);
        memcpy(buf, real, offsets[2]);
        memcpy(buf + offsets[2], bad, bad_len);

        replay_init_all(r);
        ret = dw_ima_replay_feed(r, h, format, DW_HASH_SHA1, buf, offsets[2] + bad_len, &consumed, &err);
        ck_assert_msg(ret == want, "expected %d, got %d (%s)", want, ret, err.msg);
        if (want == 0) {
                ck_assert_uint_eq(consumed, offsets[2] + bad_len);
                return;
        }
        ck_assert_uint_eq(consumed, offsets[2]);
        ck_assert_uint_eq(r->next_index, 2);
        ck_assert_uint_eq(err.index, 2);
        ck_assert_uint_eq(err.offset, offsets[2]);
        ck_assert_msg(strstr(err.msg, msg), "message '%s' lacks '%s'", err.msg, msg);
}

#define EXPECT_BAD_STR(format, s, want, msg) expect_bad(format, s, strlen(s), want, msg)

START_TEST(test_bad_lengths)
{
        uint8_t td[256], e[512];
        size_t td_len = ima_ng_data(td, file_digest256, "/x"), n, pos;

        /* Template data length absurd, and merely longer than the data: the latter is a cut, not an error. */
        n = raw_entry(e, 10, "ima-ng", td, td_len, 0xffffffffu);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -E2BIG, "template data length 4294967295 exceeds");
        n = raw_entry(e, 10, "ima-ng", td, td_len, DW_IMA_TEMPLATE_DATA_MAX + 1);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -E2BIG, "exceeds the limit");
        n = raw_entry(e, 10, "ima-ng", td, td_len, (uint32_t)td_len + 100);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EAGAIN, "needs 100 more bytes");

        /* Template name length. */
        n = raw_entry(e, 10, "ima-ng", td, td_len, (uint32_t)td_len);
        pos = 24;
        put32(e, &pos, 0xffffffffu);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "template name length 4294967295 out of range");
        pos = 24;
        put32(e, &pos, 0);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "template name length 0 out of range");

        /* A field length beyond the template data. */
        pos = 0;
        put32(td, &pos, 0xfffffff0u);
        n = raw_entry(e, 10, "ima-ng", td, td_len, (uint32_t)td_len);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG,
                   "field 'd-ng' length 4294967280 exceeds remaining 47 bytes of template data");
}
END_TEST

START_TEST(test_bad_field_sum)
{
        uint8_t td[256], e[512];
        size_t td_len = ima_ng_data(td, file_digest256, "/x"), n;

        /* Extra bytes after the last field. */
        memset(td + td_len, 0, 4);
        n = raw_entry(e, 10, "ima-ng", td, td_len + 4, (uint32_t)td_len + 4);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "template data has 4 bytes after its last field");
        /* Too few bytes for the fields. */
        n = raw_entry(e, 10, "ima-ng", td, td_len - 3, (uint32_t)td_len - 3);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "field 'n-ng' length 3 exceeds remaining 0 bytes");
        n = raw_entry(e, 10, "ima-ng", td, 44, 44);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "template data ends after 1 of 2 fields");
        /* One field too many for the template: ima-sig data under the ima-ng name and vice versa. */
        memset(td + td_len, 0, 4);
        n = raw_entry(e, 10, "ima-sig", td, td_len, (uint32_t)td_len);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "template data ends after 2 of 3 fields");
}
END_TEST

START_TEST(test_bad_template)
{
        uint8_t td[256], e[512];
        size_t td_len = ima_ng_data(td, file_digest256, "/x"), n;

        n = raw_entry(e, 10, "foo", td, td_len, (uint32_t)td_len);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "unknown template 'foo'");
        n = raw_entry(e, 10, "d-ng|foo", td, td_len, (uint32_t)td_len);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "unknown template field 'foo' in template 'd-ng|foo'");
        n = raw_entry(e, 10, "d|d|d|d|d|d|d|d|d|d|d|d|d|d|d|d", td, td_len, (uint32_t)td_len);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "has more than 15 fields");
        n = raw_entry(e, 10, "ima-n\x01", td, td_len, (uint32_t)td_len);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "unknown template 'ima-n?'");

        EXPECT_BAD_STR(DW_IMA_FORMAT_ASCII, "10 0000000000000000000000000000000000000001 ima-foo sha1:00 /x\n",
                       -EBADMSG, "unknown template 'ima-foo'");
        EXPECT_BAD_STR(DW_IMA_FORMAT_ASCII, "10 0000000000000000000000000000000000000001 d-ng|foo sha1:00 /x\n",
                       -EBADMSG, "unknown template field 'foo' in template 'd-ng|foo'");
}
END_TEST

START_TEST(test_bad_digest_size)
{
        static const uint8_t short_digest[31] = {1};
        _cleanup_(dw_ima_buf_done) struct dw_ima_buf bin = {}, asc = {};
        struct dw_ima_event ev = full_event("ima-ng", 0);

        ev.digest = short_digest;
        ev.digest_len = sizeof(short_digest);
        ck_assert_int_eq(dw_ima_event_write(h, &ev, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &bin), 0);
        expect_bad(DW_IMA_FORMAT_BINARY, bin.data, bin.len, -EBADMSG,
                   "field 'd-ng': sha256 digest has 31 bytes, expected 32");
        ck_assert_int_eq(dw_ima_event_write(h, &ev, DW_IMA_FORMAT_ASCII, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &asc), 0);
        expect_bad(DW_IMA_FORMAT_ASCII, asc.data, asc.len, -EBADMSG,
                   "field 'd-ng': sha256 digest has 31 bytes, expected 32");

        /* An algorithm we do not know: any size up to 64 bytes, not more. */
        bin.len = 0;
        ev.digest_algo = "newhash";
        ck_assert_int_eq(dw_ima_event_write(h, &ev, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &bin), 0);
        ck_assert_int_eq(dw_ima_replay_feed(&(struct dw_ima_replay){}, h, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, bin.data,
                                            bin.len, NULL, NULL),
                         0);
}
END_TEST

START_TEST(test_bad_pcr)
{
        uint8_t td[256], e[512];
        size_t td_len = ima_ng_data(td, file_digest256, "/x"), n;
        char line[256], hex[65];

        n = raw_entry(e, 24, "ima-ng", td, td_len, (uint32_t)td_len);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "PCR index 24 out of range");
        n = raw_entry(e, 0xffffffffu, "ima-ng", td, td_len, (uint32_t)td_len);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "PCR index 4294967295 out of range");

        snprintf(line, sizeof(line), "24 %s ima-ng sha256:%s /x\n", "1111111111111111111111111111111111111111",
                 dw_hex_encode(file_digest256, 32, hex));
        expect_bad(DW_IMA_FORMAT_ASCII, line, strlen(line), -EBADMSG, "PCR index 24 out of range");
        line[0] = 'x';
        expect_bad(DW_IMA_FORMAT_ASCII, line, strlen(line), -EBADMSG, "does not start with a PCR index");
}
END_TEST

START_TEST(test_bad_garbage)
{
        static const char garbage[] = "hello world, this is not a measurement list\n";
        static const uint8_t zeros[64] = {};

        expect_bad(DW_IMA_FORMAT_BINARY, garbage, sizeof(garbage) - 1, -EBADMSG, "PCR index");
        expect_bad(DW_IMA_FORMAT_ASCII, garbage, sizeof(garbage) - 1, -EBADMSG, "PCR index");
        /* All zeros: PCR 0, zero digest, then template name length 0. */
        expect_bad(DW_IMA_FORMAT_BINARY, zeros, sizeof(zeros), -EBADMSG, "template name length 0");
        EXPECT_BAD_STR(DW_IMA_FORMAT_ASCII, "\n", -EBADMSG, "PCR index");
        EXPECT_BAD_STR(DW_IMA_FORMAT_ASCII, "10\n", -EBADMSG, "line ends after the PCR index");
        EXPECT_BAD_STR(DW_IMA_FORMAT_ASCII, "10 00\n", -EOPNOTSUPP, "template digest of 2 hex digits");
        EXPECT_BAD_STR(DW_IMA_FORMAT_ASCII, "10 0000000000000000000000000000000000000000\n", -EBADMSG,
                       "line ends after the template digest");
}
END_TEST

START_TEST(test_bad_ascii)
{
        _cleanup_(dw_ima_buf_done) struct dw_ima_buf asc = {};
        struct dw_ima_event ev = full_event("ima-sig", 0);
        char line[512];
        const char *d;

        ck_assert_int_eq(dw_ima_event_write(h, &ev, DW_IMA_FORMAT_ASCII, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &asc), 0);
        ck_assert_uint_lt(asc.len, sizeof(line));
        memcpy(line, asc.data, asc.len);
        line[asc.len] = '\0';
        expect_bad(DW_IMA_FORMAT_ASCII, line, asc.len, 0, ""); /* sanity: the line itself is good */

        /* Non-hex in the template digest, the file digest and the signature. */
        line[5] = 'g';
        expect_bad(DW_IMA_FORMAT_ASCII, line, asc.len, -EBADMSG, "template digest is not hex");
        line[5] = asc.data[5];
        d = strstr(line, "sha256:");
        line[d - line + 10] = 'z';
        expect_bad(DW_IMA_FORMAT_ASCII, line, asc.len, -EBADMSG, "file digest is not hex");
        line[d - line + 10] = asc.data[d - line + 10];
        line[asc.len - 3] = 'Q';
        expect_bad(DW_IMA_FORMAT_ASCII, line, asc.len, -EBADMSG, "field 'sig' is not hex");
        line[asc.len - 3] = asc.data[asc.len - 3];
        line[asc.len - 2] = '\n';
        expect_bad(DW_IMA_FORMAT_ASCII, line, asc.len - 1, -EBADMSG, "field 'sig' is not hex"); /* odd length */

        /* One field too many or too few. */
        memcpy(line, asc.data, asc.len);
        memcpy(line + asc.len - 1, " 00\n", 5);
        expect_bad(DW_IMA_FORMAT_ASCII, line, asc.len + 3, -EBADMSG, "line has more fields than template 'ima-sig'");
        memcpy(line, asc.data, asc.len);
        d = strrchr(line, ' ');
        memcpy(line + (d - line), "\n", 2);
        expect_bad(DW_IMA_FORMAT_ASCII, line, (size_t)(d - line) + 1, -EBADMSG,
                   "line ends after 2 of 3 fields of template 'ima-sig'");

        /* d-ng without its algorithm, a uint out of range. */
        EXPECT_BAD_STR(DW_IMA_FORMAT_ASCII, "10 0000000000000000000000000000000000000001 ima-ng 00112233 /x\n",
                       -EBADMSG, "field 'd-ng' has no '<algorithm>:' prefix");
        EXPECT_BAD_STR(DW_IMA_FORMAT_ASCII,
                       "10 0000000000000000000000000000000000000001 d-ng|imode "
                       "sha1:0000000000000000000000000000000000000000 70000\n",
                       -EBADMSG, "field 'imode' is not a number in 0..65535");
        EXPECT_BAD_STR(DW_IMA_FORMAT_ASCII,
                       "10 0000000000000000000000000000000000000001 d-ng|iuid "
                       "sha1:0000000000000000000000000000000000000000 -1\n",
                       -EBADMSG, "field 'iuid' is not a number");
}
END_TEST

START_TEST(test_bad_fields)
{
        uint8_t td[512], e[1024];
        size_t td_len, n, pos;

        /* n-ng without its NUL, and with a NUL inside. */
        pos = 0;
        put32(td, &pos, 8 + 32);
        put(td, &pos, "sha256:", 8);
        put(td, &pos, file_digest256, 32);
        put32(td, &pos, 2);
        put(td, &pos, "/x", 2);
        n = raw_entry(e, 10, "ima-ng", td, pos, (uint32_t)pos);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "field 'n-ng' does not end in a NUL");
        memcpy(td + pos - 2, "\0\0", 2);
        n = raw_entry(e, 10, "ima-ng", td, pos, (uint32_t)pos);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "field 'n-ng' has a NUL inside");

        /* d-ngv2 with an unknown digest type; d-ng without ':'. */
        pos = 0;
        put32(td, &pos, 12 + 32);
        put(td, &pos, "foo:sha256:", 12);
        put(td, &pos, file_digest256, 32);
        put32(td, &pos, 3);
        put(td, &pos, "/x", 3);
        n = raw_entry(e, 10, "ima-ngv2", td, pos, (uint32_t)pos);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "has no digest type ima: or verity:");
        n = raw_entry(e, 10, "ima-ng", td, pos, (uint32_t)pos);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "bad algorithm name 'foo:sha256'");
        td_len = ima_ng_data(td, file_digest256, "/x");
        td[4 + 6] = 'x'; /* "sha256x\0" */
        n = raw_entry(e, 10, "ima-ng", td, td_len, (uint32_t)td_len);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "does not end in ':'");

        /* iuid of the wrong size. */
        pos = 0;
        put32(td, &pos, 2);
        put(td, &pos, "\1\2", 2);
        n = raw_entry(e, 10, "iuid", td, pos, (uint32_t)pos);
        expect_bad(DW_IMA_FORMAT_BINARY, e, n, -EBADMSG, "field 'iuid' has 2 bytes, expected 4");

        /* "ima": an event name longer than 255 bytes. */
        pos = 0;
        put32(e, &pos, 10);
        put(e, &pos, file_digest1, 20);
        put32(e, &pos, 3);
        put(e, &pos, "ima", 3);
        put(e, &pos, file_digest1, 20);
        put32(e, &pos, 300);
        memset(e + pos, 'a', 300);
        pos += 300;
        expect_bad(DW_IMA_FORMAT_BINARY, e, pos, -EBADMSG, "event name length 300 exceeds 255");
}
END_TEST

START_TEST(test_bad_digest_mismatch)
{
        _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
        _cleanup_(dw_ima_buf_done) struct dw_ima_buf bin = {}, asc = {};
        _cleanup_free_ struct dw_ima_replay *r = malloc(sizeof(*r));
        struct dw_ima_event ev = full_event("ima-ng", 0);
        struct dw_error err = {};
        char want[200], hex1[41], hex2[41];
        uint8_t good[20];

        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), 0);
        memcpy(good, b.entry.template_digest, 20);
        b.entry.template_digest[0] ^= 1;
        ck_assert_int_eq(dw_ima_entry_check_digest(h, &b.entry, &err), -EBADMSG);
        snprintf(want, sizeof(want), "template digest mismatch (logged %s, computed %s)",
                 dw_hex_encode(b.entry.template_digest, 20, hex1), dw_hex_encode(good, 20, hex2));
        ck_assert_str_eq(err.msg, want);

        ck_assert_int_eq(dw_ima_entry_write_binary(&b.entry, &bin), 0);
        ck_assert_int_eq(dw_ima_entry_write_ascii(&b.entry, &asc), 0);
        expect_bad(DW_IMA_FORMAT_BINARY, bin.data, bin.len, -EBADMSG, want);
        expect_bad(DW_IMA_FORMAT_ASCII, asc.data, asc.len, -EBADMSG, want);

        /* Without the check, it replays. */
        dw_ima_replay_init(r);
        r->check_digests = false;
        dw_ima_replay_enable(r, DW_HASH_SHA1, DW_IMA_BANK_NATIVE);
        ck_assert_int_eq(dw_ima_replay_feed(r, h, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, bin.data, bin.len, NULL, &err),
                         0);

        /* A zero template digest (violation) with a non-zero file digest. */
        memset(b.entry.template_digest, 0, 20);
        b.entry.violation = true;
        ck_assert_int_eq(dw_ima_entry_check_digest(h, &b.entry, &err), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(err.msg, "but the file digest is not"));
        bin.len = 0;
        ck_assert_int_eq(dw_ima_entry_write_binary(&b.entry, &bin), 0);
        expect_bad(DW_IMA_FORMAT_BINARY, bin.data, bin.len, -EBADMSG, "but the file digest is not");
}
END_TEST

START_TEST(test_bad_replay_order)
{
        _cleanup_(dw_ima_built_entry_done) struct dw_ima_built_entry b = {};
        _cleanup_free_ struct dw_ima_replay *r = malloc(sizeof(*r)), *before = malloc(sizeof(*before));
        struct dw_ima_event ev = full_event("ima-ng", 0);
        struct dw_error err = {};

        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), 0);
        replay_init_all(r);
        b.entry.index = 1;
        memcpy(before, r, sizeof(*r));
        ck_assert_int_eq(dw_ima_replay_entry(r, h, &b.entry, &err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "out of order"));
        ck_assert_mem_eq(r, before, sizeof(*r));
        b.entry.index = 0;
        ck_assert_int_eq(dw_ima_replay_entry(r, h, &b.entry, &err), 0);
        ck_assert_uint_eq(r->next_index, 1);

        /* A failed check changes nothing. */
        b.entry.index = 1;
        b.entry.template_digest[3] ^= 0x40;
        memcpy(before, r, sizeof(*r));
        ck_assert_int_eq(dw_ima_replay_entry(r, h, &b.entry, &err), -EBADMSG);
        ck_assert_mem_eq(r, before, sizeof(*r));

        /* The writer refuses what it cannot write. */
        ev.template_name = "nope";
        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), -EINVAL);
        ev = full_event("ima", 0);
        ev.digest_len = 32;
        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), -EINVAL);
        ev = full_event("ima-ng", 0);
        ev.name = NULL;
        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), -EINVAL);
        ev = full_event("ima-ng", 0);
        ev.pcr = 24;
        ck_assert_int_eq(dw_ima_event_build(h, &ev, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, &b), -EINVAL);
}
END_TEST

/* ---- fuzz ---- */

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

/* Every entry the parser accepts goes through the accessors and writers too. */
static void fuzz_one(enum dw_ima_format format, const uint8_t *src, size_t src_len, struct dw_ima_replay *r)
{
        static const uint8_t interesting[] = {0, 1, ' ', '\n', ':', '|', '0', 'f', 0x7f, 0xff, 24, 10};
        _cleanup_(dw_ima_buf_done) struct dw_ima_buf out = {};
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = src_len, consumed = SIZE_MAX;
        unsigned flips = 1 + (unsigned)(rnd() % 4);
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        struct dw_error err = {};
        int ret;

        buf = malloc(MAX(len, (size_t)1));
        memcpy(buf, src, len);
        for (unsigned i = 0; i < flips && len > 0; i++) {
                size_t pos = rnd() % len;

                switch (rnd() % 3) {
                case 0:
                        buf[pos] ^= (uint8_t)(1u << (rnd() % 8));
                        break;
                case 1:
                        buf[pos] = interesting[rnd() % sizeof(interesting)];
                        break;
                default:
                        buf[pos] = (uint8_t)rnd();
                }
        }
        if (rnd() % 3 == 0)
                len = rnd() % (len + 1);

        replay_init_all(r);
        ret = dw_ima_replay_feed(r, h, format, DW_HASH_SHA1, buf, len, &consumed, &err);
        ck_assert_msg(ret == 0 || ret == -EAGAIN || ret == -EBADMSG || ret == -E2BIG || ret == -EOPNOTSUPP,
                      "unexpected %d: %s", ret, err.msg);
        ck_assert_uint_le(consumed, len);
        ck_assert_uint_eq(memchr(err.msg, '\0', sizeof(err.msg)) != NULL, 1);

        dw_ima_parser_init(&p, format, DW_HASH_SHA1, buf, len);
        while (dw_ima_parser_next(&p, &e, &err) > 0) {
                const uint8_t *d;
                const char *s;
                enum dw_hash_alg alg;
                size_t n;
                uint32_t n32;

                (void)dw_ima_entry_check_digest(h, &e, &err);
                (void)dw_ima_entry_file_digest(&e, &alg, &d, &n, &s);
                (void)dw_ima_entry_event_name(&e, &s, &n);
                (void)dw_ima_entry_field(&e, DW_IMA_FIELD_SIG, &d, &n32);
                ck_assert_int_eq(dw_ima_entry_write_ascii(&e, &out), 0);
                ck_assert_int_eq(dw_ima_entry_write_binary(&e, &out), 0);
        }
        dw_ima_parser_done(&p);
}

START_TEST(test_fuzz)
{
        _cleanup_free_ struct dw_ima_replay *r = malloc(sizeof(*r));
        _cleanup_free_ uint8_t *bin = NULL, *asc = NULL;
        _cleanup_(dw_ima_buf_done) struct dw_ima_buf all_bin = {}, all_asc = {};
        size_t bin_len, asc_len;

        bin = real_log(DW_IMA_FORMAT_BINARY, &bin_len);
        asc = real_log(DW_IMA_FORMAT_ASCII, &asc_len);
        for (size_t t = 0; t < ELEMENTSOF(all_templates); t++)
                for (int variant = 0; variant < 3; variant++) {
                        struct dw_ima_event ev = full_event(all_templates[t], variant);

                        ck_assert_int_eq(dw_ima_event_write(h, &ev, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1,
                                                            DW_IMA_BANK_NATIVE, &all_bin),
                                         0);
                        ck_assert_int_eq(dw_ima_event_write(h, &ev, DW_IMA_FORMAT_ASCII, DW_HASH_SHA1,
                                                            DW_IMA_BANK_NATIVE, &all_asc),
                                         0);
                }

        /* The real log, 20000 times; then every template. */
        for (unsigned i = 0; i < 20000; i++) {
                if (i % 2)
                        fuzz_one(DW_IMA_FORMAT_ASCII, asc, asc_len, r);
                else
                        fuzz_one(DW_IMA_FORMAT_BINARY, bin, bin_len, r);
        }
        for (unsigned i = 0; i < 4000; i++) {
                if (i % 2)
                        fuzz_one(DW_IMA_FORMAT_ASCII, all_asc.data, all_asc.len, r);
                else
                        fuzz_one(DW_IMA_FORMAT_BINARY, all_bin.data, all_bin.len, r);
        }
}
END_TEST

static Suite *ima_suite(void)
{
        Suite *s = suite_create("ima");
        struct {
                const char *name;
                const TTest *tests[16];
        } cases[] = {
                {"real",
                 {test_real_parse, test_real_accessors, test_real_replay, test_real_ascii_matches_binary,
                  test_real_rewrite}},
                {"vectors",
                 {test_vector_ima_ng_by_hand, test_vector_ima_by_hand, test_vector_ima_sig_by_hand,
                  test_vector_all_templates, test_vector_ascii_forms, test_vector_accessors, test_vector_violation,
                  test_vector_sha1_padded_log, test_template_lookup}},
                {"incremental", {test_split_every_entry, test_cut_every_offset, test_cut_messages}},
                {"bad",
                 {test_bad_lengths, test_bad_field_sum, test_bad_template, test_bad_digest_size, test_bad_pcr,
                  test_bad_garbage, test_bad_ascii, test_bad_fields, test_bad_digest_mismatch, test_bad_replay_order,
                  test_fuzz}},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                TCase *tc = tcase_create(cases[i].name);

                tcase_add_checked_fixture(tc, hasher_setup, hasher_teardown);
                tcase_set_timeout(tc, 300);
                for (size_t j = 0; j < ELEMENTSOF(cases[i].tests) && cases[i].tests[j]; j++)
                        tcase_add_test(tc, cases[i].tests[j]);
                suite_add_tcase(s, tc);
        }
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(ima_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
