/* SPDX-License-Identifier: MIT */
#pragma once

/* Keylime's runtime policy format (version 1: {"meta": {"version": 1, "generator": N, "timestamp": "..."},
 * "release": N, "digests": {PATH: [HEX...]}, "excludes": [PYTHON-REGEX...], "keyrings": {KEYRING: [HEX...]}, "ima":
 * {"ignored_keyrings": [...], "log_hash_alg": "sha1", "dm_policy": null}, "ima-buf": {NAME: [HEX...]},
 * "verification-keys": "<JSON text: {KEYRING: {pubkeys: [BASE64 DER...], keyids: [INT...]}}>"}) converted to and
 * from ours. What maps and what does not is in docs/runtime-policy.md, "Keylime". Pure: trees in, trees out.
 *
 * Warnings (one line each) are appended to a JSON array of strings for the caller to print. */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "runtime-policy.h"

/* Python `re` syntax to POSIX ERE with the same prefix-match meaning. Returns 0 with a malloc'd pattern, or -EBADMSG
 * with why set (a construct without a POSIX equivalent: lookaround, backreferences, \b, possessive quantifiers...),
 * -ENOMEM. */
int dw_regex_python_to_posix(const char *py, char **ret, char *why, size_t why_size);
/* POSIX ERE (as the engine compiles it) to Python `re`. Same returns. */
int dw_regex_posix_to_python(const char *ere, char **ret, char *why, size_t why_size);

/* Keylime → ours. created and generator go into meta. Unconvertible exclude patterns are an error (-EBADMSG, err
 * says which and why) unless drop_bad_excludes (then a warning: dropping an exclude only makes the policy stricter).
 * Returns 0 with a checked, normalized document, -EBADMSG / -EOPNOTSUPP (a Keylime version other than 1) with err
 * set, -ENOMEM. */
int dw_keylime_import(const json_t *kl, bool drop_bad_excludes, const char *created, const char *generator,
                      json_t **ret, json_t *warnings, struct dw_policy_error *err);

/* Ours → Keylime. What Keylime cannot express is left out with a warning when that makes the Keylime policy
 * stricter (allow_violations, fs-verity digests, unconvertible excludes); what would make it more permissive
 * (require_signatures) is an error (-EBADMSG, err set) unless lossy. Returns 0 with the Keylime document, -EBADMSG,
 * -ENOMEM. */
int dw_keylime_export(const json_t *doc, bool lossy, json_t **ret, json_t *warnings, struct dw_policy_error *err);
