/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"

#define CONFIG_MAX_SIZE (1024 * 1024)
#define VALUE_MAX       4095 /* longest value: a path (PATH_MAX - 1) */

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MIN  (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MIN)
#define USEC_PER_DAY  (24 * USEC_PER_HOUR)
#define USEC_PER_WEEK (7 * USEC_PER_DAY)

#define KIB UINT64_C(1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)

enum key_type {
        KEY_GATEWAY_ID,
        KEY_PATH,         /* absolute */
        KEY_PATH_OR_NONE, /* absolute, or "" for none */
        KEY_PATH_OR_NO,   /* absolute, or "no" for off */
        KEY_URL,
        KEY_STRING,
        KEY_TIMESPAN, /* stored in usec; unit is the unit of a bare number */
        KEY_BOOL,
        KEY_HANDLE,
        KEY_SIZE,
        KEY_UINT,
        KEY_LOG_LEVEL,
        KEY_EK_TYPE,
        KEY_HASH_ALG,
        KEY_PATH_LIST, /* absolute paths separated by spaces, or "" for none */
        KEY_TIERS,     /* drift hook tiers separated by spaces */
};

struct key_def {
        struct mon_config_key_doc doc;
        enum key_type type;
        size_t offset;
        uint64_t unit;     /* KEY_TIMESPAN */
        uint64_t min, max; /* KEY_TIMESPAN (usec), KEY_HANDLE, KEY_SIZE, KEY_UINT */
        bool no_default;   /* the default is not a value (derived, or unset) */
};

#define FIELD(f) offsetof(struct mon_config, f)

/* Defaults are text parsed like values from a file, so that the documentation and the behaviour cannot disagree. */
static const struct key_def keys[] = {
        /* [Monitor] */
        {.doc = {"Monitor", "GatewayId", "the host name",
                 "this gateway's id at the verifier: 1-64 characters of A-Z a-z 0-9 . _ - (not starting with . or -)"},
         .type = KEY_GATEWAY_ID,
         .offset = FIELD(gateway_id),
         .no_default = true},
        {.doc = {"Monitor", "StateDirectory", MON_STATE_DIR_DEFAULT,
                 "persistent state: enrollment, TLS key and certificate, event spool"},
         .type = KEY_PATH,
         .offset = FIELD(state_dir)},
        {.doc = {"Monitor", "RuntimeDirectory", MON_RUNTIME_DIR_DEFAULT, "per-boot state: the event chain"},
         .type = KEY_PATH,
         .offset = FIELD(runtime_dir)},
        {.doc = {"Monitor", "RequoteIntervalSec", "30s", "how often the TPM is quoted and a round is run (1s..1d)"},
         .type = KEY_TIMESPAN,
         .offset = FIELD(requote_interval_usec),
         .unit = USEC_PER_SEC,
         .min = USEC_PER_SEC,
         .max = USEC_PER_DAY},
        {.doc = {"Monitor", "RequoteJitterSec", "5s",
                 "each interval is lengthened or shortened by a random part of this; less than RequoteIntervalSec="},
         .type = KEY_TIMESPAN,
         .offset = FIELD(requote_jitter_usec),
         .unit = USEC_PER_SEC,
         .min = 0,
         .max = USEC_PER_DAY},
        {.doc = {"Monitor", "RuntimePolicy", "",
                 "local copy of the runtime policy (allowlist) to judge IMA entries on the gateway too; empty: none"},
         .type = KEY_PATH_OR_NONE,
         .offset = FIELD(runtime_policy)},
        {.doc = {"Monitor", "LogLevel", "info", "err, warning, notice, info or debug"},
         .type = KEY_LOG_LEVEL,
         .offset = FIELD(log_level)},

        /* [Verifier] */
        {.doc = {"Verifier", "URL", "", "the verifier, https://HOST[:PORT] (required)"},
         .type = KEY_URL,
         .offset = FIELD(verifier_url),
         .no_default = true},
        {.doc = {"Verifier", "CAFile", "",
                 "the verifier's CA certificate (PEM), pinned: no other CA is trusted (required)"},
         .type = KEY_PATH,
         .offset = FIELD(verifier_ca),
         .no_default = true},
        {.doc = {"Verifier", "EnrollmentTokenFile", "",
                 "file holding the bootstrap token the verifier requires for enrollment; empty: none"},
         .type = KEY_PATH_OR_NONE,
         .offset = FIELD(enrollment_token_file)},
        {.doc = {"Verifier", "ConnectTimeoutSec", "5s", "longest wait for a connection to the verifier (1s..5min)"},
         .type = KEY_TIMESPAN,
         .offset = FIELD(connect_timeout_usec),
         .unit = USEC_PER_SEC,
         .min = USEC_PER_SEC,
         .max = 5 * USEC_PER_MIN},
        {.doc = {"Verifier", "RequestTimeoutSec", "30s", "longest wait for one request's answer (1s..1h)"},
         .type = KEY_TIMESPAN,
         .offset = FIELD(request_timeout_usec),
         .unit = USEC_PER_SEC,
         .min = USEC_PER_SEC,
         .max = USEC_PER_HOUR},
        {.doc = {"Verifier", "RetryMaxSec", "5min",
                 "longest back-off between attempts when the verifier cannot be reached (1s..1d)"},
         .type = KEY_TIMESPAN,
         .offset = FIELD(retry_max_usec),
         .unit = USEC_PER_SEC,
         .min = USEC_PER_SEC,
         .max = USEC_PER_DAY},
        {.doc = {"Verifier", "ChallengeWait", "yes",
                 "keep a long poll open so that the verifier can ask for a round at once"},
         .type = KEY_BOOL,
         .offset = FIELD(challenge_wait)},

        /* [TPM] */
        {.doc = {"TPM", "TCTI", "device:/dev/tpmrm0", "how to reach the TPM (tpm2-tss TCTI string)"},
         .type = KEY_STRING,
         .offset = FIELD(tcti)},
        {.doc = {"TPM", "EKType", "rsa",
                 "the endorsement key: rsa (RSA 2048), ecc (NIST P-256) or ecc384 (NIST P-384)"},
         .type = KEY_EK_TYPE,
         .offset = FIELD(ek_type)},
        {.doc = {"TPM", "AKHandle", "0x81010002", "persistent handle of the attestation key (0x81000000..0x81ffffff)"},
         .type = KEY_HANDLE,
         .offset = FIELD(ak_handle),
         .min = 0x81000000,
         .max = 0x81ffffff},
        {.doc = {"TPM", "EventKeyHandle", "0x81010003",
                 "persistent handle of the event-signing key (0x81000000..0x81ffffff)"},
         .type = KEY_HANDLE,
         .offset = FIELD(event_key_handle),
         .min = 0x81000000,
         .max = 0x81ffffff},
        {.doc = {"TPM", "NVIndex", "0x01800100",
                 "NV index extended with each event batch's head (0x01000000..0x01ffffff)"},
         .type = KEY_HANDLE,
         .offset = FIELD(nv_index),
         .min = 0x01000000,
         .max = 0x01ffffff},
        {.doc = {"TPM", "NVOwnerFallback", "yes",
                 "use an owner NV index when the platform hierarchy is disabled (as firmware usually does)"},
         .type = KEY_BOOL,
         .offset = FIELD(nv_owner_fallback)},

        /* [IMA] */
        {.doc = {"IMA", "Log", MON_IMA_LOG_DEFAULT, "the kernel's IMA measurement list (binary)"},
         .type = KEY_PATH,
         .offset = FIELD(ima_log)},
        {.doc = {"IMA", "LogDigest", "sha1",
                 "the template digest bank of Log= (sha256 for binary_runtime_measurements_sha256)"},
         .type = KEY_HASH_ALG,
         .offset = FIELD(ima_log_alg)},
        {.doc = {"IMA", "PollIntervalMSec", "1000",
                 "how often Log= is read for new entries; securityfs has no inotify (10ms..60s)"},
         .type = KEY_TIMESPAN,
         .offset = FIELD(ima_poll_usec),
         .unit = USEC_PER_MSEC,
         .min = 10 * USEC_PER_MSEC,
         .max = 60 * USEC_PER_SEC},
        {.doc = {"IMA", "BootLog", MON_BOOT_LOG_DEFAULT, "the TPM boot event log; empty: none"},
         .type = KEY_PATH_OR_NONE,
         .offset = FIELD(boot_log)},
        {.doc = {"IMA", "Policy", MON_IMA_POLICY_DEFAULT,
                 "the kernel's IMA policy as expected, read at start and kept: an execution it measures that the IMA "
                 "log lacks is an alert (needs eBPF drift detection); no: off"},
         .type = KEY_PATH_OR_NO,
         .offset = FIELD(ima_policy)},

        /* [Events] */
        {.doc = {"Events", "BatchMaxEvents", "256", "most events in one signed batch (1..1024)"},
         .type = KEY_UINT,
         .offset = FIELD(batch_max_events),
         .min = 1,
         .max = 1024},
        {.doc = {"Events", "BatchDelayMSec", "200", "how long an event waits for others to share a batch (0..60s)"},
         .type = KEY_TIMESPAN,
         .offset = FIELD(batch_delay_usec),
         .unit = USEC_PER_MSEC,
         .min = 0,
         .max = 60 * USEC_PER_SEC},
        {.doc = {"Events", "SpoolMaxBytes", "64M",
                 "most disk space the spool of unsent batches may take; K, M, G are 1024-based (1M..1024G)"},
         .type = KEY_SIZE,
         .offset = FIELD(spool_max_bytes),
         .min = MIB,
         .max = TIB},

        /* [Drift] */
        {.doc = {"Drift", "Enable", "yes", "watch for runtime drift with eBPF (executions, tampering, the kernel)"},
         .type = KEY_BOOL,
         .offset = FIELD(drift_enable)},
        {.doc = {"Drift", "Tiers", MON_DRIFT_TIERS_DEFAULT,
                 "the hook tiers the monitor may use, among lsm, fentry and tracepoint (the best one the kernel allows "
                 "is used for each category)"},
         .type = KEY_TIERS,
         .offset = FIELD(drift_tiers)},
        {.doc = {"Drift", "ProtectedPaths", MON_DRIFT_PROTECTED_DEFAULT,
                 "files and directories whose changes are tampering, absolute paths separated by spaces (the "
                 "monitor's own directories and configuration are always added); empty: none"},
         .type = KEY_PATH_LIST,
         .offset = FIELD(drift_protected_paths)},
        {.doc = {"Drift", "HashExecutables", "yes",
                 "hash every executed file (SHA-256) and judge it against RuntimePolicy="},
         .type = KEY_BOOL,
         .offset = FIELD(drift_hash_executables)},
        {.doc = {"Drift", "HashCacheEntries", "16384", "executed files whose digest is remembered (16..1048576)"},
         .type = KEY_UINT,
         .offset = FIELD(drift_hash_cache_entries),
         .min = 16,
         .max = 1048576},
        {.doc = {"Drift", "RingBufferSize", "1M",
                 "the kernel's buffer of drift events, a power of two (64K..1G); events that do not fit are counted "
                 "and reported"},
         .type = KEY_SIZE,
         .offset = FIELD(drift_ring_buffer_bytes),
         .min = 64 * KIB,
         .max = GIB},
};

static const char *const sections[] = {"Monitor", "Verifier", "TPM", "IMA", "Events", "Drift"};

const struct mon_config_key_doc *mon_config_keys(size_t *ret_n)
{
        static struct mon_config_key_doc docs[ELEMENTSOF(keys)];

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                docs[i] = keys[i].doc;
        *ret_n = ELEMENTSOF(keys);
        return docs;
}

static bool key_is_string(const struct key_def *k)
{
        return k->type == KEY_GATEWAY_ID || k->type == KEY_PATH || k->type == KEY_PATH_OR_NONE ||
               k->type == KEY_PATH_OR_NO || k->type == KEY_URL || k->type == KEY_STRING || k->type == KEY_PATH_LIST ||
               k->type == KEY_TIERS;
}

static void *key_field(struct mon_config *c, const struct key_def *k)
{
        return (uint8_t *)c + k->offset;
}

static const void *key_field_const(const struct mon_config *c, const struct key_def *k)
{
        return (const uint8_t *)c + k->offset;
}

static const char *section_find(const char *name, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                if (strlen(sections[i]) == len && strncmp(sections[i], name, len) == 0)
                        return sections[i];
        return NULL;
}

static const struct key_def *key_find(const char *section, const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if ((!section || strcmp(keys[i].doc.section, section) == 0) && strcmp(keys[i].doc.name, name) == 0)
                        return &keys[i];
        return NULL;
}

/* ---- values ------------------------------------------------------------------------------------------------- */

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\r';
}

static bool is_control(char c)
{
        return (unsigned char)c < 0x20 || c == 0x7f;
}

/* Decimal digits at *p (at least one) into ret, advancing *p. -ERANGE past UINT64_MAX. */
static int parse_digits(const char **p, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        if (!is_digit(*s))
                return -EINVAL;
        for (; is_digit(*s); s++) {
                unsigned d = (unsigned)(*s - '0');

                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

static int mul_add(uint64_t a, uint64_t b, uint64_t add, uint64_t *ret)
{
        if (b != 0 && a > (UINT64_MAX - add) / b)
                return -ERANGE;
        *ret = a * b + add;
        return 0;
}

static uint64_t timespan_unit(const char *s, size_t len)
{
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                {"us", 1},
                {"usec", 1},
                {"ms", USEC_PER_MSEC},
                {"msec", USEC_PER_MSEC},
                {"s", USEC_PER_SEC},
                {"sec", USEC_PER_SEC},
                {"second", USEC_PER_SEC},
                {"seconds", USEC_PER_SEC},
                {"m", USEC_PER_MIN},
                {"min", USEC_PER_MIN},
                {"minute", USEC_PER_MIN},
                {"minutes", USEC_PER_MIN},
                {"h", USEC_PER_HOUR},
                {"hr", USEC_PER_HOUR},
                {"hour", USEC_PER_HOUR},
                {"hours", USEC_PER_HOUR},
                {"d", USEC_PER_DAY},
                {"day", USEC_PER_DAY},
                {"days", USEC_PER_DAY},
                {"w", USEC_PER_WEEK},
                {"week", USEC_PER_WEEK},
                {"weeks", USEC_PER_WEEK},
        };

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (strlen(units[i].name) == len && strncmp(units[i].name, s, len) == 0)
                        return units[i].usec;
        return 0;
}

/* One component of a time span: "30", "1.5h", "500 ms". */
static int parse_timespan_component(const char **p, uint64_t default_unit, uint64_t *ret_usec)
{
        const char *s = *p, *u;
        uint64_t whole, frac = 0, scale = 1, unit, v;
        int r;

        r = parse_digits(&s, &whole);
        if (r < 0)
                return r;
        if (*s == '.') {
                s++;
                if (!is_digit(*s))
                        return -EINVAL;
                for (; is_digit(*s); s++)
                        if (scale < 1000000) { /* microsecond precision is plenty; further digits are ignored */
                                frac = frac * 10 + (uint64_t)(*s - '0');
                                scale *= 10;
                        }
        }
        while (is_space(*s))
                s++;
        for (u = s; is_alpha(*s); s++)
                ;
        unit = s == u ? default_unit : timespan_unit(u, (size_t)(s - u));
        if (unit == 0)
                return -EINVAL;
        r = mul_add(whole, unit, frac * unit / scale, &v); /* frac * unit < 10^6 * 604800 * 10^6: no overflow */
        if (r < 0)
                return r;
        *p = s;
        *ret_usec = v;
        return 0;
}

/* systemd-style time span: components like "30", "30s", "5min", "2h", "500ms", "1h 30min"; a bare number is in
 * default_unit. */
static int parse_timespan(const char *s, uint64_t default_unit, uint64_t *ret_usec)
{
        uint64_t total = 0;
        bool any = false;

        for (;;) {
                uint64_t v;
                int r;

                while (is_space(*s))
                        s++;
                if (*s == '\0')
                        break;
                r = parse_timespan_component(&s, default_unit, &v);
                if (r < 0)
                        return r;
                if (total > UINT64_MAX - v)
                        return -ERANGE;
                total += v;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret_usec = total;
        return 0;
}

static int parse_size(const char *s, uint64_t *ret)
{
        uint64_t v, mult = 1;
        int r;

        r = parse_digits(&s, &v);
        if (r < 0)
                return r;
        switch (*s) {
        case 'K':
                mult = KIB;
                s++;
                break;
        case 'M':
                mult = MIB;
                s++;
                break;
        case 'G':
                mult = GIB;
                s++;
                break;
        }
        if (*s != '\0')
                return -EINVAL;
        r = mul_add(v, mult, 0, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

static int parse_uint(const char *s, uint64_t *ret)
{
        uint64_t v;
        int r;

        r = parse_digits(&s, &v);
        if (r < 0)
                return r;
        if (*s != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_handle(const char *s, uint64_t *ret)
{
        uint64_t v = 0;
        size_t n = 0;

        if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
                return -EINVAL;
        for (s += 2; *s; s++, n++) {
                char c = *s;
                unsigned d;

                if (is_digit(c))
                        d = (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        d = (unsigned)(c - 'A' + 10);
                else
                        return -EINVAL;
                if (n >= 8)
                        return -ERANGE;
                v = v << 4 | d;
        }
        if (n == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static int parse_log_level(const char *s, enum mon_log_level *ret)
{
        static const struct {
                const char *name;
                enum mon_log_level level;
        } levels[] = {
                {"err", MON_LOG_ERR},      {"error", MON_LOG_ERR},     {"warning", MON_LOG_WARNING},
                {"warn", MON_LOG_WARNING}, {"notice", MON_LOG_NOTICE}, {"info", MON_LOG_INFO},
                {"debug", MON_LOG_DEBUG},
        };

        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (strcmp(s, levels[i].name) == 0) {
                        *ret = levels[i].level;
                        return 0;
                }
        return -EINVAL;
}

static bool gateway_id_is_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_digit(s[i]) && !is_alpha(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

static bool host_char_is_valid(char c)
{
        return is_digit(c) || is_alpha(c) || c == '.' || c == '-' || c == '_';
}

/* https://HOST[:PORT] with HOST a DNS name, an IPv4 address or a bracketed IPv6 address; no user, path or query. */
static bool url_is_valid(const char *s)
{
        const char *host, *end;
        uint64_t port;

        if (strncmp(s, "https://", 8) != 0 || strlen(s) > 2048)
                return false;
        host = s + 8;
        if (*host == '[') {
                end = strchr(host, ']');
                if (!end || end == host + 1)
                        return false;
                for (const char *p = host + 1; p < end; p++)
                        if (!is_digit(*p) && !strchr("abcdefABCDEF:.", *p))
                                return false;
                end++;
        } else {
                for (end = host; host_char_is_valid(*end); end++)
                        ;
                if (end == host)
                        return false;
        }
        if (*end == '\0')
                return true;
        if (*end != ':')
                return false;
        end++;
        if (parse_uint(end, &port) < 0 || port == 0 || port > 65535)
                return false;
        return true;
}

/* A time span as text, in the largest unit that divides it ("30s", "5min", "1500ms"). */
static void format_timespan(uint64_t usec, char *buf, size_t size)
{
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                {"d", USEC_PER_DAY}, {"h", USEC_PER_HOUR},  {"min", USEC_PER_MIN},
                {"s", USEC_PER_SEC}, {"ms", USEC_PER_MSEC},
        };

        if (usec == 0) {
                snprintf(buf, size, "0");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (usec % units[i].usec == 0) {
                        snprintf(buf, size, "%" PRIu64 "%s", usec / units[i].usec, units[i].name);
                        return;
                }
        snprintf(buf, size, "%" PRIu64 "us", usec);
}

static void format_size(uint64_t v, char *buf, size_t size)
{
        if (v >= GIB && v % GIB == 0)
                snprintf(buf, size, "%" PRIu64 "G", v / GIB);
        else if (v >= MIB && v % MIB == 0)
                snprintf(buf, size, "%" PRIu64 "M", v / MIB);
        else if (v >= KIB && v % KIB == 0)
                snprintf(buf, size, "%" PRIu64 "K", v / KIB);
        else
                snprintf(buf, size, "%" PRIu64, v);
}

static void format_value(const struct key_def *k, uint64_t v, char *buf, size_t size)
{
        switch (k->type) {
        case KEY_TIMESPAN:
                format_timespan(v, buf, size);
                break;
        case KEY_SIZE:
                format_size(v, buf, size);
                break;
        case KEY_HANDLE:
                snprintf(buf, size, "0x%08" PRIx64, v);
                break;
        default:
                snprintf(buf, size, "%" PRIu64, v);
        }
}

/* "out of range (1s..1d)" */
static void range_failure(const struct key_def *k, char *why, size_t why_size)
{
        char lo[32], hi[32];

        format_value(k, k->min, lo, sizeof(lo));
        format_value(k, k->max, hi, sizeof(hi));
        snprintf(why, why_size, "out of range (%s..%s)", lo, hi);
}

static const char *parse_failure(enum key_type type)
{
        switch (type) {
        case KEY_GATEWAY_ID:
                return "expected 1-64 characters of A-Z a-z 0-9 . _ - (not starting with . or -)";
        case KEY_PATH:
                return "expected an absolute path";
        case KEY_PATH_OR_NONE:
                return "expected an absolute path, or nothing for none";
        case KEY_PATH_OR_NO:
                return "expected an absolute path, or no";
        case KEY_URL:
                return "expected https://HOST[:PORT] (no path)";
        case KEY_STRING:
                return "expected a value";
        case KEY_TIMESPAN:
                return "expected a time span (30, 30s, 5min, 2h, 500ms)";
        case KEY_BOOL:
                return "expected yes, no, true, false, on, off, 1 or 0";
        case KEY_HANDLE:
                return "expected a handle in hex (0x81010002)";
        case KEY_SIZE:
                return "expected a size (1048576, 64M, 1G)";
        case KEY_UINT:
                return "expected a number";
        case KEY_LOG_LEVEL:
                return "expected err, warning, notice, info or debug";
        case KEY_EK_TYPE:
                return "expected rsa, ecc or ecc384";
        case KEY_HASH_ALG:
                return "expected sha1, sha256, sha384, sha512 or sm3";
        case KEY_PATH_LIST:
                return "expected absolute paths separated by spaces (at most 32, of at most 254 bytes each)";
        case KEY_TIERS:
                return "expected lsm, fentry and/or tracepoint, separated by spaces, each at most once";
        }
        return "invalid value";
}

/* "/usr /etc": absolute paths separated by spaces (tabs), none empty. */
static bool path_list_is_valid(const char *s)
{
        size_t n = 0;

        for (;;) {
                size_t len;

                while (is_space(*s))
                        s++;
                if (*s == '\0')
                        return true;
                len = strcspn(s, " \t\r");
                if (*s != '/' || len > MON_DRIFT_PATH_LEN_MAX || ++n > MON_DRIFT_PATHS_MAX)
                        return false;
                s += len;
        }
}

/* "lsm fentry tracepoint": at least one tier, each at most once. */
static bool tiers_are_valid(const char *s)
{
        static const char *const tiers[] = {"lsm", "fentry", "tracepoint"};
        bool seen[ELEMENTSOF(tiers)] = {};
        size_t n = 0;

        for (;;) {
                size_t len, i;

                while (is_space(*s))
                        s++;
                if (*s == '\0')
                        return n > 0;
                len = strcspn(s, " \t\r");
                for (i = 0; i < ELEMENTSOF(tiers); i++)
                        if (strlen(tiers[i]) == len && strncmp(tiers[i], s, len) == 0)
                                break;
                if (i == ELEMENTSOF(tiers) || seen[i])
                        return false;
                seen[i] = true;
                n++;
                s += len;
        }
}

/* What value a key's string may take (syntax only). */
static bool string_is_valid(const struct key_def *k, const char *value)
{
        size_t n = strlen(value);

        switch (k->type) {
        case KEY_GATEWAY_ID:
                return gateway_id_is_valid(value);
        case KEY_PATH:
                return n > 0 && n <= VALUE_MAX && value[0] == '/';
        case KEY_PATH_OR_NONE:
                return n == 0 || (n <= VALUE_MAX && value[0] == '/');
        case KEY_PATH_OR_NO:
                return strcmp(value, "no") == 0 || (n > 0 && n <= VALUE_MAX && value[0] == '/');
        case KEY_URL:
                return url_is_valid(value);
        case KEY_STRING:
                return n > 0 && n <= 255;
        case KEY_PATH_LIST:
                return path_list_is_valid(value);
        case KEY_TIERS:
                return tiers_are_valid(value);
        default:
                return false;
        }
}

static int set_string(char **field, const char *value)
{
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static int apply_number(void *field, const struct key_def *k, const char *value, char *why, size_t why_size)
{
        uint64_t v;
        int r;

        if (k->type == KEY_TIMESPAN)
                r = parse_timespan(value, k->unit, &v);
        else if (k->type == KEY_SIZE)
                r = parse_size(value, &v);
        else if (k->type == KEY_HANDLE)
                r = parse_handle(value, &v);
        else
                r = parse_uint(value, &v);
        if (r == -ERANGE || (r == 0 && (v < k->min || v > k->max))) {
                range_failure(k, why, why_size);
                return -EINVAL;
        }
        if (r < 0) {
                snprintf(why, why_size, "%s", parse_failure(k->type));
                return -EINVAL;
        }
        if (k->type == KEY_HANDLE)
                *(uint32_t *)field = (uint32_t)v;
        else
                *(uint64_t *)field = v;
        return 0;
}

/* Parses value for k into c; c is changed only on success. On failure, why says why. */
static int key_apply(struct mon_config *c, const struct key_def *k, const char *value, char *why, size_t why_size)
{
        void *field = key_field(c, k);
        int r = 0;

        for (const char *p = value; *p; p++)
                if (is_control(*p)) {
                        snprintf(why, why_size, "control character in value");
                        return -EINVAL;
                }
        switch (k->type) {
        case KEY_GATEWAY_ID:
        case KEY_PATH:
        case KEY_PATH_OR_NONE:
        case KEY_PATH_OR_NO:
        case KEY_URL:
        case KEY_STRING:
        case KEY_PATH_LIST:
        case KEY_TIERS:
                if (!string_is_valid(k, value)) {
                        snprintf(why, why_size, "%s", parse_failure(k->type));
                        return -EINVAL;
                }
                r = set_string(field, value);
                if (r < 0)
                        snprintf(why, why_size, "out of memory");
                return r;
        case KEY_TIMESPAN:
        case KEY_SIZE:
        case KEY_HANDLE:
        case KEY_UINT:
                return apply_number(field, k, value, why, why_size);
        case KEY_BOOL:
                r = parse_bool(value, field);
                break;
        case KEY_LOG_LEVEL:
                r = parse_log_level(value, field);
                break;
        case KEY_EK_TYPE:
                r = dw_tpm_key_type_from_name(value, field);
                break;
        case KEY_HASH_ALG:
                r = dw_hash_alg_from_name(value, strlen(value), field);
                break;
        }
        if (r < 0) {
                snprintf(why, why_size, "%s", parse_failure(k->type));
                return -EINVAL;
        }
        return 0;
}

/* ---- init, copy, done --------------------------------------------------------------------------------------- */

void mon_config_done(struct mon_config *c)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (key_is_string(&keys[i]))
                        free(*(char **)key_field(c, &keys[i]));
        *c = (struct mon_config){};
}

static void mon_config_donep(struct mon_config *c)
{
        mon_config_done(c);
}

static int default_gateway_id(struct mon_config *c)
{
        char host[HOST_NAME_MAX + 1] = "";

        if (gethostname(host, sizeof(host) - 1) < 0 || !gateway_id_is_valid(host))
                return 0; /* no default: GatewayId= must be given */
        c->gateway_id = strdup(host);
        return c->gateway_id ? 0 : -ENOMEM;
}

int mon_config_init(struct mon_config *ret)
{
        _cleanup_(mon_config_donep) struct mon_config c = {};
        char why[200];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (keys[i].no_default)
                        continue;
                r = key_apply(&c, &keys[i], keys[i].doc.def, why, sizeof(why));
                if (r < 0)
                        return r;
        }
        r = default_gateway_id(&c);
        if (r < 0)
                return r;
        *ret = c;
        c = (struct mon_config){};
        return 0;
}

static int config_copy(const struct mon_config *src, struct mon_config *ret)
{
        _cleanup_(mon_config_donep) struct mon_config c = *src;

        /* Until duplicated, the strings are src's: clear them first so that a failure frees only copies. */
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (key_is_string(&keys[i]))
                        *(char **)key_field(&c, &keys[i]) = NULL;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *s;

                if (!key_is_string(&keys[i]))
                        continue;
                s = *(char *const *)key_field_const(src, &keys[i]);
                if (s && set_string(key_field(&c, &keys[i]), s) < 0)
                        return -ENOMEM;
        }
        *ret = c;
        c = (struct mon_config){};
        return 0;
}

/* ---- parsing ------------------------------------------------------------------------------------------------ */

struct parse_state {
        const char *path;
        unsigned line;
        const char *section;             /* NULL before the first [Section] */
        unsigned seen[ELEMENTSOF(keys)]; /* line where each key was given, 0 if not yet */
};

static char *trim(char *s)
{
        char *end;

        while (is_space(*s))
                s++;
        end = s + strlen(s);
        while (end > s && is_space(end[-1]))
                *--end = '\0';
        return s;
}

static int parse_section(struct parse_state *st, char *line, struct dw_error *err)
{
        size_t n = strlen(line);

        if (n < 2 || line[n - 1] != ']')
                return dw_error_set(err, EINVAL, st->line, 0, "%s:%u: expected [Section] or Key=Value", st->path,
                                    st->line);
        st->section = section_find(line + 1, n - 2);
        if (!st->section)
                return dw_error_set(err, EINVAL, st->line, 0,
                                    "%s:%u: unknown section %.64s (expected [Monitor], [Verifier], [TPM], [IMA], "
                                    "[Events] or [Drift])",
                                    st->path, st->line, line);
        return 0;
}

static int unknown_key(struct parse_state *st, const char *key, struct dw_error *err)
{
        const struct key_def *elsewhere = key_find(NULL, key);

        if (elsewhere)
                return dw_error_set(err, EINVAL, st->line, 0, "%s:%u: %.64s=: unknown key in [%s] (it belongs in [%s])",
                                    st->path, st->line, key, st->section, elsewhere->doc.section);
        return dw_error_set(err, EINVAL, st->line, 0, "%s:%u: %.64s=: unknown key in [%s]", st->path, st->line, key,
                            st->section);
}

static int parse_assignment(struct mon_config *c, struct parse_state *st, char *line, struct dw_error *err)
{
        char *eq = strchr(line, '='), *key, *value, why[160];
        const struct key_def *k;
        int r;

        if (!eq)
                return dw_error_set(err, EINVAL, st->line, 0, "%s:%u: expected [Section] or Key=Value, not '%.40s'",
                                    st->path, st->line, line);
        *eq = '\0';
        key = trim(line);
        value = trim(eq + 1);
        if (key[0] == '\0')
                return dw_error_set(err, EINVAL, st->line, 0, "%s:%u: expected Key=Value, the key is missing", st->path,
                                    st->line);
        if (!st->section)
                return dw_error_set(err, EINVAL, st->line, 0, "%s:%u: %.64s=: outside any section ([Section] first)",
                                    st->path, st->line, key);
        k = key_find(st->section, key);
        if (!k)
                return unknown_key(st, key, err);
        if (st->seen[k - keys])
                return dw_error_set(err, EINVAL, st->line, 0, "%s:%u: %s=: repeated (first given at line %u)", st->path,
                                    st->line, k->doc.name, st->seen[k - keys]);
        st->seen[k - keys] = st->line;
        r = key_apply(c, k, value, why, sizeof(why));
        if (r < 0)
                return dw_error_set(err, -r, st->line, 0, "%s:%u: %s=: %s", st->path, st->line, k->doc.name, why);
        return 0;
}

static int parse_line(struct mon_config *c, struct parse_state *st, char *line, struct dw_error *err)
{
        line = trim(line);
        if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
                return 0;
        for (const char *p = line; *p; p++)
                if (is_control(*p) && *p != '\t')
                        return dw_error_set(err, EINVAL, st->line, 0, "%s:%u: control character in line", st->path,
                                            st->line);
        if (line[0] == '[')
                return parse_section(st, line, err);
        return parse_assignment(c, st, line, err);
}

int mon_config_parse(struct mon_config *c, const char *path, const char *text, size_t len, struct dw_error *err)
{
        _cleanup_(mon_config_donep) struct mon_config new = {};
        _cleanup_free_ char *buf = NULL;
        struct parse_state st = {.path = path};
        const char *nul;
        size_t pos = 0;
        int r;

        if (len > CONFIG_MAX_SIZE)
                return dw_error_set(err, EINVAL, 0, 0, "%s: larger than 1 MiB", path);
        nul = len > 0 ? memchr(text, '\0', len) : NULL;
        if (nul) {
                unsigned line = 1;

                for (const char *p = text; p < nul; p++)
                        line += *p == '\n';
                return dw_error_set(err, EINVAL, line, (size_t)(nul - text), "%s:%u: NUL byte", path, line);
        }
        buf = malloc(len + 1);
        if (!buf)
                return dw_error_set(err, ENOMEM, 0, 0, "%s: out of memory", path);
        r = config_copy(c, &new);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s: out of memory", path);

        while (pos < len) {
                const char *nl = memchr(text + pos, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

                st.line++;
                memcpy(buf, text + pos, n);
                buf[n] = '\0';
                r = parse_line(&new, &st, buf, err);
                if (r < 0)
                        return r;
                pos += n + (nl ? 1 : 0);
        }
        mon_config_done(c);
        *c = new;
        new = (struct mon_config){};
        return 0;
}

int mon_config_load(struct mon_config *c, const char *path, struct dw_error *err)
{
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        int r;

        r = dw_read_full_file(path, CONFIG_MAX_SIZE, &data, &size);
        if (r == -EFBIG)
                return dw_error_set(err, EINVAL, 0, 0, "%s: larger than 1 MiB", path);
        if (r < 0)
                return dw_error_set(err, r, 0, 0, "%s: cannot read: %s", path, strerror(-r));
        return mon_config_parse(c, path, (const char *)data, size, err);
}

/* Messages are "Section.Key=: why": the caller says where the assignment came from (--set). */
int mon_config_set(struct mon_config *c, const char *assignment, struct dw_error *err)
{
        _cleanup_free_ char *buf = strdup(assignment);
        const struct key_def *k;
        const char *section;
        char *eq, *dot, *key, *value, why[160];
        int r;

        if (!buf)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        eq = strchr(buf, '=');
        if (!eq)
                return dw_error_set(err, EINVAL, 0, 0, "%.64s: expected Section.Key=Value", assignment);
        *eq = '\0';
        key = trim(buf);
        value = trim(eq + 1);
        dot = strchr(key, '.');
        if (!dot)
                return dw_error_set(err, EINVAL, 0, 0, "%.64s=: expected Section.Key=Value", key);
        section = section_find(key, (size_t)(dot - key));
        if (!section)
                return dw_error_set(err, EINVAL, 0, 0, "%.64s=: unknown section [%.*s]", key, (int)MIN(dot - key, 32),
                                    key);
        k = key_find(section, dot + 1);
        if (!k)
                return dw_error_set(err, EINVAL, 0, 0, "%.64s=: unknown key in [%s]", key, section);
        r = key_apply(c, k, value, why, sizeof(why));
        if (r < 0)
                return dw_error_set(err, -r, 0, 0, "%s.%s=: %s", section, k->doc.name, why);
        return 0;
}

/* ---- validation --------------------------------------------------------------------------------------------- */

static int validate_key(const struct mon_config *c, const struct key_def *k, struct dw_error *err)
{
        const void *field = key_field_const(c, k);
        char why[160];
        uint64_t v;

        switch (k->type) {
        case KEY_GATEWAY_ID:
        case KEY_URL:
        case KEY_PATH:
        case KEY_PATH_OR_NONE:
        case KEY_PATH_OR_NO:
        case KEY_STRING:
        case KEY_PATH_LIST:
        case KEY_TIERS: {
                const char *s = *(char *const *)field;

                if (!s || (s[0] == '\0' && k->type != KEY_PATH_OR_NONE && k->type != KEY_PATH_LIST))
                        return dw_error_set(err, EINVAL, 0, 0, "%s=: not set (in [%s])%s", k->doc.name, k->doc.section,
                                            k->type == KEY_GATEWAY_ID ? "; the host name is not a valid gateway id"
                                                                      : "");
                if (!string_is_valid(k, s))
                        return dw_error_set(err, EINVAL, 0, 0, "%s=: %s", k->doc.name, parse_failure(k->type));
                return 0;
        }
        case KEY_TIMESPAN:
        case KEY_SIZE:
        case KEY_UINT:
                v = *(const uint64_t *)field;
                break;
        case KEY_HANDLE:
                v = *(const uint32_t *)field;
                break;
        case KEY_LOG_LEVEL: {
                enum mon_log_level l = *(const enum mon_log_level *)field;

                if (l < MON_LOG_ERR || l > MON_LOG_DEBUG)
                        return dw_error_set(err, EINVAL, 0, 0, "%s=: %s", k->doc.name, parse_failure(k->type));
                return 0;
        }
        case KEY_EK_TYPE: {
                enum dw_tpm_key_type t = *(const enum dw_tpm_key_type *)field;

                if (t < 0 || t >= _DW_TPM_KEY_TYPE_MAX)
                        return dw_error_set(err, EINVAL, 0, 0, "%s=: %s", k->doc.name, parse_failure(k->type));
                return 0;
        }
        case KEY_HASH_ALG: {
                enum dw_hash_alg a = *(const enum dw_hash_alg *)field;

                if (a < 0 || a >= _DW_HASH_ALG_MAX)
                        return dw_error_set(err, EINVAL, 0, 0, "%s=: %s", k->doc.name, parse_failure(k->type));
                return 0;
        }
        default:
                return 0;
        }
        if (v < k->min || v > k->max) {
                range_failure(k, why, sizeof(why));
                return dw_error_set(err, EINVAL, 0, 0, "%s=: %s", k->doc.name, why);
        }
        return 0;
}

int mon_config_validate(const struct mon_config *c, struct dw_error *err)
{
        char a[32], b[32];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                r = validate_key(c, &keys[i], err);
                if (r < 0)
                        return r;
        }
        if (c->requote_jitter_usec >= c->requote_interval_usec) {
                format_timespan(c->requote_jitter_usec, a, sizeof(a));
                format_timespan(c->requote_interval_usec, b, sizeof(b));
                return dw_error_set(err, EINVAL, 0, 0,
                                    "RequoteJitterSec=: %s, must be less than RequoteIntervalSec= (%s)", a, b);
        }
        if (c->ak_handle == c->event_key_handle)
                return dw_error_set(err, EINVAL, 0, 0,
                                    "EventKeyHandle=: 0x%08" PRIx32 " is also AKHandle=", c->event_key_handle);
        if ((c->drift_ring_buffer_bytes & (c->drift_ring_buffer_bytes - 1)) != 0) {
                format_size(c->drift_ring_buffer_bytes, a, sizeof(a));
                return dw_error_set(err, EINVAL, 0, 0, "RingBufferSize=: %s is not a power of two", a);
        }
        return 0;
}
