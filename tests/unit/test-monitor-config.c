/* SPDX-License-Identifier: MIT */
/* Tests of monitor/config.c: the defaults, every key and every form of value, every kind of error with its exact
 * FILE:LINE message, override semantics (a parse changes only the keys it names; a failed parse changes nothing),
 * --set, validation, loading files, and that docs/monitor.md and monitor/monitor.conf list every key. */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "macro.h"

#define PATH "test.conf"

/* ---- helpers ------------------------------------------------------------------------------------------------ */

static bool str_eq(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool config_equal(const struct mon_config *a, const struct mon_config *b)
{
        return str_eq(a->gateway_id, b->gateway_id) && str_eq(a->state_dir, b->state_dir) &&
               str_eq(a->runtime_dir, b->runtime_dir) && a->requote_interval_usec == b->requote_interval_usec &&
               a->requote_jitter_usec == b->requote_jitter_usec && str_eq(a->runtime_policy, b->runtime_policy) &&
               a->log_level == b->log_level && str_eq(a->verifier_url, b->verifier_url) &&
               str_eq(a->verifier_ca, b->verifier_ca) && str_eq(a->enrollment_token_file, b->enrollment_token_file) &&
               a->connect_timeout_usec == b->connect_timeout_usec &&
               a->request_timeout_usec == b->request_timeout_usec && a->retry_max_usec == b->retry_max_usec &&
               a->challenge_wait == b->challenge_wait && str_eq(a->tcti, b->tcti) && a->ek_type == b->ek_type &&
               a->ak_handle == b->ak_handle && a->event_key_handle == b->event_key_handle &&
               a->nv_index == b->nv_index && a->nv_owner_fallback == b->nv_owner_fallback &&
               str_eq(a->ima_log, b->ima_log) && a->ima_log_alg == b->ima_log_alg &&
               a->ima_poll_usec == b->ima_poll_usec && str_eq(a->boot_log, b->boot_log) &&
               str_eq(a->ima_policy, b->ima_policy) && a->batch_max_events == b->batch_max_events &&
               a->batch_delay_usec == b->batch_delay_usec && a->spool_max_bytes == b->spool_max_bytes &&
               a->drift_enable == b->drift_enable && str_eq(a->drift_tiers, b->drift_tiers) &&
               str_eq(a->drift_protected_paths, b->drift_protected_paths) &&
               a->drift_hash_executables == b->drift_hash_executables &&
               a->drift_hash_cache_entries == b->drift_hash_cache_entries &&
               a->drift_ring_buffer_bytes == b->drift_ring_buffer_bytes;
}

static void config_donep(struct mon_config *c)
{
        mon_config_done(c);
}
#define _cleanup_config_ _cleanup_(config_donep)

static int parse_str(struct mon_config *c, const char *text, struct dw_error *err)
{
        return mon_config_parse(c, PATH, text, strlen(text), err);
}

/* A fresh default config with text parsed over it; asserts success. */
static void parse_ok(struct mon_config *c, const char *text)
{
        struct dw_error err = {};

        ck_assert_int_eq(mon_config_init(c), 0);
        ck_assert_msg(parse_str(c, text, &err) == 0, "parse of \"%s\" failed: %s", text, err.msg);
}

/* text must fail with exactly msg, and leave the config as it was. */
static void parse_fails(const char *text, const char *msg)
{
        _cleanup_config_ struct mon_config c = {}, before = {};
        struct dw_error err = {};

        ck_assert_int_eq(mon_config_init(&c), 0);
        ck_assert_int_eq(mon_config_init(&before), 0);
        ck_assert_int_eq(parse_str(&c, text, &err), -EINVAL);
        ck_assert_msg(strcmp(err.msg, msg) == 0, "for \"%s\":\n got      \"%s\"\n expected \"%s\"", text, err.msg, msg);
        ck_assert(config_equal(&c, &before));
}

/* "[Section]\nKey=value\n" must fail with "test.conf:2: Key=: why". */
static void value_fails(const char *section, const char *key, const char *value, const char *why)
{
        char text[512], msg[512];

        snprintf(text, sizeof(text), "[%s]\n%s=%s\n", section, key, value);
        snprintf(msg, sizeof(msg), PATH ":2: %s=: %s", key, why);
        parse_fails(text, msg);
}

static uint64_t parse_timespan_key(const char *key, const char *value)
{
        _cleanup_config_ struct mon_config c = {};
        char text[256];

        snprintf(text, sizeof(text), "[%s]\n%s=%s\n", strstr(key, "MSec") ? "IMA" : "Monitor", key, value);
        parse_ok(&c, text);
        return strstr(key, "MSec") ? c.ima_poll_usec : c.requote_interval_usec;
}

static char *srcdir_file(const char *rel, size_t *ret_size)
{
        const char *root = getenv("DW_SRCDIR");
        uint8_t *data;
        char path[4096];
        size_t size;

        ck_assert_msg(root, "DW_SRCDIR is not set");
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        ck_assert_msg(dw_read_full_file(path, 1 << 20, &data, &size) == 0, "cannot read %s", path);
        *ret_size = size;
        return (char *)data;
}

/* ---- defaults and values ------------------------------------------------------------------------------------ */

START_TEST(test_defaults)
{
        _cleanup_config_ struct mon_config c = {};
        char host[256] = "";

        ck_assert_int_eq(mon_config_init(&c), 0);
        ck_assert_int_eq(gethostname(host, sizeof(host) - 1), 0);
        if (c.gateway_id)
                ck_assert_str_eq(c.gateway_id, host);
        ck_assert_str_eq(c.state_dir, MON_STATE_DIR_DEFAULT);
        ck_assert_str_eq(c.runtime_dir, MON_RUNTIME_DIR_DEFAULT);
        ck_assert_uint_eq(c.requote_interval_usec, 30000000);
        ck_assert_uint_eq(c.requote_jitter_usec, 5000000);
        ck_assert_str_eq(c.runtime_policy, "");
        ck_assert_int_eq(c.log_level, MON_LOG_INFO);
        ck_assert_ptr_null(c.verifier_url);
        ck_assert_ptr_null(c.verifier_ca);
        ck_assert_str_eq(c.enrollment_token_file, "");
        ck_assert_uint_eq(c.connect_timeout_usec, 5000000);
        ck_assert_uint_eq(c.request_timeout_usec, 30000000);
        ck_assert_uint_eq(c.retry_max_usec, 300000000);
        ck_assert(c.challenge_wait);
        ck_assert_str_eq(c.tcti, "device:/dev/tpmrm0");
        ck_assert_int_eq(c.ek_type, DW_TPM_KEY_RSA2048);
        ck_assert_uint_eq(c.ak_handle, 0x81010002);
        ck_assert_uint_eq(c.event_key_handle, 0x81010003);
        ck_assert_uint_eq(c.nv_index, 0x01800100);
        ck_assert(c.nv_owner_fallback);
        ck_assert_str_eq(c.ima_log, MON_IMA_LOG_DEFAULT);
        ck_assert_int_eq(c.ima_log_alg, DW_HASH_SHA1);
        ck_assert_uint_eq(c.ima_poll_usec, 1000000);
        ck_assert_str_eq(c.boot_log, MON_BOOT_LOG_DEFAULT);
        ck_assert_str_eq(c.ima_policy, MON_IMA_POLICY_DEFAULT);
        ck_assert_uint_eq(c.batch_max_events, 256);
        ck_assert_uint_eq(c.batch_delay_usec, 200000);
        ck_assert_uint_eq(c.spool_max_bytes, 64 * 1024 * 1024);
        ck_assert(c.drift_enable);
        ck_assert_str_eq(c.drift_tiers, "lsm fentry tracepoint");
        ck_assert_str_eq(c.drift_protected_paths, "/usr /etc /boot /lib /lib64 /bin /sbin");
        ck_assert(c.drift_hash_executables);
        ck_assert_uint_eq(c.drift_hash_cache_entries, 16384);
        ck_assert_uint_eq(c.drift_ring_buffer_bytes, 1024 * 1024);

        mon_config_done(&c);
        ck_assert_ptr_null(c.state_dir);
        mon_config_done(&c); /* twice is harmless */
}
END_TEST

START_TEST(test_every_key)
{
        static const char text[] = "# a comment\n"
                                   "; another comment\n"
                                   "\n"
                                   "[Monitor]\n"
                                   "GatewayId = gw_01.site-A\n"
                                   "  StateDirectory=/srv/dw/state  \n"
                                   "RuntimeDirectory\t=\t/run/dw\n"
                                   "RequoteIntervalSec=2min\n"
                                   "RequoteJitterSec=1.5s\r\n"
                                   "RuntimePolicy=/etc/driftwatch/policy.json\n"
                                   "LogLevel=debug\n"
                                   "[Verifier]\n"
                                   "URL=https://verifier.example.com:8443\n"
                                   "CAFile=/etc/driftwatch/ca.pem\n"
                                   "EnrollmentTokenFile=/etc/driftwatch/token\n"
                                   "ConnectTimeoutSec=2500ms\n"
                                   "RequestTimeoutSec=1min 30s\n"
                                   "RetryMaxSec=1h\n"
                                   "ChallengeWait=off\n"
                                   "[TPM]\n"
                                   "TCTI=swtpm:host=localhost,port=2321\n"
                                   "EKType=ecc384\n"
                                   "AKHandle=0x81000001\n"
                                   "EventKeyHandle=0X81FFFFFF\n"
                                   "NVIndex=0x01c10000\n"
                                   "NVOwnerFallback=false\n"
                                   "[IMA]\n"
                                   "Log=/sys/kernel/security/ima/binary_runtime_measurements_sha256\n"
                                   "LogDigest=sha256\n"
                                   "PollIntervalMSec=250\n"
                                   "BootLog=\n"
                                   "Policy=/etc/ima/ima-policy\n"
                                   "[Events]\n"
                                   "BatchMaxEvents=1024\n"
                                   "BatchDelayMSec=0\n"
                                   "SpoolMaxBytes=2G"; /* no final newline */
        _cleanup_config_ struct mon_config c = {};

        parse_ok(&c, text);
        ck_assert_str_eq(c.gateway_id, "gw_01.site-A");
        ck_assert_str_eq(c.state_dir, "/srv/dw/state");
        ck_assert_str_eq(c.runtime_dir, "/run/dw");
        ck_assert_uint_eq(c.requote_interval_usec, 120000000);
        ck_assert_uint_eq(c.requote_jitter_usec, 1500000);
        ck_assert_str_eq(c.runtime_policy, "/etc/driftwatch/policy.json");
        ck_assert_int_eq(c.log_level, MON_LOG_DEBUG);
        ck_assert_str_eq(c.verifier_url, "https://verifier.example.com:8443");
        ck_assert_str_eq(c.verifier_ca, "/etc/driftwatch/ca.pem");
        ck_assert_str_eq(c.enrollment_token_file, "/etc/driftwatch/token");
        ck_assert_uint_eq(c.connect_timeout_usec, 2500000);
        ck_assert_uint_eq(c.request_timeout_usec, 90000000);
        ck_assert_uint_eq(c.retry_max_usec, 3600000000);
        ck_assert(!c.challenge_wait);
        ck_assert_str_eq(c.tcti, "swtpm:host=localhost,port=2321");
        ck_assert_int_eq(c.ek_type, DW_TPM_KEY_ECC_P384);
        ck_assert_uint_eq(c.ak_handle, 0x81000001);
        ck_assert_uint_eq(c.event_key_handle, 0x81ffffff);
        ck_assert_uint_eq(c.nv_index, 0x01c10000);
        ck_assert(!c.nv_owner_fallback);
        ck_assert_str_eq(c.ima_log, "/sys/kernel/security/ima/binary_runtime_measurements_sha256");
        ck_assert_int_eq(c.ima_log_alg, DW_HASH_SHA256);
        ck_assert_uint_eq(c.ima_poll_usec, 250000);
        ck_assert_str_eq(c.boot_log, "");
        ck_assert_str_eq(c.ima_policy, "/etc/ima/ima-policy");
        ck_assert_uint_eq(c.batch_max_events, 1024);
        ck_assert_uint_eq(c.batch_delay_usec, 0);
        ck_assert_uint_eq(c.spool_max_bytes, 2ull << 30);
}
END_TEST

START_TEST(test_value_forms)
{
        static const struct {
                const char *value;
                uint64_t usec;
        } sec[] =
                {
                        {"30", 30000000},     {"30s", 30000000},       {"5min", 300000000},    {"2h", 7200000000},
                        {"1d", 86400000000},  {"1500ms", 1500000},     {"1.5", 1500000},       {"1 min 2 s", 62000000},
                        {"1m2s", 62000000},   {"3 seconds", 3000000},  {"2000000us", 2000000}, {"1.25h", 4500000000},
                        {"0.5min", 30000000}, {"1.0000019s", 1000001},
                },
          msec[] = {
                  {"10", 10000},    {"500ms", 500000}, {"1s", 1000000},   {"1min", 60000000},
                  {"0.5s", 500000}, {"12.5", 12500},   {"10msec", 10000},
          };
        static const struct {
                const char *value;
                uint64_t size;
        } sizes[] = {
                {"1048576", 1048576}, {"1024K", 1048576}, {"1M", 1048576},
                {"64M", 67108864},    {"3G", 3ull << 30}, {"1024G", 1ull << 40},
        };
        static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True"}, *const no[] = {"no", "false", "off",
                                                                                                   "0", "No"};

        for (size_t i = 0; i < ELEMENTSOF(sec); i++)
                ck_assert_msg(parse_timespan_key("RequoteIntervalSec", sec[i].value) == sec[i].usec, "%s",
                              sec[i].value);
        for (size_t i = 0; i < ELEMENTSOF(msec); i++)
                ck_assert_msg(parse_timespan_key("PollIntervalMSec", msec[i].value) == msec[i].usec, "%s",
                              msec[i].value);
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_config_ struct mon_config c = {};
                char text[128];

                snprintf(text, sizeof(text), "[Events]\nSpoolMaxBytes=%s\n", sizes[i].value);
                parse_ok(&c, text);
                ck_assert_uint_eq(c.spool_max_bytes, sizes[i].size);
        }
        for (size_t i = 0; i < ELEMENTSOF(yes) + ELEMENTSOF(no); i++) {
                _cleanup_config_ struct mon_config c = {};
                bool y = i < ELEMENTSOF(yes);
                char text[128];

                snprintf(text, sizeof(text), "[Verifier]\nChallengeWait=%s\n", y ? yes[i] : no[i - ELEMENTSOF(yes)]);
                parse_ok(&c, text);
                ck_assert_int_eq(c.challenge_wait, y);
        }
        {
                static const struct {
                        const char *name;
                        enum mon_log_level level;
                } levels[] = {{"err", MON_LOG_ERR},       {"error", MON_LOG_ERR}, {"warning", MON_LOG_WARNING},
                              {"notice", MON_LOG_NOTICE}, {"info", MON_LOG_INFO}, {"debug", MON_LOG_DEBUG}};

                for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                        _cleanup_config_ struct mon_config c = {};
                        char text[128];

                        snprintf(text, sizeof(text), "[Monitor]\nLogLevel=%s\n", levels[i].name);
                        parse_ok(&c, text);
                        ck_assert_int_eq(c.log_level, levels[i].level);
                }
        }
        {
                static const struct {
                        const char *name;
                        enum dw_tpm_key_type type;
                } types[] = {
                        {"rsa", DW_TPM_KEY_RSA2048}, {"ecc", DW_TPM_KEY_ECC_P256}, {"ecc384", DW_TPM_KEY_ECC_P384}};

                for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                        _cleanup_config_ struct mon_config c = {};
                        char text[128];

                        snprintf(text, sizeof(text), "[TPM]\nEKType=%s\n", types[i].name);
                        parse_ok(&c, text);
                        ck_assert_int_eq(c.ek_type, types[i].type);
                }
        }
        FOREACH_HASH_ALG (a) {
                _cleanup_config_ struct mon_config c = {};
                char text[128];

                snprintf(text, sizeof(text), "[IMA]\nLogDigest=%s\n", dw_hash_alg_name(a));
                parse_ok(&c, text);
                ck_assert_int_eq(c.ima_log_alg, a);
        }
        {
                static const char *const urls[] = {"https://v", "https://10.0.0.1:8443", "https://[::1]:443",
                                                   "https://[fe80::1]", "https://verifier-1.example.com:65535"};

                for (size_t i = 0; i < ELEMENTSOF(urls); i++) {
                        _cleanup_config_ struct mon_config c = {};
                        char text[128];

                        snprintf(text, sizeof(text), "[Verifier]\nURL=%s\n", urls[i]);
                        parse_ok(&c, text);
                        ck_assert_str_eq(c.verifier_url, urls[i]);
                }
        }
        {
                _cleanup_config_ struct mon_config c = {};

                parse_ok(&c, "[Monitor]\nGatewayId=Z\n"); /* 1 character */
                ck_assert_str_eq(c.gateway_id, "Z");
        }
}
END_TEST

/* ---- errors ------------------------------------------------------------------------------------------------- */

START_TEST(test_value_errors)
{
        char id65[70], text[128];

        value_fails("Monitor", "RequoteIntervalSec", "abc", "expected a time span (30, 30s, 5min, 2h, 500ms)");
        value_fails("Monitor", "RequoteIntervalSec", "", "expected a time span (30, 30s, 5min, 2h, 500ms)");
        value_fails("Monitor", "RequoteIntervalSec", "5 parsecs", "expected a time span (30, 30s, 5min, 2h, 500ms)");
        value_fails("Monitor", "RequoteIntervalSec", "-5", "expected a time span (30, 30s, 5min, 2h, 500ms)");
        value_fails("Monitor", "RequoteIntervalSec", "1.s", "expected a time span (30, 30s, 5min, 2h, 500ms)");
        value_fails("Monitor", "RequoteIntervalSec", "2d", "out of range (1s..1d)");
        value_fails("Monitor", "RequoteIntervalSec", "500ms", "out of range (1s..1d)");
        value_fails("Monitor", "RequoteIntervalSec", "0", "out of range (1s..1d)");
        value_fails("Monitor", "RequoteIntervalSec", "99999999999999999999999", "out of range (1s..1d)");
        value_fails("Monitor", "RequoteIntervalSec", "18446744073709551615w", "out of range (1s..1d)");
        value_fails("Monitor", "RequoteJitterSec", "25h", "out of range (0..1d)");
        value_fails("Verifier", "ConnectTimeoutSec", "6min", "out of range (1s..5min)");
        value_fails("Verifier", "RequestTimeoutSec", "2h", "out of range (1s..1h)");
        value_fails("Verifier", "RetryMaxSec", "0.5", "out of range (1s..1d)");
        value_fails("IMA", "PollIntervalMSec", "9", "out of range (10ms..1min)");
        value_fails("IMA", "PollIntervalMSec", "61s", "out of range (10ms..1min)");
        value_fails("Events", "BatchDelayMSec", "2min", "out of range (0..1min)");
        value_fails("Events", "BatchMaxEvents", "0", "out of range (1..1024)");
        value_fails("Events", "BatchMaxEvents", "1025", "out of range (1..1024)");
        value_fails("Events", "BatchMaxEvents", "99999999999999999999999", "out of range (1..1024)");
        value_fails("Events", "BatchMaxEvents", "12x", "expected a number");
        value_fails("Events", "BatchMaxEvents", "-1", "expected a number");
        value_fails("Events", "BatchMaxEvents", "0x10", "expected a number");
        value_fails("Events", "SpoolMaxBytes", "512K", "out of range (1M..1024G)");
        value_fails("Events", "SpoolMaxBytes", "1025G", "out of range (1M..1024G)");
        value_fails("Events", "SpoolMaxBytes", "99999999999G", "out of range (1M..1024G)");
        value_fails("Events", "SpoolMaxBytes", "10X", "expected a size (1048576, 64M, 1G)");
        value_fails("Events", "SpoolMaxBytes", "1MB", "expected a size (1048576, 64M, 1G)");
        value_fails("Events", "SpoolMaxBytes", "M", "expected a size (1048576, 64M, 1G)");
        value_fails("TPM", "AKHandle", "81010002", "expected a handle in hex (0x81010002)");
        value_fails("TPM", "AKHandle", "0x", "expected a handle in hex (0x81010002)");
        value_fails("TPM", "AKHandle", "0x8101000g", "expected a handle in hex (0x81010002)");
        value_fails("TPM", "AKHandle", "0x181010002", "out of range (0x81000000..0x81ffffff)");
        value_fails("TPM", "AKHandle", "0x01800100", "out of range (0x81000000..0x81ffffff)");
        value_fails("TPM", "EventKeyHandle", "0x82000000", "out of range (0x81000000..0x81ffffff)");
        value_fails("TPM", "NVIndex", "0x81010002", "out of range (0x01000000..0x01ffffff)");
        value_fails("TPM", "NVOwnerFallback", "maybe", "expected yes, no, true, false, on, off, 1 or 0");
        value_fails("Verifier", "ChallengeWait", "", "expected yes, no, true, false, on, off, 1 or 0");
        value_fails("TPM", "EKType", "dsa", "expected rsa, ecc or ecc384");
        value_fails("TPM", "TCTI", "", "expected a value");
        value_fails("IMA", "LogDigest", "md5", "expected sha1, sha256, sha384, sha512 or sm3");
        value_fails("Monitor", "LogLevel", "verbose", "expected err, warning, notice, info or debug");
        value_fails("Monitor", "LogLevel", "INFO", "expected err, warning, notice, info or debug");
        value_fails("Monitor", "StateDirectory", "var/lib/x", "expected an absolute path");
        value_fails("Monitor", "StateDirectory", "", "expected an absolute path");
        value_fails("IMA", "Log", "", "expected an absolute path");
        value_fails("Verifier", "CAFile", "ca.pem", "expected an absolute path");
        value_fails("IMA", "BootLog", "./bios", "expected an absolute path, or nothing for none");
        value_fails("IMA", "Policy", "", "expected an absolute path, or no");
        value_fails("IMA", "Policy", "off", "expected an absolute path, or no");
        value_fails("IMA", "Policy", "ima-policy", "expected an absolute path, or no");
        value_fails("Monitor", "RuntimePolicy", "policy.json", "expected an absolute path, or nothing for none");
        value_fails("Verifier", "URL", "http://verifier:8443", "expected https://HOST[:PORT] (no path)");
        value_fails("Verifier", "URL", "https://", "expected https://HOST[:PORT] (no path)");
        value_fails("Verifier", "URL", "https://verifier/v1", "expected https://HOST[:PORT] (no path)");
        value_fails("Verifier", "URL", "https://verifier:0", "expected https://HOST[:PORT] (no path)");
        value_fails("Verifier", "URL", "https://verifier:65536", "expected https://HOST[:PORT] (no path)");
        value_fails("Verifier", "URL", "https://verifier:", "expected https://HOST[:PORT] (no path)");
        value_fails("Verifier", "URL", "https://user@verifier", "expected https://HOST[:PORT] (no path)");
        value_fails("Verifier", "URL", "https://[::1", "expected https://HOST[:PORT] (no path)");
        value_fails("Verifier", "URL", "", "expected https://HOST[:PORT] (no path)");
        value_fails("Monitor", "GatewayId", "-gw",
                    "expected 1-64 characters of A-Z a-z 0-9 . _ - (not starting with "
                    ". or -)");
        value_fails("Monitor", "GatewayId", ".gw",
                    "expected 1-64 characters of A-Z a-z 0-9 . _ - (not starting with "
                    ". or -)");
        value_fails("Monitor", "GatewayId", "gw 1",
                    "expected 1-64 characters of A-Z a-z 0-9 . _ - (not starting "
                    "with . or -)");
        value_fails("Monitor", "GatewayId", "gw/1",
                    "expected 1-64 characters of A-Z a-z 0-9 . _ - (not starting "
                    "with . or -)");
        value_fails("Monitor", "GatewayId", "",
                    "expected 1-64 characters of A-Z a-z 0-9 . _ - (not starting with . "
                    "or -)");
        value_fails("Monitor", "GatewayId", "g\xc3\xa9",
                    "expected 1-64 characters of A-Z a-z 0-9 . _ - (not "
                    "starting with . or -)");
        memset(id65, 'a', 65);
        id65[65] = '\0';
        value_fails("Monitor", "GatewayId", id65,
                    "expected 1-64 characters of A-Z a-z 0-9 . _ - (not starting with "
                    ". or -)");
        id65[64] = '\0';
        snprintf(text, sizeof(text), "[Monitor]\nGatewayId=%s\n", id65);
        {
                _cleanup_config_ struct mon_config c = {};

                parse_ok(&c, text);
                ck_assert_str_eq(c.gateway_id, id65);
        }
}
END_TEST

START_TEST(test_syntax_errors)
{
        static const struct {
                const char *text;
                const char *msg;
        } cases[] = {
                {"[Foo]\n",
                 PATH ":1: unknown section [Foo] (expected [Monitor], [Verifier], [TPM], [IMA], [Events] or [Drift])"},
                {"[monitor]\n", PATH
                 ":1: unknown section [monitor] (expected [Monitor], [Verifier], [TPM], [IMA], [Events] or [Drift])"},
                {"[Monitor]\n[ Monitor ]\n", PATH
                 ":2: unknown section [ Monitor ] (expected [Monitor], [Verifier], [TPM], [IMA], [Events] or [Drift])"},
                {"[Monitor\n", PATH ":1: expected [Section] or Key=Value"},
                {"[]\n",
                 PATH ":1: unknown section [] (expected [Monitor], [Verifier], [TPM], [IMA], [Events] or [Drift])"},
                {"[Monitor]\ngarbage\n", PATH ":2: expected [Section] or Key=Value, not 'garbage'"},
                {"[Monitor]\n=value\n", PATH ":2: expected Key=Value, the key is missing"},
                {"GatewayId=gw\n[Monitor]\n", PATH ":1: GatewayId=: outside any section ([Section] first)"},
                {"# comment\n\nFoo=1\n", PATH ":3: Foo=: outside any section ([Section] first)"},
                {"[Monitor]\nFoo=1\n", PATH ":2: Foo=: unknown key in [Monitor]"},
                {"[Monitor]\nloglevel=info\n", PATH ":2: loglevel=: unknown key in [Monitor]"},
                {"[Monitor]\nLog=/x\n", PATH ":2: Log=: unknown key in [Monitor] (it belongs in [IMA])"},
                {"[IMA]\nURL=https://v\n", PATH ":2: URL=: unknown key in [IMA] (it belongs in [Verifier])"},
                {"[Monitor]\nLogLevel=info\n[IMA]\nLog=/x\n[Monitor]\nLogLevel=debug\n",
                 PATH ":6: LogLevel=: repeated (first given at line 2)"},
                {"[TPM]\nTCTI=a\nTCTI=a\n", PATH ":3: TCTI=: repeated (first given at line 2)"},
                {"[Monitor]\nLogLevel=info\x01\n", PATH ":2: control character in line"},
                {"[Monitor]\nLogLevel=in\rfo\n", PATH ":2: control character in line"},
                {"[Monitor]\nLogLevel=info\n[Events]\nBatchMaxEvents=2000",
                 PATH ":4: BatchMaxEvents=: out of range (1..1024)"},
                {"\n\n\n[Events]\r\nBatchMaxEvents=x\r\n", PATH ":5: BatchMaxEvents=: expected a number"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                parse_fails(cases[i].text, cases[i].msg);
}
END_TEST

START_TEST(test_file_errors)
{
        _cleanup_config_ struct mon_config c = {}, before = {};
        static const char nul[] = "[Monitor]\n# x\nLog\0Level=info\n";
        _cleanup_free_ char *big = NULL;
        struct dw_error err = {};
        size_t n = 1024 * 1024 + 1;

        ck_assert_int_eq(mon_config_init(&c), 0);
        ck_assert_int_eq(mon_config_init(&before), 0);

        ck_assert_int_eq(mon_config_parse(&c, PATH, nul, sizeof(nul) - 1, &err), -EINVAL);
        ck_assert_str_eq(err.msg, PATH ":3: NUL byte");
        ck_assert_uint_eq(err.index, 3);

        big = malloc(n);
        ck_assert_ptr_nonnull(big);
        memset(big, '#', n);
        big[0] = '\n';
        ck_assert_int_eq(mon_config_parse(&c, PATH, big, n, &err), -EINVAL);
        ck_assert_str_eq(err.msg, PATH ": larger than 1 MiB");
        /* exactly 1 MiB is fine */
        ck_assert_int_eq(mon_config_parse(&c, PATH, big, n - 1, &err), 0);
        ck_assert(config_equal(&c, &before));

        /* An empty file and a file of comments change nothing. */
        ck_assert_int_eq(mon_config_parse(&c, PATH, "", 0, &err), 0);
        ck_assert_int_eq(mon_config_parse(&c, PATH, NULL, 0, &err), 0);
        ck_assert_int_eq(parse_str(&c, "  # only\n;comments\n\n   \n", &err), 0);
        ck_assert(config_equal(&c, &before));
        /* A section with no keys is fine. */
        ck_assert_int_eq(parse_str(&c, "[Monitor]\n[TPM]\n", &err), 0);
        ck_assert(config_equal(&c, &before));
}
END_TEST

/* ---- override semantics ------------------------------------------------------------------------------------- */

START_TEST(test_override)
{
        _cleanup_config_ struct mon_config c = {};
        struct dw_error err = {};

        parse_ok(&c, "[Monitor]\nLogLevel=debug\nRequoteIntervalSec=1min\n[IMA]\nBootLog=\n");
        /* A second source changes only the keys it names, and may name the same keys again. */
        ck_assert_int_eq(parse_str(&c, "[Verifier]\nURL=https://v:1\n[Monitor]\nLogLevel=err\n", &err), 0);
        ck_assert_int_eq(c.log_level, MON_LOG_ERR);
        ck_assert_uint_eq(c.requote_interval_usec, 60000000);
        ck_assert_str_eq(c.boot_log, "");
        ck_assert_str_eq(c.verifier_url, "https://v:1");
        ck_assert_str_eq(c.ima_log, MON_IMA_LOG_DEFAULT);
        /* A string set again replaces the old one (no leak under ASan). */
        ck_assert_int_eq(parse_str(&c, "[Verifier]\nURL=https://w:2\n", &err), 0);
        ck_assert_str_eq(c.verifier_url, "https://w:2");
}
END_TEST

START_TEST(test_failed_parse_unchanged)
{
        _cleanup_config_ struct mon_config c = {}, before = {};
        struct dw_error err = {};
        static const char bad[] = "[Monitor]\n"
                                  "GatewayId=changed\n"
                                  "StateDirectory=/changed\n"
                                  "LogLevel=debug\n"
                                  "[Verifier]\n"
                                  "URL=https://changed\n"
                                  "CAFile=/changed.pem\n"
                                  "[TPM]\n"
                                  "AKHandle=0x81000009\n"
                                  "[Events]\n"
                                  "SpoolMaxBytes=5M\n"
                                  "BatchMaxEvents=0\n";

        parse_ok(&c, "[Verifier]\nURL=https://orig:8443\n[Monitor]\nGatewayId=orig\n");
        ck_assert_int_eq(mon_config_init(&before), 0);
        ck_assert_int_eq(parse_str(&before, "[Verifier]\nURL=https://orig:8443\n[Monitor]\nGatewayId=orig\n", &err), 0);
        ck_assert(config_equal(&c, &before));

        ck_assert_int_eq(parse_str(&c, bad, &err), -EINVAL);
        ck_assert_str_eq(err.msg, PATH ":12: BatchMaxEvents=: out of range (1..1024)");
        ck_assert(config_equal(&c, &before));
        ck_assert_str_eq(c.gateway_id, "orig");
        ck_assert_ptr_null(c.verifier_ca);
}
END_TEST

/* ---- set ---------------------------------------------------------------------------------------------------- */

START_TEST(test_set)
{
        _cleanup_config_ struct mon_config c = {}, before = {};
        static const struct {
                const char *assignment;
                const char *msg;
        } bad[] = {
                {"Log=/x", "Log=: expected Section.Key=Value"},
                {"IMA.Log", "IMA.Log: expected Section.Key=Value"},
                {"Foo.Bar=1", "Foo.Bar=: unknown section [Foo]"},
                {"IMA.Foo=1", "IMA.Foo=: unknown key in [IMA]"},
                {"Monitor.Log=/x", "Monitor.Log=: unknown key in [Monitor]"},
                {"IMA.Log=relative", "IMA.Log=: expected an absolute path"},
                {"Events.BatchMaxEvents=0", "Events.BatchMaxEvents=: out of range (1..1024)"},
                {"=1", "=: expected Section.Key=Value"},
        };
        static const char *const good[] = {"IMA.Log=/tmp/x",
                                           " IMA.Log = /tmp/y ",
                                           "Verifier.URL=https://v:443",
                                           "Monitor.RequoteIntervalSec=10",
                                           "TPM.TCTI=mssim:port=2321",
                                           "IMA.BootLog="};
        struct dw_error err = {};

        ck_assert_int_eq(mon_config_init(&c), 0);
        ck_assert_int_eq(mon_config_init(&before), 0);
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                ck_assert_msg(mon_config_set(&c, good[i], &err) == 0, "%s: %s", good[i], err.msg);
                ck_assert_int_eq(mon_config_set(&before, good[i], &err), 0);
        }
        ck_assert_str_eq(c.ima_log, "/tmp/y");
        ck_assert_str_eq(c.verifier_url, "https://v:443");
        ck_assert_uint_eq(c.requote_interval_usec, 10000000);
        ck_assert_str_eq(c.tcti, "mssim:port=2321"); /* '=' in the value */
        ck_assert_str_eq(c.boot_log, "");
        /* --set may repeat a key (the last one wins). */
        ck_assert_int_eq(mon_config_set(&c, "IMA.Log=/tmp/y", &err), 0);
        ck_assert(config_equal(&c, &before));

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_int_eq(mon_config_set(&c, bad[i].assignment, &err), -EINVAL);
                ck_assert_msg(strcmp(err.msg, bad[i].msg) == 0, "for %s: got \"%s\"", bad[i].assignment, err.msg);
                ck_assert(config_equal(&c, &before));
        }
}
END_TEST

/* ---- validate ----------------------------------------------------------------------------------------------- */

/* A config that validates: defaults plus the required keys. */
static void valid_config(struct mon_config *c)
{
        parse_ok(c, "[Monitor]\nGatewayId=gw-1\n[Verifier]\nURL=https://v:8443\nCAFile=/etc/ca.pem\n");
}

START_TEST(test_validate)
{
        static const struct {
                const char *set;
                const char *msg;
        } bad[] = {
                {"Monitor.RequoteJitterSec=30s", "RequoteJitterSec=: 30s, must be less than RequoteIntervalSec= (30s)"},
                {"Monitor.RequoteIntervalSec=1s", "RequoteJitterSec=: 5s, must be less than RequoteIntervalSec= (1s)"},
                {"TPM.EventKeyHandle=0x81010002", "EventKeyHandle=: 0x81010002 is also AKHandle="},
                {"Drift.RingBufferSize=96K", "RingBufferSize=: 96K is not a power of two"},
        };
        struct dw_error err = {};

        {
                _cleanup_config_ struct mon_config c = {};

                valid_config(&c);
                ck_assert_int_eq(mon_config_validate(&c, &err), 0);
                ck_assert_int_eq(mon_config_set(&c, "Monitor.RequoteJitterSec=0", &err), 0);
                ck_assert_int_eq(mon_config_validate(&c, &err), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_config_ struct mon_config c = {};

                valid_config(&c);
                ck_assert_int_eq(mon_config_set(&c, bad[i].set, &err), 0);
                ck_assert_int_eq(mon_config_validate(&c, &err), -EINVAL);
                ck_assert_str_eq(err.msg, bad[i].msg);
        }
        {
                _cleanup_config_ struct mon_config c = {};

                valid_config(&c);
                free(c.verifier_url);
                c.verifier_url = NULL;
                ck_assert_int_eq(mon_config_validate(&c, &err), -EINVAL);
                ck_assert_str_eq(err.msg, "URL=: not set (in [Verifier])");
                c.verifier_url = strdup("http://v:8443"); /* only possible by hand: parse refuses it */
                ck_assert_int_eq(mon_config_validate(&c, &err), -EINVAL);
                ck_assert_str_eq(err.msg, "URL=: expected https://HOST[:PORT] (no path)");
        }
        {
                _cleanup_config_ struct mon_config c = {};

                valid_config(&c);
                free(c.verifier_ca);
                c.verifier_ca = NULL;
                ck_assert_int_eq(mon_config_validate(&c, &err), -EINVAL);
                ck_assert_str_eq(err.msg, "CAFile=: not set (in [Verifier])");
        }
        {
                _cleanup_config_ struct mon_config c = {};

                valid_config(&c);
                free(c.gateway_id);
                c.gateway_id = NULL;
                ck_assert_int_eq(mon_config_validate(&c, &err), -EINVAL);
                ck_assert_str_eq(err.msg,
                                 "GatewayId=: not set (in [Monitor]); the host name is not a valid gateway id");
                c.gateway_id = strdup("bad id");
                ck_assert_int_eq(mon_config_validate(&c, &err), -EINVAL);
                ck_assert_str_eq(
                        err.msg,
                        "GatewayId=: expected 1-64 characters of A-Z a-z 0-9 . _ - (not starting with . or -)");
        }
        {
                _cleanup_config_ struct mon_config c = {};

                valid_config(&c);
                c.batch_max_events = 0; /* by hand */
                ck_assert_int_eq(mon_config_validate(&c, &err), -EINVAL);
                ck_assert_str_eq(err.msg, "BatchMaxEvents=: out of range (1..1024)");
                c.batch_max_events = 1;
                c.spool_max_bytes = 1000;
                ck_assert_int_eq(mon_config_validate(&c, &err), -EINVAL);
                ck_assert_str_eq(err.msg, "SpoolMaxBytes=: out of range (1M..1024G)");
        }
        {
                /* The defaults alone lack the verifier. */
                _cleanup_config_ struct mon_config c = {};

                ck_assert_int_eq(mon_config_init(&c), 0);
                ck_assert_int_eq(mon_config_set(&c, "Monitor.GatewayId=gw", &err), 0);
                ck_assert_int_eq(mon_config_validate(&c, &err), -EINVAL);
                ck_assert_str_eq(err.msg, "URL=: not set (in [Verifier])");
        }
}
END_TEST

/* ---- load --------------------------------------------------------------------------------------------------- */

START_TEST(test_load)
{
        _cleanup_config_ struct mon_config c = {};
        char dir[] = "/tmp/dw-config-XXXXXX", path[256], msg[512];
        struct dw_error err = {};
        FILE *f;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/monitor.conf", dir);
        ck_assert_int_eq(mon_config_init(&c), 0);

        ck_assert_int_eq(mon_config_load(&c, path, &err), -ENOENT);

        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs("[IMA]\nLog=/x\n[Events]\nBatchMaxEvents=7", f);
        fclose(f);
        ck_assert_int_eq(mon_config_load(&c, path, &err), 0);
        ck_assert_str_eq(c.ima_log, "/x");
        ck_assert_uint_eq(c.batch_max_events, 7);

        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs("[IMA]\nLog=/y\nLogDigest=crc32\n", f);
        fclose(f);
        ck_assert_int_eq(mon_config_load(&c, path, &err), -EINVAL);
        snprintf(msg, sizeof(msg), "%s:3: LogDigest=: expected sha1, sha256, sha384, sha512 or sm3", path);
        ck_assert_str_eq(err.msg, msg);
        ck_assert_str_eq(c.ima_log, "/x");

        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        for (int i = 0; i < 1024 * 1024 / 8 + 1; i++)
                fputs("#######\n", f);
        fclose(f);
        ck_assert_int_eq(mon_config_load(&c, path, &err), -EINVAL);
        snprintf(msg, sizeof(msg), "%s: larger than 1 MiB", path);
        ck_assert_str_eq(err.msg, msg);

        ck_assert_int_eq(mon_config_load(&c, dir, &err), -EISDIR);

        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- the key list, the documentation and the example ------------------------------------------------------ */

START_TEST(test_keys_documented)
{
        static const char *const sections[] = {"Monitor", "Verifier", "TPM", "IMA", "Events", "Drift"};
        _cleanup_free_ char *doc = NULL, *conf = NULL;
        const struct mon_config_key_doc *keys;
        size_t n, doc_size, conf_size, s = 0;

        keys = mon_config_keys(&n);
        ck_assert_uint_eq(n, 34);
        doc = srcdir_file("docs/monitor.md", &doc_size);
        conf = srcdir_file("monitor/monitor.conf", &conf_size);
        ck_assert_ptr_null(memchr(doc, 0, doc_size));
        ck_assert_ptr_null(memchr(conf, 0, conf_size));
        for (size_t i = 0; i < n; i++) {
                char pattern[128];

                /* in section order */
                while (s < ELEMENTSOF(sections) && strcmp(keys[i].section, sections[s]) != 0)
                        s++;
                ck_assert_msg(s < ELEMENTSOF(sections), "%s: section %s out of order", keys[i].name, keys[i].section);
                ck_assert(keys[i].doc && keys[i].doc[0]);
                ck_assert_ptr_nonnull(keys[i].def);

                snprintf(pattern, sizeof(pattern), "| `%s=` |", keys[i].name);
                ck_assert_msg(strstr(doc, pattern), "docs/monitor.md does not document %s=", keys[i].name);
                snprintf(pattern, sizeof(pattern), "\n#%s=", keys[i].name);
                ck_assert_msg(strstr(conf, pattern), "monitor/monitor.conf does not list %s=", keys[i].name);
        }
}
END_TEST

/* monitor.conf with every "#Key=" line uncommented parses, to the defaults for every key that has one. */
START_TEST(test_example_config)
{
        _cleanup_config_ struct mon_config c = {}, def = {};
        _cleanup_free_ char *conf = NULL;
        struct dw_error err = {};
        size_t size, w = 0;

        conf = srcdir_file("monitor/monitor.conf", &size);
        for (size_t i = 0; i < size; i++) {
                bool line_start = i == 0 || conf[i - 1] == '\n';

                if (line_start && conf[i] == '#' && i + 1 < size &&
                    ((conf[i + 1] >= 'A' && conf[i + 1] <= 'Z') || conf[i + 1] == '['))
                        continue;
                conf[w++] = conf[i];
        }
        ck_assert_int_eq(mon_config_init(&c), 0);
        ck_assert_int_eq(mon_config_init(&def), 0);
        ck_assert_msg(mon_config_parse(&c, "monitor.conf", conf, w, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(mon_config_validate(&c, &err), 0);
        /* the example values of the keys without a default */
        free(def.gateway_id);
        def.gateway_id = strdup(c.gateway_id);
        def.verifier_url = strdup(c.verifier_url);
        def.verifier_ca = strdup(c.verifier_ca);
        ck_assert(config_equal(&c, &def));
}
END_TEST

/* ---- mutations ---------------------------------------------------------------------------------------------- */

/* Random mutations of a valid config never crash and either parse or fail with a "test.conf:" message; a failed
 * parse leaves the config as it was. */
START_TEST(test_mutations)
{
        static const char base[] = "[Monitor]\nGatewayId=gw-1\nRequoteIntervalSec=1min 30s\nLogLevel=debug\n"
                                   "[Verifier]\nURL=https://[::1]:8443\nCAFile=/ca.pem\n[TPM]\nAKHandle=0x81000002\n"
                                   "[IMA]\nPollIntervalMSec=1.5s\n[Events]\nSpoolMaxBytes=16M\n";
        static const char alphabet[] = "[]=#;.:/ \t\r\n0123456789xabsmhKMGdw-_\x01\xff";
        unsigned seed = 12345;
        char buf[sizeof(base) + 8];

        for (int iter = 0; iter < 20000; iter++) {
                _cleanup_config_ struct mon_config c = {}, before = {};
                struct dw_error err = {};
                size_t len = sizeof(base) - 1;
                int r;

                memcpy(buf, base, len);
                for (int m = 0, n = 1 + rand_r(&seed) % 4; m < n; m++) {
                        size_t at = (size_t)rand_r(&seed) % len;

                        switch (rand_r(&seed) % 3) {
                        case 0:
                                buf[at] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
                                break;
                        case 1:
                                memmove(buf + at, buf + at + 1, len - at - 1);
                                len--;
                                break;
                        default:
                                len = at; /* truncate */
                        }
                        if (len == 0)
                                break;
                }
                ck_assert_int_eq(mon_config_init(&c), 0);
                ck_assert_int_eq(mon_config_init(&before), 0);
                /* an exact-size copy, so that ASan sees any overread */
                {
                        _cleanup_free_ char *exact = malloc(MAX(len, (size_t)1));

                        ck_assert_ptr_nonnull(exact);
                        memcpy(exact, buf, len);
                        r = mon_config_parse(&c, PATH, exact, len, &err);
                }
                if (r < 0) {
                        ck_assert_int_eq(r, -EINVAL);
                        ck_assert_msg(strncmp(err.msg, PATH ":", strlen(PATH ":")) == 0, "%s", err.msg);
                        ck_assert(config_equal(&c, &before));
                }
        }
}
END_TEST

/* [Drift]: the tier list and the path list. */
START_TEST(test_drift_keys)
{
        _cleanup_config_ struct mon_config c = {}, d = {};

        parse_ok(&c, "[Drift]\nTiers=tracepoint lsm\nProtectedPaths= /opt/app  /etc/x /srv\nEnable=no\n"
                     "RingBufferSize=64K\nHashCacheEntries=16\n");
        ck_assert_str_eq(c.drift_tiers, "tracepoint lsm");
        ck_assert_str_eq(c.drift_protected_paths, "/opt/app  /etc/x /srv");
        ck_assert(!c.drift_enable);
        ck_assert_uint_eq(c.drift_ring_buffer_bytes, 64 * 1024);
        parse_ok(&d, "[Drift]\nProtectedPaths=\n");
        ck_assert_str_eq(d.drift_protected_paths, "");

        value_fails("Drift", "Tiers", "lsm lsm",
                    "expected lsm, fentry and/or tracepoint, separated by spaces, each at most once");
        value_fails("Drift", "Tiers", "kprobe",
                    "expected lsm, fentry and/or tracepoint, separated by spaces, each at most once");
        value_fails("Drift", "Tiers", "",
                    "expected lsm, fentry and/or tracepoint, separated by spaces, each at most once");
        value_fails("Drift", "ProtectedPaths", "/usr etc",
                    "expected absolute paths separated by spaces (at most 32, of at most 254 bytes each)");
        value_fails("Drift", "RingBufferSize", "4K", "out of range (64K..1G)");
        value_fails("Drift", "HashCacheEntries", "8", "out of range (16..1048576)");
}
END_TEST

int main(void)
{
        Suite *s = suite_create("monitor-config");
        TCase *values = tcase_create("values"), *errors = tcase_create("errors"), *sem = tcase_create("semantics"),
              *docs = tcase_create("docs");
        SRunner *sr;
        int failed;

        tcase_add_test(values, test_defaults);
        tcase_add_test(values, test_every_key);
        tcase_add_test(values, test_value_forms);
        tcase_add_test(values, test_drift_keys);
        suite_add_tcase(s, values);

        tcase_add_test(errors, test_value_errors);
        tcase_add_test(errors, test_syntax_errors);
        tcase_add_test(errors, test_file_errors);
        tcase_add_test(errors, test_mutations);
        tcase_set_timeout(errors, 120);
        suite_add_tcase(s, errors);

        tcase_add_test(sem, test_override);
        tcase_add_test(sem, test_failed_parse_unchanged);
        tcase_add_test(sem, test_set);
        tcase_add_test(sem, test_validate);
        tcase_add_test(sem, test_load);
        suite_add_tcase(s, sem);

        tcase_add_test(docs, test_keys_documented);
        tcase_add_test(docs, test_example_config);
        suite_add_tcase(s, docs);

        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
