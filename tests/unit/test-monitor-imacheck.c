/* SPDX-License-Identifier: MIT */
/* The IMA cross-check's pure parts: an exec event's facts as IMA's policy rules see them (every tier, set-id files
 * after the exec), the decision for one executed file (every outcome, the grace), and the IMA follower's set of the
 * log's file digests (ima-ng sha256 and sha1, the old ima template, violations). */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drift-imacheck.h"
#include "ima-follow.h"
#include "ima-write.h"
#include "macro.h"

static const char tcb[] = "dont_measure fsmagic=0x9fa0\ndont_measure fsmagic=0x1021994\n"
                          "measure func=BPRM_CHECK mask=MAY_EXEC\n";

static struct drift_event exec_event(void)
{
        struct drift_event ev = {
                .kind = DRIFT_KIND_EXEC,
                .op = DRIFT_OP_EXEC,
                .tier = DRIFT_TIER_LSM,
                .flags = DRIFT_F_HAS_INODE | DRIFT_F_HAS_FACTS,
                .uid = 1000,
                .euid = 1000,
                .suid = 1000,
                .gid = 100,
                .egid = 100,
                .sgid = 100,
                .fowner = 0,
                .fgroup = 0,
                .mode = 0100755,
                .fs_magic = 0xef53,
                .fs_name = "ext4",
        };

        return ev;
}

static enum dw_ima_verdict verdict_of(const char *policy, const struct drift_event *ev)
{
        _cleanup_(dw_ima_policy_freep) struct dw_ima_policy *p = NULL;
        struct dw_error err = {};
        struct dw_ima_access a;

        ck_assert_int_eq(dw_ima_policy_parse(policy, strlen(policy), &p, &err), 0);
        drift_imacheck_access(ev, &a);
        ck_assert_int_eq(a.func, DW_IMA_FUNC_BPRM_CHECK);
        ck_assert_uint_eq(a.mask, DW_IMA_MAY_EXEC);
        return dw_ima_policy_would_measure(p, &a, NULL);
}

START_TEST(test_access)
{
        struct drift_event ev = exec_event();
        struct dw_ima_access a;

        ck_assert_int_eq(verdict_of(tcb, &ev), DW_IMA_MEASURED);
        ev.fs_magic = 0x01021994;
        ck_assert_int_eq(verdict_of(tcb, &ev), DW_IMA_NOT_MEASURED);

        /* Before the exec (lsm, fentry): every credential is known. */
        ev = exec_event();
        drift_imacheck_access(&ev, &a);
        ck_assert_uint_eq(a.known & (DW_IMA_FACT_EUID | DW_IMA_FACT_SUID | DW_IMA_FACT_CAP_SETUID | DW_IMA_FACT_FSNAME),
                          DW_IMA_FACT_EUID | DW_IMA_FACT_SUID | DW_IMA_FACT_CAP_SETUID | DW_IMA_FACT_FSNAME);
        ck_assert_str_eq(a.fsname, "ext4");
        ck_assert_int_eq(verdict_of("measure euid=1000", &ev), DW_IMA_MEASURED);
        ck_assert_int_eq(verdict_of("measure fsname=ext4 fowner=0 fgroup=0 gid=100", &ev), DW_IMA_MEASURED);
        ev.cred_flags = DRIFT_CRED_CAP_SETUID;
        ev.uid = 0;
        ck_assert_int_eq(verdict_of("measure euid=0", &ev), DW_IMA_MEASURED);

        /* After the exec (tracepoint): a set-uid file leaves euid unknown, a plain one does not. */
        ev = exec_event();
        ev.cred_flags = DRIFT_CRED_POST_EXEC;
        ck_assert_int_eq(verdict_of("measure euid=1000", &ev), DW_IMA_MEASURED);
        ck_assert_int_eq(verdict_of("measure uid=1000", &ev), DW_IMA_MEASURED);
        ev.mode = 0104755;
        ev.euid = 0;
        ck_assert_int_eq(verdict_of("measure euid=0", &ev), DW_IMA_UNDECIDED);
        ck_assert_int_eq(verdict_of("measure egid=100", &ev), DW_IMA_MEASURED);
        ev.mode = 0102755;
        ck_assert_int_eq(verdict_of("measure egid=100", &ev), DW_IMA_UNDECIDED);

        /* A cut filesystem name is not known; no facts at all: only unconditional rules decide. */
        ev = exec_event();
        ev.cred_flags = DRIFT_CRED_FS_NAME_CUT;
        ck_assert_int_eq(verdict_of("measure fsname=ext4", &ev), DW_IMA_UNDECIDED);
        ev = exec_event();
        ev.flags &= ~DRIFT_F_HAS_FACTS;
        ck_assert_int_eq(verdict_of(tcb, &ev), DW_IMA_UNDECIDED);
        ck_assert_int_eq(verdict_of("measure func=BPRM_CHECK", &ev), DW_IMA_MEASURED);
        ck_assert_int_eq(verdict_of("measure func=MODULE_CHECK", &ev), DW_IMA_NOT_MEASURED);
}
END_TEST

START_TEST(test_decide)
{
        struct drift_imacheck_input in = {
                .verdict = DW_IMA_MEASURED,
                .have_digest = true,
                .complete = true,
                .found = true,
                .log_ok = true,
                .now_usec = 100,
                .deadline_usec = 200,
        };

        ck_assert_int_eq(drift_imacheck_decide(&in), DRIFT_IMACHECK_MEASURED);
        in.found = false;
        ck_assert_int_eq(drift_imacheck_decide(&in), DRIFT_IMACHECK_WAIT);
        in.now_usec = 200;
        ck_assert_int_eq(drift_imacheck_decide(&in), DRIFT_IMACHECK_UNMEASURED);
        in.log_ok = false;
        ck_assert_int_eq(drift_imacheck_decide(&in), DRIFT_IMACHECK_UNDECIDED);
        in.log_ok = true;
        in.complete = false; /* the log holds digests of an algorithm not computed */
        ck_assert_int_eq(drift_imacheck_decide(&in), DRIFT_IMACHECK_UNDECIDED);
        in.complete = true;
        in.have_digest = false;
        ck_assert_int_eq(drift_imacheck_decide(&in), DRIFT_IMACHECK_NO_DIGEST);
        in.verdict = DW_IMA_NOT_MEASURED;
        ck_assert_int_eq(drift_imacheck_decide(&in), DRIFT_IMACHECK_NOT_REQUIRED);
        in.verdict = DW_IMA_UNDECIDED;
        ck_assert_int_eq(drift_imacheck_decide(&in), DRIFT_IMACHECK_UNDECIDED);
        ck_assert_str_eq(drift_imacheck_result_name(DRIFT_IMACHECK_UNMEASURED), "unmeasured");
}
END_TEST

static void write_event(struct dw_ima_buf *out, const char *template, const char *algo, const uint8_t *digest,
                        size_t len, const char *name, bool violation)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = NULL;
        struct dw_ima_event ev = {
                .pcr = 10,
                .template_name = template,
                .violation = violation,
                .digest_algo = algo,
                .digest = digest,
                .digest_len = len,
                .name = name,
        };

        ck_assert_int_eq(dw_hasher_new(&h), 0);
        ck_assert_int_eq(dw_ima_event_write(h, &ev, DW_IMA_FORMAT_BINARY, DW_HASH_SHA1, DW_IMA_BANK_NATIVE, out), 0);
}

START_TEST(test_digest_set)
{
        char dir[] = "/tmp/dw-imacheck-XXXXXX", path[64];
        _cleanup_(mon_ima_follow_freep) struct mon_ima_follow *f = NULL;
        struct dw_ima_buf log = {};
        uint8_t d256[32], d1[20], other[32];
        struct dw_error err = {};
        int fd;

        memset(d256, 0xa5, sizeof(d256));
        memset(d1, 0x5a, sizeof(d1));
        memset(other, 0x11, sizeof(other));
        write_event(&log, "ima-ng", "sha256", d256, sizeof(d256), "/usr/bin/a", false);
        write_event(&log, "ima", "sha1", d1, sizeof(d1), "/usr/bin/b", false);
        write_event(&log, "ima-ng", "sha256", NULL, 0, "/usr/bin/c", true);
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/log", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, log.data, log.len), (ssize_t)log.len);
        close(fd);

        ck_assert_int_eq(mon_ima_follow_new(path, DW_HASH_SHA1, &f), 0);
        ck_assert(!mon_ima_follow_has_digest(f, DW_HASH_SHA256, d256, sizeof(d256)));
        ck_assert_int_eq(mon_ima_follow_track_digests(f), 0);
        ck_assert_int_eq(mon_ima_follow_poll(f, NULL, NULL, &err), 3);
        ck_assert(!mon_ima_follow_is_kernel(f)); /* a file, not securityfs */
        ck_assert(!mon_ima_follow_failed(f));
        ck_assert(mon_ima_follow_has_digest(f, DW_HASH_SHA256, d256, sizeof(d256)));
        ck_assert(!mon_ima_follow_has_digest(f, DW_HASH_SHA1, d256, 20)); /* the algorithm counts */
        ck_assert(mon_ima_follow_has_digest(f, DW_HASH_SHA1, d1, sizeof(d1)));
        ck_assert(!mon_ima_follow_has_digest(f, DW_HASH_SHA256, other, sizeof(other)));
        memset(other, 0, sizeof(other));
        ck_assert(!mon_ima_follow_has_digest(f, DW_HASH_SHA256, other, sizeof(other))); /* the violation's */
        ck_assert_uint_eq(mon_ima_follow_digest_algs(f), (1u << DW_HASH_SHA256) | (1u << DW_HASH_SHA1));

        /* Many more: the table grows and keeps every digest. */
        log.len = 0;
        for (unsigned i = 0; i < 3000; i++) {
                uint8_t d[32] = {};

                memcpy(d, &i, sizeof(i));
                d[31] = 0x77;
                write_event(&log, "ima-ng", "sha256", d, sizeof(d), "/usr/bin/x", false);
        }
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, log.data, log.len), (ssize_t)log.len);
        close(fd);
        ck_assert_int_eq(mon_ima_follow_poll(f, NULL, NULL, &err), 3000);
        for (unsigned i = 0; i < 3000; i += 7) {
                uint8_t d[32] = {};

                memcpy(d, &i, sizeof(i));
                d[31] = 0x77;
                ck_assert(mon_ima_follow_has_digest(f, DW_HASH_SHA256, d, sizeof(d)));
                d[31] = 0x78;
                ck_assert(!mon_ima_follow_has_digest(f, DW_HASH_SHA256, d, sizeof(d)));
        }
        ck_assert(mon_ima_follow_has_digest(f, DW_HASH_SHA256, d256, sizeof(d256)));
        dw_ima_buf_done(&log);
        unlink(path);
        rmdir(dir);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("monitor-imacheck");
        TCase *tc = tcase_create("imacheck");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_access);
        tcase_add_test(tc, test_decide);
        tcase_add_test(tc, test_digest_set);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
