/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>

#include <systemd/sd-journal.h>

#include "alerts.h"
#include "macro.h"

/* The ids are stable: dashboards and `journalctl MESSAGE_ID=` queries depend on them. Never reuse or change one. */
static const struct mon_alert_info alerts[_MON_ALERT_KIND_MAX] = {
        [MON_ALERT_STARTED] = {"monitor_started", "b2ea9dae9bb342bb9c38d426b5942c82", LOG_NOTICE, DW_EVENT_INFO},
        [MON_ALERT_STOPPED] = {"monitor_stopped", "9ccd9be16212423088069c9f5c273da7", LOG_NOTICE, DW_EVENT_NOTICE},
        [MON_ALERT_CONFIG_RELOADED] = {"config_reloaded", "83b98e8697934b1788dabcf17798166a", LOG_NOTICE,
                                       DW_EVENT_NOTICE},
        [MON_ALERT_ENROLLED] = {"enrolled", "95022a776e4f4da7af4cb096415f8836", LOG_NOTICE, DW_EVENT_INFO},
        [MON_ALERT_IMA_POLICY] = {"ima_policy_violation", "72c69cc8e3944a51a062d9e23cb6da45", LOG_WARNING,
                                  DW_EVENT_WARNING},
        [MON_ALERT_PCR_MISMATCH] = {"pcr_mismatch", "c6fd6722866d4d088380e1225ae8713a", LOG_CRIT, DW_EVENT_CRITICAL},
        [MON_ALERT_IMA_LOG_ERROR] = {"ima_log_error", "22204d2ebbf24148b0937dea0d9ffe58", LOG_ERR, DW_EVENT_ERROR},
        [MON_ALERT_TPM_ERROR] = {"tpm_error", "db80c2f8da3d4b32ad6bbbc54e27cd24", LOG_ERR, DW_EVENT_ERROR},
        [MON_ALERT_VERDICT] = {"verdict_changed", "bf5fd7ad894a4a599067f74b8d8d1641", LOG_WARNING, DW_EVENT_WARNING},
        [MON_ALERT_VERIFIER_DOWN] = {"verifier_unreachable", "d37b7265b2304c53b67303dc4d06d00b", LOG_WARNING,
                                     DW_EVENT_WARNING},
        [MON_ALERT_SPOOL_FULL] = {"spool_full", "247cc7a514264fa2bcf77335bfa547b1", LOG_ERR, DW_EVENT_ERROR},
        [MON_ALERT_EVENTS_REFUSED] = {"events_refused", "e9c76c5f416a4a7899a36f36a8a235f4", LOG_ERR, DW_EVENT_ERROR},
        [MON_ALERT_DRIFT_EXEC] = {"drift_exec", "a76e8a7842164f3cb6589f41a8b9bc8d", LOG_WARNING, DW_EVENT_WARNING},
        [MON_ALERT_DRIFT_TAMPER] = {"drift_tamper", "b722f1730d534bb3aba84d5dc654b9a9", LOG_WARNING, DW_EVENT_WARNING},
        [MON_ALERT_DRIFT_KERNEL] = {"drift_kernel", "bbeacbdc8ff643d7aaed15e0702c2271", LOG_CRIT, DW_EVENT_CRITICAL},
        [MON_ALERT_IMA_UNMEASURED] = {"ima_unmeasured_exec", "a2bed43dc8754f1eb9ae2fcfa6e2734c", LOG_CRIT,
                                      DW_EVENT_CRITICAL},
};

const struct mon_alert_info *mon_alert_info(enum mon_alert_kind kind)
{
        if ((unsigned)kind >= ELEMENTSOF(alerts))
                return NULL;
        return &alerts[kind];
}

/* Whether stderr is connected to the journal already (systemd sets $JOURNAL_STREAM to its device:inode). */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static char *field_text(const struct mon_alert_field *f)
{
        char *s = NULL;

        if (!f->str)
                return asprintf(&s, "%lld", (long long)f->num) < 0 ? NULL : s;
        return strndup(f->str, f->str_len ? f->str_len : strlen(f->str));
}

/* "DRIFTWATCH_PATH=value" (journald field names are uppercase ASCII, digits and '_'). */
static char *journal_field(const struct mon_alert_field *f)
{
        _cleanup_free_ char *v = field_text(f);
        char *s = NULL;

        if (!v || asprintf(&s, "DRIFTWATCH_%s=%s", f->key, v) < 0)
                return NULL;
        for (char *p = s + strlen("DRIFTWATCH_"); *p != '='; p++)
                *p = (char)toupper((unsigned char)*p);
        return s;
}

#define ALERT_FIELDS_MAX 24

void mon_alert_log(enum mon_alert_kind kind, int priority, const struct mon_alert_field *fields, size_t n,
                   const char *message)
{
        const struct mon_alert_info *info = mon_alert_info(kind);
        char *texts[ALERT_FIELDS_MAX + 6] = {};
        struct iovec iov[ALERT_FIELDS_MAX + 6];
        size_t k = 0;

        if (!info)
                return;
        if (priority < 0)
                priority = info->priority;
        n = MIN(n, (size_t)ALERT_FIELDS_MAX);
        if (asprintf(&texts[k++], "MESSAGE=%s", message) < 0 ||
            asprintf(&texts[k++], "MESSAGE_ID=%s", info->message_id) < 0 ||
            asprintf(&texts[k++], "PRIORITY=%d", priority) < 0 ||
            asprintf(&texts[k++], "SYSLOG_IDENTIFIER=driftwatch-monitor") < 0 ||
            asprintf(&texts[k++], "DRIFTWATCH_KIND=%s", info->name) < 0)
                goto out;
        for (size_t i = 0; i < n; i++)
                texts[k++] = journal_field(&fields[i]);
        for (size_t i = 0; i < k; i++)
                if (texts[i])
                        iov[i] = (struct iovec){.iov_base = texts[i], .iov_len = strlen(texts[i])};
                else
                        iov[i] = (struct iovec){.iov_base = (char *)"DRIFTWATCH_TRUNCATED=1", .iov_len = 22};
        (void)sd_journal_sendv(iov, (int)k);
        if (!stderr_is_journal()) {
                fprintf(stderr, "driftwatch-monitor: ALERT %s [%s]: %s", info->name, info->message_id, message);
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *v = field_text(&fields[i]);

                        fprintf(stderr, " %s=%s", fields[i].key, v ?: "?");
                }
                fputc('\n', stderr);
        }
out:
        for (size_t i = 0; i < k; i++)
                free(texts[i]);
}

int mon_alert_event(enum mon_alert_kind kind, const struct mon_alert_field *fields, size_t n, const char *message,
                    struct dw_event **ret)
{
        const struct mon_alert_info *info = mon_alert_info(kind);
        _cleanup_(dw_event_freep) struct dw_event *ev = NULL;
        int r;

        if (!info)
                return -EINVAL;
        r = dw_event_new(info->name, info->severity, &ev);
        if (r < 0)
                return r;
        r = dw_event_add_bytes(ev, "message", message, strlen(message));
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (!dw_event_key_valid(fields[i].key) || dw_event_get(ev, fields[i].key))
                        continue; /* not an event key, or already there */
                r = fields[i].str ? dw_event_add_bytes(ev, fields[i].key, fields[i].str,
                                                       fields[i].str_len ? fields[i].str_len : strlen(fields[i].str))
                                  : dw_event_add_int(ev, fields[i].key, fields[i].num);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ev);
        return 0;
}
