/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

static const char *const level_names[_VF_LOG_LEVEL_MAX] = {
        [VF_LOG_ERROR] = "error",
        [VF_LOG_WARNING] = "warning",
        [VF_LOG_INFO] = "info",
        [VF_LOG_DEBUG] = "debug",
};

static enum vf_log_level max_level = VF_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

int vf_log_level_from_name(const char *name, enum vf_log_level *ret)
{
        for (enum vf_log_level l = 0; l < _VF_LOG_LEVEL_MAX; l++)
                if (strcmp(name, level_names[l]) == 0) {
                        *ret = l;
                        return 0;
                }
        return -EINVAL;
}

void vf_log_set_level(enum vf_log_level level)
{
        max_level = level;
}

bool vf_log_enabled(enum vf_log_level level)
{
        return level <= max_level;
}

static void timestamp(char *buf, size_t size)
{
        uint64_t now = vf_now_usec();
        char sec[32];

        vf_format_time(now, sec, sizeof(sec));
        /* "...:SSZ" -> "...:SS.mmmZ" */
        sec[strlen(sec) - 1] = '\0';
        snprintf(buf, size, "%s.%03uZ", sec, (unsigned)(now / 1000 % 1000));
}

void vf_log_json(enum vf_log_level level, const char *event, json_t *fields)
{
        _cleanup_(json_decrefp) json_t *line = json_object();
        _cleanup_free_ char *s = NULL;
        char ts[48];

        if (!vf_log_enabled(level) || !line) {
                json_decref(fields);
                return;
        }
        timestamp(ts, sizeof(ts));
        json_object_set_new(line, "ts", json_string(ts));
        json_object_set_new(line, "level", json_string(level_names[level]));
        json_object_set_new(line, "event", json_string(event));
        if (fields) {
                json_object_update(line, fields);
                json_decref(fields);
        }
        s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (!s)
                return;
        pthread_mutex_lock(&log_lock);
        fputs(s, stderr);
        fputc('\n', stderr);
        fflush(stderr);
        pthread_mutex_unlock(&log_lock);
}

void vf_log(enum vf_log_level level, const char *event, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        if (!vf_log_enabled(level))
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        vf_log_json(level, event, json_pack("{s:s}", "msg", msg));
}
