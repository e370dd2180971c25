/* SPDX-License-Identifier: MIT */
#pragma once

/* The IMA cross-check's pure part (drift-imacheck.c): what an exec event tells IMA's policy rules, and the decision
 * for one executed file once its digest is known. No I/O: drift.c reads the IMA log and keeps the timers. */

#include <stdbool.h>
#include <stdint.h>

#include "../bpf/drift-event.h"
#include "ima-policy-rules.h"

/* What an exec event says of the access, for dw_ima_policy_would_measure(): func=BPRM_CHECK mask=MAY_EXEC, the
 * filesystem, the owner, the credentials. Facts the event does not carry, or that the exec may have changed (the
 * tracepoint tier reads the credentials after the exec: a set-id file changes euid/egid, capabilities may change),
 * are left unknown. fs_name: the event's NUL-terminated copy. */
void drift_imacheck_access(const struct drift_event *ev, struct dw_ima_access *ret);

enum drift_imacheck_result {
        DRIFT_IMACHECK_MEASURED,     /* its digest is in the IMA log: fine */
        DRIFT_IMACHECK_NOT_REQUIRED, /* the expected policy does not measure it */
        DRIFT_IMACHECK_UNDECIDED,    /* the policy's answer depends on what is not known: counted, no alert */
        DRIFT_IMACHECK_NO_DIGEST,    /* the file could not be hashed as executed (reported as unverified) */
        DRIFT_IMACHECK_WAIT,         /* not (yet) in the log: look again once the kernel may have appended it */
        DRIFT_IMACHECK_UNMEASURED,   /* still not in the log after the grace: alert */
};

struct drift_imacheck_input {
        enum dw_ima_verdict verdict; /* of the expected policy for this access */
        bool have_digest;            /* the file was hashed as executed */
        bool complete;               /* it was hashed with every algorithm of the log's file digests */
        bool found;                  /* a digest of it is in the log (after reading what the kernel appended) */
        bool log_ok;                 /* the IMA log is followed and trusted */
        uint64_t now_usec, deadline_usec;
};

enum drift_imacheck_result drift_imacheck_decide(const struct drift_imacheck_input *in);
const char *drift_imacheck_result_name(enum drift_imacheck_result r);
