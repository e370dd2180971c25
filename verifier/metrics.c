/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

/* Upper bounds (seconds) of the verification latency histogram. */
static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

#define REASONS_MAX 64

struct vf_metrics {
        pthread_mutex_t lock;
        uint64_t requests[6]; /* by status / 100 */
        uint64_t rounds[_VF_STATUS_MAX];
        uint64_t latency_count[ELEMENTSOF(latency_buckets)];
        uint64_t latency_n;
        double latency_sum;
        uint64_t enrollments_ok, enrollments_failed;
        size_t n_reasons;
        struct {
                char name[48];
                uint64_t count;
        } reasons[REASONS_MAX];
};

int vf_metrics_new(struct vf_metrics **ret)
{
        struct vf_metrics *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        pthread_mutex_init(&m->lock, NULL);
        *ret = m;
        return 0;
}

void vf_metrics_free(struct vf_metrics *m)
{
        if (!m)
                return;
        pthread_mutex_destroy(&m->lock);
        free(m);
}

void vf_metrics_request(struct vf_metrics *m, unsigned status)
{
        pthread_mutex_lock(&m->lock);
        m->requests[MIN(status / 100, ELEMENTSOF(m->requests) - 1)]++;
        pthread_mutex_unlock(&m->lock);
}

void vf_metrics_rejected(struct vf_metrics *m, const char *reason)
{
        size_t i;

        pthread_mutex_lock(&m->lock);
        for (i = 0; i < m->n_reasons; i++)
                if (strcmp(m->reasons[i].name, reason) == 0)
                        break;
        if (i == m->n_reasons && m->n_reasons < REASONS_MAX) {
                snprintf(m->reasons[i].name, sizeof(m->reasons[i].name), "%s", reason);
                m->n_reasons++;
        }
        if (i < m->n_reasons)
                m->reasons[i].count++;
        pthread_mutex_unlock(&m->lock);
}

void vf_metrics_round(struct vf_metrics *m, enum vf_status verdict, uint64_t latency_usec)
{
        double sec = (double)latency_usec / 1e6;

        pthread_mutex_lock(&m->lock);
        if (verdict >= 0 && verdict < _VF_STATUS_MAX)
                m->rounds[verdict]++;
        for (size_t i = 0; i < ELEMENTSOF(latency_buckets); i++)
                if (sec <= latency_buckets[i])
                        m->latency_count[i]++;
        m->latency_n++;
        m->latency_sum += sec;
        pthread_mutex_unlock(&m->lock);
}

void vf_metrics_enrollment(struct vf_metrics *m, bool ok)
{
        pthread_mutex_lock(&m->lock);
        if (ok)
                m->enrollments_ok++;
        else
                m->enrollments_failed++;
        pthread_mutex_unlock(&m->lock);
}

static void render_locked(struct vf_metrics *m, FILE *f, const uint64_t by_status[static _VF_STATUS_MAX])
{
        fputs("# HELP driftwatch_gateways Enrolled gateways by attestation status.\n"
              "# TYPE driftwatch_gateways gauge\n",
              f);
        for (enum vf_status s = 0; s < _VF_STATUS_MAX; s++)
                fprintf(f, "driftwatch_gateways{status=\"%s\"} %" PRIu64 "\n", vf_status_name(s), by_status[s]);
        fputs("# HELP driftwatch_rounds_total Attestation rounds judged, by verdict.\n"
              "# TYPE driftwatch_rounds_total counter\n",
              f);
        for (enum vf_status s = 0; s < _VF_STATUS_MAX; s++)
                fprintf(f, "driftwatch_rounds_total{verdict=\"%s\"} %" PRIu64 "\n", vf_status_name(s), m->rounds[s]);
        fputs("# HELP driftwatch_verification_seconds Time to verify one round's evidence.\n"
              "# TYPE driftwatch_verification_seconds histogram\n",
              f);
        for (size_t i = 0; i < ELEMENTSOF(latency_buckets); i++)
                fprintf(f, "driftwatch_verification_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", latency_buckets[i],
                        m->latency_count[i]);
        fprintf(f, "driftwatch_verification_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", m->latency_n);
        fprintf(f, "driftwatch_verification_seconds_sum %.6f\n", m->latency_sum);
        fprintf(f, "driftwatch_verification_seconds_count %" PRIu64 "\n", m->latency_n);
        fputs("# HELP driftwatch_rejected_requests_total Requests refused with an error, by reason.\n"
              "# TYPE driftwatch_rejected_requests_total counter\n",
              f);
        for (size_t i = 0; i < m->n_reasons; i++)
                fprintf(f, "driftwatch_rejected_requests_total{reason=\"%s\"} %" PRIu64 "\n", m->reasons[i].name,
                        m->reasons[i].count);
        fputs("# HELP driftwatch_http_requests_total Requests answered, by status class.\n"
              "# TYPE driftwatch_http_requests_total counter\n",
              f);
        for (size_t i = 1; i < ELEMENTSOF(m->requests); i++)
                fprintf(f, "driftwatch_http_requests_total{code=\"%zuxx\"} %" PRIu64 "\n", i, m->requests[i]);
        fputs("# HELP driftwatch_enrollments_total Enrollments completed or refused.\n"
              "# TYPE driftwatch_enrollments_total counter\n",
              f);
        fprintf(f, "driftwatch_enrollments_total{result=\"enrolled\"} %" PRIu64 "\n", m->enrollments_ok);
        fprintf(f, "driftwatch_enrollments_total{result=\"refused\"} %" PRIu64 "\n", m->enrollments_failed);
}

char *vf_metrics_render(struct vf_metrics *m, const uint64_t gateways_by_status[static _VF_STATUS_MAX])
{
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        pthread_mutex_lock(&m->lock);
        render_locked(m, f, gateways_by_status);
        pthread_mutex_unlock(&m->lock);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}
