/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared bits of the `driftwatch` admin CLI. Each command is a thin front over lib/. Exit codes follow the
 * project convention: 0 success, 1 a negative verdict (reserved for verify/check commands), 2 bad input. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dw-error.h"
#include "hash.h"
#include "macro.h"

#define EXIT_BAD_INPUT 2
#define EXIT_NEGATIVE  1

/* Largest log file we read into memory; the kernel's list would need millions of entries to get near it. */
#define DW_CLI_MAX_FILE (4ull * 1024 * 1024 * 1024)

int cli_error(const char *fmt, ...) _printf_(1, 2);
/* "driftwatch: FILE: entry N at byte offset O: msg" */
int cli_parse_error(const char *path, const char *what, const struct dw_error *err);
int cli_read_file(const char *path, uint8_t **ret_data, size_t *ret_size);

/* A JSON string for bytes that may not be UTF-8 (file names): valid UTF-8 is kept, otherwise bytes outside
 * printable ASCII are written as \xNN so nothing is lost or invalid. */
json_t *cli_json_bytes_string(const char *s, size_t len);
json_t *cli_json_hex(const uint8_t *data, size_t len);
int cli_json_print(json_t *j);
/* Writes s to stdout with non-printable bytes as \xNN. */
void cli_print_escaped(const char *s, size_t len);

/* A PCR bank as {"<pcr>": "<hex>", ...} for the PCRs whose bit is set in touched. */
json_t *cli_json_pcr_bank(const uint8_t (*pcrs)[DW_HASH_MAX_SIZE], unsigned n_pcrs, uint32_t touched,
                          enum dw_hash_alg alg);

/* A command group's verbs ("ima show", "ima replay"): runs the one named by argv[1] with argv shifted. */
struct cli_verb {
        const char *name;
        int (*run)(int argc, char **argv);
};
int cli_dispatch(const char *group, const struct cli_verb *verbs, size_t n_verbs, void (*help)(void), int argc,
                 char **argv);

int cli_ima_main(int argc, char **argv);
int cli_eventlog_main(int argc, char **argv);
int cli_tpm_main(int argc, char **argv);
int cli_quote_main(int argc, char **argv);
int cli_policy_main(int argc, char **argv);
