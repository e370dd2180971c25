/* SPDX-License-Identifier: MIT */
/* event-pipeline: signed runtime events per second, end to end, through the monitor's own modules: events queued in
 * the recorder, sealed in batches (TPM2_Sign by the event key, the spool's durable write, the chain state saved,
 * TPM2_NV_Extend of the head), posted to a real driftwatch-verifier over mutual TLS (which verifies the signature
 * and the chain and stores every event), acknowledged and removed from the spool. The gateway must be enrolled
 * (state dir with tls.pem/tls.key, as driftwatch-monitor leaves it).
 *
 *   event-pipeline --tcti T --verifier URL --ca CA --state DIR --runtime-dir DIR --id ID --events N --batch M */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recorder.h"
#include "spool.h"
#include "tpm-gateway.h"
#include "verifier-client.h"

struct args {
        const char *tcti, *url, *ca, *state, *runtime, *id;
        unsigned long events, batch;
};

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, const struct dw_error *err)
{
        fprintf(stderr, "event-pipeline: %s: %s\n", what, err ? err->msg : "");
        return 1;
}

static int parse(int argc, char **argv, struct args *a)
{
        static const struct option opts[] = {
                {"tcti", required_argument, NULL, 't'},
                {"verifier", required_argument, NULL, 'v'},
                {"ca", required_argument, NULL, 'c'},
                {"state", required_argument, NULL, 's'},
                {"runtime-dir", required_argument, NULL, 'r'},
                {"id", required_argument, NULL, 'i'},
                {"events", required_argument, NULL, 'n'},
                {"batch", required_argument, NULL, 'b'},
                {},
        };
        int c;

        a->events = 100000;
        a->batch = 1024;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 't':
                        a->tcti = optarg;
                        break;
                case 'v':
                        a->url = optarg;
                        break;
                case 'c':
                        a->ca = optarg;
                        break;
                case 's':
                        a->state = optarg;
                        break;
                case 'r':
                        a->runtime = optarg;
                        break;
                case 'i':
                        a->id = optarg;
                        break;
                case 'n':
                        a->events = strtoul(optarg, NULL, 10);
                        break;
                case 'b':
                        a->batch = strtoul(optarg, NULL, 10);
                        break;
                default:
                        return -EINVAL;
                }
        if (!a->tcti || !a->url || !a->ca || !a->state || !a->runtime || !a->id || a->batch < 1 ||
            a->batch > DW_EVENT_BATCH_EVENTS_MAX || a->events < 1)
                return -EINVAL;
        return 0;
}

static int one_event(struct mon_recorder *r, unsigned long i)
{
        struct dw_event *ev = NULL;
        char path[64];
        int n = snprintf(path, sizeof(path), "/usr/local/bin/bench-%lu", i);

        if (dw_event_new("drift_exec", DW_EVENT_WARNING, &ev) < 0)
                return -ENOMEM;
        if (dw_event_add_string(ev, "path", path, (size_t)n) < 0 || dw_event_add_int(ev, "pid", 4242) < 0 ||
            dw_event_add_string(ev, "rule", "not_in_allowlist", 16) < 0) {
                dw_event_free(ev);
                return -ENOMEM;
        }
        return mon_recorder_add(r, ev);
}

/* Posts every spooled batch, oldest first (the monitor's own leftovers too: the chain continues from them); each
 * must be accepted. */
static int drain(struct mon_spool *spool, struct mon_vclient *c, struct dw_error *err)
{
        for (;;) {
                _cleanup_free_ uint8_t *data = NULL;
                json_t *answer = NULL;
                uint64_t key;
                size_t size;
                long status = 0;
                int r;

                r = mon_spool_oldest(spool, &key, &data, &size, err);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
                r = mon_vclient_post_batch(c, (const char *)data, &status, &answer, err);
                if (answer)
                        json_decref(answer);
                if (r < 0)
                        return r;
                if (status != 200) {
                        snprintf(err->msg, sizeof(err->msg), "the verifier answered %ld", status);
                        return -EPROTO;
                }
                r = mon_spool_remove(spool, key, err);
                if (r < 0)
                        return r;
        }
}

int main(int argc, char **argv)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_(mon_spool_closep) struct mon_spool *spool = NULL;
        _cleanup_(mon_recorder_freep) struct mon_recorder *rec = NULL;
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        _cleanup_free_ char *spool_dir = NULL;
        struct dw_error err = {};
        struct args a = {};
        double t0, t1;

        if (parse(argc, argv, &a) < 0) {
                fprintf(stderr, "usage: event-pipeline --tcti T --verifier URL --ca CA --state DIR --runtime-dir DIR "
                                "--id ID [--events N] [--batch M]\n");
                return 2;
        }
        struct mon_vclient_options vo = {.url = a.url,
                                         .ca_file = a.ca,
                                         .gateway_id = a.id,
                                         .state_dir = a.state,
                                         .connect_timeout_ms = 5000,
                                         .request_timeout_ms = 30000};
        struct mon_recorder_options ro = {.runtime_dir = a.runtime,
                                          .gateway_id = a.id,
                                          .ak_handle = DW_TPM_AK_HANDLE_DEFAULT,
                                          .event_key_handle = DW_TPM_EVENT_KEY_HANDLE_DEFAULT,
                                          .nv_index = DW_TPM_NV_INDEX_DEFAULT,
                                          .nv_owner_fallback = true,
                                          .batch_max_events = a.batch};

        if (asprintf(&spool_dir, "%s/spool", a.state) < 0)
                return 1;
        if (dw_tpm_open(a.tcti, &t, &err) < 0)
                return die("TPM", &err);
        if (mon_spool_open(spool_dir, 1ull << 30, &spool, NULL, &err) < 0)
                return die("spool", &err);
        if (mon_recorder_open(t, spool, &ro, &rec, NULL, &err) < 0)
                return die("recorder", &err);
        if (mon_vclient_new(&vo, &c, &err) < 0)
                return die("client", &err);
        t0 = now_s();
        for (unsigned long i = 0; i < a.events; i++) {
                int r = one_event(rec, i);

                if (r < 0)
                        return die("event", NULL);
                if (r > 0 || i + 1 == a.events) {
                        if (mon_recorder_seal(rec, t, &err) < 0)
                                return die("seal", &err);
                        if (drain(spool, c, &err) < 0)
                                return die("post", &err);
                }
        }
        t1 = now_s();
        printf("event-pipeline: %lu events in batches of %lu: %.2f s, %.0f signed events/s end to end "
               "(%.1f ms per batch: sign, spool, extend, post, verify, store)\n",
               a.events, a.batch, t1 - t0, (double)a.events / (t1 - t0),
               (t1 - t0) * 1000.0 / (double)((a.events + a.batch - 1) / a.batch));
        return 0;
}
