/* SPDX-License-Identifier: MIT */
/* lib/hash and lib/hex against published test vectors (FIPS 180 "abc", GB/T 32905 for SM3). */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hex.h"

static const struct {
        enum dw_hash_alg alg;
        const char *abc;
} vectors[] = {
        {DW_HASH_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {DW_HASH_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {DW_HASH_SHA384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                         "8086072ba1e7cc2358baeca134c825a7"},
        {DW_HASH_SHA512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                         "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
        {DW_HASH_SM3_256, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
};

START_TEST(test_abc_vectors)
{
        struct dw_hasher *h = NULL;
        uint8_t out[DW_HASH_MAX_SIZE];
        char hex[2 * DW_HASH_MAX_SIZE + 1];

        ck_assert_int_eq(dw_hasher_new(&h), 0);
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
                if (!dw_hasher_has(h, vectors[i].alg)) {
                        ck_assert_int_eq(vectors[i].alg, DW_HASH_SM3_256); /* only SM3 may be missing */
                        continue;
                }
                ck_assert_int_eq(dw_hash_buf(h, vectors[i].alg, "abc", 3, out), 0);
                ck_assert_str_eq(dw_hex_encode(out, dw_hash_alg_size(vectors[i].alg), hex), vectors[i].abc);
                /* Streaming gives the same. */
                ck_assert_int_eq(dw_hasher_init(h, vectors[i].alg), 0);
                ck_assert_int_eq(dw_hasher_update(h, "a", 1), 0);
                ck_assert_int_eq(dw_hasher_update(h, "bc", 2), 0);
                ck_assert_int_eq(dw_hasher_final(h, out), 0);
                ck_assert_str_eq(dw_hex_encode(out, dw_hash_alg_size(vectors[i].alg), hex), vectors[i].abc);
        }
        dw_hasher_free(h);
}
END_TEST

START_TEST(test_oneshot_matches_hasher)
{
        struct dw_hasher *h = NULL;
        uint8_t a[DW_HASH_MAX_SIZE], b[DW_HASH_MAX_SIZE], data[300];

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 7);
        ck_assert_int_eq(dw_hasher_new(&h), 0);
        FOREACH_HASH_ALG (alg) {
                if (!dw_hasher_has(h, alg))
                        continue;
                for (size_t len = 0; len <= sizeof(data); len += 37) {
                        ck_assert_int_eq(dw_hash_oneshot(alg, data, len, a), (int)dw_hash_alg_size(alg));
                        ck_assert_int_eq(dw_hash_buf(h, alg, data, len, b), 0);
                        ck_assert_mem_eq(a, b, dw_hash_alg_size(alg));
                }
        }
        ck_assert_int_eq(dw_hash_oneshot(_DW_HASH_ALG_MAX, data, 1, a), -EINVAL);
        dw_hasher_free(h);
}
END_TEST

START_TEST(test_pcr_extend)
{
        struct dw_hasher *h = NULL;
        uint8_t pcr[32] = {}, digest[32], expect[32], buf[64];

        ck_assert_int_eq(dw_hasher_new(&h), 0);
        memset(digest, 0xff, sizeof(digest));
        memcpy(buf, pcr, 32);
        memcpy(buf + 32, digest, 32);
        ck_assert_int_eq(dw_hash_buf(h, DW_HASH_SHA256, buf, 64, expect), 0);
        ck_assert_int_eq(dw_pcr_extend(h, DW_HASH_SHA256, pcr, digest), 0);
        ck_assert_mem_eq(pcr, expect, 32);
        dw_hasher_free(h);
}
END_TEST

START_TEST(test_names_and_ids)
{
        enum dw_hash_alg a;

        ck_assert_int_eq(dw_hash_alg_from_name("SHA256", 6, &a), 0);
        ck_assert_int_eq(a, DW_HASH_SHA256);
        ck_assert_int_eq(dw_hash_alg_from_name("sm3", 3, &a), 0);
        ck_assert_int_eq(a, DW_HASH_SM3_256);
        ck_assert_int_eq(dw_hash_alg_from_name("sha25", 5, &a), -EOPNOTSUPP);
        ck_assert_int_eq(dw_hash_alg_from_name("md5", 3, &a), -EOPNOTSUPP);
        ck_assert_int_eq(dw_hash_alg_from_tpm_id(0x000C, &a), 0);
        ck_assert_int_eq(a, DW_HASH_SHA384);
        ck_assert_int_eq(dw_hash_alg_from_tpm_id(0x0027, &a), -EOPNOTSUPP);
        ck_assert_int_eq(dw_hash_alg_tpm_id(DW_HASH_SHA1), 0x0004);
        ck_assert_uint_eq(dw_hash_alg_size(_DW_HASH_ALG_INVALID), 0);
        ck_assert_ptr_null(dw_hash_alg_name(_DW_HASH_ALG_MAX));
}
END_TEST

START_TEST(test_hex)
{
        uint8_t out[4];
        char s[9];

        ck_assert_int_eq(dw_hex_decode("00aBfF10", 8, out, sizeof(out)), 4);
        ck_assert_str_eq(dw_hex_encode(out, 4, s), "00abff10");
        ck_assert_int_eq(dw_hex_decode("abc", 3, out, sizeof(out)), -EINVAL);
        ck_assert_int_eq(dw_hex_decode("zz", 2, out, sizeof(out)), -EINVAL);
        ck_assert_int_eq(dw_hex_decode("0011223344", 10, out, sizeof(out)), -ENOBUFS);
        ck_assert_int_eq(dw_hex_decode("", 0, out, sizeof(out)), 0);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("hash");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_abc_vectors);
        tcase_add_test(tc, test_oneshot_matches_hasher);
        tcase_add_test(tc, test_pcr_extend);
        tcase_add_test(tc, test_names_and_ids);
        tcase_add_test(tc, test_hex);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
