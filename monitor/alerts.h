/* SPDX-License-Identifier: MIT */
#pragma once

/* The monitor's alerts: one kind per thing an operator must be told, each with a stable journald MESSAGE_ID (the
 * catalog systemd/driftwatch.catalog explains every one; `journalctl -x` shows it), a syslog priority and the kind
 * of the runtime event the same fact is recorded as in the signed event chain. Alerts go to journald with
 * sd_journal_send: MESSAGE=, MESSAGE_ID=, PRIORITY=, SYSLOG_IDENTIFIER=driftwatch-monitor and DRIFTWATCH_* fields
 * (DRIFTWATCH_PATH, _DIGEST, _PID, _RULE, _SEQ, _INDEX, _PCR, _EXPECTED, _ACTUAL, _VERDICT, _REASON, _KIND). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event-chain.h"

enum mon_alert_kind {
        MON_ALERT_STARTED,         /* the monitor started (config, TPM, hooks) */
        MON_ALERT_STOPPED,         /* clean stop */
        MON_ALERT_CONFIG_RELOADED, /* SIGHUP: new config in effect (or refused, with the reason) */
        MON_ALERT_ENROLLED,        /* enrollment with the verifier done */
        MON_ALERT_IMA_POLICY,      /* an IMA entry the local copy of the runtime policy rejects */
        MON_ALERT_PCR_MISMATCH,    /* the IMA log does not replay to the TPM's PCR 10: log or PCR tampered with */
        MON_ALERT_IMA_LOG_ERROR,   /* the IMA log cannot be read, does not parse, or shrank */
        MON_ALERT_TPM_ERROR,       /* a TPM operation failed */
        MON_ALERT_VERDICT,         /* the verifier's verdict changed (untrusted: a warning, with its reasons) */
        MON_ALERT_VERIFIER_DOWN,   /* the verifier cannot be reached (events are spooled) / reached again */
        MON_ALERT_SPOOL_FULL,      /* the spool is full: events are summarised until it drains */
        MON_ALERT_EVENTS_REFUSED,  /* the verifier refused an event batch */
        MON_ALERT_DRIFT_EXEC,      /* eBPF: an executable the policy does not allow, or fileless execution */
        MON_ALERT_DRIFT_TAMPER,    /* eBPF: a write, rename, chmod... of a protected file */
        MON_ALERT_DRIFT_KERNEL,    /* eBPF: module load, BPF load, kexec, ptrace of a privileged process... */
        MON_ALERT_IMA_UNMEASURED,  /* eBPF + IMA: an exec the IMA policy at start measures has no IMA log entry */
        _MON_ALERT_KIND_MAX,
};

struct mon_alert_info {
        const char *name;                /* "pcr_mismatch": also the runtime event kind */
        const char *message_id;          /* 32 lowercase hex digits */
        int priority;                    /* syslog priority of the alert */
        enum dw_event_severity severity; /* of its runtime event */
};

const struct mon_alert_info *mon_alert_info(enum mon_alert_kind kind);

/* A field of an alert: key in lowercase ("path"); journald gets DRIFTWATCH_PATH=, the runtime event "path". */
struct mon_alert_field {
        const char *key;
        const char *str; /* any bytes (paths from the kernel); NULL for a number */
        size_t str_len;  /* 0: strlen(str) */
        int64_t num;
};
#define MON_FIELD_STR(k, v) ((struct mon_alert_field){.key = (k), .str = (v)})
#define MON_FIELD_INT(k, v) ((struct mon_alert_field){.key = (k), .num = (int64_t)(v)})

/* Sends the alert to journald (sd_journal_sendv) and, unless stderr is already the journal, one line to stderr.
 * priority < 0: the kind's own. */
void mon_alert_log(enum mon_alert_kind kind, int priority, const struct mon_alert_field *fields, size_t n,
                   const char *message);
/* The same fact as a runtime event (kind = the alert's name, its severity, "message" and the fields). */
int mon_alert_event(enum mon_alert_kind kind, const struct mon_alert_field *fields, size_t n, const char *message,
                    struct dw_event **ret);
