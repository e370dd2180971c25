/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the lib/tpm-gateway*.c files only: the connection, TPM error reporting, scoped release of ESAPI objects
 * and the key helpers the EK, AK and event key have in common. */

#include <tss2/tss2_esys.h>

#include "tpm-gateway.h"

struct dw_tpm {
        TSS2_TCTI_CONTEXT *tcti;
        ESYS_CONTEXT *esys;
        uint16_t nv_buffer_max; /* TPM2_PT_NV_BUFFER_MAX, at most sizeof(TPM2B_MAX_NV_BUFFER.buffer) */
};

/* Fills err with "MSG: <decoded rc>" and returns the errno that fits rc. */
int tpm_error(struct dw_error *err, TSS2_RC rc, const char *fmt, ...) _printf_(3, 4);
/* True when rc is the TPM response code `code` (TPM2_RC_HANDLE, TPM2_RC_NV_DEFINED, ...), whatever parameter,
 * handle or session number it carries. */
bool tpm_rc_is(TSS2_RC rc, TSS2_RC code);

/* An ESYS_TR released when it goes out of scope: flushed from the TPM (transient objects, sessions) or only
 * closed in ESAPI (persistent objects, NV indices). ESYS_TR_NONE and ESYS_TR_PASSWORD are left alone. */
struct tpm_obj {
        ESYS_CONTEXT *esys;
        ESYS_TR tr;
        bool flush;
};
#define TPM_OBJ_INIT(t)                                                                                                \
        {                                                                                                              \
                .esys = (t)->esys, .tr = ESYS_TR_NONE                                                                  \
        }
void tpm_obj_release(struct tpm_obj *o);
#define _cleanup_tpm_obj_ _cleanup_(tpm_obj_release)

static inline void esys_freep(void *p)
{
        Esys_Free(*(void **)p);
}
#define _cleanup_esys_ _cleanup_(esys_freep)

/* Whether a persistent handle or NV index exists (TPM2_GetCapability, so a missing one logs no ESAPI error). */
int tpm_handle_exists(struct dw_tpm *t, TPM2_HANDLE handle, bool *ret, struct dw_error *err);
/* An ESYS_TR for an existing persistent object or NV index (closed, not flushed, on release). */
int tpm_obj_open(struct dw_tpm *t, TPM2_HANDLE handle, struct tpm_obj *ret, struct dw_error *err);

/* TPM2_ReadPublic into key (public, name, qualified name). */
int tpm_key_read(struct dw_tpm *t, ESYS_TR tr, struct dw_tpm_key *key, struct dw_error *err);

/* The transient EK of a type, and a session that authorises its use (as parent, for ActivateCredential): a policy
 * session with PolicySecret(TPM_RH_ENDORSEMENT) for the L templates, the empty password for the H templates (they
 * have userWithAuth). One session per command: a policy session is reset after each use. */
int tpm_ek_load(struct dw_tpm *t, enum dw_tpm_key_type type, struct tpm_obj *ret_ek, struct dw_tpm_key *ret_key,
                struct dw_error *err);
int tpm_ek_session(struct dw_tpm *t, const TPMT_PUBLIC *ek, struct tpm_obj *ret, struct dw_error *err);

/* A policy session (hash alg: that of the policy it is to satisfy) for the caller to extend. */
int tpm_policy_session(struct dw_tpm *t, TPMI_ALG_HASH hash_alg, struct tpm_obj *ret, struct dw_error *err);

/* Qualifying data / nonce into a TPM2B_DATA: -EINVAL (with err) above 64 bytes. */
int tpm_data_from(const uint8_t *data, size_t size, TPM2B_DATA *ret, struct dw_error *err);
