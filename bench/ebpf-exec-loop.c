/* SPDX-License-Identifier: MIT */
/* The load generator of bench/ebpf-exec.sh:
 *
 *   ebpf-exec-loop run N FILE               N times fork + exec FILE + wait; prints the wall time
 *   ebpf-exec-loop latency N DIR LOG        N times: a new unknown executable in DIR, executed; the time until
 *                                           its drift_exec alert is in LOG (the monitor's stderr); percentiles
 *   ebpf-exec-loop storm N FILE             N chmods of FILE as fast as one thread can; prints the rate */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
        fprintf(stderr, "usage: ebpf-exec-loop run N FILE | latency N DIR LOG | storm N FILE\n");
        return 2;
}
