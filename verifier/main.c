/* SPDX-License-Identifier: MIT */
/* driftwatch-verifier: attests a fleet of gateways continuously (docs/verifier.md, docs/protocol.md). */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "api.h"
#include "fileio.h"
#include "hex.h"
#include "http.h"
#include "log.h"
#include "round.h"
#include "util.h"
#include "version.h"

#define MAINTENANCE_INTERVAL_USEC (5 * 1000000u)
#define NONCE_MEMORY_USEC         (600 * 1000000ull) /* expired nonces are told so for this long */
#define CLEANUP_INTERVAL_USEC     (60 * 1000000u)    /* at most; more often for retentions under two intervals */
#define CLEANUP_BATCH             500                /* rows per transaction */
#define CLEANUP_BATCHES           200                /* transactions per table and run */
#define TOKEN_MIN                 16

struct options {
        const char *config;
        bool config_given;
        const char *port_file;
        bool check_config;
        char **overrides; /* "key=value" */
        size_t n_overrides;
        const char **origins;
};

static void help(void)
{
        const struct vf_config_key_doc *keys;
        size_t n;

        printf("Usage: driftwatch-verifier [OPTIONS]\n"
               "\n"
               "Attests gateways continuously: enrollment with their TPM, nonce-fresh quotes, incremental IMA\n"
               "replay against runtime policies, measured boot against boot policies, verdicts and signed\n"
               "attestation result tokens. HTTPS only (mutual TLS for gateways); see docs/verifier.md and\n"
               "docs/protocol.md.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE        configuration file (default " VF_CONFIG_FILE_DEFAULT "; a missing\n"
               "                           default file means built-in defaults)\n"
               "  -s, --set KEY=VALUE      override a configuration key (repeatable)\n"
               "      --state-dir DIR      same as --set state_dir=DIR\n"
               "      --database FILE      same as --set database=FILE\n"
               "      --listen ADDRESS     same as --set listen_address=ADDRESS\n"
               "      --port PORT          same as --set port=PORT\n"
               "      --ek-ca-bundle FILE  same as --set ek_ca_bundle=FILE\n"
               "      --log-level LEVEL    same as --set log_level=LEVEL\n"
               "      --port-file FILE     write the port listened on to FILE once listening (for port 0)\n"
               "      --check-config       check the configuration, print it, and exit\n"
               "  -h, --help               this help\n"
               "      --version            print the version\n"
               "\n"
               "Configuration keys (KEY = VALUE lines; durations like 30s, 5m, 2h, 365d; sizes like 64K, 16M):\n");
        keys = vf_config_keys(&n);
        for (size_t i = 0; i < n; i++)
                printf("  %-24s %s%s%s%s\n", keys[i].name, keys[i].doc, keys[i].def[0] ? " (default: " : "",
                       keys[i].def, keys[i].def[0] ? ")" : "");
        printf("\nExit status: 0 after a clean shutdown (SIGTERM, SIGINT), 1 when it cannot start.\n");
}

enum {
        OPT_STATE_DIR = 0x100,
        OPT_DATABASE,
        OPT_LISTEN,
        OPT_PORT,
        OPT_EK_CA_BUNDLE,
        OPT_LOG_LEVEL,
        OPT_PORT_FILE,
        OPT_CHECK_CONFIG,
        OPT_VERSION,
};

static const struct {
        int opt;
        const char *key;
        const char *origin;
} shorthand[] = {
        {OPT_STATE_DIR, "state_dir", "--state-dir"},          {OPT_DATABASE, "database", "--database"},
        {OPT_LISTEN, "listen_address", "--listen"},           {OPT_PORT, "port", "--port"},
        {OPT_EK_CA_BUNDLE, "ek_ca_bundle", "--ek-ca-bundle"}, {OPT_LOG_LEVEL, "log_level", "--log-level"},
};

static int add_override(struct options *o, const char *key, const char *value, const char *origin)
{
        char **p = realloc(o->overrides, (o->n_overrides + 1) * sizeof(char *));
        const char **q;

        if (!p)
                return -ENOMEM;
        o->overrides = p;
        q = realloc(o->origins, (o->n_overrides + 1) * sizeof(char *));
        if (!q)
                return -ENOMEM;
        o->origins = q;
        p[o->n_overrides] = key ? vf_strprintf("%s=%s", key, value) : strdup(value);
        if (!p[o->n_overrides])
                return -ENOMEM;
        q[o->n_overrides++] = origin;
        return 0;
}

static void options_done(struct options *o)
{
        for (size_t i = 0; i < o->n_overrides; i++)
                free(o->overrides[i]);
        free(o->overrides);
        free(o->origins);
}

static int parse_options(int argc, char **argv, struct options *o)
{
        static const struct option long_options[] = {
                {"config", required_argument, NULL, 'c'},
                {"set", required_argument, NULL, 's'},
                {"state-dir", required_argument, NULL, OPT_STATE_DIR},
                {"database", required_argument, NULL, OPT_DATABASE},
                {"listen", required_argument, NULL, OPT_LISTEN},
                {"port", required_argument, NULL, OPT_PORT},
                {"ek-ca-bundle", required_argument, NULL, OPT_EK_CA_BUNDLE},
                {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
                {"port-file", required_argument, NULL, OPT_PORT_FILE},
                {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {},
        };
        int c, r;

        *o = (struct options){.config = VF_CONFIG_FILE_DEFAULT};
        while ((c = getopt_long(argc, argv, "c:s:h", long_options, NULL)) >= 0) {
                r = 0;
                switch (c) {
                case 'c':
                        o->config = optarg;
                        o->config_given = true;
                        break;
                case 's':
                        r = add_override(o, NULL, optarg, "--set");
                        break;
                case OPT_PORT_FILE:
                        o->port_file = optarg;
                        break;
                case OPT_CHECK_CONFIG:
                        o->check_config = true;
                        break;
                case 'h':
                        help();
                        exit(0);
                case OPT_VERSION:
                        printf("driftwatch-verifier %s\n", VF_VERSION);
                        exit(0);
                default:
                        for (size_t i = 0; i < ELEMENTSOF(shorthand); i++)
                                if (shorthand[i].opt == c)
                                        r = add_override(o, shorthand[i].key, optarg, shorthand[i].origin);
                        if (c == '?')
                                return -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        if (optind != argc) {
                fprintf(stderr, "driftwatch-verifier: unexpected argument '%s' (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        return 0;
}

static int load_config(const struct options *o, struct vf_config *cfg)
{
        char msg[700];
        int r;

        r = vf_config_init(cfg);
        if (r < 0)
                return r;
        r = vf_config_load_file(cfg, o->config, msg, sizeof(msg));
        if (r == -ENOENT && !o->config_given)
                r = 0;
        else if (r == -ENOENT)
                snprintf(msg, sizeof(msg), "%s: no such file", o->config);
        for (size_t i = 0; r == 0 && i < o->n_overrides; i++) {
                char *eq = strchr(o->overrides[i], '=');

                if (!eq) {
                        snprintf(msg, sizeof(msg), "%s %s: expected KEY=VALUE", o->origins[i], o->overrides[i]);
                        r = -EINVAL;
                        break;
                }
                *eq = '\0';
                r = vf_config_set(cfg, o->overrides[i], eq + 1, o->origins[i], msg, sizeof(msg));
                *eq = '=';
        }
        if (r == 0)
                r = vf_config_finish(cfg, msg, sizeof(msg));
        if (r < 0)
                fprintf(stderr, "driftwatch-verifier: %s\n", msg);
        return r;
}

static void print_config(const struct vf_config *cfg)
{
        printf("state_dir = %s\ndatabase = %s\nlisten_address = %s\nport = %" PRIu64 "\nserver_names = %s\n"
               "verifier_id = %s\nek_ca_bundle = %s\nek_crl = %s\nenrollment_token_file = %s\n"
               "admin_token_file = %s\nread_token_file = %s\ndefault_group = %s\npcr_bank = %s\n"
               "nonce_lifetime = %" PRIu64 "s\nenrollment_lifetime = %" PRIu64 "s\ntoken_lifetime = %" PRIu64
               "s\nattestation_deadline = %" PRIu64 "s\nclient_cert_lifetime = %" PRIu64
               "s\nconnection_timeout = %" PRIu64 "s\nmax_request_size = %" PRIu64 "\nmax_connections = %" PRIu64
               "\nhttp_threads = %" PRIu64 "\nverdict_history = %" PRIu64 "\nevent_retention = %" PRIu64
               "s\nnonce_retention = %" PRIu64 "s\nrequire_runtime_policy = %s\n",
               cfg->state_dir, cfg->database, cfg->listen_address, cfg->port, cfg->server_names, cfg->verifier_id,
               cfg->ek_ca_bundle ?: "", cfg->ek_crl ?: "", cfg->enrollment_token_file ?: "", cfg->admin_token_file,
               cfg->read_token_file ?: "", cfg->default_group, cfg->pcr_bank, cfg->nonce_lifetime,
               cfg->enrollment_lifetime, cfg->token_lifetime, cfg->attestation_deadline, cfg->client_cert_lifetime,
               cfg->connection_timeout, cfg->max_request_size, cfg->max_connections, cfg->http_threads,
               cfg->verdict_history, cfg->event_retention, cfg->nonce_retention,
               cfg->require_runtime_policy ? "yes" : "no");
}

/* ---- startup ------------------------------------------------------------------------------------------------- */

_printf_(1, 2) static int startup_error(const char *fmt, ...)
{
        char msg[800];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        vf_log(VF_LOG_ERROR, "startup-failed", "%s", msg);
        return -EINVAL;
}

static bool is_set(const char *s)
{
        return s && s[0] != '\0';
}

/* A token file: its first line, at least TOKEN_MIN characters. */
static int read_token(const char *key, const char *path, char **ret)
{
        _cleanup_free_ uint8_t *data = NULL;
        size_t size, n;
        int r;

        r = dw_read_full_file(path, 4096, &data, &size);
        if (r < 0)
                return startup_error("%s %s: cannot read: %s", key, path, strerror(-r));
        for (n = 0; n < size && data[n] != '\n' && data[n] != '\r'; n++)
                ;
        if (n < TOKEN_MIN)
                return startup_error("%s %s: the token must be at least %d characters", key, path, TOKEN_MIN);
        *ret = strndup((const char *)data, n);
        OPENSSL_cleanse(data, size);
        return *ret ? 0 : -ENOMEM;
}

/* The admin token: read, or made on first start (32 random bytes in hex, 0600). */
static int admin_token(const struct vf_config *cfg, char **ret)
{
        uint8_t raw[32];
        char hex[65], line[66];
        struct stat st;
        int r;

        if (stat(cfg->admin_token_file, &st) == 0 || errno != ENOENT)
                return read_token("admin_token_file", cfg->admin_token_file, ret);
        r = vf_random_bytes(raw, sizeof(raw));
        if (r < 0)
                return startup_error("no randomness for the admin token");
        snprintf(line, sizeof(line), "%s\n", dw_hex_encode(raw, sizeof(raw), hex));
        r = vf_write_file_atomic(cfg->admin_token_file, line, strlen(line), 0600);
        if (r < 0)
                return startup_error("admin_token_file %s: cannot write: %s", cfg->admin_token_file, strerror(-r));
        vf_log_json(VF_LOG_INFO, "admin-token-created", json_pack("{s:s}", "path", cfg->admin_token_file));
        *ret = strdup(hex);
        OPENSSL_cleanse(line, sizeof(line));
        return *ret ? 0 : -ENOMEM;
}

static int tokens_load(struct verifier *v)
{
        const struct vf_config *cfg = v->cfg;
        int r;

        r = admin_token(cfg, &v->admin_token);
        if (r == 0 && is_set(cfg->read_token_file))
                r = read_token("read_token_file", cfg->read_token_file, &v->read_token);
        if (r == 0 && is_set(cfg->enrollment_token_file))
                r = read_token("enrollment_token_file", cfg->enrollment_token_file, &v->enrollment_token);
        return r;
}

static int ek_trust_load(struct verifier *v)
{
        const struct vf_config *cfg = v->cfg;
        _cleanup_free_ uint8_t *ca = NULL, *crl = NULL;
        struct dw_error err = {};
        size_t ca_size, crl_size = 0;
        int r;

        if (!is_set(cfg->ek_ca_bundle)) {
                vf_log(VF_LOG_WARNING, "enrollment-disabled", "ek_ca_bundle is not set: gateways cannot enroll");
                return 0;
        }
        r = dw_read_full_file(cfg->ek_ca_bundle, 16 * 1024 * 1024, &ca, &ca_size);
        if (r < 0)
                return startup_error("ek_ca_bundle %s: cannot read: %s", cfg->ek_ca_bundle, strerror(-r));
        if (is_set(cfg->ek_crl)) {
                r = dw_read_full_file(cfg->ek_crl, 64 * 1024 * 1024, &crl, &crl_size);
                if (r < 0)
                        return startup_error("ek_crl %s: cannot read: %s", cfg->ek_crl, strerror(-r));
        }
        r = dw_ek_trust_new(ca, ca_size, crl, crl_size, &v->ek_trust, &err);
        if (r < 0)
                return startup_error("ek_ca_bundle %s: %s", cfg->ek_ca_bundle, err.msg);
        return 0;
}

/* policy_signing_keys: every public key of the PEM file (at least one). */
static int policy_keys_load(struct verifier *v)
{
        const char *path = v->cfg->policy_signing_keys;
        BIO *bio;
        EVP_PKEY *key;

        if (!is_set(path))
                return 0;
        bio = BIO_new_file(path, "r");
        if (!bio)
                return startup_error("policy_signing_keys %s: cannot read", path);
        while ((key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL))) {
                EVP_PKEY **k = realloc(v->policy_keys, (v->n_policy_keys + 1) * sizeof(*k));

                if (!k) {
                        EVP_PKEY_free(key);
                        break;
                }
                v->policy_keys = k;
                v->policy_keys[v->n_policy_keys++] = key;
        }
        BIO_free(bio);
        ERR_clear_error(); /* the end of the file reads as an error */
        if (v->n_policy_keys == 0)
                return startup_error("policy_signing_keys %s: no PEM public key in it", path);
        vf_log(VF_LOG_INFO, "policy-signing", "runtime policy uploads must be signed by one of %zu keys",
               v->n_policy_keys);
        return 0;
}

static int start(struct verifier *v)
{
        const struct vf_config *cfg = v->cfg;
        char msg[700];
        int r;

        r = vf_mkdir(cfg->state_dir, 0700);
        if (r < 0)
                return startup_error("state_dir %s: cannot create: %s", cfg->state_dir, strerror(-r));
        r = tokens_load(v);
        if (r == 0)
                r = ek_trust_load(v);
        if (r == 0)
                r = policy_keys_load(v);
        if (r < 0)
                return r;
        r = vf_store_open(cfg->database, &v->store, msg, sizeof(msg));
        if (r < 0)
                return startup_error("database %s: %s", cfg->database, msg);
        r = vf_pki_load_or_create(cfg->state_dir, cfg->server_names, cfg->verifier_id, &v->pki, msg, sizeof(msg));
        if (r < 0)
                return startup_error("%s", msg);
        r = vf_metrics_new(&v->metrics);
        if (r == 0)
                r = vf_events_new(&v->events);
        if (r == 0)
                r = vf_policy_cache_new(v->store, &v->policies);
        if (r == 0)
                r = vf_challenges_new(&v->challenges);
        if (r == 0)
                r = vf_nonces_new(&v->nonces);
        if (r == 0)
                r = vf_timers_new(&v->timers);
        return r;
}

static void stop(struct verifier *v)
{
        vf_timers_free(v->timers);
        vf_challenges_free(v->challenges);
        vf_nonces_free(v->nonces);
        vf_policy_cache_free(v->policies);
        vf_events_free(v->events);
        vf_metrics_free(v->metrics);
        vf_pki_free(v->pki);
        vf_store_close(v->store);
        dw_ek_trust_free(v->ek_trust);
        for (size_t i = 0; i < v->n_policy_keys; i++)
                EVP_PKEY_free(v->policy_keys[i]);
        free(v->policy_keys);
        free(v->admin_token);
        free(v->read_token);
        free(v->enrollment_token);
}

/* ---- maintenance --------------------------------------------------------------------------------------------- */

/* Gateways without fresh evidence within attestation_deadline become unknown (unless sticky failures keep them
 * untrusted). */
static void expire_stale(struct verifier *v)
{
        uint64_t now = vf_now_usec(), max_age = v->cfg->attestation_deadline * 1000000u;
        struct vf_stale_gateway *list = NULL;
        size_t n = 0;
        char since[32], reasons[256];

        if (vf_store_stale_gateways(v->store, now - max_age, &list, &n) < 0)
                return;
        snprintf(reasons, sizeof(reasons),
                 "[{\"kind\":\"no_fresh_evidence\",\"sticky\":false,\"message\":\"no verdict since %s "
                 "(attestation_deadline)\"}]",
                 vf_format_time(now - max_age, since, sizeof(since)));
        for (size_t i = 0; i < n; i++) {
                struct vf_verdict_record rec = {.time = now, .verdict = VF_STATUS_UNKNOWN, .reasons = reasons};
                enum vf_status st, previous;

                if (vf_round_state_status(list[i].state, list[i].state_size, now, max_age, &st) < 0 ||
                    st != VF_STATUS_UNKNOWN)
                        continue;
                if (vf_store_verdict_add_if(v->store, list[i].id, list[i].last_verdict_at, &rec,
                                            v->cfg->verdict_history, &previous) < 0)
                        continue;
                if (previous != VF_STATUS_UNKNOWN) {
                        _cleanup_(json_decrefp) json_t *j = json_loads(reasons, 0, NULL);

                        vf_verdict_changed(v, list[i].id, previous, VF_STATUS_UNKNOWN, j);
                }
        }
        vf_stale_gateways_free(list, n);
}

/* How often retention runs: every CLEANUP_INTERVAL_USEC, or twice per retention when that is shorter. */
static uint64_t cleanup_interval(const struct vf_config *cfg)
{
        uint64_t shortest = MIN(cfg->event_retention, cfg->nonce_retention) * 1000000u / 2;

        return MAX(MIN(shortest, CLEANUP_INTERVAL_USEC), 1000000u);
}

/* Deletes what is past retention: used and expired nonces, runtime events, expired pending enrollments (verdicts
 * are capped per gateway as they are added: verdict_history). */
static void cleanup(struct verifier *v)
{
        const struct vf_config *cfg = v->cfg;
        uint64_t now = vf_now_usec();
        struct vf_cleanup_counts n = {};

        if (vf_store_cleanup(v->store,
                             &(struct vf_cleanup){
                                     .nonces_before = now - MIN(now, cfg->nonce_retention * 1000000u),
                                     .events_before = now - MIN(now, cfg->event_retention * 1000000u),
                                     .enrollments_before = now,
                                     .batch = CLEANUP_BATCH,
                                     .max_batches = CLEANUP_BATCHES,
                             },
                             &n) < 0)
                return;
        if (n.nonces + n.events + n.enrollments > 0)
                vf_log_json(VF_LOG_INFO, "cleanup",
                            json_pack("{s:I, s:I, s:I, s:b}", "nonces", (json_int_t)n.nonces, "events",
                                      (json_int_t)n.events, "enrollments", (json_int_t)n.enrollments, "more", n.more));
}

static int write_port_file(const char *path, uint16_t port)
{
        char text[16];

        snprintf(text, sizeof(text), "%u\n", port);
        return vf_write_file_atomic(path, text, strlen(text), 0644);
}

/* Waits for SIGTERM/SIGINT, doing the periodic work meanwhile. */
static void run(struct verifier *v, const sigset_t *signals)
{
        uint64_t last_expire = 0, last_cleanup = 0, cleanup_every = cleanup_interval(v->cfg);

        for (;;) {
                struct timespec timeout = {.tv_sec = 1};
                siginfo_t si;
                uint64_t now;
                int sig = sigtimedwait(signals, &si, &timeout);

                if (sig == SIGTERM || sig == SIGINT) {
                        vf_log(VF_LOG_INFO, "stopping", "signal %d", sig);
                        return;
                }
                now = vf_monotonic_usec();
                if (now - last_expire >= MAINTENANCE_INTERVAL_USEC) {
                        expire_stale(v);
                        vf_nonces_prune(v->nonces, vf_now_usec() - NONCE_MEMORY_USEC);
                        last_expire = now;
                }
                if (last_cleanup == 0 || now - last_cleanup >= cleanup_every) {
                        cleanup(v);
                        last_cleanup = vf_monotonic_usec();
                }
        }
}

static int serve(struct verifier *v, const struct options *o, const sigset_t *signals)
{
        struct vf_http *http = NULL;
        uint16_t port;
        char msg[300];
        int r;

        r = vf_http_start(v, vf_routes, vf_n_routes, &http, &port, msg, sizeof(msg));
        if (r < 0)
                return startup_error("%s", msg);
        if (o->port_file) {
                r = write_port_file(o->port_file, port);
                if (r < 0) {
                        vf_http_stop(http);
                        return startup_error("--port-file %s: cannot write: %s", o->port_file, strerror(-r));
                }
        }
        vf_log_json(VF_LOG_INFO, "started",
                    json_pack("{s:s, s:s, s:i, s:s, s:b, s:b}", "version", VF_VERSION, "listen", v->cfg->listen_address,
                              "port", (int)port, "state_dir", v->cfg->state_dir, "enrollment", v->ek_trust != NULL,
                              "enrollment_token", v->enrollment_token != NULL));
        run(v, signals);
        v->stopping = true;
        vf_events_shutdown(v->events);
        vf_challenges_shutdown(v->challenges); /* long polls end now, not when their wait is up */
        vf_http_stop(http);
        vf_log(VF_LOG_INFO, "stopped", "clean shutdown");
        return 0;
}

int main(int argc, char **argv)
{
        _cleanup_(options_done) struct options o = {};
        _cleanup_(vf_config_done) struct vf_config cfg = {};
        struct verifier v = {.cfg = &cfg};
        sigset_t signals;
        int r;

        if (parse_options(argc, argv, &o) < 0)
                return 1;
        if (load_config(&o, &cfg) < 0)
                return 1;
        if (o.check_config) {
                print_config(&cfg);
                return 0;
        }
        vf_log_set_level(cfg.log_level);
        /* Every thread (log writer, checkpoints, HTTP) inherits the blocked signals; only run() takes them. */
        sigemptyset(&signals);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &signals, NULL);
        signal(SIGPIPE, SIG_IGN);
        (void)vf_log_start(); /* without the thread, lines are written directly */
        r = start(&v);
        if (r == 0)
                r = serve(&v, &o, &signals);
        stop(&v);
        vf_log_stop();
        return r < 0 ? 1 : 0;
}
