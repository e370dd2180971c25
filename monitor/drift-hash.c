/* SPDX-License-Identifier: MIT */
/* Hashing executed files off the main loop: one thread, a bounded queue of jobs, results handed back through an
 * eventfd that the loop watches. A file is read in 128 KiB pieces into a streaming SHA-256, after a check that it is
 * still the file the kernel executed (inode, size, mtime, ctime); anything else is -ESTALE, never a digest of some
 * other content. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drift-internal.h"
#include "hash.h"

#define READ_SIZE (128u * 1024)

struct drift_hasher {
        pthread_t thread;
        bool started;
        pthread_mutex_t mutex;
        pthread_cond_t cond;
        bool stop;
        int efd;

        struct drift_hash_job *jobs; /* a ring of queue_max */
        size_t queue_max, job_head, n_jobs;
        struct drift_hash_result *results; /* a ring of queue_max */
        size_t result_head, n_results;
};

static void job_done(struct drift_hash_job *job)
{
        if (job->fd >= 0)
                close(job->fd);
        job->fd = -1;
        free(job->path);
        job->path = NULL;
}

/* Whether fd is the file the job describes. */
static bool same_file(int fd, const struct drift_hash_job *job)
{
        struct stat st;

        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        return (uint64_t)st.st_ino == job->ino && (uint64_t)st.st_size == job->size &&
               (int64_t)st.st_mtim.tv_sec == job->mtime_sec && (uint32_t)st.st_mtim.tv_nsec == job->mtime_nsec &&
               (int64_t)st.st_ctim.tv_sec == job->ctime_sec && (uint32_t)st.st_ctim.tv_nsec == job->ctime_nsec;
}

/* SHA-256 into ret, and the file digest of another algorithm into ret_extra when extra (its own context) is set:
 * one read of the file for both. */
static int hash_fd(struct dw_hasher *hasher, struct dw_hasher *extra, int extra_alg, int fd, uint8_t *buf, uint8_t *ret,
                   uint8_t *ret_extra)
{
        int r;

        r = dw_hasher_init(hasher, DW_HASH_SHA256);
        if (r >= 0 && extra)
                r = dw_hasher_init(extra, (enum dw_hash_alg)extra_alg);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t n = read(fd, buf, READ_SIZE);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                r = dw_hasher_update(hasher, buf, (size_t)n);
                if (r >= 0 && extra)
                        r = dw_hasher_update(extra, buf, (size_t)n);
                if (r < 0)
                        return r;
        }
        r = dw_hasher_final(hasher, ret);
        if (r >= 0 && extra)
                r = dw_hasher_final(extra, ret_extra);
        return r;
}

static void run_job(struct dw_hasher *hasher, struct dw_hasher *extra, uint8_t *buf, struct drift_hash_job *job,
                    struct drift_hash_result *res)
{
        bool with_extra = job->extra_alg >= 0 && job->extra_alg < _DW_HASH_ALG_MAX &&
                          job->extra_alg != DW_HASH_SHA256 && extra &&
                          dw_hasher_has(extra, (enum dw_hash_alg)job->extra_alg);
        int r;

        *res = (struct drift_hash_result){.id = job->id, .extra_alg = -1};
        if (job->fd >= 0 && !same_file(job->fd, job)) {
                close(job->fd);
                job->fd = -1;
        }
        if (job->fd < 0 && job->path) {
                job->fd = open(job->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (job->fd >= 0 && !same_file(job->fd, job)) {
                        close(job->fd);
                        job->fd = -1;
                }
        }
        if (job->fd < 0) {
                res->error = -ESTALE;
                return;
        }
        if (lseek(job->fd, 0, SEEK_SET) < 0) {
                res->error = -errno;
                return;
        }
        r = hash_fd(hasher, with_extra ? extra : NULL, job->extra_alg, job->fd, buf, res->digest, res->extra);
        if (r >= 0 && with_extra)
                res->extra_alg = job->extra_alg;
        else if (r >= 0 && job->extra_alg == DW_HASH_SHA256) {
                res->extra_alg = DW_HASH_SHA256;
                memcpy(res->extra, res->digest, DRIFT_DIGEST_SIZE);
        }
        /* Changed while it was read: what was hashed is not what was executed. */
        if (r >= 0 && !same_file(job->fd, job))
                r = -ESTALE;
        res->error = r < 0 ? r : 0;
}

static void *worker(void *userdata)
{
        struct drift_hasher *h = userdata;
        _cleanup_(dw_hasher_freep) struct dw_hasher *hasher = NULL, *extra = NULL;
        _cleanup_free_ uint8_t *buf = malloc(READ_SIZE);
        bool have_hasher = dw_hasher_new(&hasher) >= 0;

        if (dw_hasher_new(&extra) < 0)
                extra = NULL;

        pthread_mutex_lock(&h->mutex);
        for (;;) {
                struct drift_hash_job job;
                struct drift_hash_result res;
                uint64_t one = 1;

                while (!h->stop && h->n_jobs == 0)
                        pthread_cond_wait(&h->cond, &h->mutex);
                if (h->stop)
                        break;
                job = h->jobs[h->job_head];
                h->job_head = (h->job_head + 1) % h->queue_max;
                h->n_jobs--;
                pthread_mutex_unlock(&h->mutex);

                if (have_hasher && buf)
                        run_job(hasher, extra, buf, &job, &res);
                else
                        res = (struct drift_hash_result){.id = job.id, .error = -ENOMEM, .extra_alg = -1};
                job_done(&job);

                pthread_mutex_lock(&h->mutex);
                /* There is always room: a job is accepted only when a result slot is free for it. */
                h->results[(h->result_head + h->n_results) % h->queue_max] = res;
                h->n_results++;
                (void)!write(h->efd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&h->mutex);
        return NULL;
}

int drift_hasher_new(size_t queue_max, struct drift_hasher **ret)
{
        struct drift_hasher *h;
        int r;

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->efd = -1;
        pthread_mutex_init(&h->mutex, NULL);
        pthread_cond_init(&h->cond, NULL);
        h->queue_max = queue_max;
        h->jobs = calloc(queue_max, sizeof(*h->jobs));
        h->results = calloc(queue_max, sizeof(*h->results));
        if (!h->jobs || !h->results) {
                drift_hasher_free(h);
                return -ENOMEM;
        }
        h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (h->efd < 0) {
                r = -errno;
                drift_hasher_free(h);
                return r;
        }
        r = -pthread_create(&h->thread, NULL, worker, h);
        if (r < 0) {
                drift_hasher_free(h);
                return r;
        }
        h->started = true;
        *ret = h;
        return 0;
}

int drift_hasher_fd(const struct drift_hasher *h)
{
        return h->efd;
}

int drift_hasher_submit(struct drift_hasher *h, struct drift_hash_job *job)
{
        pthread_mutex_lock(&h->mutex);
        if (h->n_jobs + h->n_results >= h->queue_max) {
                pthread_mutex_unlock(&h->mutex);
                job_done(job);
                return -EAGAIN;
        }
        h->jobs[(h->job_head + h->n_jobs) % h->queue_max] = *job;
        h->n_jobs++;
        pthread_cond_signal(&h->cond);
        pthread_mutex_unlock(&h->mutex);
        job->fd = -1;
        job->path = NULL;
        return 0;
}

int drift_hasher_next(struct drift_hasher *h, struct drift_hash_result *ret)
{
        uint64_t v;

        pthread_mutex_lock(&h->mutex);
        if (h->n_results == 0) {
                (void)!read(h->efd, &v, sizeof(v)); /* reset the eventfd: everything is taken */
                pthread_mutex_unlock(&h->mutex);
                return 0;
        }
        *ret = h->results[h->result_head];
        h->result_head = (h->result_head + 1) % h->queue_max;
        h->n_results--;
        pthread_mutex_unlock(&h->mutex);
        return 1;
}

void drift_hasher_free(struct drift_hasher *h)
{
        if (!h)
                return;
        if (h->started) {
                pthread_mutex_lock(&h->mutex);
                h->stop = true;
                pthread_cond_signal(&h->cond);
                pthread_mutex_unlock(&h->mutex);
                pthread_join(h->thread, NULL);
        }
        for (size_t i = 0; h->jobs && i < h->n_jobs; i++)
                job_done(&h->jobs[(h->job_head + i) % h->queue_max]);
        free(h->jobs);
        free(h->results);
        if (h->efd >= 0)
                close(h->efd);
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->mutex);
        free(h);
}
