/* SPDX-License-Identifier: MIT */
/* The load generator of bench/ebpf-exec.sh:
 *
 *   ebpf-exec-loop run N FILE               N times fork + exec FILE + wait; prints the wall time
 *   ebpf-exec-loop latency N DIR LOG        N times: a new unknown executable in DIR, executed; the time until
 *                                           its drift_exec alert is in LOG (the monitor's stderr); percentiles
 *   ebpf-exec-loop storm N FILE             N chmods of FILE as fast as one thread can; prints the rate
 *   ebpf-exec-loop verdict N SETTLE_MS DIR GATEWAY RESET MEASURE...
 *                                           N times: a new unknown executable in DIR, measured (MEASURE... PATH:
 *                                           the IMA simulator standing in for the kernel's measurement) and
 *                                           executed; the time until the verifier's event stream (Server-Sent
 *                                           Events, read on stdin) says GATEWAY turned untrusted naming it; then
 *                                           RESET (a shell command: acknowledge + challenge), the stream's trusted,
 *                                           SETTLE_MS of quiet; percentiles */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int run_one(const char *file)
{
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execl(file, file, (char *)NULL);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static double cpu_seconds(int who)
{
        struct rusage ru;

        getrusage(who, &ru);
        return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
}

/* Wall time, and CPU time (this process and its children, user + system: where the kernel runs the BPF programs
 * attached to exec and to the syscalls), which a busy machine disturbs less. */
static int run(unsigned n, const char *file)
{
        uint64_t t0 = now_ns(), t;
        double c;

        for (unsigned i = 0; i < n; i++)
                if (run_one(file) < 0) {
                        fprintf(stderr, "ebpf-exec-loop: %s failed\n", file);
                        return 1;
                }
        t = now_ns() - t0;
        c = cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN);
        printf("%u execs in %.3f s (%.1f us each), cpu %.3f s\n", n, (double)t / 1e9, (double)t / 1e3 / n, c);
        return 0;
}

/* A copy of /usr/bin/true with one more byte: unknown to any policy. */
static int make_unknown(const char *path, unsigned i)
{
        _cleanup_close_ int in = open("/usr/bin/true", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        char buf[65536];
        ssize_t k;

        if (in < 0 || out < 0)
                return -errno;
        while ((k = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)k) != k)
                        return -EIO;
        return write(out, &i, sizeof(i)) == sizeof(i) ? 0 : -EIO;
}

/* Waits until the marker is in the file (read from *off on), at most 5 s. */
static int wait_marker(FILE *log, const char *marker)
{
        static char *buf;
        static size_t len, cap;
        uint64_t t0 = now_ns();

        for (;;) {
                char chunk[65536];
                size_t k;

                while ((k = fread(chunk, 1, sizeof(chunk), log)) > 0) {
                        if (len + k + 1 > cap) {
                                cap = (len + k + 1) * 2;
                                buf = realloc(buf, cap);
                                if (!buf)
                                        return -ENOMEM;
                        }
                        memcpy(buf + len, chunk, k);
                        len += k;
                        buf[len] = '\0';
                }
                clearerr(log);
                if (buf && strstr(buf, marker)) {
                        len = 0; /* alerts of later executions come after this one */
                        return 0;
                }
                if (now_ns() - t0 > 5000000000u)
                        return -ETIMEDOUT;
                usleep(100);
        }
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

static int latency(unsigned n, const char *dir, const char *log_path)
{
        _cleanup_fclose_ FILE *log = fopen(log_path, "re");
        _cleanup_free_ uint64_t *lat = calloc(n, sizeof(uint64_t));
        char path[4096], marker[4200];

        if (!log || !lat)
                return 1;
        fseek(log, 0, SEEK_END);
        for (unsigned i = 0; i < n; i++) {
                uint64_t t0;

                snprintf(path, sizeof(path), "%s/lat-%u", dir, i);
                snprintf(marker, sizeof(marker), "path=%s ", path);
                if (make_unknown(path, i) < 0)
                        return 1;
                t0 = now_ns();
                if (run_one(path) < 0 || wait_marker(log, marker) < 0) {
                        fprintf(stderr, "ebpf-exec-loop: no alert for %s\n", path);
                        return 1;
                }
                lat[i] = now_ns() - t0;
                unlink(path);
        }
        qsort(lat, n, sizeof(*lat), cmp_u64);
        printf("exec -> drift_exec alert, %u unknown executables: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
               n, lat[n / 2] / 1e6, lat[n * 9 / 10] / 1e6, lat[n * 99 / 100] / 1e6, lat[n - 1] / 1e6);
        return 0;
}

/* ---- exec -> verifier verdict ---------------------------------------------------------------------------------- */

/* The verifier's event stream on a descriptor, read as it arrives: each read is stamped, so an event's time is the
 * time its last byte was read (no polling interval). */
struct sse {
        int fd;
        char *buf;
        size_t len, cap;
        uint64_t stamp; /* when buf's last byte was read */
        char last_verdict[1024];
};

/* Reads what is there, waiting at most until the deadline. 0, -ETIMEDOUT, -EPIPE (the stream ended). */
static int sse_read(struct sse *s, uint64_t deadline)
{
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        uint64_t t = now_ns();
        ssize_t k;
        int r;

        if (t >= deadline)
                return -ETIMEDOUT;
        r = poll(&p, 1, (int)((deadline - t) / 1000000u) + 1);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        if (r == 0)
                return now_ns() >= deadline ? -ETIMEDOUT : 0;
        if (s->cap - s->len < 65536 + 1) {
                size_t cap = (s->len + 65536 + 1) * 2;
                char *b = realloc(s->buf, cap);

                if (!b)
                        return -ENOMEM;
                s->buf = b;
                s->cap = cap;
        }
        k = read(s->fd, s->buf + s->len, 65536);
        s->stamp = now_ns();
        if (k < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : -errno;
        if (k == 0)
                return -EPIPE;
        s->len += (size_t)k;
        s->buf[s->len] = '\0';
        return 0;
}

/* Waits for an `event: verdict` whose data holds every needle; events before it are consumed. 0 with *at the time
 * it arrived, or -ETIMEDOUT / -EPIPE. */
static int sse_wait_verdict(struct sse *s, const char *const *needles, size_t n_needles, uint64_t timeout_ns,
                            uint64_t *at)
{
        uint64_t deadline = now_ns() + timeout_ns;
        int r;

        for (;;) {
                char *end;

                while (s->buf && (end = strstr(s->buf, "\n\n"))) {
                        const char *data;
                        bool match = false;

                        *end = '\0';
                        data = strstr(s->buf, "\ndata: ");
                        if (data &&
                            (strncmp(s->buf, "event: verdict\n", 15) == 0 || strstr(s->buf, "\nevent: verdict\n"))) {
                                match = true;
                                for (size_t i = 0; i < n_needles; i++)
                                        if (!strstr(data, needles[i]))
                                                match = false;
                                snprintf(s->last_verdict, sizeof(s->last_verdict), "%s", data + 7);
                        }
                        s->len -= (size_t)(end + 2 - s->buf);
                        memmove(s->buf, end + 2, s->len + 1);
                        if (match) {
                                *at = s->stamp;
                                return 0;
                        }
                }
                r = sse_read(s, deadline);
                if (r < 0)
                        return r;
        }
}

/* Runs argv, stdout to /dev/null; 0 when it exits 0. */
static int run_argv(char **argv)
{
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = open("/dev/null", O_WRONLY);

                if (fd >= 0)
                        dup2(fd, STDOUT_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static double pct(const uint64_t *sorted, unsigned n, unsigned p)
{
        return sorted[(uint64_t)n * p / 100 < n ? (uint64_t)n * p / 100 : n - 1] / 1e6;
}

static int verdict(unsigned n, unsigned settle_ms, const char *dir, const char *gateway, const char *reset, int argc,
                   char **measure)
{
        _cleanup_free_ uint64_t *lat = calloc(n ?: 1, sizeof(uint64_t));
        _cleanup_free_ uint64_t *lat_sorted = calloc(n ?: 1, sizeof(uint64_t));
        _cleanup_free_ uint64_t *sim = calloc(n ?: 1, sizeof(uint64_t));
        _cleanup_free_ uint64_t *exe = calloc(n ?: 1, sizeof(uint64_t));
        _cleanup_free_ uint64_t *back = calloc(n ?: 1, sizeof(uint64_t));
        _cleanup_free_ char **argv = calloc((size_t)argc + 2, sizeof(char *));
        char path[4096], gw_needle[256], path_needle[4200];
        struct sse s = {.fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)};
        const char *untrusted[] = {gw_needle, "\"verdict\":\"untrusted\"", path_needle};
        const char *trusted[] = {gw_needle, "\"verdict\":\"trusted\""};
        int fd, r = 1;

        if (!lat || !lat_sorted || !sim || !exe || !back || !argv || s.fd < 0 || n == 0) {
                if (s.fd >= 0)
                        close(s.fd);
                return 1;
        }
        /* The children (the simulator, the executable, RESET) do not get the stream. */
        fd = open("/dev/null", O_RDONLY);
        if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
                return 1;
        close(fd);
        memcpy(argv, measure, (size_t)argc * sizeof(char *));
        argv[argc] = path;
        snprintf(gw_needle, sizeof(gw_needle), "\"gateway\":\"%s\"", gateway);
        /* The stream is live once its first bytes (`retry:`) are here. */
        while (s.len == 0) {
                r = sse_read(&s, now_ns() + 10000000000u);
                if (r < 0) {
                        fprintf(stderr, "ebpf-exec-loop: the event stream did not open: %s\n", strerror(-r));
                        goto out;
                }
        }
        r = 1;
        for (unsigned i = 0; i < n; i++) {
                uint64_t t0, tm, tx, t1, tr, tt;
                struct timespec wall;
                int k;

                snprintf(path, sizeof(path), "%s/verdict-%u", dir, i);
                snprintf(path_needle, sizeof(path_needle), "\"path\":\"%s\"", path);
                if (make_unknown(path, 0x56000000u + i) < 0) {
                        fprintf(stderr, "ebpf-exec-loop: cannot write %s\n", path);
                        goto out;
                }
                clock_gettime(CLOCK_REALTIME, &wall);
                t0 = now_ns();
                if (run_argv(argv) < 0) { /* the kernel's measurement: an entry in the IMA log, PCR 10 extended */
                        fprintf(stderr, "ebpf-exec-loop: %s ... %s failed\n", argv[0], path);
                        goto out;
                }
                tm = now_ns();
                if (run_one(path) < 0) {
                        fprintf(stderr, "ebpf-exec-loop: %s failed\n", path);
                        goto out;
                }
                tx = now_ns();
                k = sse_wait_verdict(&s, untrusted, ELEMENTSOF(untrusted), 10000000000u, &t1);
                if (k < 0) {
                        fprintf(stderr, "ebpf-exec-loop: no untrusted verdict naming %s (%s); last verdict event: %s\n",
                                path, strerror(-k), s.last_verdict[0] ? s.last_verdict : "none");
                        goto out;
                }
                lat[i] = t1 - t0;
                sim[i] = tm - t0;
                exe[i] = tx - tm;
                unlink(path);
                tr = now_ns();
                if (system(reset) != 0) {
                        fprintf(stderr, "ebpf-exec-loop: %s failed\n", reset);
                        goto out;
                }
                k = sse_wait_verdict(&s, trusted, ELEMENTSOF(trusted), 10000000000u, &tt);
                if (k < 0) {
                        fprintf(stderr, "ebpf-exec-loop: not trusted again after %s (%s); last verdict event: %s\n",
                                reset, strerror(-k), s.last_verdict[0] ? s.last_verdict : "none");
                        goto out;
                }
                back[i] = tt - tr;
                fprintf(stderr,
                        "%u: %.2f ms (measure %.2f, exec %.2f; started at %lld.%06ld); trusted again %.2f ms later\n",
                        i, lat[i] / 1e6, sim[i] / 1e6, exe[i] / 1e6, (long long)wall.tv_sec, wall.tv_nsec / 1000,
                        back[i] / 1e6);
                usleep(settle_ms * 1000u);
        }
        memcpy(lat_sorted, lat, n * sizeof(*lat));
        qsort(lat_sorted, n, sizeof(*lat), cmp_u64);
        qsort(sim, n, sizeof(*sim), cmp_u64);
        qsort(exe, n, sizeof(*exe), cmp_u64);
        qsort(back, n, sizeof(*back), cmp_u64);
        printf("exec -> verifier verdict untrusted, %u unknown executables: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, "
               "max %.2f ms\n",
               n, pct(lat_sorted, n, 50), pct(lat_sorted, n, 90), pct(lat_sorted, n, 99), lat_sorted[n - 1] / 1e6);
        printf("  of which the simulated measurement (IMA simulator: process, TCTI connect, hash, PCR 10 extends): "
               "p50 %.2f ms, max %.2f ms; the exec itself: p50 %.2f ms\n",
               pct(sim, n, 50), sim[n - 1] / 1e6, pct(exe, n, 50));
        printf("  acknowledge + challenge -> trusted again: p50 %.2f ms, max %.2f ms\n", pct(back, n, 50),
               back[n - 1] / 1e6);
        r = 0;
out:
        free(s.buf);
        close(s.fd);
        return r;
}

static int storm(unsigned n, const char *file)
{
        uint64_t t0 = now_ns(), t;

        for (unsigned i = 0; i < n; i++)
                if (chmod(file, i & 1 ? 0600 : 0644) < 0) {
                        fprintf(stderr, "ebpf-exec-loop: chmod %s: %m\n", file);
                        return 1;
                }
        t = now_ns() - t0;
        printf("%u chmods in %.3f s: %.0f tamper events/s offered\n", n, (double)t / 1e9, n / ((double)t / 1e9));
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 4 && strcmp(argv[1], "run") == 0)
                return run((unsigned)strtoul(argv[2], NULL, 10), argv[3]);
        if (argc == 5 && strcmp(argv[1], "latency") == 0)
                return latency((unsigned)strtoul(argv[2], NULL, 10), argv[3], argv[4]);
        if (argc == 4 && strcmp(argv[1], "storm") == 0)
                return storm((unsigned)strtoul(argv[2], NULL, 10), argv[3]);
        if (argc >= 8 && strcmp(argv[1], "verdict") == 0)
                return verdict((unsigned)strtoul(argv[2], NULL, 10), (unsigned)strtoul(argv[3], NULL, 10), argv[4],
                               argv[5], argv[6], argc - 7, argv + 7);
        fprintf(stderr, "usage: ebpf-exec-loop run N FILE | latency N DIR LOG | storm N FILE\n"
                        "       ebpf-exec-loop verdict N SETTLE_MS DIR GATEWAY RESET MEASURE... <STREAM\n");
        return 2;
}
