/* SPDX-License-Identifier: MIT */
#pragma once

/* The attestation nonces issued and not used yet, in memory. A nonce lives for nonce_lifetime (a minute): keeping
 * the unused ones in the database cost a transaction per nonce, for nothing a restart needs (a nonce issued before a
 * restart is refused afterwards as nonce-unknown, and the gateway asks for another). Used nonces are what replay
 * protection needs across restarts: the store records each one in the transaction that ends its round
 * (vf_store_round_commit), and keeps it nonce_retention past its expiry.
 *
 * Per gateway at most VF_NONCES_OUTSTANDING are remembered: issuing more forgets a used or expired one first, else
 * the oldest unused one. Thread-safe. */

#include <stdint.h>

#include "macro.h"
#include "store.h"

#define VF_NONCE_SIZE 32

struct vf_nonces;

int vf_nonces_new(struct vf_nonces **ret);
void vf_nonces_free(struct vf_nonces *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vf_nonces *, vf_nonces_free);

/* A new nonce, valid until expires (usec): the expiry (8 bytes, big-endian: nonces sort by it, see
 * vf_store_nonce_used) and 24 random bytes. */
int vf_nonce_make(uint64_t expires, uint8_t ret[static VF_NONCE_SIZE]);
/* Remembers a nonce issued to a gateway now, valid until expires (usec). */
int vf_nonces_issue(struct vf_nonces *n, const char *gateway_id, const uint8_t nonce[static VF_NONCE_SIZE],
                    uint64_t now, uint64_t expires);
/* Uses a nonce, atomically (of two requests carrying it, one gets VF_NONCE_OK): VF_NONCE_OK, VF_NONCE_EXPIRED (it is
 * used up too), VF_NONCE_REUSED (used already), or VF_NONCE_UNKNOWN (not remembered: never issued to this gateway,
 * forgotten, or issued before a restart: the store knows whether it was used). */
enum vf_nonce_result vf_nonces_use(struct vf_nonces *n, const char *gateway_id, const uint8_t *nonce, uint64_t now);
/* Forgets a gateway's nonces (it was removed). */
void vf_nonces_forget(struct vf_nonces *n, const char *gateway_id);
/* Forgets the gateways whose nonces all expired before `before` (until then, evidence for an expired nonce is told
 * so, rather than nonce-unknown). */
void vf_nonces_prune(struct vf_nonces *n, uint64_t before);
/* Nonces remembered (used or not). */
size_t vf_nonces_count(struct vf_nonces *n);
