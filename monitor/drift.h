/* SPDX-License-Identifier: MIT */
#pragma once

/* eBPF drift detection: the monitor's BPF programs (bpf/drift-*.bpf.c) see executions, tampering with protected
 * files and changes to the kernel as they happen; this module loads them, consumes their events on the sd-event
 * loop, hashes executed files off the loop and judges them against the local runtime policy, and turns what it
 * finds into alerts (drift_exec, drift_tamper, drift_kernel) through a callback.
 *
 * Hooks come in tiers, chosen per category at start by probing the kernel: BPF LSM where the kernel allows it,
 * then fentry, then tracepoints (and a raw tracepoint for syscalls the kernel has no tracepoint for). What each
 * category got, and what it cannot see, is in struct mon_drift_report; `driftwatch-monitor --probe` prints it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <systemd/sd-event.h>

#include "alerts.h"
#include "hash.h"
#include "ima-policy-rules.h"
#include "runtime-policy.h"

enum mon_drift_tier {
        MON_DRIFT_TIER_LSM,        /* BPF LSM programs: see every access, with the kernel's own paths */
        MON_DRIFT_TIER_FENTRY,     /* fentry programs on the security_*() functions: the same hooks, BTF trampolines */
        MON_DRIFT_TIER_TRACEPOINT, /* tracepoints (sched, syscalls) and raw tracepoints: syscalls as asked */
        _MON_DRIFT_TIER_MAX,
        MON_DRIFT_TIER_NONE = _MON_DRIFT_TIER_MAX, /* not covered */
};

enum mon_drift_category {
        MON_DRIFT_EXEC,
        MON_DRIFT_FILELESS_EXEC,
        MON_DRIFT_TAMPER,
        MON_DRIFT_MODULE_LOAD,
        MON_DRIFT_BPF_LOAD,
        MON_DRIFT_KEXEC,
        MON_DRIFT_PTRACE,
        MON_DRIFT_MOUNT,
        MON_DRIFT_IMA_POLICY_WRITE,
        _MON_DRIFT_CATEGORY_MAX,
};

/* "lsm", "fentry", "tracepoint", "none". */
const char *mon_drift_tier_name(enum mon_drift_tier t);
/* "exec", "fileless_exec", "tamper", "module_load", "bpf_load", "kexec", "ptrace", "mount", "ima_policy_write". */
const char *mon_drift_category_name(enum mon_drift_category c);
/* "lsm fentry tracepoint" (Drift.Tiers=) → a bit per tier. -EINVAL for an unknown or repeated word, or none. */
int mon_drift_tiers_parse(const char *s, unsigned *ret);

/* What this kernel gives: per tier, whether a program of that type loads and attaches here and why not; per
 * category, the tier used (MON_DRIFT_TIER_NONE: not covered), the hooks, and what it cannot see. */
struct mon_drift_report {
        struct {
                bool available;
                char reason[320];
        } tiers[_MON_DRIFT_TIER_MAX];
        struct {
                enum mon_drift_tier tier;
                char hooks[320]; /* the hooks attached, "sched:sched_process_exec, ..." */
                char blind[640]; /* what it cannot see, and why (the reason when none) */
        } coverage[_MON_DRIFT_CATEGORY_MAX];
};

/* Probes the kernel and loads every program the best way it can, then unloads everything: nothing stays loaded.
 * tiers: the allowed tiers (a bit per enum mon_drift_tier). Returns 0 with *ret set (a tier or category that
 * cannot be had is in the report, not an error), or -ENOMEM. */
int mon_drift_probe(unsigned tiers, struct mon_drift_report *ret);
/* The report as text (a table, with the reasons) or as JSON: {"tiers": {"lsm": {"available": bool, "reason":
 * "…"}, …}, "coverage": {"exec": "tracepoint", …}}. */
void mon_drift_report_print(const struct mon_drift_report *r, FILE *f);
int mon_drift_report_print_json(const struct mon_drift_report *r, FILE *f);
/* One line for logs and the monitor_started event: "exec=tracepoint fileless_exec=tracepoint ... mount=none". */
void mon_drift_report_summary(const struct mon_drift_report *r, char *buf, size_t size);

/* An alert to raise: kind is MON_ALERT_DRIFT_EXEC, _TAMPER or _KERNEL; priority -1 for the kind's own. */
typedef void (*mon_drift_alert_fn)(enum mon_alert_kind kind, int priority, const struct mon_alert_field *fields,
                                   size_t n, const char *message, void *userdata);

/* The IMA cross-check: an exec that the IMA policy expected at start (ima_policy) measures must have its file's
 * digest in the IMA log; the monitor's IMA follower answers through these. */
struct mon_drift_ima_ops {
        /* Reads what the kernel appended to the IMA log. False when the log is not followed or not trusted: then
         * nothing is decided (the exec is counted as undecided). */
        bool (*refresh)(void *userdata);
        /* Whether an entry of the log carries this file digest. */
        bool (*lookup)(enum dw_hash_alg alg, const uint8_t *digest, size_t size, void *userdata);
        /* The algorithms of the log's file digests, a bit per enum dw_hash_alg. */
        unsigned (*algs)(void *userdata);
};

/* What the cross-check decided, since start: executions checked (their file hashed), found in the log, not
 * measured by the policy, undecided (the policy's answer depends on what the monitor cannot know: LSM labels,
 * credentials changed by the exec; or the log could not be read), without a digest, and alerted on. */
struct mon_drift_imacheck_stats {
        uint64_t checked, measured, not_required, undecided, no_digest, unmeasured;
};

struct mon_drift_options {
        unsigned tiers;                     /* allowed tiers, a bit per enum mon_drift_tier */
        const char *protected_paths;        /* absolute paths separated by spaces (Drift.ProtectedPaths=) */
        const char *const *extra_protected; /* the monitor's own files and directories, NULL-terminated */
        bool hash_executables;              /* hash executed files and judge them against the policy */
        size_t hash_cache_entries;
        size_t ring_buffer_bytes; /* a power of two */
        int log_level;            /* syslog priority: messages above it are not logged */
        mon_drift_alert_fn alert;
        void *userdata;
        /* The IMA cross-check, when ima_policy is set (borrowed: it must outlive the module); needs
         * hash_executables. ima_ops get userdata. */
        const struct dw_ima_policy *ima_policy;
        const struct mon_drift_ima_ops *ima_ops;
        uint64_t ima_grace_usec; /* how long an exec's entry may take to appear in the log (0: 3 s) */
};

struct mon_drift;

/* Probes, loads and attaches the programs, fills the protected-path maps, starts the hashing thread and adds the
 * ring buffer and timers to event. Logs which tier each category got and what is not covered: a category the
 * kernel gives no hook for is in the report (mon_drift_get_report()), not an error. policy (NULL: executions are
 * not judged) is borrowed: it must outlive the module or be replaced with mon_drift_set_policy() first. Returns 0,
 * or a negative errno (-ENOMEM, a thread or an event source that cannot be created). */
int mon_drift_start(sd_event *event, const struct mon_drift_options *o, const struct dw_runtime_policy *policy,
                    struct mon_drift **ret);
const struct mon_drift_report *mon_drift_get_report(const struct mon_drift *d);
void mon_drift_set_policy(struct mon_drift *d, const struct dw_runtime_policy *policy);
/* Whether the IMA cross-check runs, and its counters. */
bool mon_drift_imacheck_enabled(const struct mon_drift *d);
void mon_drift_imacheck_get_stats(const struct mon_drift *d, struct mon_drift_imacheck_stats *ret);
/* Detaches every program, stops the thread, frees everything. NULL is fine. */
void mon_drift_free(struct mon_drift *d);
