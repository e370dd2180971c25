/* SPDX-License-Identifier: MIT */
/* Helpers of the `driftwatch policy` commands: loading, writing (atomically), time stamps. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy-cli.h"
#include "policy-doc.h"

int policy_error(const char *path, int r, const struct dw_policy_error *err)
{
        if (r == -ENOMEM)
                return cli_error("%s: out of memory", path);
        if (err->line > 0)
                return cli_error("%s: line %u, column %u: %s", path, err->line, err->column, err->msg);
        if (err->where[0])
                return cli_error("%s: %s: %s", path, err->where, err->msg);
        return cli_error("%s: %s", path, err->msg[0] ? err->msg : strerror(-r));
}

int policy_load_doc(const char *path, json_t **ret)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_policy_error err = {};
        size_t size;
        int r;

        r = cli_read_file(path, &buf, &size);
        if (r != 0)
                return r;
        r = dw_policy_doc_parse(buf, size, ret, &err);
        if (r < 0)
                return policy_error(path, r, &err);
        return 0;
}

int policy_load_json(const char *path, json_t **ret)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_policy_error err = {};
        size_t size;
        int r;

        r = cli_read_file(path, &buf, &size);
        if (r != 0)
                return r;
        r = dw_policy_json_parse(buf, size, ret, &err);
        if (r < 0)
                return policy_error(path, r, &err);
        return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
        const uint8_t *p = data;

        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int policy_write_file(const char *path, const void *data, size_t len)
{
        _cleanup_free_ char *tmp = NULL, *copy = strdup(path), *copy2 = strdup(path);
        int fd, r;

        if (strcmp(path, "-") == 0) {
                r = write_all(STDOUT_FILENO, data, len);
                return r < 0 ? cli_error("cannot write to stdout: %s", strerror(-r)) : 0;
        }
        if (!copy || !copy2 || asprintf(&tmp, "%s/.%s.XXXXXX", dirname(copy), basename(copy2)) < 0)
                return cli_error("out of memory");
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return cli_error("%s: cannot create a temporary file next to it: %s", path, strerror(errno));
        r = write_all(fd, data, len);
        if (r == 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return cli_error("%s: cannot write: %s", path, strerror(-r));
        }
        return 0;
}

int policy_write_doc(const char *path, json_t *doc)
{
        _cleanup_free_ char *text = NULL;
        struct dw_policy_error err = {};
        size_t len;
        int r;

        /* Whatever we write must load: a last check against the verifier's own rules. */
        r = dw_policy_doc_check(doc, &err);
        if (r < 0)
                return policy_error(path, r, &err);
        r = dw_policy_doc_write(doc, &text, &len);
        if (r < 0)
                return cli_error("%s: cannot serialize the policy: %s", path, strerror(-r));
        return policy_write_file(path, text, len);
}

const char *policy_now(char buf[static 32])
{
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        char *end;
        long long t;

        if (sde && sde[0]) {
                errno = 0;
                t = strtoll(sde, &end, 10);
                if (errno == 0 && *end == '\0' && t >= 0)
                        return dw_policy_time_rfc3339(t, buf);
        }
        return dw_policy_time_rfc3339((int64_t)time(NULL), buf);
}

void policy_print_warnings(const json_t *warnings)
{
        for (size_t i = 0; i < json_array_size(warnings); i++)
                fprintf(stderr, "driftwatch: warning: %s\n", json_string_value(json_array_get(warnings, i)));
}

void policy_guess_log_format(const char *path, enum dw_ima_format *format, bool format_set, enum dw_hash_alg *alg,
                             bool alg_set)
{
        _cleanup_free_ char *copy = strdup(path);
        const char *base, *suffix;
        enum dw_hash_alg a;

        if (!copy)
                return;
        base = basename(copy);
        if (!format_set)
                *format = strncmp(base, "ascii", 5) == 0 ? DW_IMA_FORMAT_ASCII : DW_IMA_FORMAT_BINARY;
        suffix = strrchr(base, '_');
        if (!alg_set && suffix && dw_hash_alg_from_name(suffix + 1, strlen(suffix + 1), &a) == 0)
                *alg = a;
}
