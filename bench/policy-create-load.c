/* SPDX-License-Identifier: MIT */
/* Loading a large runtime policy: a generated N-path policy (default 1,000,000; SHA-256 digests, a third of the
 * paths with a SHA-1 digest too, paths like those of /usr) as JSON in memory, then dw_runtime_policy_load(): the
 * time (wall, and the CPU time of this process, which other load on the machine inflates much less), the memory the
 * loaded policy keeps, and the peak while loading. Then a lookup of every path, to show judging does not slow down
 * with the size.
 *
 *   policy-create-load [--paths N] [--runs R] [--write FILE] [--tree]
 *
 * --tree loads with jansson's tree of the whole document instead (dw_policy_json_parse() and
 * dw_runtime_policy_load_tree(): what dw_runtime_policy_load() did before its streaming loader, and still does for
 * the error message of a policy it refuses), for comparison.
 *
 * Memory is read from /proc/self/status (VmRSS, VmHWM) around the load; the JSON text itself (the input, which the
 * verifier holds anyway) is counted apart. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "hex.h"
#include "runtime-policy.h"

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long status_kib(const char *field)
{
        char line[256];
        long v = -1;
        FILE *f = fopen("/proc/self/status", "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, strlen(field)) == 0)
                        v = strtol(line + strlen(field) + 1, NULL, 10);
        fclose(f);
        return v;
}

static double cpu_seconds(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int load(const char *json, size_t len, bool tree, struct dw_runtime_policy **ret, struct dw_policy_error *err)
{
        json_t *root = NULL;
        int r;

        if (!tree)
                return dw_runtime_policy_load(json, len, ret, err);
        r = dw_policy_json_parse(json, len, &root, err);
        if (r < 0)
                return r;
        r = dw_runtime_policy_load_tree(root, ret, err);
        json_decref(root);
        return r;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0), so that the peak of the load alone can be read. */
static void reset_peak(void)
{
        FILE *f = fopen("/proc/self/clear_refs", "we");

        if (f) {
                fputs("5", f);
                fclose(f);
        }
}

static void bench_path(unsigned long i, char *out, size_t size)
{
        static const char *const dirs[] = {"/usr/lib/x86_64-linux-gnu", "/usr/share/locale", "/usr/bin",
                                           "/usr/lib/python3/dist-packages", "/usr/share/doc"};

        snprintf(out, size, "%s/pkg%04lu/%c%c/file%07lu.so.%lu", dirs[i % 5], i / 250 % 10000, 'a' + (int)(i % 26),
                 'a' + (int)(i / 26 % 26), i, i % 7);
}

static char *generate(unsigned long n, size_t *ret_len)
{
        struct dw_hasher *h = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f || dw_hasher_new(&h) < 0)
                return NULL;
        fputs("{\n  \"driftwatch_runtime_policy\": 1,\n  \"meta\": {\"name\": \"bench\"},\n  \"digests\": {\n", f);
        for (unsigned long i = 0; i < n; i++) {
                char path[160], seed[32], hex[2 * DW_HASH_MAX_SIZE + 1];
                uint8_t d[DW_HASH_MAX_SIZE];

                bench_path(i, path, sizeof(path));
                snprintf(seed, sizeof(seed), "%lu", i);
                dw_hash_buf(h, DW_HASH_SHA256, seed, strlen(seed), d);
                fprintf(f, "    \"%s\": [\"sha256:%s\"", path, dw_hex_encode(d, 32, hex));
                if (i % 3 == 0) {
                        dw_hash_buf(h, DW_HASH_SHA1, seed, strlen(seed), d);
                        fprintf(f, ", \"sha1:%s\"", dw_hex_encode(d, 20, hex));
                }
                fputs(i + 1 < n ? "],\n" : "]\n", f);
        }
        fputs("  },\n  \"excludes\": [\"^/tmp/\", \"^/var/log/\"]\n}\n", f);
        dw_hasher_free(h);
        if (fclose(f) != 0)
                return NULL;
        *ret_len = size;
        return buf;
}

int main(int argc, char **argv)
{
        unsigned long paths = 1000000, runs = 3;
        const char *write_to = NULL;
        struct dw_runtime_policy_info info;
        double best = 1e9, best_cpu = 1e9;
        bool tree = false;
        size_t len;
        char *json;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--paths") == 0 && i + 1 < argc)
                        paths = strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
                        runs = strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--write") == 0 && i + 1 < argc)
                        write_to = argv[++i];
                else if (strcmp(argv[i], "--tree") == 0)
                        tree = true;
                else {
                        fprintf(stderr, "usage: policy-create-load [--paths N] [--runs R] [--write FILE] [--tree]\n");
                        return 2;
                }
        }
        json = generate(paths, &len);
        if (!json) {
                fprintf(stderr, "cannot generate the policy\n");
                return 1;
        }
        if (write_to) {
                FILE *f = fopen(write_to, "we");

                if (!f || fwrite(json, 1, len, f) != len || fclose(f) != 0) {
                        fprintf(stderr, "%s: cannot write\n", write_to);
                        return 1;
                }
        }
        printf("policy: %lu paths, %.1f MB of JSON\n", paths, (double)len / 1e6);
        for (unsigned long run = 0; run < runs; run++) {
                struct dw_runtime_policy *p = NULL;
                struct dw_policy_error err;
                long rss0, rss1, peak;
                double t0, t, c0, c;
                int r;

                rss0 = status_kib("VmRSS:");
                reset_peak();
                c0 = cpu_seconds();
                t0 = now();
                r = load(json, len, tree, &p, &err);
                t = now() - t0;
                c = cpu_seconds() - c0;
                if (r < 0) {
                        fprintf(stderr, "load failed: %s %s\n", err.where, err.msg);
                        return 1;
                }
                rss1 = status_kib("VmRSS:");
                peak = status_kib("VmHWM:");
                dw_runtime_policy_get_info(p, &info);
                printf("load %lu%s: %.3f s (%.3f s CPU, user+sys); kept %.1f MiB, peak during load %.1f MiB above "
                       "the JSON (%zu paths, %zu digests)\n",
                       run + 1, tree ? " (jansson tree)" : "", t, c, (double)(rss1 - rss0) / 1024,
                       (double)(peak - rss0) / 1024, info.n_paths, info.n_digests);
                if (t < best)
                        best = t;
                if (c < best_cpu)
                        best_cpu = c;
                if (run + 1 == runs) {
                        unsigned long accepted = 0;
                        struct dw_hasher *h = NULL;

                        dw_hasher_new(&h);
                        t0 = now();
                        for (unsigned long i = 0; i < paths; i++) {
                                char path[160], seed[32];
                                uint8_t d[32];
                                struct dw_policy_verdict v;
                                struct dw_policy_file file;

                                bench_path((i * 7919) % paths, path, sizeof(path));
                                snprintf(seed, sizeof(seed), "%lu", (i * 7919) % paths);
                                dw_hash_buf(h, DW_HASH_SHA256, seed, strlen(seed), d);
                                file = (struct dw_policy_file){.path = path,
                                                               .path_len = strlen(path),
                                                               .alg = DW_HASH_SHA256,
                                                               .digest = d,
                                                               .digest_len = 32};
                                if (dw_runtime_policy_judge_file(p, &file, &v) == 0 && v.result == DW_POLICY_ACCEPT)
                                        accepted++;
                        }
                        t = now() - t0;
                        printf("judged every path (scattered, sha256 of the seed included): %lu accepted, %.0f "
                               "files/s\n",
                               accepted, (double)paths / t);
                        dw_hasher_free(h);
                }
                dw_runtime_policy_free(p);
        }
        printf("best load: %.3f s (%.3f s CPU) for %lu paths\n", best, best_cpu, paths);
        free(json);
        return 0;
}
