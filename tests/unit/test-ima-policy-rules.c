/* SPDX-License-Identifier: MIT */
/* Tests of lib/ima-policy-rules.c: the kernel's IMA policy grammar (every action and condition, the kernel's own
 * printed form, the built-in tcb policy, the policies we ship in ima-policy/), errors with their line numbers, and the
 * measure decision for executions: each condition kind, first-match ordering, unknown facts and LSM labels. */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "ima-policy-rules.h"
#include "macro.h"

/* ima_policy=tcb as Linux 6.1 prints it (/sys/kernel/security/ima/policy, CONFIG_IMA_READ_POLICY): each rule ends
 * in a space. */
static const char tcb_61[] = "dont_measure fsmagic=0x9fa0 \n"
                             "dont_measure fsmagic=0x62656572 \n"
                             "dont_measure fsmagic=0x64626720 \n"
                             "dont_measure fsmagic=0x1021994 \n"
                             "dont_measure fsmagic=0x1cd1 \n"
                             "dont_measure fsmagic=0x42494e4d \n"
                             "dont_measure fsmagic=0x73636673 \n"
                             "dont_measure fsmagic=0xf97cff8c \n"
                             "dont_measure fsmagic=0x43415d53 \n"
                             "dont_measure fsmagic=0x27e0eb \n"
                             "dont_measure fsmagic=0x63677270 \n"
                             "dont_measure fsmagic=0x6e736673 \n"
                             "dont_measure fsmagic=0xde5e81e4 \n"
                             "measure func=MMAP_CHECK mask=MAY_EXEC \n"
                             "measure func=BPRM_CHECK mask=MAY_EXEC \n"
                             "measure func=FILE_CHECK mask=^MAY_READ euid=0 \n"
                             "measure func=FILE_CHECK mask=^MAY_READ uid=0 \n"
                             "measure func=MODULE_CHECK \n"
                             "measure func=FIRMWARE_CHECK \n"
                             "measure func=POLICY_CHECK \n";

/* Since 6.9 the tmpfs rule is for FILE_CHECK only: executables on tmpfs are measured. */
static const char tcb_69_tmpfs[] = "dont_measure func=FILE_CHECK fsmagic=0x1021994 \n"
                                   "measure func=BPRM_CHECK mask=MAY_EXEC \n";

#define EXT4   0xef53
#define TMPFS  0x01021994
#define PROCFS 0x9fa0

static struct dw_ima_policy *parse_ok(const char *text)
{
        struct dw_ima_policy *p = NULL;
        struct dw_error err = {};
        int r = dw_ima_policy_parse(text, strlen(text), &p, &err);

        ck_assert_msg(r == 0, "parse failed (%d): %s\n%s", r, err.msg, text);
        return p;
}

static void parse_fails(const char *text, const char *msg_part)
{
        struct dw_ima_policy *p = NULL;
        struct dw_error err = {};
        int r = dw_ima_policy_parse(text, strlen(text), &p, &err);

        ck_assert_msg(r == -EINVAL, "'%s' parsed (%d)", text, r);
        ck_assert_ptr_null(p);
        ck_assert_msg(strstr(err.msg, msg_part), "'%s': message '%s' lacks '%s'", text, err.msg, msg_part);
}

/* An exec of a root-owned file on ext4 by root, everything known. */
static struct dw_ima_access exec_access(void)
{
        return (struct dw_ima_access){
                .func = DW_IMA_FUNC_BPRM_CHECK,
                .mask = DW_IMA_MAY_EXEC,
                .known = ~0u,
                .fsmagic = EXT4,
                .fsname = "ext4",
                .fsuuid = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
                           0xef},
        };
}

static enum dw_ima_verdict decide(const char *text, const struct dw_ima_access *a, unsigned *ret_line)
{
        _cleanup_(dw_ima_policy_freep) struct dw_ima_policy *p = parse_ok(text);
        const struct dw_ima_rule *r = NULL;
        enum dw_ima_verdict v = dw_ima_policy_would_measure(p, a, &r);

        if (ret_line)
                *ret_line = r ? r->line : 0;
        return v;
}

START_TEST(test_tcb)
{
        _cleanup_(dw_ima_policy_freep) struct dw_ima_policy *p = parse_ok(tcb_61);
        struct dw_ima_access a = exec_access();
        const struct dw_ima_rule *r = NULL;

        ck_assert_uint_eq(p->n_rules, 20);
        ck_assert_int_eq(p->rules[0].action, DW_IMA_ACTION_DONT_MEASURE);
        ck_assert_uint_eq(p->rules[0].fsmagic, PROCFS);
        ck_assert_int_eq(p->rules[15].conds, DW_IMA_COND_FUNC | DW_IMA_COND_INMASK | DW_IMA_COND_EUID);
        ck_assert_str_eq(p->rules[14].text, "measure func=BPRM_CHECK mask=MAY_EXEC");
        ck_assert_uint_eq(p->rules[14].line, 15);

        ck_assert_int_eq(dw_ima_policy_would_measure(p, &a, &r), DW_IMA_MEASURED);
        ck_assert_uint_eq(r->line, 15);
        a.fsmagic = TMPFS;
        ck_assert_int_eq(dw_ima_policy_would_measure(p, &a, &r), DW_IMA_NOT_MEASURED);
        ck_assert_uint_eq(r->line, 4);
        a.fsmagic = PROCFS;
        ck_assert_int_eq(dw_ima_policy_would_measure(p, &a, &r), DW_IMA_NOT_MEASURED);
        /* Unknown filesystem: the dont_measure rules may match, so no answer. */
        a.known &= ~DW_IMA_FACT_FSMAGIC;
        ck_assert_int_eq(dw_ima_policy_would_measure(p, &a, &r), DW_IMA_UNDECIDED);
        ck_assert_uint_eq(r->line, 1);
        /* Any uid: the exec rule has no uid condition. */
        a = exec_access();
        a.uid = a.euid = a.suid = 1000;
        ck_assert_int_eq(dw_ima_policy_would_measure(p, &a, NULL), DW_IMA_MEASURED);

        /* 6.9+: tmpfs is excluded for FILE_CHECK only. */
        a = exec_access();
        a.fsmagic = TMPFS;
        ck_assert_int_eq(decide(tcb_69_tmpfs, &a, NULL), DW_IMA_MEASURED);
}
END_TEST

static void check_policy_file(const char *name, bool measures_exec)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_(dw_ima_policy_freep) struct dw_ima_policy *p = NULL;
        struct dw_ima_access a = exec_access();
        struct dw_error err = {};
        const char *src = getenv("DW_SRCDIR");
        size_t size;

        ck_assert_int_ge(asprintf(&path, "%s/ima-policy/%s", src ?: ".", name), 0);
        ck_assert_int_eq(dw_read_full_file(path, DW_IMA_POLICY_MAX_SIZE, &data, &size), 0);
        ck_assert_msg(dw_ima_policy_parse((const char *)data, size, &p, &err) == 0, "%s: %s", name, err.msg);
        ck_assert_uint_gt(p->n_rules, 5);
        ck_assert_int_eq(dw_ima_policy_would_measure(p, &a, NULL),
                         measures_exec ? DW_IMA_MEASURED : DW_IMA_NOT_MEASURED);
        a.fsmagic = TMPFS;
        ck_assert_int_eq(dw_ima_policy_would_measure(p, &a, NULL), DW_IMA_NOT_MEASURED);
}

START_TEST(test_shipped_policies)
{
        check_policy_file("gateway-measure.policy", true);
        check_policy_file("gateway-measure-sig.policy", true);
        check_policy_file("gateway-appraise.policy", true);
        check_policy_file("gateway-minimal.policy", true);
}
END_TEST

START_TEST(test_grammar)
{
        /* Every action, condition and option the kernel takes. */
        static const char *const ok[] = {
                "measure",
                "dont_measure fsmagic=0x9fa0",
                "appraise func=BPRM_CHECK appraise_type=imasig",
                "appraise func=MODULE_CHECK appraise_type=imasig|modsig",
                "dont_appraise fsmagic=0x01021994",
                "audit func=BPRM_CHECK",
                "hash func=FILE_CHECK",
                "dont_hash fsname=tmpfs",
                "measure func=FILE_MMAP mask=MAY_EXEC",
                "measure func=PATH_CHECK mask=MAY_READ",
                "measure func=MMAP_CHECK_REQPROT mask=MAY_EXEC",
                "measure func=CREDS_CHECK",
                "measure func=KEXEC_KERNEL_CHECK",
                "measure func=KEXEC_INITRAMFS_CHECK",
                "measure func=KEXEC_CMDLINE template=ima-buf",
                "measure func=KEY_CHECK keyrings=.ima|.builtin_trusted_keys template=ima-buf",
                "measure func=KEY_CHECK uid=0 pcr=11",
                "measure func=CRITICAL_DATA label=selinux|kernel_info",
                "appraise func=SETXATTR_CHECK appraise_algos=sha256,sha384,sha512",
                "measure func=FILE_CHECK mask=^MAY_READ euid=0",
                "measure func=FILE_CHECK mask=^MAY_WRITE uid>1000",
                "measure func=FILE_CHECK mask=MAY_APPEND uid<1000 gid=5",
                "measure euid>0 egid<100 fowner=0 fgroup>10",
                "measure fowner<1 fgroup=0 gid>1",
                "measure fsuuid=12345678-9abc-DEF0-0123-456789abcdef",
                "measure obj_user=system_u obj_role=object_r obj_type=bin_t",
                "dont_measure subj_user=u subj_role=r subj_type=t",
                "measure func=BPRM_CHECK template=ima-ng pcr=12 permit_directio",
                "measure template=d-ng|n-ng|sig",
                "appraise func=BPRM_CHECK appraise_flag=check_blacklist appraise_type=imasig",
                "appraise func=BPRM_CHECK digest_type=verity appraise_type=sigv3",
                "measure func=BPRM_CHECK digest_type=verity template=ima-ngv2",
                "measure\tfunc=BPRM_CHECK\t\tmask=MAY_EXEC   # a comment after the rule",
                "  # an indented comment",
                "",
                "measure fsmagic=+EF53",
        };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                _cleanup_(dw_ima_policy_freep) struct dw_ima_policy *p = parse_ok(ok[i]);

                ck_assert_uint_le(p->n_rules, 1);
        }
        {
                _cleanup_(dw_ima_policy_freep) struct dw_ima_policy *p =
                        parse_ok("# header\n\nmeasure func=BPRM_CHECK uid>1000 # note\n  dont_measure fsmagic=0x9fa0");
                ck_assert_uint_eq(p->n_rules, 2);
                ck_assert_uint_eq(p->rules[0].line, 3);
                ck_assert_str_eq(p->rules[0].text, "measure func=BPRM_CHECK uid>1000");
                ck_assert_int_eq(p->rules[0].uid_op, DW_IMA_OP_GT);
                ck_assert_uint_eq(p->rules[0].uid, 1000);
                ck_assert_uint_eq(p->rules[1].line, 4);
                ck_assert_int_eq(p->rules[1].pcr, -1);
        }
        {
                _cleanup_(dw_ima_policy_freep) struct dw_ima_policy *p =
                        parse_ok("measure fsuuid=12345678-9abc-DEF0-0123-456789abcdef fsname=ext4");
                static const uint8_t want[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                                 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

                ck_assert_mem_eq(p->rules[0].fsuuid, want, 16);
                ck_assert_str_eq(p->rules[0].fsname, "ext4");
        }
}
END_TEST

START_TEST(test_errors)
{
        parse_fails("measure func=BPRM_CHECK\nbogus", "line 2: unknown keyword: 'bogus'");
        parse_fails("\n\n  func=BPRM_CHECK", "line 3: no action");
        parse_fails("measure dont_measure", "a second action");
        parse_fails("measure func=BPRM_CHECK func=FILE_CHECK", "a second func=");
        parse_fails("measure func=NOPE", "unknown hook");
        parse_fails("measure func=POST_SETATTR", "unknown hook");
        parse_fails("measure func=", "no value");
        parse_fails("measure mask=MAY_EXECUTE", "unknown mask");
        parse_fails("measure mask=^", "unknown mask");
        parse_fails("measure mask=MAY_EXEC mask=MAY_READ", "a second mask=");
        parse_fails("measure fsmagic=0xZZ", "not a hexadecimal number");
        parse_fails("measure fsmagic=0x", "not a hexadecimal number");
        parse_fails("measure fsmagic=0x1ffffffffffffffff", "not a hexadecimal number");
        parse_fails("measure fsmagic=1 fsmagic=2", "a second fsmagic=");
        parse_fails("measure fsuuid=1234", "not a UUID");
        parse_fails("measure fsuuid=12345678-9abc-def0-0123-456789abcdeg", "not a UUID");
        parse_fails("measure uid=0 euid=0", "a second uid/euid condition");
        parse_fails("measure gid=0 egid>1", "a second gid/egid condition");
        parse_fails("measure fowner=0 fowner=1", "a second fowner condition");
        parse_fails("measure uid=-1", "not a valid id");
        parse_fails("measure uid=4294967295", "not a valid id");
        parse_fails("measure uid=99999999999", "not a valid id");
        parse_fails("measure uid>", "no value");
        parse_fails("measure uid!=0", "unknown keyword");
        parse_fails("measure pcr=64", "PCR");
        parse_fails("measure pcr=-1", "PCR");
        parse_fails("dont_measure pcr=11", "pcr= is only for measure rules");
        parse_fails("template=ima-ng measure", "template= needs the measure action");
        parse_fails("measure template=ima-nope", "unknown template");
        parse_fails("measure template=d-ng||n-ng", "unknown template");
        parse_fails("measure template=ima-ng template=ima-sig", "a second template=");
        parse_fails("measure appraise_type=imasig", "only for appraise rules");
        parse_fails("appraise appraise_type=rsa", "unknown appraise type");
        parse_fails("appraise func=BPRM_CHECK appraise_type=sigv3", "sigv3 needs digest_type=verity");
        parse_fails("appraise func=BPRM_CHECK digest_type=verity", "needs appraise_type=sigv3");
        parse_fails("appraise func=BPRM_CHECK appraise_type=imasig|modsig", "an option BPRM_CHECK does not take");
        parse_fails("measure func=KEY_CHECK keyrings=a||b", "an empty item");
        parse_fails("measure func=KEY_CHECK keyrings=a keyrings=b", "a second keyrings=");
        parse_fails("measure func=BPRM_CHECK keyrings=.ima", "a condition BPRM_CHECK does not take");
        parse_fails("measure func=KEY_CHECK fsmagic=0x9fa0", "a condition KEY_CHECK does not take");
        parse_fails("measure func=KEY_CHECK subj_type=t", "a condition KEY_CHECK does not take");
        parse_fails("appraise func=KEY_CHECK", "takes only measure and dont_measure");
        parse_fails("measure func=KEXEC_CMDLINE mask=MAY_EXEC", "a condition KEXEC_CMDLINE does not take");
        parse_fails("measure func=SETXATTR_CHECK", "SETXATTR_CHECK takes only appraise");
        parse_fails("appraise func=SETXATTR_CHECK appraise_algos=sha256,nope", "unknown hash algorithm");
        parse_fails("measure obj_type=a obj_type=b", "a second obj_type condition");
        parse_fails("measure obj_type=", "no value");
        parse_fails("measure fs_subtype=fuse", "unknown keyword");
        parse_fails("measure func=BPRM_CHECK mask=MAY_EXEC\r\n", "unknown mask");
        parse_fails("measure \x01\xff", "unknown keyword: '?"
                                        "?'");
        {
                struct dw_ima_policy *p = NULL;
                struct dw_error err = {};
                static const char nul[] = "measure\nmeasure\0x\n";

                ck_assert_int_eq(dw_ima_policy_parse(nul, sizeof(nul) - 1, &p, &err), -EINVAL);
                ck_assert_str_eq(err.msg, "line 2: a NUL byte");
                ck_assert_uint_eq(err.index, 1);
                ck_assert_uint_eq(err.offset, 8);
                ck_assert_int_eq(dw_ima_policy_parse("", DW_IMA_POLICY_MAX_SIZE + 1, &p, &err), -E2BIG);
        }
}
END_TEST

START_TEST(test_mutations)
{
        /* Every truncation and every one-byte change of a realistic policy: an answer, never a crash (ASan). */
        static const char base[] = "dont_measure fsmagic=0x9fa0\nmeasure func=BPRM_CHECK mask=^MAY_EXEC uid>0 "
                                   "fowner<100 template=ima-sig pcr=10\nappraise func=MODULE_CHECK "
                                   "appraise_type=imasig|modsig\nmeasure fsuuid=12345678-9abc-def0-0123-456789abcdef";
        struct dw_ima_access a = exec_access();
        char buf[sizeof(base)];

        for (size_t n = 0; n <= sizeof(base) - 1; n++) {
                struct dw_ima_policy *p = NULL;
                struct dw_error err = {};

                if (dw_ima_policy_parse(base, n, &p, &err) == 0) {
                        (void)dw_ima_policy_would_measure(p, &a, NULL);
                        dw_ima_policy_free(p);
                } else
                        ck_assert_msg(strncmp(err.msg, "line ", 5) == 0, "%s", err.msg);
        }
        for (size_t i = 0; i < sizeof(base) - 1; i++)
                for (unsigned v = 0; v < 256; v += 7) {
                        struct dw_ima_policy *p = NULL;
                        struct dw_error err = {};

                        memcpy(buf, base, sizeof(base));
                        buf[i] = (char)v;
                        if (dw_ima_policy_parse(buf, sizeof(base) - 1, &p, &err) == 0) {
                                (void)dw_ima_policy_would_measure(p, &a, NULL);
                                dw_ima_policy_free(p);
                        }
                }
}
END_TEST

START_TEST(test_conditions)
{
        struct dw_ima_access a = exec_access();
        unsigned line;

        /* func and mask */
        ck_assert_int_eq(decide("measure func=FILE_CHECK", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure func=MMAP_CHECK mask=MAY_EXEC", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure func=BPRM_CHECK mask=MAY_READ", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure func=BPRM_CHECK mask=^MAY_EXEC", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure mask=^MAY_READ", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("", &a, NULL), DW_IMA_NOT_MEASURED);
        /* appraise and the other families do not decide measurement */
        ck_assert_int_eq(decide("appraise func=BPRM_CHECK\ndont_appraise\nhash\naudit", &a, NULL), DW_IMA_NOT_MEASURED);
        /* key and critical data rules never match a file */
        ck_assert_int_eq(decide("measure func=KEY_CHECK\nmeasure func=CRITICAL_DATA", &a, NULL), DW_IMA_NOT_MEASURED);
        /* filesystem */
        ck_assert_int_eq(decide("measure fsmagic=0xef53", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure fsname=ext4", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure fsname=xfs", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure fsuuid=12345678-9abc-def0-0123-456789abcdef", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure fsuuid=12345678-9abc-def0-0123-456789abcdee", &a, NULL), DW_IMA_NOT_MEASURED);
        a.known &= ~(DW_IMA_FACT_FSUUID | DW_IMA_FACT_FSNAME);
        ck_assert_int_eq(decide("measure fsuuid=12345678-9abc-def0-0123-456789abcdef", &a, NULL), DW_IMA_UNDECIDED);
        ck_assert_int_eq(decide("measure fsname=ext4", &a, NULL), DW_IMA_UNDECIDED);
        /* ... but another condition may settle it */
        ck_assert_int_eq(decide("measure fsname=ext4 func=FILE_CHECK", &a, NULL), DW_IMA_NOT_MEASURED);

        /* uid, gid, fowner, fgroup with each operator */
        a = exec_access();
        a.uid = 1000, a.gid = 100, a.fowner = 0, a.fgroup = 50;
        ck_assert_int_eq(decide("measure uid=1000", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure uid=0", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure uid>999", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure uid>1000", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure uid<1001", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure uid<1000", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure gid=100", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure gid>100", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure fowner=0", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure fowner>0", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure fgroup<51", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure fgroup=49", &a, NULL), DW_IMA_NOT_MEASURED);
        a.known &= ~(DW_IMA_FACT_FOWNER | DW_IMA_FACT_GID);
        ck_assert_int_eq(decide("measure fowner=0", &a, NULL), DW_IMA_UNDECIDED);
        ck_assert_int_eq(decide("measure gid=100", &a, NULL), DW_IMA_UNDECIDED);

        /* euid: without CAP_SETUID the effective id only; with it any of effective, saved, real */
        a = exec_access();
        a.uid = 1000, a.euid = 0, a.suid = 0, a.cap_setuid = false;
        ck_assert_int_eq(decide("measure euid=0", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure euid=1000", &a, NULL), DW_IMA_NOT_MEASURED);
        a.cap_setuid = true;
        ck_assert_int_eq(decide("measure euid=1000", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure euid=5", &a, NULL), DW_IMA_NOT_MEASURED);
        a.known &= ~DW_IMA_FACT_CAP_SETUID;
        ck_assert_int_eq(decide("measure euid=0", &a, NULL), DW_IMA_MEASURED);
        ck_assert_int_eq(decide("measure euid=1000", &a, NULL), DW_IMA_UNDECIDED);
        ck_assert_int_eq(decide("measure euid=5", &a, NULL), DW_IMA_NOT_MEASURED);
        a.known &= ~DW_IMA_FACT_EUID;
        ck_assert_int_eq(decide("measure euid=0", &a, NULL), DW_IMA_UNDECIDED);
        /* egid alike */
        a = exec_access();
        a.gid = 100, a.egid = 0, a.sgid = 0, a.cap_setgid = true;
        ck_assert_int_eq(decide("measure egid=100", &a, NULL), DW_IMA_MEASURED);
        a.cap_setgid = false;
        ck_assert_int_eq(decide("measure egid=100", &a, NULL), DW_IMA_NOT_MEASURED);
        ck_assert_int_eq(decide("measure egid<1", &a, NULL), DW_IMA_MEASURED);

        /* LSM labels are never known */
        a = exec_access();
        ck_assert_int_eq(decide("measure obj_type=bin_t", &a, &line), DW_IMA_UNDECIDED);
        ck_assert_uint_eq(line, 1);
        /* an LSM rule that cannot match anyway (another condition fails) does not matter */
        ck_assert_int_eq(decide("measure obj_type=bin_t func=FILE_CHECK\nmeasure func=BPRM_CHECK", &a, &line),
                         DW_IMA_MEASURED);
        ck_assert_uint_eq(line, 2);
}
END_TEST

START_TEST(test_ordering)
{
        struct dw_ima_access a = exec_access();
        unsigned line;

        /* The first matching rule of the measure family decides. */
        ck_assert_int_eq(decide("dont_measure fsmagic=0xef53\nmeasure func=BPRM_CHECK", &a, &line),
                         DW_IMA_NOT_MEASURED);
        ck_assert_uint_eq(line, 1);
        ck_assert_int_eq(decide("measure func=BPRM_CHECK\ndont_measure fsmagic=0xef53", &a, &line), DW_IMA_MEASURED);
        ck_assert_uint_eq(line, 1);
        ck_assert_int_eq(decide("dont_measure fsmagic=0x9fa0\nappraise\nmeasure func=BPRM_CHECK", &a, &line),
                         DW_IMA_MEASURED);
        ck_assert_uint_eq(line, 3);
        /* An undecidable rule before a decisive one of the same action: the answer is certain anyway. */
        ck_assert_int_eq(decide("measure subj_type=x\nmeasure func=BPRM_CHECK", &a, &line), DW_IMA_MEASURED);
        ck_assert_uint_eq(line, 2);
        ck_assert_int_eq(decide("dont_measure subj_type=x\nmeasure func=BPRM_CHECK", &a, &line), DW_IMA_UNDECIDED);
        ck_assert_uint_eq(line, 1);
        ck_assert_int_eq(decide("dont_measure subj_type=x\ndont_measure fsmagic=0xef53\nmeasure", &a, &line),
                         DW_IMA_NOT_MEASURED);
        ck_assert_uint_eq(line, 2);
        /* An undecidable rule after the decisive one does not matter. */
        ck_assert_int_eq(decide("measure func=BPRM_CHECK\ndont_measure subj_type=x", &a, NULL), DW_IMA_MEASURED);
        /* The replacement policy of the real-kernel test: measures nothing executed. */
        ck_assert_int_eq(decide("dont_measure func=BPRM_CHECK\nmeasure func=MODULE_CHECK\n", &a, &line),
                         DW_IMA_NOT_MEASURED);
        ck_assert_uint_eq(line, 1);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("ima-policy-rules");
        TCase *parse = tcase_create("parse"), *match = tcase_create("match");
        SRunner *sr;
        int failed;

        tcase_add_test(parse, test_tcb);
        tcase_add_test(parse, test_shipped_policies);
        tcase_add_test(parse, test_grammar);
        tcase_add_test(parse, test_errors);
        tcase_add_test(parse, test_mutations);
        tcase_set_timeout(parse, 60);
        suite_add_tcase(s, parse);
        tcase_add_test(match, test_conditions);
        tcase_add_test(match, test_ordering);
        suite_add_tcase(s, match);

        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
