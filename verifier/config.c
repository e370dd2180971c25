/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

enum key_type {
        KEY_STRING,
        KEY_PATH,
        KEY_NAME,
        KEY_DURATION,
        KEY_SIZE,
        KEY_UINT,
        KEY_PORT,
        KEY_BOOL,
        KEY_LOG_LEVEL,
        KEY_BANK,
};

struct key_def {
        struct vf_config_key_doc doc;
        enum key_type type;
        size_t offset;
        uint64_t max; /* KEY_UINT */
};

#define FIELD(f) offsetof(struct vf_config, f)

/* Defaults are text, parsed like values from the file, so the documentation and the behaviour cannot disagree. */
static const struct key_def keys[] = {
        {{"state_dir", VF_STATE_DIR_DEFAULT,
          "directory of the database, the CA, the server and token-signing keys and the generated admin token"},
         KEY_PATH,
         FIELD(state_dir),
         0},
        {{"database", "STATE_DIR/verifier.db", "SQLite database file (WAL mode)"}, KEY_PATH, FIELD(database), 0},
        {{"listen_address", "0.0.0.0", "IPv4 or IPv6 address to listen on (:: for all IPv6 and IPv4)"},
         KEY_STRING,
         FIELD(listen_address),
         0},
        {{"port", "8443", "TCP port for HTTPS; 0 picks a free port (see --port-file)"}, KEY_PORT, FIELD(port), 0},
        {{"server_names", "the host name, localhost, 127.0.0.1, ::1 and listen_address",
          "comma-separated DNS names and IP addresses put in the server certificate's subjectAltName"},
         KEY_STRING,
         FIELD(server_names),
         0},
        {{"verifier_id", "the host name", "this verifier's name in attestation result tokens (ear.verifier-id)"},
         KEY_STRING,
         FIELD(verifier_id),
         0},
        {{"ek_ca_bundle", "",
          "PEM bundle of the TPM manufacturers' root and intermediate CAs that EK certificates must chain to; "
          "without it enrollment is refused"},
         KEY_PATH,
         FIELD(ek_ca_bundle),
         0},
        {{"ek_crl", "", "PEM CRLs of those CAs; when set, the EK certificate's issuer must have published one"},
         KEY_PATH,
         FIELD(ek_crl),
         0},
        {{"enrollment_token_file", "",
          "file holding a bootstrap token; when set, enrollment requests must carry it as a bearer token"},
         KEY_PATH,
         FIELD(enrollment_token_file),
         0},
        {{"admin_token_file", "STATE_DIR/admin.token",
          "file holding the admin bearer token (created with a random token on first start when missing)"},
         KEY_PATH,
         FIELD(admin_token_file),
         0},
        {{"read_token_file", "",
          "file holding a bearer token for the read API and /metrics (the admin token is accepted too)"},
         KEY_PATH,
         FIELD(read_token_file),
         0},
        {{"policy_signing_keys", "",
          "PEM public keys of the admins who sign runtime policies; when set, an uploaded runtime policy must carry "
          "a valid signature (meta.signature, docs/runtime-policy.md) by one of them"},
         KEY_PATH,
         FIELD(policy_signing_keys),
         0},
        {{"default_group", "default", "group a gateway belongs to when enrolled"}, KEY_NAME, FIELD(default_group), 0},
        {{"pcr_bank", "sha256",
          "PCR bank of newly enrolled gateways: their quotes cover PCRs 0-10 of it, and IMA is replayed in it"},
         KEY_BANK,
         FIELD(pcr_bank),
         0},
        {{"nonce_lifetime", "60s", "how long an attestation nonce may be used"},
         KEY_DURATION,
         FIELD(nonce_lifetime),
         0},
        {{"enrollment_lifetime", "5m", "how long an enrollment challenge (credential) may be answered"},
         KEY_DURATION,
         FIELD(enrollment_lifetime),
         0},
        {{"token_lifetime", "10m", "validity of an attestation result token (exp - iat)"},
         KEY_DURATION,
         FIELD(token_lifetime),
         0},
        {{"attestation_deadline", "5m",
          "a gateway without a verdict for this long becomes unknown (no fresh evidence)"},
         KEY_DURATION,
         FIELD(attestation_deadline),
         0},
        {{"client_cert_lifetime", "365d", "validity of the TLS client certificates issued at enrollment"},
         KEY_DURATION,
         FIELD(client_cert_lifetime),
         0},
        {{"connection_timeout", "60s", "idle HTTP connections are closed after this long"},
         KEY_DURATION,
         FIELD(connection_timeout),
         0},
        {{"max_request_size", "16M",
          "largest request body (attestation evidence, policies); smaller fixed limits apply elsewhere"},
         KEY_SIZE,
         FIELD(max_request_size),
         0},
        {{"max_connections", "1024", "concurrent connections accepted"}, KEY_UINT, FIELD(max_connections), 65536},
        {{"http_threads", "one per CPU, plus one",
          "threads serving the connections (event-driven: each serves many); 0 means one per CPU, plus one"},
         KEY_UINT,
         FIELD(http_threads),
         256},
        {{"verdict_history", "1000", "verdicts kept per gateway (older ones are deleted); 0 keeps all"},
         KEY_UINT,
         FIELD(verdict_history),
         UINT32_MAX},
        {{"event_retention", "90d", "runtime events are deleted this long after their arrival"},
         KEY_DURATION,
         FIELD(event_retention),
         0},
        {{"nonce_retention", "1d",
          "used nonces are deleted this long after they expire; until then a replay is told nonce-reused"},
         KEY_DURATION,
         FIELD(nonce_retention),
         0},
        {{"require_runtime_policy", "yes",
          "a gateway without an assigned runtime policy is never trusted (its rounds are untrusted with reason "
          "policy_missing)"},
         KEY_BOOL,
         FIELD(require_runtime_policy),
         0},
        {{"log_level", "info", "error, warning, info or debug"}, KEY_LOG_LEVEL, FIELD(log_level), 0},
};

const struct vf_config_key_doc *vf_config_keys(size_t *ret_n)
{
        static struct vf_config_key_doc docs[ELEMENTSOF(keys)];

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                docs[i] = keys[i].doc;
        *ret_n = ELEMENTSOF(keys);
        return docs;
}

static const struct key_def *key_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(keys[i].doc.name, name) == 0)
                        return &keys[i];
        return NULL;
}

_printf_(3, 4) static int config_error(char *msg, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, size, fmt, ap);
        va_end(ap);
        return -EINVAL;
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

static const char *parse_failure(enum key_type type, int r)
{
        switch (type) {
        case KEY_DURATION:
                return r == -ERANGE ? "duration out of range" : "expected a duration (30s, 5m, 2h, 365d)";
        case KEY_SIZE:
                return r == -ERANGE ? "size out of range" : "expected a size (65536, 64K, 16M)";
        case KEY_UINT:
                return r == -ERANGE ? "number out of range" : "expected a number";
        case KEY_PORT:
                return "expected a port number (0-65535)";
        case KEY_BOOL:
                return "expected yes or no";
        case KEY_LOG_LEVEL:
                return "expected error, warning, info or debug";
        case KEY_BANK:
                return "expected sha1, sha256, sha384, sha512 or sm3";
        case KEY_NAME:
                return "expected 1-64 characters of A-Z a-z 0-9 . _ - (not starting with . or -)";
        case KEY_PATH:
                return "expected an absolute path";
        default:
                return "invalid value";
        }
}

/* Parses value for key k into c. On failure returns a negative errno and sets why. */
static int key_apply(struct vf_config *c, const struct key_def *k, const char *value, char *why, size_t why_size)
{
        void *field = (uint8_t *)c + k->offset;
        uint64_t v;
        int r = 0;

        switch (k->type) {
        case KEY_PATH:
                if (value[0] != '\0' && value[0] != '/')
                        r = -EINVAL;
                break;
        case KEY_NAME:
                if (!vf_name_is_valid(value))
                        r = -EINVAL;
                break;
        case KEY_DURATION:
                r = vf_parse_duration(value, field);
                break;
        case KEY_SIZE:
                r = vf_parse_size(value, field);
                break;
        case KEY_UINT:
                r = vf_parse_uint(value, k->max, field);
                break;
        case KEY_PORT:
                r = vf_parse_uint(value, 65535, &v);
                if (r == 0)
                        *(uint64_t *)field = v;
                break;
        case KEY_BOOL:
                r = vf_parse_bool(value, field);
                break;
        case KEY_LOG_LEVEL:
                r = vf_log_level_from_name(value, field);
                break;
        case KEY_BANK:
                r = dw_hash_alg_from_name(value, strlen(value), &c->bank);
                if (r == 0 && !dw_hash_alg_tpm_id(c->bank))
                        r = -EINVAL;
                break;
        case KEY_STRING:
                break;
        }
        if (r < 0) {
                snprintf(why, why_size, "%s", parse_failure(k->type, r));
                return r;
        }
        if (k->type == KEY_STRING || k->type == KEY_PATH || k->type == KEY_NAME || k->type == KEY_BANK) {
                r = set_string(field, value);
                if (r < 0) {
                        snprintf(why, why_size, "out of memory");
                        return r;
                }
        }
        return 0;
}

int vf_config_init(struct vf_config *c)
{
        char why[200];

        *c = (struct vf_config){};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *def = keys[i].doc.def;

                /* Derived and absent defaults start empty; vf_config_finish fills the derived ones. */
                if (def[0] == '\0' || strchr(def, ' ') || strncmp(def, "STATE_DIR", 9) == 0)
                        continue;
                if (key_apply(c, &keys[i], def, why, sizeof(why)) < 0)
                        return -EINVAL;
        }
        return 0;
}

void vf_config_done(struct vf_config *c)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                enum key_type t = keys[i].type;

                if (t == KEY_STRING || t == KEY_PATH || t == KEY_NAME || t == KEY_BANK)
                        free(*(char **)((uint8_t *)c + keys[i].offset));
        }
        *c = (struct vf_config){};
}

int vf_config_set(struct vf_config *c, const char *key, const char *value, const char *origin, char *msg,
                  size_t msg_size)
{
        const struct key_def *k = key_find(key);
        char why[200];

        if (!k)
                return config_error(msg, msg_size, "%s: unknown key '%s' (driftwatch-verifier --help lists them)",
                                    origin, key);
        if (key_apply(c, k, value, why, sizeof(why)) < 0)
                return config_error(msg, msg_size, "%s: %s = '%s': %s", origin, key, value, why);
        return 0;
}

static char *trim(char *s)
{
        char *end;

        while (isspace((unsigned char)*s))
                s++;
        end = s + strlen(s);
        while (end > s && isspace((unsigned char)end[-1]))
                *--end = '\0';
        return s;
}

/* One line of the file: blank, a comment, or key = value. seen marks keys given earlier in the same file. */
static int load_line(struct vf_config *c, char *line, const char *origin, bool *seen, char *msg, size_t msg_size)
{
        char *eq, *key, *value;
        const struct key_def *k;

        line = trim(line);
        if (line[0] == '\0' || line[0] == '#')
                return 0;
        eq = strchr(line, '=');
        if (!eq)
                return config_error(msg, msg_size, "%s: expected 'key = value'", origin);
        *eq = '\0';
        key = trim(line);
        value = trim(eq + 1);
        k = key_find(key);
        if (k && seen[k - keys])
                return config_error(msg, msg_size, "%s: key '%s' given twice", origin, key);
        if (k)
                seen[k - keys] = true;
        return vf_config_set(c, key, value, origin, msg, msg_size);
}

int vf_config_load_file(struct vf_config *c, const char *path, char *msg, size_t msg_size)
{
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        bool seen[ELEMENTSOF(keys)] = {};
        size_t allocated = 0;
        unsigned lineno = 0;
        ssize_t n;

        f = fopen(path, "re");
        if (!f) {
                int r = -errno;

                if (r != -ENOENT)
                        config_error(msg, msg_size, "%s: cannot read: %s", path, strerror(-r));
                return r;
        }
        while ((n = getline(&line, &allocated, f)) >= 0) {
                char origin[512];
                int r;

                lineno++;
                if (strlen(line) != (size_t)n)
                        return config_error(msg, msg_size, "%s:%u: NUL byte in line", path, lineno);
                snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
                r = load_line(c, line, origin, seen, msg, msg_size);
                if (r < 0)
                        return r;
        }
        if (ferror(f))
                return config_error(msg, msg_size, "%s: read error", path);
        return 0;
}

static int default_server_names(struct vf_config *c, const char *host)
{
        bool wildcard = strcmp(c->listen_address, "0.0.0.0") == 0 || strcmp(c->listen_address, "::") == 0;
        bool dup = strcmp(c->listen_address, "127.0.0.1") == 0 || strcmp(c->listen_address, "::1") == 0 ||
                   strcmp(c->listen_address, host) == 0 || strcmp(c->listen_address, "localhost") == 0;

        c->server_names = vf_strprintf("%s,localhost,127.0.0.1,::1%s%s", host, wildcard || dup ? "" : ",",
                                       wildcard || dup ? "" : c->listen_address);
        return c->server_names ? 0 : -ENOMEM;
}

int vf_config_finish(struct vf_config *c, char *msg, size_t msg_size)
{
        char host[256] = "localhost";

        (void)gethostname(host, sizeof(host) - 1);
        if (c->state_dir[0] == '\0')
                return config_error(msg, msg_size, "state_dir must not be empty");
        if (!c->database || c->database[0] == '\0') {
                free(c->database);
                c->database = vf_strprintf("%s/verifier.db", c->state_dir);
        }
        if (!c->admin_token_file || c->admin_token_file[0] == '\0') {
                free(c->admin_token_file);
                c->admin_token_file = vf_strprintf("%s/admin.token", c->state_dir);
        }
        if (!c->verifier_id || c->verifier_id[0] == '\0') {
                free(c->verifier_id);
                c->verifier_id = strdup(host);
        }
        if ((!c->server_names || c->server_names[0] == '\0') && c->listen_address) {
                free(c->server_names);
                c->server_names = NULL;
                if (default_server_names(c, host) < 0)
                        return -ENOMEM;
        }
        if (!c->database || !c->admin_token_file || !c->verifier_id)
                return -ENOMEM;
        if (c->ek_crl && c->ek_crl[0] != '\0' && (!c->ek_ca_bundle || c->ek_ca_bundle[0] == '\0'))
                return config_error(msg, msg_size, "ek_crl is set but ek_ca_bundle is not");
        if (c->http_threads == 0) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);

                c->http_threads = n > 1 ? (uint64_t)MIN(n + 1, 256L) : 2;
        }
        if (c->nonce_lifetime > 3600)
                return config_error(msg, msg_size, "nonce_lifetime must be at most 1h");
        return 0;
}
