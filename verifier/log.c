/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const char *const level_names[_VF_LOG_LEVEL_MAX] = {
        [VF_LOG_ERROR] = "error",
        [VF_LOG_WARNING] = "warning",
        [VF_LOG_INFO] = "info",
        [VF_LOG_DEBUG] = "debug",
};

static enum vf_log_level max_level = VF_LOG_INFO;

/* ---- the writer ---------------------------------------------------------------------------------------------
 *
 * Under load every request and every round logs a line; writing each with its own write(2) from the request's
 * thread cost a system call per line on the request path. Lines are appended to a buffer instead, and a thread
 * writes whatever has gathered with one write(2), GATHER_USEC after the first line of a batch (unless BATCH_BYTES
 * gathered earlier): a line is on stderr within a couple of milliseconds, and under load the thread wakes a few
 * hundred times a second, not once per line. A producer waits when BUFFER_MAX is pending (a stalled stderr slows
 * the service down rather than losing lines). Before vf_log_start and after vf_log_stop, lines are written
 * directly. */
#define BUFFER_MAX  (4u << 20)
#define BATCH_BYTES (64u << 10)
#define GATHER_USEC 2000

static struct {
        pthread_mutex_t lock;
        pthread_cond_t wake, drained; /* wake: on CLOCK_MONOTONIC (vf_log_start) */
        pthread_t thread;
        bool running, stop;
        char *buf;
        size_t size, allocated;
} w = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
        .drained = PTHREAD_COND_INITIALIZER,
};

static void write_all(const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(STDERR_FILENO, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return; /* nowhere to log to */
                p += k;
                n -= (size_t)k;
        }
}

static void *writer_main(void *arg)
{
        char *spare = NULL;
        size_t spare_allocated = 0;

        (void)arg;
        pthread_mutex_lock(&w.lock);
        for (;;) {
                char *full;
                size_t n, full_allocated;

                while (w.size == 0 && !w.stop)
                        pthread_cond_wait(&w.wake, &w.lock);
                if (w.size == 0)
                        break;
                if (w.size < BATCH_BYTES && !w.stop) {
                        struct timespec until;

                        /* Let a batch gather (producers signal the first line only, and a full batch). */
                        clock_gettime(CLOCK_MONOTONIC, &until);
                        until.tv_nsec += GATHER_USEC * 1000;
                        if (until.tv_nsec >= 1000000000) {
                                until.tv_sec++;
                                until.tv_nsec -= 1000000000;
                        }
                        while (w.size < BATCH_BYTES && !w.stop &&
                               pthread_cond_timedwait(&w.wake, &w.lock, &until) != ETIMEDOUT)
                                ;
                }
                /* Take the buffer (the producers go on with the spare one) and write it unlocked. */
                full = w.buf;
                full_allocated = w.allocated;
                n = w.size;
                w.buf = spare;
                w.allocated = spare_allocated;
                w.size = 0;
                pthread_cond_broadcast(&w.drained);
                pthread_mutex_unlock(&w.lock);
                write_all(full, n);
                spare = full;
                spare_allocated = full_allocated;
                pthread_mutex_lock(&w.lock);
        }
        pthread_mutex_unlock(&w.lock);
        free(spare);
        return NULL;
}

int vf_log_start(void)
{
        pthread_condattr_t attr;

        pthread_mutex_lock(&w.lock);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_destroy(&w.wake);
        pthread_cond_init(&w.wake, &attr);
        pthread_condattr_destroy(&attr);
        w.stop = false;
        w.running = pthread_create(&w.thread, NULL, writer_main, NULL) == 0;
        pthread_mutex_unlock(&w.lock);
        return w.running ? 0 : -EAGAIN;
}

void vf_log_stop(void)
{
        bool running;

        pthread_mutex_lock(&w.lock);
        running = w.running;
        w.stop = true;
        pthread_cond_signal(&w.wake);
        pthread_mutex_unlock(&w.lock);
        if (!running)
                return;
        pthread_join(w.thread, NULL); /* it writes what is left first */
        pthread_mutex_lock(&w.lock);
        w.running = false;
        free(w.buf);
        w.buf = NULL;
        w.size = w.allocated = 0;
        pthread_mutex_unlock(&w.lock);
}

/* Appends a line (text and a newline). */
static void emit(const char *text, size_t n)
{
        pthread_mutex_lock(&w.lock);
        if (!w.running) {
                write_all(text, n);
                write_all("\n", 1);
                pthread_mutex_unlock(&w.lock);
                return;
        }
        while (w.size > BUFFER_MAX && w.running && !w.stop)
                pthread_cond_wait(&w.drained, &w.lock);
        if (w.size + n + 1 > w.allocated) {
                size_t want = MAX(w.allocated * 2, MAX(w.size + n + 1, 4096u));
                char *p = realloc(w.buf, want);

                if (!p) {
                        pthread_mutex_unlock(&w.lock);
                        return;
                }
                w.buf = p;
                w.allocated = want;
        }
        memcpy(w.buf + w.size, text, n);
        w.buf[w.size + n] = '\n';
        if (w.size == 0 || (w.size < BATCH_BYTES && w.size + n + 1 >= BATCH_BYTES))
                pthread_cond_signal(&w.wake);
        w.size += n + 1;
        pthread_mutex_unlock(&w.lock);
}

/* ---- lines --------------------------------------------------------------------------------------------------- */

int vf_log_level_from_name(const char *name, enum vf_log_level *ret)
{
        for (enum vf_log_level l = 0; l < _VF_LOG_LEVEL_MAX; l++)
                if (strcmp(name, level_names[l]) == 0) {
                        *ret = l;
                        return 0;
                }
        return -EINVAL;
}

void vf_log_set_level(enum vf_log_level level)
{
        max_level = level;
}

bool vf_log_enabled(enum vf_log_level level)
{
        return level <= max_level;
}

static void timestamp(char *buf, size_t size)
{
        uint64_t now = vf_now_usec();
        char sec[32];

        vf_format_time(now, sec, sizeof(sec));
        /* "...:SSZ" -> "...:SS.mmmZ" */
        sec[strlen(sec) - 1] = '\0';
        snprintf(buf, size, "%s.%03uZ", sec, (unsigned)(now / 1000 % 1000));
}

void vf_log_json(enum vf_log_level level, const char *event, json_t *fields)
{
        _cleanup_free_ char *body = NULL, *line = NULL;
        char ts[48];
        int n;

        if (!vf_log_enabled(level)) {
                json_decref(fields);
                return;
        }
        /* {"ts", "level", "event"} then the fields' members, spliced in as the fields' own text (event names are
         * identifiers: nothing to escape) */
        if (fields && json_object_size(fields) > 0)
                body = json_dumps(fields, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        json_decref(fields);
        timestamp(ts, sizeof(ts));
        n = asprintf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"%s\"%s%s", ts, level_names[level], event,
                     body ? "," : "}", body ? body + 1 : "");
        if (n < 0) {
                line = NULL;
                return;
        }
        emit(line, (size_t)n);
}

void vf_log(enum vf_log_level level, const char *event, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        if (!vf_log_enabled(level))
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        vf_log_json(level, event, json_pack("{s:s}", "msg", msg));
}
