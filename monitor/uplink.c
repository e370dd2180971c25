/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "uplink.h"

#define RETRY_MIN_USEC (1000u * 1000)
#define CHALLENGE_WAIT 25 /* seconds a long poll stays open */

struct result_node {
        struct mon_uplink_result r;
        struct result_node *next;
};

struct mon_uplink {
        struct mon_uplink_options o;
        char *url, *ca_file, *gateway_id, *state_dir, *bearer, *ima_log, *boot_log, *capabilities;
        struct mon_tpm_lock *tpm;

        atomic_bool cancel;    /* aborts the clients' transfers at stop */
        pthread_mutex_t mutex; /* everything below */
        pthread_cond_t cond;
        bool stop;
        bool round_requested;
        char round_why[64];
        bool batch_offered; /* batch_json/batch_key hold a batch not yet answered */
        char *batch_json;
        uint64_t batch_key;
        bool enrolled;
        bool down;
        struct result_node *results, **results_tail;

        int pipe[2];
        pthread_t worker, poller;
        bool worker_started, poller_started;
};

void mon_uplink_result_done(struct mon_uplink_result *r)
{
        if (r->answer)
                json_decref(r->answer);
        r->answer = NULL;
}

/* ---- results ------------------------------------------------------------------------------------------------- */

/* Queues a result (taking over r->answer) and wakes the main loop. */
static void result_push(struct mon_uplink *u, struct mon_uplink_result *r)
{
        struct result_node *n = calloc(1, sizeof(*n));
        char c = 'r';

        if (!n) {
                mon_uplink_result_done(r);
                return;
        }
        n->r = *r;
        r->answer = NULL;
        pthread_mutex_lock(&u->mutex);
        *u->results_tail = n;
        u->results_tail = &n->next;
        pthread_mutex_unlock(&u->mutex);
        (void)!write(u->pipe[1], &c, 1);
}

static void result_simple(struct mon_uplink *u, enum mon_uplink_result_kind kind, int error, const char *msg)
{
        struct mon_uplink_result r = {.kind = kind, .error = error};

        snprintf(r.msg, sizeof(r.msg), "%s", msg ?: "");
        result_push(u, &r);
}

int mon_uplink_next_result(struct mon_uplink *u, struct mon_uplink_result *ret)
{
        struct result_node *n;
        char buf[64];

        while (read(u->pipe[0], buf, sizeof(buf)) > 0)
                ;
        pthread_mutex_lock(&u->mutex);
        n = u->results;
        if (n) {
                u->results = n->next;
                if (!u->results)
                        u->results_tail = &u->results;
        }
        pthread_mutex_unlock(&u->mutex);
        if (!n)
                return 0;
        *ret = n->r;
        free(n);
        return 1;
}

int mon_uplink_fd(const struct mon_uplink *u)
{
        return u->pipe[0];
}

/* ---- waiting ------------------------------------------------------------------------------------------------- */

/* Sleeps up to usec unless stopped (true when stopped). Called with u->mutex held. */
static bool sleep_locked(struct mon_uplink *u, uint64_t usec)
{
        struct timespec ts;
        uint64_t ns;

        clock_gettime(CLOCK_REALTIME, &ts);
        ns = (uint64_t)ts.tv_nsec + (usec % 1000000u) * 1000u;
        ts.tv_sec += (time_t)(usec / 1000000u + ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        while (!u->stop)
                if (pthread_cond_timedwait(&u->cond, &u->mutex, &ts) == ETIMEDOUT)
                        break;
        return u->stop;
}

static bool backoff_sleep(struct mon_uplink *u, uint64_t *delay)
{
        bool stopped;

        pthread_mutex_lock(&u->mutex);
        stopped = sleep_locked(u, *delay);
        pthread_mutex_unlock(&u->mutex);
        *delay = MIN(*delay * 2, MAX(u->o.retry_max_usec, RETRY_MIN_USEC));
        return stopped;
}

static bool transport_error(int r)
{
        return r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EHOSTUNREACH || r == -ECOMM || r == -ENETUNREACH ||
               r == -ECONNRESET || r == -EAGAIN;
}

static void went_down(struct mon_uplink *u, const struct dw_error *err)
{
        bool was;

        pthread_mutex_lock(&u->mutex);
        was = u->down;
        u->down = true;
        pthread_mutex_unlock(&u->mutex);
        if (!was)
                result_simple(u, MON_UPLINK_DOWN, 0, err->msg);
}

static void came_up(struct mon_uplink *u)
{
        bool was;

        pthread_mutex_lock(&u->mutex);
        was = u->down;
        u->down = false;
        pthread_mutex_unlock(&u->mutex);
        if (was)
                result_simple(u, MON_UPLINK_UP, 0, "the verifier answers again");
}

/* ---- the worker ---------------------------------------------------------------------------------------------- */

static int enroll(struct mon_uplink *u, struct mon_vclient *c)
{
        uint64_t delay = RETRY_MIN_USEC;

        for (;;) {
                struct mon_uplink_result res = {.kind = MON_UPLINK_ENROLLED};
                struct dw_error err = {};
                int r;

                pthread_mutex_lock(&u->tpm->mutex);
                r = mon_vclient_enroll(c, u->tpm->tpm, &u->o.enroll, &res.status, &res.answer, &err);
                pthread_mutex_unlock(&u->tpm->mutex);
                if (r >= 0) {
                        came_up(u);
                        bool ok = res.status == 200;
                        result_push(u, &res);
                        if (ok) {
                                pthread_mutex_lock(&u->mutex);
                                u->enrolled = true;
                                pthread_mutex_unlock(&u->mutex);
                                return 0;
                        }
                        /* Refused (an EK the verifier does not trust, a wrong token...): an administrator must act;
                         * ask again now and then. */
                        delay = MAX(u->o.retry_max_usec, RETRY_MIN_USEC);
                } else if (transport_error(r))
                        went_down(u, &err);
                else
                        result_simple(u, MON_UPLINK_ERROR, r, err.msg);
                if (backoff_sleep(u, &delay))
                        return -ECANCELED;
        }
}

/* Posts the offered batch until the verifier answers. */
static void post_batch(struct mon_uplink *u, struct mon_vclient *c, uint64_t key, const char *json)
{
        uint64_t delay = RETRY_MIN_USEC;

        for (;;) {
                struct mon_uplink_result res = {.kind = MON_UPLINK_BATCH, .batch_key = key};
                struct dw_error err = {};
                int r;

                r = mon_vclient_post_batch(c, json, &res.status, &res.answer, &err);
                if (r >= 0 && res.status < 500) {
                        came_up(u);
                        pthread_mutex_lock(&u->mutex);
                        u->batch_offered = false;
                        free(u->batch_json);
                        u->batch_json = NULL;
                        pthread_mutex_unlock(&u->mutex);
                        result_push(u, &res);
                        return;
                }
                if (r >= 0) {
                        snprintf(err.msg, sizeof(err.msg), "the verifier answered %ld to an event batch", res.status);
                        mon_uplink_result_done(&res);
                }
                went_down(u, &err);
                if (backoff_sleep(u, &delay))
                        return;
        }
}

/* One round: nonce, then (TPM held) quote, logs, NV certification when every extended batch was acknowledged, and
 * the POST. 0 when the verifier answered (pushed as a result), a transport error to retry, or another error. */
static int round_once(struct mon_uplink *u, struct mon_vclient *c, struct dw_error *err)
{
        struct mon_uplink_result res = {.kind = MON_UPLINK_ROUND};
        struct mon_round_request req;
        /* The client reads the logs after the quote, so they hold at least what it covers. */
        struct mon_round_evidence ev = {
                .ak_handle = u->o.ak_handle,
                .ima_log_path = u->ima_log,
                .ima_offsets = u->o.ima_offsets,
                .boot_log_path = u->boot_log,
                .capabilities_json = u->capabilities,
                .ima_log_alg = u->o.ima_log_alg,
                .nv_index = u->o.nv_index,
        };
        long status = 0;
        int r;

        r = mon_vclient_nonce(c, &req, &status, err);
        if (r < 0 && status != 0) {
                /* An answer, but not a nonce (a gateway the verifier removed, a 5xx...): report it. */
                res.status = status;
                snprintf(res.msg, sizeof(res.msg), "%s", err->msg);
                result_push(u, &res);
                return 0;
        }
        if (r < 0)
                return r;
        pthread_mutex_lock(&u->tpm->mutex);
        ev.nv_certify = u->tpm->unacked_batches == 0;
        r = mon_vclient_attest(c, u->tpm->tpm, &req, &ev, &res.sent, &res.status, &res.answer, err);
        pthread_mutex_unlock(&u->tpm->mutex);
        if (r < 0)
                return r;
        result_push(u, &res);
        return 0;
}

static void run_round(struct mon_uplink *u, struct mon_vclient *c)
{
        uint64_t delay = RETRY_MIN_USEC;

        for (;;) {
                struct dw_error err = {};
                int r;

                r = round_once(u, c, &err);
                if (r >= 0) {
                        came_up(u);
                        return;
                }
                if (!transport_error(r)) {
                        result_simple(u, MON_UPLINK_ERROR, r, err.msg);
                        return;
                }
                went_down(u, &err);
                if (backoff_sleep(u, &delay))
                        return;
        }
}

static void *worker_main(void *userdata)
{
        struct mon_uplink *u = userdata;
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        struct mon_vclient_options co = u->o.client;
        struct dw_error err = {};

        if (mon_vclient_new(&co, &c, &err) < 0) {
                result_simple(u, MON_UPLINK_ERROR, -EINVAL, err.msg);
                return NULL;
        }
        mon_vclient_set_cancel(c, &u->cancel);
        if (!mon_vclient_enrolled(c) && enroll(u, c) < 0)
                return NULL;
        pthread_mutex_lock(&u->mutex);
        u->enrolled = true;
        for (;;) {
                while (!u->stop && !u->batch_offered && !u->round_requested)
                        pthread_cond_wait(&u->cond, &u->mutex);
                if (u->stop)
                        break;
                if (u->batch_offered) { /* batches first: a round's NV certification needs them acknowledged */
                        _cleanup_free_ char *json = strdup(u->batch_json);
                        uint64_t key = u->batch_key;

                        pthread_mutex_unlock(&u->mutex);
                        if (json)
                                post_batch(u, c, key, json);
                        pthread_mutex_lock(&u->mutex);
                        continue;
                }
                u->round_requested = false;
                pthread_mutex_unlock(&u->mutex);
                run_round(u, c);
                pthread_mutex_lock(&u->mutex);
        }
        pthread_mutex_unlock(&u->mutex);
        return NULL;
}

/* ---- the challenge long poll --------------------------------------------------------------------------------- */

static void *poller_main(void *userdata)
{
        struct mon_uplink *u = userdata;
        _cleanup_(mon_vclient_freep) struct mon_vclient *c = NULL;
        struct mon_vclient_options co = u->o.client;
        uint64_t delay = RETRY_MIN_USEC;
        struct dw_error err = {};

        if (mon_vclient_new(&co, &c, &err) < 0)
                return NULL;
        mon_vclient_set_cancel(c, &u->cancel);
        for (;;) {
                bool challenge = false, stop, enrolled;
                int r;

                pthread_mutex_lock(&u->mutex);
                while (!u->stop && !u->enrolled)
                        pthread_cond_wait(&u->cond, &u->mutex);
                stop = u->stop;
                enrolled = u->enrolled;
                pthread_mutex_unlock(&u->mutex);
                if (stop || !enrolled)
                        return NULL;
                r = mon_vclient_challenge_wait(c, CHALLENGE_WAIT, &challenge, &err);
                if (r == -EOPNOTSUPP) {
                        result_simple(u, MON_UPLINK_ERROR, r,
                                      "the verifier has no challenge endpoint: rounds run on the schedule only");
                        return NULL;
                }
                if (r < 0) {
                        if (backoff_sleep(u, &delay))
                                return NULL;
                        continue;
                }
                delay = RETRY_MIN_USEC;
                if (challenge) {
                        mon_uplink_request_round(u, "verifier challenge");
                        result_simple(u, MON_UPLINK_CHALLENGE, 0, "the verifier asked for a round");
                }
        }
}

/* ---- the main loop's side ------------------------------------------------------------------------------------ */

void mon_uplink_request_round(struct mon_uplink *u, const char *why)
{
        pthread_mutex_lock(&u->mutex);
        if (!u->round_requested)
                snprintf(u->round_why, sizeof(u->round_why), "%s", why);
        u->round_requested = true;
        pthread_cond_broadcast(&u->cond);
        pthread_mutex_unlock(&u->mutex);
}

bool mon_uplink_offer_batch(struct mon_uplink *u, uint64_t key, char *json)
{
        bool taken = false;

        pthread_mutex_lock(&u->mutex);
        if (!u->batch_offered) {
                u->batch_offered = true;
                u->batch_key = key;
                u->batch_json = json;
                taken = true;
                pthread_cond_broadcast(&u->cond);
        }
        pthread_mutex_unlock(&u->mutex);
        return taken;
}

bool mon_uplink_batch_in_flight(struct mon_uplink *u)
{
        bool b;

        pthread_mutex_lock(&u->mutex);
        b = u->batch_offered;
        pthread_mutex_unlock(&u->mutex);
        return b;
}

bool mon_uplink_enrolled(struct mon_uplink *u)
{
        bool b;

        pthread_mutex_lock(&u->mutex);
        b = u->enrolled;
        pthread_mutex_unlock(&u->mutex);
        return b;
}

static void uplink_free(struct mon_uplink *u)
{
        struct result_node *n = u->results;

        while (n) {
                struct result_node *next = n->next;

                mon_uplink_result_done(&n->r);
                free(n);
                n = next;
        }
        if (u->pipe[0] >= 0)
                close(u->pipe[0]);
        if (u->pipe[1] >= 0)
                close(u->pipe[1]);
        if (u->bearer) {
                explicit_bzero(u->bearer, strlen(u->bearer));
                free(u->bearer);
        }
        free(u->batch_json);
        free(u->url);
        free(u->ca_file);
        free(u->gateway_id);
        free(u->state_dir);
        free(u->ima_log);
        free(u->boot_log);
        free(u->capabilities);
        pthread_cond_destroy(&u->cond);
        pthread_mutex_destroy(&u->mutex);
        free(u);
}

static char *strdup_or_null(const char *s)
{
        return s && *s ? strdup(s) : NULL;
}

int mon_uplink_start(const struct mon_uplink_options *o, struct mon_tpm_lock *tpm, struct mon_uplink **ret,
                     struct dw_error *err)
{
        struct mon_uplink *u = calloc(1, sizeof(*u));
        int r;

        if (!u)
                return -ENOMEM;
        u->pipe[0] = u->pipe[1] = -1;
        pthread_mutex_init(&u->mutex, NULL);
        pthread_cond_init(&u->cond, NULL);
        u->results_tail = &u->results;
        u->tpm = tpm;
        u->o = *o;
        u->url = strdup_or_null(o->client.url);
        u->ca_file = strdup_or_null(o->client.ca_file);
        u->gateway_id = strdup_or_null(o->client.gateway_id);
        u->state_dir = strdup_or_null(o->client.state_dir);
        u->bearer = strdup_or_null(o->enroll.bearer);
        u->ima_log = strdup_or_null(o->ima_log);
        u->boot_log = strdup_or_null(o->boot_log);
        u->capabilities = strdup_or_null(o->capabilities_json);
        u->o.client.url = u->url;
        u->o.client.ca_file = u->ca_file;
        u->o.client.gateway_id = u->gateway_id;
        u->o.client.state_dir = u->state_dir;
        u->o.enroll.bearer = u->bearer;
        u->o.ima_log = u->ima_log;
        u->o.boot_log = u->boot_log;
        u->o.capabilities_json = u->capabilities;
        if (!u->url || !u->ca_file || !u->gateway_id || !u->state_dir || !u->ima_log) {
                uplink_free(u);
                return dw_error_set(err, EINVAL, 0, 0, "the verifier link needs a URL, CA, id, state dir and log");
        }
        if (pipe2(u->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
                r = errno;
                uplink_free(u);
                return dw_error_set(err, r, 0, 0, "pipe: %s", strerror(r));
        }
        r = pthread_create(&u->worker, NULL, worker_main, u);
        if (r != 0) {
                uplink_free(u);
                return dw_error_set(err, r, 0, 0, "cannot start the verifier link: %s", strerror(r));
        }
        u->worker_started = true;
        if (o->challenge_wait && pthread_create(&u->poller, NULL, poller_main, u) == 0)
                u->poller_started = true;
        *ret = u;
        return 0;
}

/* Threads still in a transfer after the cancel (a TPM command, a stuck TLS handshake) are left to the process exit;
 * their memory stays reachable from here (volatile: the store must not be optimised away). */
static struct mon_uplink *volatile abandoned;

static bool join_within(pthread_t t, unsigned ms)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
                ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

void mon_uplink_stop(struct mon_uplink *u)
{
        bool joined = true;

        if (!u)
                return;
        atomic_store(&u->cancel, true);
        pthread_mutex_lock(&u->mutex);
        u->stop = true;
        pthread_cond_broadcast(&u->cond);
        pthread_mutex_unlock(&u->mutex);
        if (u->worker_started)
                joined = join_within(u->worker, 3000) && joined;
        if (u->poller_started)
                joined = join_within(u->poller, 3000) && joined;
        if (!joined) {
                abandoned = u;
                return;
        }
        uplink_free(u);
}
