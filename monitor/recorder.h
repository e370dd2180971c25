/* SPDX-License-Identifier: MIT */
#pragma once

/* The monitor's runtime-event recorder: events are collected into a batch, and a batch is sealed — appended to the
 * hash chain (lib/event-chain.h), signed by the TPM-resident event key, stored durably in the spool, the chain
 * state saved, then its head extended into the TPM's NV extend index — so that once a batch is sealed, neither a
 * crash nor root on the gateway can silently drop or rewrite it: the verifier recomputes the NV value from the
 * batches it receives and compares it with a certification by the AK.
 *
 * Crash safety (the order above): at open, a spooled batch of the current chain that the saved state does not
 * cover yet (a crash between the spool write and the state save) is adopted, and an NV index one extend behind
 * the saved state (a crash before the extend) is extended. The state lives in the runtime directory (one chain
 * per boot and TPM epoch: a TPM reset clears the NV index and starts a new chain).
 *
 * When the spool is full, the events of a batch are replaced by one "events_summarized" event (counts per kind,
 * first and last time, the highest severity): nothing is dropped without a trace. If even that does not fit, the
 * summary keeps counting in memory and is recorded as soon as the spool drains.
 *
 * All TPM calls go through the dw_tpm passed in; the caller serialises TPM access. Not thread-safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dw-error.h"
#include "event-chain.h"
#include "spool.h"
#include "tpm-gateway.h"

#define MON_RECORDER_STATE_FILE "event-chain.state"

struct mon_recorder_options {
        const char *runtime_dir;
        const char *gateway_id;
        const char *boot_id_file; /* NULL: /proc/sys/kernel/random/boot_id */
        uint32_t ak_handle, event_key_handle, nv_index;
        bool nv_owner_fallback;
        size_t batch_max_events; /* 1..DW_EVENT_BATCH_EVENTS_MAX */
};

struct mon_recorder;

/* What open found and did (for the start-up log). */
struct mon_recorder_open_info {
        bool new_chain;     /* no saved chain of this epoch: a new one from its genesis */
        bool adopted_batch; /* a spooled batch the state did not cover was adopted */
        bool nv_repaired;   /* the NV index was one extend behind and was extended */
        bool nv_unexpected; /* the NV index holds neither value the state expects (reported, not fatal) */
        bool nv_platform;   /* the NV index is platform-created (else owner: the owner can delete it) */
        uint32_t reset_count;
};

int mon_recorder_open(struct dw_tpm *t, struct mon_spool *spool, const struct mon_recorder_options *o,
                      struct mon_recorder **ret, struct mon_recorder_open_info *ret_info, struct dw_error *err);
void mon_recorder_free(struct mon_recorder *r);
static inline void mon_recorder_freep(struct mon_recorder **r)
{
        if (*r)
                mon_recorder_free(*r);
}

/* Queues ev (taken over, also on error) for the next batch; sets times when the caller left them 0. Returns 1 when
 * the batch is full and should be sealed now, 0 otherwise. */
int mon_recorder_add(struct mon_recorder *r, struct dw_event *ev);

/* Seals the queued events into one batch (nothing to do: 0). On a TPM or spool error the events stay queued and
 * the error is returned (-ENOSPC is handled by summarising, not returned). Returns the events recorded (> 0). */
int mon_recorder_seal(struct mon_recorder *r, struct dw_tpm *t, struct dw_error *err);

size_t mon_recorder_queued(const struct mon_recorder *r);
uint64_t mon_recorder_next_seq(const struct mon_recorder *r);
const struct dw_event_chain *mon_recorder_chain(const struct mon_recorder *r);
/* Events summarised because the spool was full, since open. */
uint64_t mon_recorder_summarised(const struct mon_recorder *r);
