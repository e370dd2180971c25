/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the `driftwatch policy` commands (cli/policy*.c). */

#include <jansson.h>

#include "cli.h"
#include "ima-log.h"
#include "runtime-policy.h"

/* Prints a policy error ("driftwatch: FILE: line L, column C: ..." or "driftwatch: FILE: $.where: ...") and returns
 * EXIT_BAD_INPUT. */
int policy_error(const char *path, int r, const struct dw_policy_error *err);

/* Reads, checks (exactly as the verifier does) and normalizes a policy. Returns 0 or EXIT_BAD_INPUT (printed). */
int policy_load_doc(const char *path, json_t **ret);
/* Reads a JSON file without checking it as a policy (Keylime's format). */
int policy_load_json(const char *path, json_t **ret);

/* Writes data to path through a temporary file in the same directory, renamed over path once complete (nothing
 * half-written); "-" is stdout. Returns 0 or EXIT_BAD_INPUT (printed). */
int policy_write_file(const char *path, const void *data, size_t len);
/* Checks doc once more, then writes it in the deterministic form. */
int policy_write_doc(const char *path, json_t *doc);

/* Now, or $SOURCE_DATE_EPOCH when set (reproducible builds), as RFC 3339. */
const char *policy_now(char buf[static 32]);

/* "driftwatch: warning: ..." for each string of the array. */
void policy_print_warnings(const json_t *warnings);

/* The IMA log format and template-digest bank from a file name, unless set (as `driftwatch ima` guesses). */
void policy_guess_log_format(const char *path, enum dw_ima_format *format, bool format_set, enum dw_hash_alg *alg,
                             bool alg_set);

int cli_policy_create(int argc, char **argv);
int cli_policy_merge(int argc, char **argv);
int cli_policy_diff(int argc, char **argv);
int cli_policy_sign(int argc, char **argv);
int cli_policy_verify(int argc, char **argv);
int cli_policy_canonical(int argc, char **argv);
int cli_policy_import_keylime(int argc, char **argv);
int cli_policy_export_keylime(int argc, char **argv);
int cli_policy_push(int argc, char **argv);
int cli_policy_assign(int argc, char **argv);
int cli_policy_impact(int argc, char **argv);
