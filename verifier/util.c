/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "util.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *base64_encode(const uint8_t *data, size_t size, const char *alphabet, bool pad)
{
        size_t n = 4 * ((size + 2) / 3) + 1, o = 0;
        char *out;

        if (size > (SIZE_MAX - 8) / 4 * 3)
                return NULL;
        out = malloc(n);
        if (!out)
                return NULL;
        for (size_t i = 0; i < size; i += 3) {
                uint32_t v = (uint32_t)data[i] << 16;
                size_t left = size - i;

                if (left > 1)
                        v |= (uint32_t)data[i + 1] << 8;
                if (left > 2)
                        v |= data[i + 2];
                out[o++] = alphabet[(v >> 18) & 0x3f];
                out[o++] = alphabet[(v >> 12) & 0x3f];
                if (left > 1)
                        out[o++] = alphabet[(v >> 6) & 0x3f];
                else if (pad)
                        out[o++] = '=';
                if (left > 2)
                        out[o++] = alphabet[v & 0x3f];
                else if (pad)
                        out[o++] = '=';
        }
        out[o] = '\0';
        return out;
}

char *vf_base64_encode(const uint8_t *data, size_t size)
{
        return base64_encode(data, size, b64_std, true);
}

char *vf_base64url_encode(const uint8_t *data, size_t size)
{
        return base64_encode(data, size, b64_url, false);
}

/* The value of every byte in each alphabet, -1 outside it: requests carry kilobytes of base64 per round. */
static int8_t b64_std_values[256], b64_url_values[256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void b64_values_init(void)
{
        memset(b64_std_values, -1, sizeof(b64_std_values));
        memset(b64_url_values, -1, sizeof(b64_url_values));
        for (int8_t i = 0; i < 64; i++) {
                b64_std_values[(uint8_t)b64_std[i]] = i;
                b64_url_values[(uint8_t)b64_url[i]] = i;
        }
}

static int b64_value(const int8_t *values, char c)
{
        int v = values[(uint8_t)c];

        return v >= 0 ? v : -EINVAL;
}

static int base64_decode(const char *s, size_t len, const int8_t *alphabet, bool pad_required, uint8_t **ret,
                         size_t *ret_size)
{
        _cleanup_free_ uint8_t *out = NULL;
        size_t n_pad = 0, n_data, o = 0;
        uint32_t acc = 0;
        unsigned bits = 0;

        while (n_pad < 2 && n_pad < len && s[len - 1 - n_pad] == '=')
                n_pad++;
        if (pad_required && len % 4 != 0)
                return -EINVAL;
        if (!pad_required && n_pad > 0 && len % 4 != 0)
                return -EINVAL;
        n_data = len - n_pad;
        if (n_data % 4 == 1)
                return -EINVAL;
        out = malloc(n_data / 4 * 3 + 3 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n_data; i++) {
                int v = b64_value(alphabet, s[i]);

                if (v < 0)
                        return -EINVAL;
                acc = acc << 6 | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (uint8_t)(acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        /* Unused trailing bits must be zero (canonical encoding). */
        if (acc != 0)
                return -EINVAL;
        out[o] = 0;
        *ret = TAKE_PTR(out);
        *ret_size = o;
        return 0;
}

int vf_base64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size)
{
        pthread_once(&b64_once, b64_values_init);
        return base64_decode(s, len, b64_std_values, true, ret, ret_size);
}

int vf_base64url_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size)
{
        pthread_once(&b64_once, b64_values_init);
        return base64_decode(s, len, b64_url_values, false, ret, ret_size);
}

uint64_t vf_now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t vf_monotonic_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

char *vf_format_time(uint64_t usec, char *buf, size_t size)
{
        time_t t = (time_t)(usec / 1000000u);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, size, "?");
        return buf;
}

int vf_random_bytes(void *buf, size_t size)
{
        if (size > INT_MAX || RAND_bytes(buf, (int)size) != 1)
                return -EIO;
        return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

int vf_write_file_atomic(const char *path, const void *data, size_t size, mode_t mode)
{
        _cleanup_free_ char *tmp = vf_strprintf("%s.tmp.%d", path, (int)getpid());
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!tmp)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, size);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

int vf_mkdir(const char *path, mode_t mode)
{
        struct stat st;

        if (mkdir(path, mode) == 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int vf_parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
        unsigned long long v;
        char *end;

        if (!s || !isdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* A number followed by an optional unit from units (each a suffix and its multiplier). */
struct unit {
        const char *suffix;
        uint64_t mult;
};

static int parse_with_unit(const char *s, const struct unit *units, size_t n_units, uint64_t max, uint64_t *ret)
{
        unsigned long long v;
        uint64_t mult = 1;
        char *end;

        if (!s || !isdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -ERANGE;
        if (*end != '\0') {
                size_t i;

                for (i = 0; i < n_units; i++)
                        if (strcmp(end, units[i].suffix) == 0)
                                break;
                if (i == n_units)
                        return -EINVAL;
                mult = units[i].mult;
        }
        if (v == 0)
                return -ERANGE;
        if (v > max / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int vf_parse_duration(const char *s, uint64_t *ret_sec)
{
        static const struct unit units[] = {
                {"s", 1}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400},
        };

        return parse_with_unit(s, units, ELEMENTSOF(units), 100ull * 366 * 86400, ret_sec);
}

int vf_parse_size(const char *s, uint64_t *ret)
{
        static const struct unit units[] = {
                {"K", 1024},
                {"M", 1024 * 1024},
                {"G", 1024 * 1024 * 1024},
        };

        return parse_with_unit(s, units, ELEMENTSOF(units), UINT64_C(1) << 40, ret);
}

int vf_parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = {"yes", "true", "1", "on"}, *const no[] = {"no", "false", "0", "off"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

bool vf_name_is_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

char *vf_strprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        return n < 0 ? NULL : s;
}

bool vf_memeq_const(const void *a, const void *b, size_t size)
{
        return CRYPTO_memcmp(a, b, size) == 0;
}
