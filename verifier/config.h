/* SPDX-License-Identifier: MIT */
#pragma once

/* The verifier's configuration: /etc/driftwatch/verifier.conf (key = value lines, '#' comments), then command-line
 * overrides. Every key is documented in docs/verifier.md and listed by --help; an unknown key, a repeated key or a
 * bad value is an error naming FILE:LINE (or the command-line option) and the key. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "log.h"

#define VF_CONFIG_FILE_DEFAULT "/etc/driftwatch/verifier.conf"
#define VF_STATE_DIR_DEFAULT   "/var/lib/driftwatch-verifier"

struct vf_config {
        char *state_dir;
        char *database;
        char *listen_address;
        uint64_t port;
        char *server_names; /* comma-separated DNS names and IP addresses for the server certificate */
        char *verifier_id;
        char *ek_ca_bundle;
        char *ek_crl;
        char *enrollment_token_file;
        char *admin_token_file;
        char *read_token_file;
        char *policy_signing_keys; /* PEM public keys; set: runtime policy uploads must be signed by one */
        char *default_group;
        char *pcr_bank;
        enum dw_hash_alg bank;         /* pcr_bank, parsed */
        uint64_t nonce_lifetime;       /* seconds */
        uint64_t enrollment_lifetime;  /* seconds */
        uint64_t token_lifetime;       /* seconds */
        uint64_t attestation_deadline; /* seconds */
        uint64_t client_cert_lifetime; /* seconds */
        uint64_t connection_timeout;   /* seconds */
        uint64_t max_request_size;     /* bytes */
        uint64_t max_connections;
        uint64_t http_threads; /* threads serving connections (0 in the file: one per CPU plus one, resolved by finish)
                                */
        uint64_t verdict_history; /* verdicts kept per gateway */
        uint64_t event_retention; /* seconds runtime events are kept after their arrival */
        uint64_t nonce_retention; /* seconds nonces are remembered past their expiry */
        bool require_runtime_policy;
        enum vf_log_level log_level;
};

/* One key: its name, a one-line description and its default as text ("" for none; derived defaults say so). */
struct vf_config_key_doc {
        const char *name;
        const char *def;
        const char *doc;
};

const struct vf_config_key_doc *vf_config_keys(size_t *ret_n);

/* Defaults for everything. */
int vf_config_init(struct vf_config *c);
void vf_config_done(struct vf_config *c);

/* Applies the file's keys. A missing file is -ENOENT (without a message: the caller decides whether that is an
 * error); every other problem is a negative errno with msg set to "FILE:LINE: ...". */
int vf_config_load_file(struct vf_config *c, const char *path, char *msg, size_t msg_size);
/* One "key=value" override from the command line; origin names it in messages ("--set", "--port"). */
int vf_config_set(struct vf_config *c, const char *key, const char *value, const char *origin, char *msg,
                  size_t msg_size);
/* After all sources: derives the defaults that depend on other keys (database, admin_token_file, verifier_id,
 * server_names) and checks the combination. */
int vf_config_finish(struct vf_config *c, char *msg, size_t msg_size);
