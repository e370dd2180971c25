/* SPDX-License-Identifier: MIT */
#pragma once

/* driftwatch-monitor's configuration: /etc/driftwatch/monitor.conf, systemd-style ("[Section]" headers, "Key=Value"
 * lines, '#' and ';' comments, whitespace around '=' and at line ends ignored), then command-line overrides. Every
 * key is documented in docs/monitor.md and listed by --help (mon_config_keys). An unknown section or key, a key
 * repeated in one file, a key outside its section, a bad value or a line that is not "Key=Value" is an error
 * naming FILE:LINE and the key; nothing of a config that fails is used (a reload that fails keeps the old one). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dw-error.h"
#include "hash.h"
#include "tpm-gateway.h"

#define MON_CONFIG_FILE_DEFAULT "/etc/driftwatch/monitor.conf"
#define MON_STATE_DIR_DEFAULT   "/var/lib/driftwatch-monitor"
#define MON_RUNTIME_DIR_DEFAULT "/run/driftwatch-monitor"
#define MON_IMA_LOG_DEFAULT     "/sys/kernel/security/ima/binary_runtime_measurements"
#define MON_BOOT_LOG_DEFAULT    "/sys/kernel/security/tpm0/binary_bios_measurements"
#define MON_IMA_POLICY_DEFAULT  "/sys/kernel/security/ima/policy"
#define MON_IMA_POLICY_ETC      "/etc/ima/ima-policy" /* what systemd loads at boot: the default's fallback */

#define MON_DRIFT_PROTECTED_DEFAULT "/usr /etc /boot /lib /lib64 /bin /sbin"
#define MON_DRIFT_TIERS_DEFAULT     "lsm fentry tracepoint"
#define MON_DRIFT_PATHS_MAX         32  /* ProtectedPaths= entries */
#define MON_DRIFT_PATH_LEN_MAX      254 /* bytes of one ProtectedPaths= entry (the kernel's prefix map holds 256) */

enum mon_log_level {
        MON_LOG_ERR = 3, /* syslog priorities */
        MON_LOG_WARNING = 4,
        MON_LOG_NOTICE = 5,
        MON_LOG_INFO = 6,
        MON_LOG_DEBUG = 7,
};

struct mon_config {
        /* [Monitor] */
        char *gateway_id;               /* GatewayId= (default: the host name, if it is a valid gateway id) */
        char *state_dir;                /* StateDirectory= (enrollment, TLS key, spool) */
        char *runtime_dir;              /* RuntimeDirectory= (per-boot state: the event chain) */
        uint64_t requote_interval_usec; /* RequoteIntervalSec= 30 */
        uint64_t requote_jitter_usec;   /* RequoteJitterSec= 5: each interval is +- a random part of this */
        char *runtime_policy;           /* RuntimePolicy= local copy of the allowlist; "" = none (no local judging) */
        enum mon_log_level log_level;   /* LogLevel= err|warning|notice|info|debug (info) */

        /* [Verifier] */
        char *verifier_url;            /* URL= https://HOST:PORT (required) */
        char *verifier_ca;             /* CAFile= the verifier's CA (PEM), pinned (required) */
        char *enrollment_token_file;   /* EnrollmentTokenFile= bootstrap token for enrollment ("" = none) */
        uint64_t connect_timeout_usec; /* ConnectTimeoutSec= 5 */
        uint64_t request_timeout_usec; /* RequestTimeoutSec= 30 */
        uint64_t retry_max_usec;       /* RetryMaxSec= 300: the longest back-off between attempts */
        bool challenge_wait;           /* ChallengeWait= yes: keep a long poll open so the verifier can ask for a
                                        * round at once */

        /* [TPM] */
        char *tcti;                   /* TCTI= device:/dev/tpmrm0 */
        enum dw_tpm_key_type ek_type; /* EKType= rsa|ecc|ecc384 (rsa) */
        uint32_t ak_handle;           /* AKHandle= 0x81010002 */
        uint32_t event_key_handle;    /* EventKeyHandle= 0x81010003 */
        uint32_t nv_index;            /* NVIndex= 0x01800100 */
        bool nv_owner_fallback;       /* NVOwnerFallback= yes: use an owner NV index when the platform hierarchy is
                                       * disabled (as firmware usually does) */

        /* [IMA] */
        char *ima_log;                /* Log= MON_IMA_LOG_DEFAULT */
        enum dw_hash_alg ima_log_alg; /* LogDigest= sha1: the template digest bank of Log= (sha256 for
                                       * binary_runtime_measurements_sha256) */
        uint64_t ima_poll_usec;       /* PollIntervalMSec= 1000 (securityfs has no inotify) */
        char *boot_log;               /* BootLog= MON_BOOT_LOG_DEFAULT ("" = none) */
        char *ima_policy;             /* Policy= MON_IMA_POLICY_DEFAULT: the expected IMA policy, for the cross-check
                                       * of executions against the log ("no" = off) */

        /* [Events] */
        uint64_t batch_max_events; /* BatchMaxEvents= 256 (1..1024) */
        uint64_t batch_delay_usec; /* BatchDelayMSec= 200: how long an event waits for others to share a batch */
        uint64_t spool_max_bytes;  /* SpoolMaxBytes= 64M (suffixes K, M, G: 1024-based) */

        /* [Drift] (eBPF drift detection, monitor/drift.h) */
        bool drift_enable;                 /* Enable= yes */
        char *drift_tiers;                 /* Tiers= the hook tiers that may be used: lsm, fentry, tracepoint */
        char *drift_protected_paths;       /* ProtectedPaths= absolute paths separated by spaces ("" = none); the
                                            * monitor's own directories and configuration are always added */
        bool drift_hash_executables;       /* HashExecutables= yes: hash executed files, judge them (RuntimePolicy=) */
        uint64_t drift_hash_cache_entries; /* HashCacheEntries= 16384 */
        uint64_t drift_ring_buffer_bytes;  /* RingBufferSize= 8M (a power of two) */
};

/* The defaults above (strings malloc'd; gateway_id from the host name or NULL). */
int mon_config_init(struct mon_config *ret);
void mon_config_done(struct mon_config *c);

/* Parses text (the contents of path, for messages) over the values already in c: only keys present change. On
 * error c is unchanged, -EINVAL (or -ENOMEM) and err says "PATH:LINE: Key=: why". */
int mon_config_parse(struct mon_config *c, const char *path, const char *text, size_t len, struct dw_error *err);
/* Reads and parses path. A missing file is -ENOENT (the caller decides whether the default path may be absent). */
int mon_config_load(struct mon_config *c, const char *path, struct dw_error *err);
/* One "Section.Key=Value" override (the command line's --set), same errors. */
int mon_config_set(struct mon_config *c, const char *assignment, struct dw_error *err);
/* After all sources: required keys present and values consistent (URL https://, CA set, gateway id valid...). */
int mon_config_validate(const struct mon_config *c, struct dw_error *err);

struct mon_config_key_doc {
        const char *section;
        const char *name;
        const char *def; /* the default as text */
        const char *doc; /* one line */
};
/* Every key, in section order; n_ret the count. */
const struct mon_config_key_doc *mon_config_keys(size_t *ret_n);
