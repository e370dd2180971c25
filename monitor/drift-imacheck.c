/* SPDX-License-Identifier: MIT */
/* The IMA cross-check's pure part: the facts of an exec event as IMA's policy rules see them, and the decision for
 * one executed file once its digest is known. drift.c does the I/O (the IMA log, the timer). */

#include <string.h>

#include "drift-imacheck.h"
#include "macro.h"

#define S_ISUID_BIT 04000
#define S_ISGID_BIT 02000

void drift_imacheck_access(const struct drift_event *ev, struct dw_ima_access *ret)
{
        struct dw_ima_access a = {.func = DW_IMA_FUNC_BPRM_CHECK, .mask = DW_IMA_MAY_EXEC};

        if (!(ev->flags & DRIFT_F_HAS_FACTS)) {
                *ret = a; /* nothing known */
                return;
        }
        a.known = DW_IMA_FACT_FSMAGIC | DW_IMA_FACT_FSUUID | DW_IMA_FACT_UID | DW_IMA_FACT_GID | DW_IMA_FACT_FOWNER |
                  DW_IMA_FACT_FGROUP;
        a.fsmagic = ev->fs_magic;
        memcpy(a.fsuuid, ev->fs_uuid, sizeof(a.fsuuid));
        if (ev->fs_name[0] && !(ev->cred_flags & DRIFT_CRED_FS_NAME_CUT) &&
            memchr(ev->fs_name, '\0', sizeof(ev->fs_name))) {
                a.fsname = ev->fs_name;
                a.known |= DW_IMA_FACT_FSNAME;
        }
        a.uid = ev->uid;
        a.gid = ev->gid;
        a.fowner = ev->fowner;
        a.fgroup = ev->fgroup;
        a.euid = ev->euid;
        a.suid = ev->suid;
        a.egid = ev->egid;
        a.sgid = ev->sgid;
        a.cap_setuid = ev->cred_flags & DRIFT_CRED_CAP_SETUID;
        a.cap_setgid = ev->cred_flags & DRIFT_CRED_CAP_SETGID;
        if (!(ev->cred_flags & DRIFT_CRED_POST_EXEC)) {
                a.known |= DW_IMA_FACT_EUID | DW_IMA_FACT_SUID | DW_IMA_FACT_EGID | DW_IMA_FACT_SGID |
                           DW_IMA_FACT_CAP_SETUID | DW_IMA_FACT_CAP_SETGID;
                *ret = a;
                return;
        }
        /* Read after the exec: the real ids never change; the effective ones only through a set-id file; the saved
         * ones become the effective ones, and the capabilities are the new program's. */
        if (!(ev->mode & S_ISUID_BIT))
                a.known |= DW_IMA_FACT_EUID;
        if (!(ev->mode & S_ISGID_BIT))
                a.known |= DW_IMA_FACT_EGID;
        *ret = a;
}

enum drift_imacheck_result drift_imacheck_decide(const struct drift_imacheck_input *in)
{
        switch (in->verdict) {
        case DW_IMA_NOT_MEASURED:
                return DRIFT_IMACHECK_NOT_REQUIRED;
        case DW_IMA_UNDECIDED:
                return DRIFT_IMACHECK_UNDECIDED;
        case DW_IMA_MEASURED:
                break;
        }
        if (!in->have_digest)
                return DRIFT_IMACHECK_NO_DIGEST;
        if (in->found)
                return DRIFT_IMACHECK_MEASURED;
        /* Not found: but the log may be unreadable right now, or hold the file under an algorithm not computed. */
        if (!in->log_ok || !in->complete)
                return DRIFT_IMACHECK_UNDECIDED;
        if (in->now_usec < in->deadline_usec)
                return DRIFT_IMACHECK_WAIT;
        return DRIFT_IMACHECK_UNMEASURED;
}

const char *drift_imacheck_result_name(enum drift_imacheck_result r)
{
        static const char *const names[] = {
                [DRIFT_IMACHECK_MEASURED] = "measured",   [DRIFT_IMACHECK_NOT_REQUIRED] = "not_required",
                [DRIFT_IMACHECK_UNDECIDED] = "undecided", [DRIFT_IMACHECK_NO_DIGEST] = "no_digest",
                [DRIFT_IMACHECK_WAIT] = "wait",           [DRIFT_IMACHECK_UNMEASURED] = "unmeasured",
        };

        return (unsigned)r < ELEMENTSOF(names) ? names[r] : "?";
}
