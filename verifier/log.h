/* SPDX-License-Identifier: MIT */
#pragma once

/* Structured logs: one JSON object per line on stderr (journald keeps them as they are), for example
 *   {"ts":"2024-05-01T12:00:00.123Z","level":"info","event":"request","method":"POST","path":"/v1/...",...}
 * Callers never pass secrets: no private keys, tokens, credential secrets or activation proofs. Thread-safe. */

#include <stdbool.h>

#include <jansson.h>

#include "macro.h"

enum vf_log_level {
        VF_LOG_ERROR,
        VF_LOG_WARNING,
        VF_LOG_INFO,
        VF_LOG_DEBUG,
        _VF_LOG_LEVEL_MAX,
};

/* Lines are written by a thread of their own from vf_log_start() on, directly before it and after vf_log_stop()
 * (which writes out what is pending). */
int vf_log_start(void);
void vf_log_stop(void);

int vf_log_level_from_name(const char *name, enum vf_log_level *ret);
void vf_log_set_level(enum vf_log_level level);
bool vf_log_enabled(enum vf_log_level level);

/* Logs {"ts", "level", "event", ...fields}; steals the reference to fields (an object, or NULL). event is an
 * identifier ([a-z-]). */
void vf_log_json(enum vf_log_level level, const char *event, json_t *fields);
/* Logs {"ts", "level", "event", "msg": <formatted>}. */
void vf_log(enum vf_log_level level, const char *event, const char *fmt, ...) _printf_(3, 4);
