/* SPDX-License-Identifier: MIT */
/* The capability report: names, text, JSON and the one-line summary. */

#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "drift-internal.h"

static const char *const tier_names[] = {"lsm", "fentry", "tracepoint", "none"};
static const char *const category_names[_MON_DRIFT_CATEGORY_MAX] = {
        "exec", "fileless_exec", "tamper", "module_load", "bpf_load", "kexec", "ptrace", "mount", "ima_policy_write",
};

const char *mon_drift_tier_name(enum mon_drift_tier t)
{
        return (unsigned)t <= MON_DRIFT_TIER_NONE ? tier_names[t] : "?";
}

const char *mon_drift_category_name(enum mon_drift_category c)
{
        return (unsigned)c < _MON_DRIFT_CATEGORY_MAX ? category_names[c] : "?";
}

int mon_drift_tiers_parse(const char *s, unsigned *ret)
{
        unsigned tiers = 0;

        for (;;) {
                size_t len;
                enum mon_drift_tier t;

                s += strspn(s, " \t");
                if (*s == '\0')
                        break;
                len = strcspn(s, " \t");
                for (t = 0; t < _MON_DRIFT_TIER_MAX; t++)
                        if (strlen(tier_names[t]) == len && strncmp(tier_names[t], s, len) == 0)
                                break;
                if (t == _MON_DRIFT_TIER_MAX || (tiers & (1u << t)))
                        return -EINVAL;
                tiers |= 1u << t;
                s += len;
        }
        if (tiers == 0)
                return -EINVAL;
        *ret = tiers;
        return 0;
}

void mon_drift_report_print(const struct mon_drift_report *r, FILE *f)
{
        fputs("Tiers:\n", f);
        for (enum mon_drift_tier t = 0; t < _MON_DRIFT_TIER_MAX; t++)
                fprintf(f, "  %-11s %-12s %s\n", tier_names[t], r->tiers[t].available ? "available" : "unavailable",
                        r->tiers[t].reason);
        fputs("Coverage:\n", f);
        for (enum mon_drift_category c = 0; c < _MON_DRIFT_CATEGORY_MAX; c++) {
                fprintf(f, "  %-17s %-11s %s\n", category_names[c], tier_names[r->coverage[c].tier],
                        r->coverage[c].hooks);
                fprintf(f, "  %-17s %-11s %s\n", "", "", r->coverage[c].blind);
        }
}

int mon_drift_report_print_json(const struct mon_drift_report *r, FILE *f)
{
        json_t *root = json_object(), *tiers = json_object(), *coverage = json_object();
        int ret = -ENOMEM;

        if (!root || !tiers || !coverage)
                goto out;
        for (enum mon_drift_tier t = 0; t < _MON_DRIFT_TIER_MAX; t++) {
                json_t *o = json_pack("{s:b, s:s}", "available", r->tiers[t].available, "reason", r->tiers[t].reason);

                if (!o || json_object_set_new(tiers, tier_names[t], o) < 0)
                        goto out;
        }
        for (enum mon_drift_category c = 0; c < _MON_DRIFT_CATEGORY_MAX; c++)
                if (json_object_set_new(coverage, category_names[c], json_string(tier_names[r->coverage[c].tier])) < 0)
                        goto out;
        if (json_object_set(root, "tiers", tiers) < 0 || json_object_set(root, "coverage", coverage) < 0)
                goto out;
        ret = json_dumpf(root, f, JSON_INDENT(2)) < 0 ? -EIO : 0;
        fputc('\n', f);
out:
        json_decref(tiers);
        json_decref(coverage);
        json_decref(root);
        return ret;
}

void mon_drift_report_summary(const struct mon_drift_report *r, char *buf, size_t size)
{
        size_t off = 0;

        buf[0] = '\0';
        for (enum mon_drift_category c = 0; c < _MON_DRIFT_CATEGORY_MAX && off < size; c++) {
                int n = snprintf(buf + off, size - off, "%s%s=%s", c ? " " : "", category_names[c],
                                 tier_names[r->coverage[c].tier]);

                if (n < 0)
                        break;
                off += (size_t)n;
        }
}
