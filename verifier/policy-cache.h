/* SPDX-License-Identifier: MIT */
#pragma once

/* Compiled policies, shared by every round that uses them. A stored policy version never changes, so a compiled one
 * is kept (the most recently used VF_POLICY_CACHE_MAX of them) and handed out by reference: loading a 100,000-path
 * policy costs once, not once per round. Which version a gateway uses is resolved from the store and kept until
 * the store's policies, assignments or gateways change (vf_store_generation), so an admin's change applies at the
 * next round. Thread-safe. */

#include <stddef.h>
#include <stdint.h>

#include "boot-policy.h"
#include "runtime-policy.h"
#include "store.h"

#define VF_POLICY_CACHE_MAX 16

struct vf_policy_cache;
struct vf_policy_ref;

int vf_policy_cache_new(struct vf_store *store, struct vf_policy_cache **ret);
void vf_policy_cache_free(struct vf_policy_cache *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vf_policy_cache *, vf_policy_cache_free);

/* The policy of kind in effect for a gateway: *ret NULL (and 0) when none is assigned. -ENOENT when the assigned
 * name or version does not exist, -EBADMSG when the stored policy does not load (msg says why). */
int vf_policy_cache_acquire(struct vf_policy_cache *c, enum vf_policy_kind kind, const char *gateway_id,
                            struct vf_policy_ref **ret, char *msg, size_t msg_size);
void vf_policy_ref_release(struct vf_policy_ref *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vf_policy_ref *, vf_policy_ref_release);

const struct dw_runtime_policy *vf_policy_ref_runtime(const struct vf_policy_ref *r);
const struct dw_boot_policy *vf_policy_ref_boot(const struct vf_policy_ref *r);
/* "runtime:NAME@VERSION". */
const char *vf_policy_ref_id(const struct vf_policy_ref *r);

/* Checks a policy document as the round will load it. */
int vf_policy_validate(enum vf_policy_kind kind, const char *body, size_t size, char *msg, size_t msg_size);
