/* SPDX-License-Identifier: MIT */
#pragma once

/* The measured-boot reference of a gateway (its "boot policy"): what its firmware and boot chain must have measured
 * into PCRs 0-9. The JSON format is documented in docs/attest-round.md ("Boot policy"); in short:
 *
 *   {"driftwatch_boot_policy": 1,
 *    "meta": {"name": "...", ...},                                     free-form, not interpreted
 *    "pcrs": {"sha256": {"0": "<hex>", "4": "<hex>", ...}, ...},       golden PCR values per bank
 *    "events": {"EV_EFI_BOOT_SERVICES_APPLICATION": ["sha256:<hex>", ...], ...},
 *                                                                      per event type: the digests allowed
 *    "secure_boot": true}                                              the expected SecureBoot variable
 *
 * Every part is optional; a part that is absent is not checked (and reported so by the caller). Pure: the policy is
 * loaded from a caller-provided buffer, checks take bytes and PCR values, nothing here does I/O. A loaded policy is
 * immutable and may be shared by any number of threads. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dw-error.h"
#include "hash.h"
#include "macro.h"
#include "runtime-policy.h" /* struct dw_policy_error */
#include "tpm-marshal.h"

/* The value of "driftwatch_boot_policy" this build reads. */
#define DW_BOOT_POLICY_VERSION 1

struct dw_boot_policy;

/* Parses and checks a policy (strictly: unknown fields are errors, except inside "meta"). Returns 0 and sets *ret,
 * -EBADMSG when it is malformed or invalid, -EOPNOTSUPP for another format version (err says where and why for
 * both), -ENOMEM. */
int dw_boot_policy_load(const void *json, size_t len, struct dw_boot_policy **ret, struct dw_policy_error *err);
void dw_boot_policy_free(struct dw_boot_policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct dw_boot_policy *, dw_boot_policy_free);

/* What the Secure Boot state of a boot log is: the EFI global variable "SecureBoot" as measured into PCR 7
 * (EV_EFI_VARIABLE_DRIVER_CONFIG). */
enum dw_secure_boot {
        DW_SECURE_BOOT_ABSENT,       /* not measured: legacy BIOS, or firmware without Secure Boot */
        DW_SECURE_BOOT_DISABLED,     /* measured, value 0 */
        DW_SECURE_BOOT_ENABLED,      /* measured, value 1 */
        DW_SECURE_BOOT_UNVERIFIABLE, /* measured, but an event's digest is not the hash of its data (so the data
                                      * shown is not what was extended), or events disagree */
        _DW_SECURE_BOOT_MAX,
};

/* "absent", "disabled", "enabled", "unverifiable". */
const char *dw_secure_boot_name(enum dw_secure_boot s);

struct dw_boot_policy_info {
        const char *name;        /* meta.name, or NULL */
        unsigned n_golden;       /* golden PCR values, all banks */
        unsigned n_event_types;  /* event types with an allowlist */
        size_t n_event_digests;  /* digests in those allowlists */
        bool checks_secure_boot; /* "secure_boot" present */
        bool secure_boot;        /* its value */
};

void dw_boot_policy_get_info(const struct dw_boot_policy *p, struct dw_boot_policy_info *ret);

enum dw_boot_finding_kind {
        DW_BOOT_PCR_MISMATCH,   /* a golden PCR value is not the quoted one */
        DW_BOOT_PCR_NOT_QUOTED, /* a golden PCR is not among the quoted PCRs, so it cannot be checked */
        DW_BOOT_EVENT_DIGEST,   /* an event of a type with an allowlist has no digest in it */
        DW_BOOT_SECURE_BOOT,    /* the Secure Boot state is not the expected one */
        _DW_BOOT_FINDING_MAX,
};

/* "pcr_mismatch", "pcr_not_quoted", "event_digest", "secure_boot". */
const char *dw_boot_finding_kind_name(enum dw_boot_finding_kind kind);

/* One failed rule. Valid during the callback only. */
struct dw_boot_finding {
        enum dw_boot_finding_kind kind;
        int64_t event;        /* index of the event in the log (as dw_tcg_parser numbers them), -1 for PCR rules */
        uint32_t pcr;         /* the PCR of the rule or of the event */
        enum dw_hash_alg alg; /* bank of the PCR, or algorithm of digest */
        uint8_t digest[DW_HASH_MAX_SIZE]; /* the quoted PCR value, or the event's digest (the first one it logs in
                                           * an algorithm of the allowlist, else its first one) */
        size_t digest_len;                /* 0 when there is none */
        char rule[64];   /* the policy rule, as a JSON path: "pcrs.sha256.4", "events.EV_IPL", "secure_boot" */
        char label[160]; /* the event type and its description ("EV_EFI_BOOT_SERVICES_APPLICATION: image ..."),
                          * "" for PCR rules */
        char msg[256];   /* one line, no trailing newline */
};

/* Called once per finding; a negative return stops the check and is returned. */
typedef int (*dw_boot_finding_fn)(const struct dw_boot_finding *f, void *userdata);

/* The golden PCR values against the quoted (verified) PCR values. Returns the number of findings, or a negative
 * errno (from fn). A policy without golden values finds nothing. */
int dw_boot_policy_check_pcrs(const struct dw_boot_policy *p, const struct dw_tpm_pcrs *quoted, dw_boot_finding_fn fn,
                              void *userdata);

/* The event allowlists and the Secure Boot state against a boot log (which the caller has replayed against the
 * quoted PCRs: only then are its digests the ones the TPM holds). EV_NO_ACTION events are never judged (they are
 * not extended). Returns the number of findings; a negative errno with err set when the log cannot be parsed, or
 * the error fn returned. */
int dw_boot_policy_check_log(const struct dw_boot_policy *p, struct dw_hasher *h, const uint8_t *log, size_t len,
                             dw_boot_finding_fn fn, void *userdata, struct dw_error *err);

/* The Secure Boot state of a boot log, for reports. Returns 0 with *ret set, or a negative errno with err set when
 * the log cannot be parsed. */
int dw_boot_log_secure_boot(struct dw_hasher *h, const uint8_t *log, size_t len, enum dw_secure_boot *ret,
                            struct dw_error *err);
