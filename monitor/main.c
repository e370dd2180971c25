/* SPDX-License-Identifier: MIT */
/* driftwatch-monitor: the gateway daemon. Follows the IMA measurement list and checks it against the TPM's PCR 10,
 * judges new entries against the local copy of the runtime policy, records runtime events in the signed event
 * chain, and runs attestation rounds with the verifier on a schedule, on its challenge and at once after drift.
 * A thin sd-event shell over monitor/ and lib/ (docs/monitor.md). */

#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "alerts.h"
#include "config.h"
#include "drift.h"
#include "fileio.h"
#include "fsutil.h"
#include "hex.h"
#include "ima-follow.h"
#include "ima-slice.h"
#include "ima-policy-rules.h"
#include "recorder.h"
#include "runtime-policy.h"
#include "spool.h"
#include "tcg-eventlog.h"
#include "uplink.h"

#define MON_VERSION          "0.1"
#define POLICY_MAX           (256u * 1024 * 1024)
#define TOKEN_MAX            4096
#define BOOT_LOG_MAX         (16u * 1024 * 1024)
#define PCR_CHECK_EVERY_USEC (1000u * 1000)     /* a local PCR 10 check at most once a second */
#define SEAL_RETRY_USEC      (50u * 1000)       /* the TPM was busy with a round: try again soon */
#define PCR_LAG_MAX_USEC     (3u * 1000 * 1000) /* log entries the PCR has not caught up with after this: forged */
#define JUDGED_FILE          "ima-judged"       /* runtime dir: entries already judged in this boot */

struct monitor {
        struct mon_config cfg;
        const char *config_path;
        bool config_explicit;
        char **sets;
        size_t n_sets;
        bool probe, probe_json; /* --probe [--json] */

        sd_event *event;
        sd_event_source *requote_timer, *ima_timer, *seal_timer, *uplink_source;
        struct mon_tpm_lock tpm;
        struct mon_spool *spool;
        struct mon_recorder *recorder;
        struct mon_ima_follow *ima;
        struct mon_ima_offsets *ima_offsets; /* where the follower saw entries start: rounds read from there */
        struct dw_runtime_policy *policy;
        struct mon_uplink *uplink;
        struct mon_drift *drift;
        struct dw_ima_policy *ima_policy; /* the IMA policy expected, kept from start (IMA.Policy=) */
        char ima_check_off[320];          /* why the IMA cross-check is off ("" when it is on) */

        enum dw_hash_alg bank; /* PCR 10 bank checked locally */
        uint64_t judged;       /* IMA entries judged (and alerted on) before this start, in this boot */
        bool pcr_mismatch;     /* the last local check failed (alert on changes only) */
        bool ima_failed;
        bool verifier_down;
        char verdict[16];
        uint64_t rounds;
        uint64_t last_pcr_check;
        uint64_t drift_alerts;
        uint64_t lag_covered; /* the TPM's PCR 10 covered this many entries at the last check, fewer than the log */
        uint64_t lag_since;   /* since then (CLOCK_MONOTONIC µs); 0: not lagging */
        unsigned nonce_retries;
};

static enum mon_log_level log_level = MON_LOG_INFO;

_printf_(2, 3) static void log_at(int priority, const char *fmt, ...)
{
        va_list ap;

        if (priority > (int)log_level)
                return;
        if (getenv("JOURNAL_STREAM"))
                fprintf(stderr, "<%d>", priority);
        else
                fputs("driftwatch-monitor: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static uint64_t now(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- alerts and events --------------------------------------------------------------------------------------- */

static int seal_arm(struct monitor *m, uint64_t usec);

/* An alert to journald, and (unless it is about the verifier's verdict) the same fact as a runtime event. */
static void alert(struct monitor *m, enum mon_alert_kind kind, int priority, const struct mon_alert_field *fields,
                  size_t n, const char *fmt, ...) _printf_(6, 7);
static void alert(struct monitor *m, enum mon_alert_kind kind, int priority, const struct mon_alert_field *fields,
                  size_t n, const char *fmt, ...)
{
        char message[512];
        struct dw_event *ev = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        mon_alert_log(kind, priority, fields, n, message);
        if (kind == MON_ALERT_VERDICT || !m->recorder)
                return;
        r = mon_alert_event(kind, fields, n, message, &ev);
        if (r < 0) {
                log_at(LOG_ERR, "cannot record the %s event: %s", mon_alert_info(kind)->name, strerror(-r));
                return;
        }
        r = mon_recorder_add(m->recorder, ev);
        if (r < 0)
                log_at(LOG_ERR, "cannot queue an event: %s", strerror(-r));
        (void)seal_arm(m, r > 0 ? 0 : m->cfg.batch_delay_usec);
}

/* "IMA cross-check: 12 executions checked, 10 in the log, 1 not measured by the policy, 1 undecided, 0 without a
 * digest, 0 alerts", or "IMA cross-check off: why". */
static void imacheck_summary(struct monitor *m, char *buf, size_t size)
{
        struct mon_drift_imacheck_stats st;

        if (!mon_drift_imacheck_enabled(m->drift)) {
                snprintf(buf, size, "IMA cross-check off: %s",
                         m->ima_check_off[0] ? m->ima_check_off : "eBPF drift detection is not running");
                return;
        }
        mon_drift_imacheck_get_stats(m->drift, &st);
        snprintf(buf, size,
                 "IMA cross-check: %" PRIu64 " executions checked, %" PRIu64 " in the log, %" PRIu64
                 " not measured by the policy, %" PRIu64 " undecided, %" PRIu64 " without a digest, %" PRIu64 " alerts",
                 st.checked, st.measured, st.not_required, st.undecided, st.no_digest, st.unmeasured);
}

static void status_update(struct monitor *m)
{
        char imacheck[400];

        imacheck_summary(m, imacheck, sizeof(imacheck));
        sd_notifyf(0, "STATUS=%s; verdict %s; %" PRIu64 " rounds; %" PRIu64 " IMA entries; %zu batches spooled%s%s; %s",
                   m->verifier_down ? "verifier unreachable" : "running", m->verdict[0] ? m->verdict : "none yet",
                   m->rounds, m->ima ? mon_ima_follow_count(m->ima) : 0, m->spool ? mon_spool_count(m->spool) : 0,
                   m->pcr_mismatch ? "; PCR 10 MISMATCH" : "", m->ima_failed ? "; IMA LOG ERROR" : "", imacheck);
}

/* ---- spool and batches --------------------------------------------------------------------------------------- */

/* Hands the oldest spooled batch to the uplink when it has none in flight. */
static void batches_offer(struct monitor *m)
{
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_error err = {};
        uint64_t key;
        size_t size;
        int r;

        if (!m->uplink || mon_uplink_batch_in_flight(m->uplink))
                return;
        do /* a record damaged on disk is moved aside by the spool, which says so: take the next */
                r = mon_spool_oldest(m->spool, &key, &data, &size, &err);
        while (r == -EBADMSG);
        if (r == -ENOENT)
                return;
        if (r < 0) {
                log_at(LOG_ERR, "spool: %s", err.msg);
                return;
        }
        if (mon_uplink_offer_batch(m->uplink, key, (char *)data))
                data = NULL;
}

static int on_seal(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct monitor *m = userdata;
        struct dw_error err = {};
        int r;

        (void)s, (void)usec;
        if (pthread_mutex_trylock(&m->tpm.mutex) != 0)
                return seal_arm(m, SEAL_RETRY_USEC); /* a round holds the TPM */
        r = mon_recorder_seal(m->recorder, m->tpm.tpm, &err);
        m->tpm.unacked_batches = mon_spool_count(m->spool); /* every batch in the spool was extended */
        pthread_mutex_unlock(&m->tpm.mutex);
        if (r < 0) {
                mon_alert_log(MON_ALERT_TPM_ERROR, -1, NULL, 0, err.msg);
                return seal_arm(m, 1000u * 1000); /* the events stay queued */
        }
        if (mon_recorder_summarised(m->recorder) > 0 && r == 0 && mon_recorder_queued(m->recorder) == 0)
                mon_alert_log(MON_ALERT_SPOOL_FULL, -1, NULL, 0,
                              "the spool is full: events are summarised until the verifier takes them");
        batches_offer(m);
        status_update(m);
        return 0;
}

static int seal_arm(struct monitor *m, uint64_t usec)
{
        int r;

        if (!m->seal_timer) {
                r = sd_event_add_time_relative(m->event, &m->seal_timer, CLOCK_MONOTONIC, usec, 1000, on_seal, m);
                if (r < 0)
                        return r;
                return sd_event_source_set_enabled(m->seal_timer, SD_EVENT_ONESHOT);
        }
        if (sd_event_source_get_enabled(m->seal_timer, NULL) > 0 && usec > 0)
                return 0; /* already armed: the batch collects until then */
        r = sd_event_source_set_time_relative(m->seal_timer, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(m->seal_timer, SD_EVENT_ONESHOT);
}

/* ---- IMA ----------------------------------------------------------------------------------------------------- */

static const char *policy_rule(enum dw_policy_result r)
{
        return dw_policy_result_name(r);
}

static bool policy_rejects(enum dw_policy_result r)
{
        return r != DW_POLICY_ACCEPT && r != DW_POLICY_EXCLUDED && r != DW_POLICY_BOOT_AGGREGATE &&
               r != DW_POLICY_VIOLATION_ALLOWED;
}

static int on_ima_entry(const struct dw_ima_entry *e, void *userdata)
{
        struct monitor *m = userdata;
        struct dw_policy_verdict v;
        const uint8_t *digest = NULL;
        enum dw_hash_alg alg;
        const char *name = NULL;
        size_t name_len = 0, digest_len = 0;
        char digest_text[DW_HASH_MAX_SIZE * 2 + 16] = "";

        if (!m->policy || e->index < m->judged)
                return 0;
        if (dw_runtime_policy_judge_entry(m->policy, e, &v) < 0 || !policy_rejects(v.result))
                return 0;
        (void)dw_ima_entry_event_name(e, &name, &name_len);
        if (dw_ima_entry_file_digest(e, &alg, &digest, &digest_len, NULL) >= 0 && digest) {
                char hex[DW_HASH_MAX_SIZE * 2 + 1];

                snprintf(digest_text, sizeof(digest_text), "%s:%s", dw_hash_alg_name(alg),
                         dw_hex_encode(digest, MIN(digest_len, (size_t)DW_HASH_MAX_SIZE), hex));
        }
        struct mon_alert_field f[] = {
                {.key = "path", .str = name ?: "", .str_len = name ? name_len : 0},
                MON_FIELD_STR("digest", digest_text),
                MON_FIELD_STR("rule", policy_rule(v.result)),
                MON_FIELD_INT("index", e->index),
        };
        alert(m, MON_ALERT_IMA_POLICY, -1, f, ELEMENTSOF(f), "%.*s: %s (IMA entry %" PRIu64 ")",
              (int)MIN(name_len, (size_t)256), name ?: "", policy_rule(v.result), e->index);
        m->drift_alerts++;
        return 0;
}

static void judged_save(struct monitor *m)
{
        _cleanup_free_ char *path = NULL;
        char buf[32];
        int n;

        if (asprintf(&path, "%s/%s", m->cfg.runtime_dir, JUDGED_FILE) < 0)
                return;
        n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", mon_ima_follow_count(m->ima));
        (void)mon_write_file_atomic(path, buf, (size_t)n, 0600);
}

static void judged_load(struct monitor *m)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;

        if (asprintf(&path, "%s/%s", m->cfg.runtime_dir, JUDGED_FILE) < 0 ||
            dw_read_full_file(path, 31, &data, &size) < 0)
                return;
        data[MIN(size, (size_t)30)] = '\0';
        m->judged = strtoull((const char *)data, NULL, 10);
}

/* Reads PCR 10 of the checked bank (TPM permitting right now) and matches it against the replay. */
static void pcr_check(struct monitor *m, const uint8_t *value, size_t size, const char *when)
{
        struct dw_error err = {};
        uint8_t replay[DW_HASH_MAX_SIZE];
        char hv[DW_HASH_MAX_SIZE * 2 + 1], hr[DW_HASH_MAX_SIZE * 2 + 1];
        uint64_t covered = 0;
        int r;

        /* Entries the kernel logged before the PCR was read must be in our replay: read them first. */
        r = mon_ima_follow_poll(m->ima, on_ima_entry, m, &err);
        if (r < 0)
                return; /* reported by the poll timer */
        r = mon_ima_follow_match(m->ima, m->bank, value, size, &covered);
        if (r > 0 && covered < mon_ima_follow_count(m->ima)) {
                /* The log is ahead of the PCR: normal for the moment between the kernel's list append and its PCR
                 * extend, but entries the TPM never catches up with were not measured by the kernel. */
                if (m->lag_since == 0 || covered != m->lag_covered) {
                        m->lag_since = now(CLOCK_MONOTONIC);
                        m->lag_covered = covered;
                        r = 1;
                } else if (now(CLOCK_MONOTONIC) - m->lag_since >= PCR_LAG_MAX_USEC)
                        r = 0;
        } else if (r > 0)
                m->lag_since = 0;
        if (r > 0) {
                if (m->pcr_mismatch)
                        log_at(LOG_NOTICE, "PCR 10 matches the IMA log again (%" PRIu64 " entries)", covered);
                m->pcr_mismatch = false;
                return;
        }
        if (m->pcr_mismatch)
                return; /* alerted already */
        m->pcr_mismatch = true;
        (void)mon_ima_follow_pcr(m->ima, m->bank, replay);
        struct mon_alert_field f[] = {
                MON_FIELD_INT("pcr", 10),
                MON_FIELD_STR("bank", dw_hash_alg_name(m->bank)),
                MON_FIELD_STR("expected", dw_hex_encode(replay, dw_hash_alg_size(m->bank), hr)),
                MON_FIELD_STR("actual", dw_hex_encode(value, size, hv)),
                MON_FIELD_INT("index", mon_ima_follow_count(m->ima)),
        };
        alert(m, MON_ALERT_PCR_MISMATCH, -1, f, ELEMENTSOF(f),
              "%s: the TPM's PCR 10 (%s) does not match the IMA log's replay: the log or the PCR was tampered with",
              when, dw_hash_alg_name(m->bank));
        if (m->uplink)
                mon_uplink_request_round(m->uplink, "PCR mismatch");
        status_update(m);
}

static void pcr_check_local(struct monitor *m)
{
        struct dw_tpm_pcrs *pcrs = NULL;
        TPML_PCR_SELECTION sel = {.count = 1};
        struct dw_error err = {};
        int r;

        sel.pcrSelections[0].hash = m->bank == DW_HASH_SHA1 ? DW_TPM_ALG_SHA1 : DW_TPM_ALG_SHA256;
        sel.pcrSelections[0].sizeofSelect = 3;
        sel.pcrSelections[0].pcrSelect[1] = 1u << 2; /* PCR 10 */
        if (pthread_mutex_trylock(&m->tpm.mutex) != 0)
                return; /* a round is quoting: it checks PCR 10 itself */
        pcrs = malloc(sizeof(*pcrs));
        r = pcrs ? dw_tpm_pcr_read(m->tpm.tpm, &sel, pcrs, NULL, &err) : -ENOMEM;
        pthread_mutex_unlock(&m->tpm.mutex);
        m->last_pcr_check = now(CLOCK_MONOTONIC);
        if (r >= 0 && pcrs->n_values == 1)
                pcr_check(m, pcrs->values[0].digest, pcrs->values[0].size, "local check");
        else if (r < 0)
                mon_alert_log(MON_ALERT_TPM_ERROR, -1, NULL, 0, err.msg);
        free(pcrs);
}

static int ima_poll(struct monitor *m)
{
        struct dw_error err = {};
        uint64_t alerts_before = m->drift_alerts;
        int r;

        r = mon_ima_follow_poll(m->ima, on_ima_entry, m, &err);
        if (r < 0) {
                if (!m->ima_failed) {
                        struct mon_alert_field f[] = {MON_FIELD_STR("path", m->cfg.ima_log),
                                                      MON_FIELD_INT("index", err.index),
                                                      MON_FIELD_INT("offset", err.offset)};
                        alert(m, MON_ALERT_IMA_LOG_ERROR, -1, f, ELEMENTSOF(f), "%s", err.msg);
                        m->ima_failed = true;
                        status_update(m);
                }
                return r;
        }
        if (r > 0) {
                if (m->drift_alerts > alerts_before) {
                        judged_save(m);
                        if (m->uplink)
                                mon_uplink_request_round(m->uplink, "drift");
                }
        }
        /* New entries, or a log still ahead of the PCR: look at the TPM (at most once a second). */
        if ((r > 0 || m->lag_since) && now(CLOCK_MONOTONIC) - m->last_pcr_check >= PCR_CHECK_EVERY_USEC)
                pcr_check_local(m);
        return r;
}

static int on_ima_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct monitor *m = userdata;

        (void)ima_poll(m);
        return sd_event_source_set_time(s, usec + m->cfg.ima_poll_usec);
}

/* ---- rounds -------------------------------------------------------------------------------------------------- */

static uint64_t requote_delay(const struct monitor *m)
{
        uint64_t jitter = m->cfg.requote_jitter_usec, rnd = 0;

        if (jitter == 0)
                return m->cfg.requote_interval_usec;
        (void)!getrandom(&rnd, sizeof(rnd), 0);
        return m->cfg.requote_interval_usec - jitter + rnd % (2 * jitter + 1);
}

static int on_requote(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct monitor *m = userdata;

        (void)usec;
        if (m->uplink)
                mon_uplink_request_round(m->uplink, "schedule");
        pcr_check_local(m);
        return sd_event_source_set_time_relative(s, requote_delay(m));
}

/* "runtime_policy /usr/bin/evil not_in_allowlist; ..." for the verdict alert. */
static void reasons_text(json_t *reasons, char *buf, size_t size)
{
        size_t i, off = 0;
        json_t *r;

        buf[0] = '\0';
        json_array_foreach(reasons, i, r)
        {
                const char *kind = json_string_value(json_object_get(r, "kind"));
                const char *path = json_string_value(json_object_get(r, "path"));
                const char *rule = json_string_value(json_object_get(r, "rule"));
                int n;

                if (off >= size - 1)
                        break;
                n = snprintf(buf + off, size - off, "%s%s%s%s%s%s", i ? "; " : "", kind ?: "?", path ? " " : "",
                             path ?: "", rule ? " " : "", rule ?: "");
                if (n < 0)
                        break;
                off += (size_t)n;
        }
}

static void round_answer(struct monitor *m, struct mon_uplink_result *res)
{
        const char *verdict = json_string_value(json_object_get(res->answer, "verdict"));
        const char *error = json_string_value(json_object_get(res->answer, "error"));
        json_t *reasons = json_object_get(res->answer, "reasons");
        char text[400];

        if (!verdict) {
                log_at(LOG_WARNING, "round refused by the verifier: HTTP %ld %s %s", res->status, error ?: "",
                       res->msg);
                return;
        }
        m->rounds++;
        if (res->status == 409 && error && strncmp(error, "nonce-", 6) == 0 && m->nonce_retries++ < 3) {
                mon_uplink_request_round(m->uplink, "nonce refused");
                return;
        }
        m->nonce_retries = 0;
        /* The quote's PCR 10 against our own replay: the same check as the local one, with the verifier's nonce. */
        for (size_t i = 0; i < res->sent.pcrs.n_values; i++) {
                const struct dw_tpm_pcr_value *v = &res->sent.pcrs.values[i];
                enum dw_hash_alg alg;

                if (v->pcr == 10 && dw_hash_alg_from_tpm_id(v->hash_alg, &alg) >= 0 && alg == m->bank)
                        pcr_check(m, v->digest, v->size, "round");
        }
        if (strcmp(verdict, m->verdict) != 0) {
                bool trusted = strcmp(verdict, "trusted") == 0;

                reasons_text(reasons, text, sizeof(text));
                struct mon_alert_field f[] = {MON_FIELD_STR("verdict", verdict), MON_FIELD_STR("reason", text)};
                alert(m, MON_ALERT_VERDICT, trusted ? LOG_NOTICE : LOG_WARNING, f, ELEMENTSOF(f),
                      "the verifier's verdict is now %s%s%s", verdict, text[0] ? ": " : "", text);
                snprintf(m->verdict, sizeof(m->verdict), "%s", verdict);
        }
        if (log_level >= MON_LOG_DEBUG) {
                _cleanup_free_ char *evidence =
                        json_dumps(json_object_get(json_object_get(res->answer, "report"), "evidence"), JSON_COMPACT);

                log_at(LOG_DEBUG,
                       "round: %s, %" PRIu64 " IMA entries sent from %" PRIu64 " (log read from byte %" PRIu64
                       ", %zu bytes)%s; evidence %s",
                       verdict, res->sent.ima_entries, res->sent.ima_first_index, res->sent.ima_read_from,
                       res->sent.ima_read_size, res->sent.boot_log ? ", boot log" : "", evidence ?: "{}");
        }
}

static void batch_answer(struct monitor *m, struct mon_uplink_result *res)
{
        const char *error = json_string_value(json_object_get(res->answer, "error"));
        struct dw_error err = {};

        if (res->status == 409 && error && strcmp(error, "concurrent-batch") == 0) {
                batches_offer(m); /* the same batch again */
                return;
        }
        if (res->status != 200) {
                const char *detail = json_string_value(json_object_get(res->answer, "detail"));
                struct mon_alert_field f[] = {MON_FIELD_STR("reason", error ?: "?"),
                                              MON_FIELD_INT("seq", (int64_t)res->batch_key)};

                alert(m, MON_ALERT_EVENTS_REFUSED, -1, f, ELEMENTSOF(f),
                      "the verifier refused an event batch (HTTP %ld %s: %s); it is dropped", res->status, error ?: "",
                      detail ?: "");
        }
        if (mon_spool_remove(m->spool, res->batch_key, &err) < 0)
                log_at(LOG_ERR, "spool: %s", err.msg);
        /* Lowering it needs no lock (a round may be holding the TPM across its POST): a value read before is only
         * more careful. Raising it happens when sealing, with the lock held. */
        atomic_store(&m->tpm.unacked_batches, mon_spool_count(m->spool));
        batches_offer(m);
}

static int on_uplink(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct monitor *m = userdata;
        struct mon_uplink_result res;

        (void)s, (void)fd, (void)revents;
        while (mon_uplink_next_result(m->uplink, &res) > 0) {
                switch (res.kind) {
                case MON_UPLINK_ENROLLED:
                        if (res.status == 200)
                                alert(m, MON_ALERT_ENROLLED, -1, NULL, 0, "enrolled with the verifier at %s",
                                      m->cfg.verifier_url);
                        else
                                log_at(LOG_ERR, "enrollment refused: HTTP %ld %s", res.status,
                                       json_string_value(json_object_get(res.answer, "detail")) ?: "");
                        break;
                case MON_UPLINK_ROUND:
                        round_answer(m, &res);
                        break;
                case MON_UPLINK_BATCH:
                        batch_answer(m, &res);
                        break;
                case MON_UPLINK_DOWN: {
                        struct mon_alert_field f[] = {MON_FIELD_STR("url", m->cfg.verifier_url)};

                        m->verifier_down = true;
                        alert(m, MON_ALERT_VERIFIER_DOWN, -1, f, ELEMENTSOF(f),
                              "the verifier cannot be reached (%s); events are spooled", res.msg);
                        break;
                }
                case MON_UPLINK_UP:
                        m->verifier_down = false;
                        log_at(LOG_NOTICE, "the verifier answers again");
                        batches_offer(m);
                        break;
                case MON_UPLINK_CHALLENGE:
                        log_at(LOG_INFO, "%s", res.msg);
                        break;
                case MON_UPLINK_ERROR:
                        if (res.error == -EIO)
                                alert(m, MON_ALERT_TPM_ERROR, -1, NULL, 0, "%s", res.msg);
                        else
                                log_at(LOG_WARNING, "%s", res.msg);
                        break;
                }
                mon_uplink_result_done(&res);
        }
        status_update(m);
        return 0;
}

/* ---- start-up ------------------------------------------------------------------------------------------------ */

static int policy_load(const char *path, struct dw_runtime_policy **ret)
{
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_policy_error perr = {};
        size_t size;
        int r;

        r = dw_read_full_file(path, POLICY_MAX, &data, &size);
        if (r < 0) {
                log_at(LOG_ERR, "%s: cannot read the runtime policy: %s", path, strerror(-r));
                return r;
        }
        r = dw_runtime_policy_load(data, size, ret, &perr);
        if (r < 0)
                log_at(LOG_ERR, "%s: %s", path, perr.msg);
        return r;
}

static int config_read(struct monitor *m, struct mon_config *ret)
{
        struct mon_config c;
        struct dw_error err = {};
        int r;

        r = mon_config_init(&c);
        if (r < 0)
                return r;
        r = mon_config_load(&c, m->config_path, &err);
        if (r == -ENOENT && !m->config_explicit)
                r = 0;
        else if (r == -ENOENT)
                log_at(LOG_ERR, "%s: no such file", m->config_path);
        else if (r < 0)
                log_at(LOG_ERR, "%s", err.msg);
        for (size_t i = 0; r >= 0 && i < m->n_sets; i++) {
                r = mon_config_set(&c, m->sets[i], &err);
                if (r < 0)
                        log_at(LOG_ERR, "--set %s", err.msg);
        }
        if (r >= 0) {
                r = mon_config_validate(&c, &err);
                if (r < 0)
                        log_at(LOG_ERR, "%s: %s", m->config_path, err.msg);
        }
        if (r < 0) {
                mon_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

static int dir_ensure(const char *path)
{
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                log_at(LOG_ERR, "%s: cannot create: %m", path);
                return -errno;
        }
        return 0;
}

/* The AK and the event key, created when missing (the verifier learns them at enrollment). */
static int tpm_keys(struct monitor *m)
{
        struct dw_tpm_key ak, evk;
        struct dw_error err = {};

        if (dw_tpm_ak_ensure(m->tpm.tpm, m->cfg.ak_handle, DW_TPM_KEY_ECC_P256, m->cfg.ek_type, &ak, &err) < 0 ||
            dw_tpm_event_key_ensure(m->tpm.tpm, m->cfg.event_key_handle, m->cfg.ek_type, &evk, &err) < 0) {
                log_at(LOG_ERR, "TPM keys: %s", err.msg);
                return -EIO;
        }
        if (ak.created || evk.created)
                log_at(LOG_NOTICE, "created the TPM's %s%s%s", ak.created ? "attestation key" : "",
                       ak.created && evk.created ? " and " : "", evk.created ? "event key" : "");
        return 0;
}

/* The boot event log replayed against the TPM's PCRs 0-7 (of the checked bank): the firmware's record of the boot
 * chain must be what the TPM holds, else the log was altered (or the firmware lies): an alert. No log: said once. */
static void boot_log_check(struct monitor *m)
{
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_free_ struct dw_tpm_pcrs *pcrs = malloc(sizeof(struct dw_tpm_pcrs));
        _cleanup_free_ struct dw_tcg_replay *replay = calloc(1, sizeof(struct dw_tcg_replay));
        struct dw_hasher *h = NULL;
        TPML_PCR_SELECTION sel;
        struct dw_error err = {};
        size_t size;
        int r;

        if (!m->cfg.boot_log || !*m->cfg.boot_log || !pcrs || !replay)
                return;
        r = dw_read_full_file(m->cfg.boot_log, BOOT_LOG_MAX, &log, &size);
        if (r < 0) {
                log_at(LOG_NOTICE, "%s: no boot event log (%s): boot PCRs are checked by the verifier only",
                       m->cfg.boot_log, strerror(-r));
                return;
        }
        r = dw_hasher_new(&h);
        if (r >= 0)
                r = dw_tcg_replay_log(replay, h, log, size, &err);
        if (h)
                dw_hasher_free(h);
        if (r < 0) {
                struct mon_alert_field f[] = {MON_FIELD_STR("path", m->cfg.boot_log),
                                              MON_FIELD_INT("index", err.index)};

                alert(m, MON_ALERT_IMA_LOG_ERROR, -1, f, ELEMENTSOF(f), "boot event log: %s", err.msg);
                return;
        }
        if (!replay->has_bank[m->bank]) {
                log_at(LOG_NOTICE, "%s: the boot log has no %s bank", m->cfg.boot_log, dw_hash_alg_name(m->bank));
                return;
        }
        if (dw_tpm_pcr_selection_from_string(m->bank == DW_HASH_SHA256 ? "sha256:0-7" : "sha1:0-7", &sel, &err) < 0 ||
            dw_tpm_pcr_read(m->tpm.tpm, &sel, pcrs, NULL, &err) < 0) {
                mon_alert_log(MON_ALERT_TPM_ERROR, -1, NULL, 0, err.msg);
                return;
        }
        for (size_t i = 0; i < pcrs->n_values; i++) {
                const struct dw_tpm_pcr_value *v = &pcrs->values[i];
                char hv[DW_HASH_MAX_SIZE * 2 + 1], hr[DW_HASH_MAX_SIZE * 2 + 1];

                if (memcmp(v->digest, replay->pcr[m->bank][v->pcr], v->size) == 0)
                        continue;
                struct mon_alert_field f[] = {
                        MON_FIELD_INT("pcr", v->pcr),
                        MON_FIELD_STR("bank", dw_hash_alg_name(m->bank)),
                        MON_FIELD_STR("expected", dw_hex_encode(replay->pcr[m->bank][v->pcr], v->size, hr)),
                        MON_FIELD_STR("actual", dw_hex_encode(v->digest, v->size, hv)),
                        MON_FIELD_STR("path", m->cfg.boot_log),
                };
                alert(m, MON_ALERT_PCR_MISMATCH, -1, f, ELEMENTSOF(f),
                      "the boot event log does not replay to the TPM's PCR %u (%s): the log or the boot chain's "
                      "measurements were altered",
                      v->pcr, dw_hash_alg_name(m->bank));
                return;
        }
        log_at(LOG_INFO, "boot event log: %" PRIu64 " events replay to the TPM's PCRs 0-7 (%s)", replay->events,
               dw_hash_alg_name(m->bank));
}

/* A quote of PCR 10 with a fresh local nonce: the TPM and the AK work, and PCR 10 matches the log. */
static int first_quote(struct monitor *m)
{
        _cleanup_free_ struct dw_tpm_pcrs *pcrs = malloc(sizeof(struct dw_tpm_pcrs));
        struct dw_tpm_signed_attest quote;
        TPML_PCR_SELECTION sel;
        struct dw_error err = {};
        uint8_t nonce[32];
        int r;

        if (!pcrs || getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
                return -ENOMEM;
        for (int attempt = 0; attempt < 2; attempt++) {
                r = dw_tpm_pcr_selection_from_string(m->bank == DW_HASH_SHA256 ? "sha256:10" : "sha1:10", &sel, &err);
                if (r >= 0)
                        r = dw_tpm_quote_pcrs(m->tpm.tpm, m->cfg.ak_handle, nonce, sizeof(nonce), &sel, &quote, pcrs,
                                              &err);
                if (r != -ENOENT || m->bank == DW_HASH_SHA1)
                        break;
                m->bank = DW_HASH_SHA1; /* no sha256 bank on this TPM */
        }
        if (r < 0) {
                log_at(LOG_ERR, "first quote: %s", err.msg);
                return r;
        }
        if (pcrs->n_values == 1)
                pcr_check(m, pcrs->values[0].digest, pcrs->values[0].size, "start-up quote");
        return 0;
}

/* The eBPF capability report as JSON (tiers and coverage, as --probe --json prints it), for every round; NULL when
 * drift detection is off. */
static char *drift_report_json(struct monitor *m)
{
        const struct mon_drift_report *report = m->drift ? mon_drift_get_report(m->drift) : NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!report)
                return NULL;
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        if (mon_drift_report_print_json(report, f) < 0) {
                fclose(f);
                free(buf);
                return NULL;
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static int uplink_start(struct monitor *m)
{
        _cleanup_free_ uint8_t *token = NULL;
        struct mon_uplink_options o = {
                .client = {.url = m->cfg.verifier_url,
                           .ca_file = m->cfg.verifier_ca,
                           .gateway_id = m->cfg.gateway_id,
                           .state_dir = m->cfg.state_dir,
                           .connect_timeout_ms = (long)(m->cfg.connect_timeout_usec / 1000),
                           .request_timeout_ms = (long)(m->cfg.request_timeout_usec / 1000)},
                .enroll = {.ek_type = m->cfg.ek_type,
                           .ak_handle = m->cfg.ak_handle,
                           .event_key_handle = m->cfg.event_key_handle},
                .ima_log = m->cfg.ima_log,
                .ima_offsets = m->ima_offsets,
                .ima_log_alg = m->cfg.ima_log_alg,
                .boot_log = m->cfg.boot_log,
                .ak_handle = m->cfg.ak_handle,
                .nv_index = m->cfg.nv_index,
                .retry_max_usec = m->cfg.retry_max_usec,
                .challenge_wait = m->cfg.challenge_wait,
        };
        _cleanup_free_ char *caps = drift_report_json(m);
        struct dw_error err = {};
        size_t size;
        int r;

        o.capabilities_json = caps;
        if (m->cfg.enrollment_token_file && *m->cfg.enrollment_token_file) {
                r = dw_read_full_file(m->cfg.enrollment_token_file, TOKEN_MAX, &token, &size);
                if (r < 0) {
                        log_at(LOG_ERR, "%s: cannot read the enrollment token: %s", m->cfg.enrollment_token_file,
                               strerror(-r));
                        return r;
                }
                token[strcspn((char *)token, "\r\n")] = '\0';
                o.enroll.bearer = (const char *)token;
        }
        r = mon_uplink_start(&o, &m->tpm, &m->uplink, &err);
        if (token)
                explicit_bzero(token, strlen((char *)token));
        if (r < 0) {
                log_at(LOG_ERR, "%s", err.msg);
                return r;
        }
        return sd_event_add_io(m->event, &m->uplink_source, mon_uplink_fd(m->uplink), EPOLLIN, on_uplink, m);
}

/* eBPF drift detection: each finding is an alert (and runtime event) and asks for a round at once. */
static void on_drift(enum mon_alert_kind kind, int priority, const struct mon_alert_field *fields, size_t n,
                     const char *message, void *userdata)
{
        struct monitor *m = userdata;

        alert(m, kind, priority, fields, n, "%s", message);
        m->drift_alerts++;
        if (m->uplink)
                mon_uplink_request_round(m->uplink, "drift");
}

/* The IMA cross-check's view of the IMA log. */
static bool imacheck_refresh(void *userdata)
{
        struct monitor *m = userdata;

        return m->ima && ima_poll(m) >= 0 && !mon_ima_follow_failed(m->ima);
}

static bool imacheck_lookup(enum dw_hash_alg alg, const uint8_t *digest, size_t size, void *userdata)
{
        struct monitor *m = userdata;

        return m->ima && mon_ima_follow_has_digest(m->ima, alg, digest, size);
}

static unsigned imacheck_algs(void *userdata)
{
        struct monitor *m = userdata;

        return m->ima ? mon_ima_follow_digest_algs(m->ima) : 0;
}

static const struct mon_drift_ima_ops imacheck_ops = {
        .refresh = imacheck_refresh,
        .lookup = imacheck_lookup,
        .algs = imacheck_algs,
};

#define IMA_POLICY_PROC_HINT                                                                                           \
        "the kernel lets only CAP_SYS_ADMIN read it, and only with CONFIG_IMA_READ_POLICY: set IMA.Policy= to a copy " \
        "of the policy this gateway loads (/etc/ima/ima-policy), or IMA.Policy=no"

/* The IMA policy expected, read once at start: if the kernel's policy is replaced later, executions the new one no
 * longer measures are what the cross-check catches. Off (said once, with the reason) when it cannot run. */
static void ima_policy_load(struct monitor *m)
{
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_error err = {};
        const char *path = m->cfg.ima_policy;
        size_t size;
        int r;

        m->ima_check_off[0] = '\0';
        if (!path || strcmp(path, "no") == 0)
                snprintf(m->ima_check_off, sizeof(m->ima_check_off), "IMA.Policy=no");
        else if (!m->cfg.drift_enable)
                snprintf(m->ima_check_off, sizeof(m->ima_check_off), "eBPF drift detection is off (Drift.Enable=no)");
        else if (!m->cfg.drift_hash_executables)
                snprintf(m->ima_check_off, sizeof(m->ima_check_off),
                         "executed files are not hashed (Drift.HashExecutables=no)");
        else if (!mon_ima_follow_is_kernel(m->ima))
                snprintf(m->ima_check_off, sizeof(m->ima_check_off),
                         "no IMA: %s is not the kernel's measurement list (not on securityfs), so nothing says what "
                         "the kernel measured",
                         m->cfg.ima_log);
        else if (m->ima_failed)
                snprintf(m->ima_check_off, sizeof(m->ima_check_off), "the IMA log cannot be followed");
        if (m->ima_check_off[0]) {
                log_at(LOG_NOTICE, "IMA cross-check off: %s", m->ima_check_off);
                return;
        }
        r = dw_read_full_file(path, DW_IMA_POLICY_MAX_SIZE, &data, &size);
        if (r < 0 && strcmp(path, MON_IMA_POLICY_DEFAULT) == 0 && access(MON_IMA_POLICY_ETC, R_OK) == 0) {
                /* systemd loads this file into the kernel at boot when it exists: it is the kernel's policy */
                log_at(LOG_INFO, "%s cannot be read (%s): expecting %s, the policy systemd loaded at boot", path,
                       strerror(-r), MON_IMA_POLICY_ETC);
                path = MON_IMA_POLICY_ETC;
                r = dw_read_full_file(path, DW_IMA_POLICY_MAX_SIZE, &data, &size);
        }
        if (r < 0) {
                snprintf(m->ima_check_off, sizeof(m->ima_check_off), "%s cannot be read (%s)%s%s", path, strerror(-r),
                         strcmp(path, MON_IMA_POLICY_DEFAULT) == 0 ? ": " : "",
                         strcmp(path, MON_IMA_POLICY_DEFAULT) == 0 ? IMA_POLICY_PROC_HINT : "");
                log_at(LOG_WARNING, "IMA cross-check off: %s", m->ima_check_off);
                return;
        }
        r = dw_ima_policy_parse((const char *)data, size, &m->ima_policy, &err);
        if (r < 0) {
                snprintf(m->ima_check_off, sizeof(m->ima_check_off), "%s: %s", path,
                         r == -ENOMEM ? "out of memory" : err.msg);
                log_at(LOG_WARNING, "IMA cross-check off: %s", m->ima_check_off);
                return;
        }
        log_at(LOG_NOTICE,
               "IMA cross-check on: executions the IMA policy of %s (%zu rules, kept from now on) measures must be in "
               "%s",
               path, m->ima_policy->n_rules, m->cfg.ima_log);
}

static int drift_start(struct monitor *m)
{
        /* The monitor's own files are protected whatever Drift.ProtectedPaths= says. */
        const char *own[] = {m->cfg.state_dir, m->cfg.runtime_dir, m->config_path, m->cfg.runtime_policy, NULL};
        struct mon_drift_options o = {
                .protected_paths = m->cfg.drift_protected_paths,
                .extra_protected = own,
                .hash_executables = m->cfg.drift_hash_executables,
                .hash_cache_entries = (size_t)m->cfg.drift_hash_cache_entries,
                .ring_buffer_bytes = (size_t)m->cfg.drift_ring_buffer_bytes,
                .log_level = (int)log_level,
                .alert = on_drift,
                .userdata = m,
                .ima_policy = m->ima_policy,
                .ima_ops = &imacheck_ops,
        };

        if (!m->cfg.drift_enable) {
                log_at(LOG_NOTICE, "eBPF drift detection is off (Drift.Enable=no)");
                return 0;
        }
        if (mon_drift_tiers_parse(m->cfg.drift_tiers, &o.tiers) < 0)
                return -EINVAL;
        return mon_drift_start(m->event, &o, m->policy, &m->drift);
}

/* --probe: what this kernel allows, loading nothing for good. */
static int drift_probe(bool json)
{
        struct mon_drift_report report;
        int r;

        r = mon_drift_probe((1u << _MON_DRIFT_TIER_MAX) - 1, &report);
        if (r < 0) {
                log_at(LOG_ERR, "probe: %s", strerror(-r));
                return r;
        }
        if (json)
                return mon_drift_report_print_json(&report, stdout);
        mon_drift_report_print(&report, stdout);
        return 0;
}

static int storage_open(struct monitor *m)
{
        _cleanup_free_ char *spool_dir = NULL;
        struct mon_recorder_open_info info = {};
        struct mon_recorder_options ro = {
                .runtime_dir = m->cfg.runtime_dir,
                .gateway_id = m->cfg.gateway_id,
                .ak_handle = m->cfg.ak_handle,
                .event_key_handle = m->cfg.event_key_handle,
                .nv_index = m->cfg.nv_index,
                .nv_owner_fallback = m->cfg.nv_owner_fallback,
                .batch_max_events = (size_t)m->cfg.batch_max_events,
        };
        struct dw_error err = {};
        size_t damaged = 0;
        int r;

        if (asprintf(&spool_dir, "%s/spool", m->cfg.state_dir) < 0)
                return -ENOMEM;
        r = mon_spool_open(spool_dir, m->cfg.spool_max_bytes, &m->spool, &damaged, &err);
        if (r < 0) {
                log_at(LOG_ERR, "spool: %s", err.msg);
                return r;
        }
        if (damaged > 0)
                log_at(LOG_ERR, "spool: %zu damaged records moved aside in %s", damaged, spool_dir);
        r = mon_recorder_open(m->tpm.tpm, m->spool, &ro, &m->recorder, &info, &err);
        if (r < 0) {
                log_at(LOG_ERR, "event chain: %s", err.msg);
                return r;
        }
        m->tpm.unacked_batches = mon_spool_count(m->spool);
        log_at(LOG_INFO, "event chain: %s at sequence %" PRIu64 " (TPM reset count %u), NV index 0x%08x (%s)%s%s",
               info.new_chain ? "new" : "continued", mon_recorder_next_seq(m->recorder), info.reset_count,
               m->cfg.nv_index, info.nv_platform ? "platform" : "owner: the owner can delete it",
               info.adopted_batch ? ", adopted a spooled batch" : "",
               info.nv_repaired ? ", repaired an interrupted NV extend" : "");
        if (info.nv_unexpected)
                mon_alert_log(MON_ALERT_PCR_MISMATCH, -1, NULL, 0,
                              "the event-chain NV index holds a value this monitor did not extend it to");
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct monitor *m = userdata;

        (void)s;
        if (si->ssi_signo == SIGHUP) {
                struct mon_config c;
                struct dw_runtime_policy *p = NULL;

                sd_notify(0, "RELOADING=1");
                if (config_read(m, &c) < 0) {
                        alert(m, MON_ALERT_CONFIG_RELOADED, LOG_ERR, NULL, 0,
                              "the new configuration is refused; the old one stays in effect");
                } else if (c.runtime_policy && *c.runtime_policy && policy_load(c.runtime_policy, &p) < 0) {
                        alert(m, MON_ALERT_CONFIG_RELOADED, LOG_ERR, NULL, 0,
                              "the new runtime policy is refused; the old configuration stays in effect");
                        mon_config_done(&c);
                } else {
                        /* Timers and the policy change now; where the TPM, logs and verifier are needs a restart. */
                        bool restart = strcmp(c.tcti, m->cfg.tcti) || strcmp(c.verifier_url, m->cfg.verifier_url) ||
                                       strcmp(c.ima_log, m->cfg.ima_log) || strcmp(c.state_dir, m->cfg.state_dir);
                        if (m->policy)
                                dw_runtime_policy_free(m->policy);
                        m->policy = p;
                        mon_drift_set_policy(m->drift, p);
                        mon_config_done(&m->cfg);
                        m->cfg = c;
                        log_level = c.log_level;
                        alert(m, MON_ALERT_CONFIG_RELOADED, -1, NULL, 0, "configuration reloaded%s",
                              restart ? " (TPM, verifier, log and state locations change at the next restart)" : "");
                        if (m->uplink)
                                mon_uplink_request_round(m->uplink, "reload");
                }
                sd_notify(0, "READY=1");
                return 0;
        }
        log_at(LOG_INFO, "stopping (signal %u)", si->ssi_signo);
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int loop_setup(struct monitor *m)
{
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        signal(SIGPIPE, SIG_IGN);
        r = sd_event_default(&m->event);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_signal, m);
        if (r >= 0)
                r = sd_event_set_watchdog(m->event, true); /* WATCHDOG=1 from the loop, when WatchdogSec= */
        return r;
}

static int timers_setup(struct monitor *m)
{
        int r;

        r = sd_event_add_time_relative(m->event, &m->ima_timer, CLOCK_MONOTONIC, m->cfg.ima_poll_usec, 10000,
                                       on_ima_timer, m);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &m->requote_timer, CLOCK_MONOTONIC, requote_delay(m), 100000,
                                               on_requote, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->requote_timer, SD_EVENT_ON);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->ima_timer, SD_EVENT_ON);
        return r;
}

/* ---- main ---------------------------------------------------------------------------------------------------- */

static void help(void)
{
        size_t n;
        const struct mon_config_key_doc *keys = mon_config_keys(&n);

        printf("Usage: driftwatch-monitor [--config FILE] [--set Section.Key=Value]... [--check-config]\n"
               "       driftwatch-monitor --probe [--json]\n"
               "  -c, --config FILE   the configuration (default %s)\n"
               "  -s, --set S.K=V     override a key (repeatable), e.g. --set IMA.Log=/tmp/log\n"
               "      --check-config  check the configuration, print the effective values, exit\n"
               "      --probe         which eBPF hooks this kernel allows for drift detection, exit (--json)\n"
               "  -h, --help          this help;  --version  the version\n\nConfiguration keys:\n",
               MON_CONFIG_FILE_DEFAULT);
        for (size_t i = 0; i < n; i++)
                printf("  [%s] %s= (default: %s)\n      %s\n", keys[i].section, keys[i].name,
                       keys[i].def[0] ? keys[i].def : "none", keys[i].doc);
}

static int parse_args(int argc, char **argv, struct monitor *m, bool *ret_check)
{
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
                {"check-config", no_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},      {"probe", no_argument, NULL, 'P'},
                {"json", no_argument, NULL, 'J'},         {},
        };
        int c;

        m->config_path = MON_CONFIG_FILE_DEFAULT;
        while ((c = getopt_long(argc, argv, "c:s:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        m->config_path = optarg;
                        m->config_explicit = true;
                        break;
                case 's': {
                        char **s = realloc(m->sets, (m->n_sets + 1) * sizeof(*s));

                        if (!s)
                                return -ENOMEM;
                        m->sets = s;
                        m->sets[m->n_sets++] = optarg;
                        break;
                }
                case 'C':
                        *ret_check = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("driftwatch-monitor %s\n", MON_VERSION);
                        return 0;
                case 'P':
                        m->probe = true;
                        break;
                case 'J':
                        m->probe_json = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                log_at(LOG_ERR, "unexpected argument '%s'", argv[optind]);
                return -EINVAL;
        }
        if (m->probe_json && !m->probe) {
                log_at(LOG_ERR, "--json goes with --probe");
                return -EINVAL;
        }
        return 1;
}

static void print_config(const struct mon_config *c)
{
        printf("GatewayId=%s\nURL=%s\nCAFile=%s\nTCTI=%s\nLog=%s\nBootLog=%s\nRuntimePolicy=%s\nStateDirectory=%s\n"
               "RuntimeDirectory=%s\nRequoteIntervalSec=%" PRIu64 "\n",
               c->gateway_id, c->verifier_url, c->verifier_ca, c->tcti, c->ima_log, c->boot_log ?: "",
               c->runtime_policy ?: "", c->state_dir, c->runtime_dir, c->requote_interval_usec / 1000000u);
}

static void monitor_done(struct monitor *m)
{
        if (m->uplink)
                mon_uplink_stop(m->uplink);
        m->uplink = NULL;
        mon_drift_free(m->drift);
        m->drift = NULL;
        sd_event_source_unref(m->uplink_source);
        sd_event_source_unref(m->requote_timer);
        sd_event_source_unref(m->ima_timer);
        sd_event_source_unref(m->seal_timer);
        if (m->recorder)
                mon_recorder_free(m->recorder);
        if (m->spool)
                mon_spool_close(m->spool);
        if (m->ima)
                mon_ima_follow_free(m->ima);
        mon_ima_offsets_free(m->ima_offsets);
        if (m->policy)
                dw_runtime_policy_free(m->policy);
        dw_ima_policy_free(m->ima_policy);
        if (m->tpm.tpm)
                dw_tpm_close(m->tpm.tpm);
        pthread_mutex_destroy(&m->tpm.mutex);
        sd_event_unref(m->event);
        mon_config_done(&m->cfg);
        free(m->sets);
}

/* The last events (stop) sealed before exit; the uplink is stopped first so the TPM is free. */
static void final_seal(struct monitor *m)
{
        struct dw_error err = {};

        if (m->uplink)
                mon_uplink_stop(m->uplink);
        m->uplink = NULL;
        alert(m, MON_ALERT_STOPPED, -1, NULL, 0, "driftwatch-monitor stopped");
        pthread_mutex_lock(&m->tpm.mutex);
        if (mon_recorder_seal(m->recorder, m->tpm.tpm, &err) < 0)
                log_at(LOG_ERR, "the last events could not be sealed: %s", err.msg);
        pthread_mutex_unlock(&m->tpm.mutex);
}

static int run(struct monitor *m)
{
        struct dw_error err = {};
        int r;

        r = dir_ensure(m->cfg.state_dir);
        if (r >= 0)
                r = dir_ensure(m->cfg.runtime_dir);
        if (r < 0)
                return r;
        if (m->cfg.runtime_policy && *m->cfg.runtime_policy) {
                r = policy_load(m->cfg.runtime_policy, &m->policy);
                if (r < 0)
                        return r;
        }
        r = dw_tpm_open(m->cfg.tcti, &m->tpm.tpm, &err);
        if (r < 0) {
                log_at(LOG_ERR, "TPM %s: %s", m->cfg.tcti, err.msg);
                return r;
        }
        r = tpm_keys(m);
        if (r >= 0)
                r = storage_open(m);
        if (r < 0)
                return r;
        r = mon_ima_offsets_new(&m->ima_offsets);
        if (r >= 0)
                r = mon_ima_follow_new(m->cfg.ima_log, m->cfg.ima_log_alg, &m->ima);
        if (r >= 0)
                mon_ima_follow_set_offsets(m->ima, m->ima_offsets);
        if (r >= 0 && m->cfg.ima_policy && strcmp(m->cfg.ima_policy, "no") != 0 && m->cfg.drift_enable)
                r = mon_ima_follow_track_digests(m->ima); /* for the IMA cross-check: from the first entry on */
        if (r < 0)
                return r;
        judged_load(m);
        r = loop_setup(m);
        if (r < 0)
                return r;
        r = ima_poll(m);
        if (r < 0)
                log_at(LOG_ERR, "%s: the IMA log cannot be followed (see the alert)", m->cfg.ima_log);
        judged_save(m);
        ima_policy_load(m);
        r = drift_start(m);
        if (r < 0)
                return r;
        r = first_quote(m);
        if (r < 0)
                return r;
        boot_log_check(m);
        {
                char drift_text[256] = "off", imacheck[400];

                if (m->drift)
                        mon_drift_report_summary(mon_drift_get_report(m->drift), drift_text, sizeof(drift_text));
                if (mon_drift_imacheck_enabled(m->drift))
                        snprintf(imacheck, sizeof(imacheck), "on: %s", m->cfg.ima_policy);
                else
                        snprintf(imacheck, sizeof(imacheck), "off: %s",
                                 m->ima_check_off[0] ? m->ima_check_off : "eBPF drift detection is not running");
                struct mon_alert_field f[] = {
                        MON_FIELD_STR("version", MON_VERSION),
                        MON_FIELD_STR("tcti", m->cfg.tcti),
                        MON_FIELD_STR("path", m->cfg.ima_log),
                        MON_FIELD_STR("policy", m->cfg.runtime_policy ?: ""),
                        MON_FIELD_INT("entries", mon_ima_follow_count(m->ima)),
                        MON_FIELD_STR("drift", drift_text),
                        MON_FIELD_STR("ima_crosscheck", imacheck),
                };
                alert(m, MON_ALERT_STARTED, -1, f, ELEMENTSOF(f),
                      "driftwatch-monitor %s started: IMA log %s (%" PRIu64 " entries), TPM %s, verifier %s%s",
                      MON_VERSION, m->cfg.ima_log, mon_ima_follow_count(m->ima), m->cfg.tcti, m->cfg.verifier_url,
                      m->policy ? "" : ", no local runtime policy");
        }
        r = uplink_start(m);
        if (r >= 0)
                r = timers_setup(m);
        if (r < 0)
                return r;
        mon_uplink_request_round(m->uplink, "start");
        batches_offer(m);
        /* Start-up freed megabytes the loop never needs again (libbpf's parse of the kernel's BTF for CO-RE, the
         * policy's JSON text): given back to the system rather than kept in the heap. */
        (void)malloc_trim(0);
        sd_notify(0, "READY=1");
        status_update(m);
        r = sd_event_loop(m->event);
        sd_notify(0, "STOPPING=1");
        {
                char imacheck[400];

                imacheck_summary(m, imacheck, sizeof(imacheck));
                log_at(LOG_INFO, "%s", imacheck);
        }
        final_seal(m);
        return r;
}

int main(int argc, char **argv)
{
        struct monitor m = {.bank = DW_HASH_SHA256};
        bool check = false;
        int r;

        pthread_mutex_init(&m.tpm.mutex, NULL);
        /* The worker threads (hashing, uplink, challenge poller) mostly wait: one malloc arena for all of them
         * rather than one each, which would keep its own free memory resident. */
        (void)mallopt(M_ARENA_MAX, 1);
        /* A round's request holds the IMA entries since the last one (megabytes on a busy gateway). glibc would raise
         * its mmap threshold after the first such buffer is freed and serve the next ones from the heap, which then
         * stays at the largest round's size: a fixed threshold gives every large buffer back when it is freed. */
        (void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        /* tpm2-tss logs expected failures (the platform hierarchy refused before the owner fallback) as errors;
         * ours carry the decoded TPM error where it matters. TSS2_LOG set by the user wins. */
        setenv("TSS2_LOG", "all+none", 0);
        r = parse_args(argc, argv, &m, &check);
        if (r <= 0) {
                free(m.sets);
                return r < 0 ? 2 : 0;
        }
        if (m.probe) {
                free(m.sets);
                return drift_probe(m.probe_json) < 0 ? 1 : 0;
        }
        r = config_read(&m, &m.cfg);
        if (r < 0) {
                free(m.sets);
                return 2;
        }
        log_level = m.cfg.log_level;
        if (check) {
                print_config(&m.cfg);
                mon_config_done(&m.cfg);
                free(m.sets);
                return 0;
        }
        r = run(&m);
        monitor_done(&m);
        return r < 0 ? 1 : 0;
}
