/* SPDX-License-Identifier: MIT */
/* The TPM connection, TPM errors and what the gateway modules share. */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "tpm-gateway-internal.h"

static const char *const key_type_names[_DW_TPM_KEY_TYPE_MAX] = {
        [DW_TPM_KEY_RSA2048] = "rsa",
        [DW_TPM_KEY_ECC_P256] = "ecc",
        [DW_TPM_KEY_ECC_P384] = "ecc384",
};

const char *dw_tpm_key_type_name(enum dw_tpm_key_type type)
{
        if (type < 0 || type >= _DW_TPM_KEY_TYPE_MAX)
                return NULL;
        return key_type_names[type];
}

int dw_tpm_key_type_from_name(const char *name, enum dw_tpm_key_type *ret)
{
        static const struct {
                const char *name;
                enum dw_tpm_key_type type;
        } aliases[] = {
                {"rsa", DW_TPM_KEY_RSA2048},
                {"rsa2048", DW_TPM_KEY_RSA2048},
                {"ecc", DW_TPM_KEY_ECC_P256},
                {"ecc256", DW_TPM_KEY_ECC_P256},
                {"ecc_nist_p256", DW_TPM_KEY_ECC_P256},
                {"ecc384", DW_TPM_KEY_ECC_P384},
                {"ecc_nist_p384", DW_TPM_KEY_ECC_P384},
        };

        for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
                if (strcasecmp(name, aliases[i].name) == 0) {
                        *ret = aliases[i].type;
                        return 0;
                }
        return -EINVAL;
}

const char *dw_tpm_strerror(uint32_t rc)
{
        return Tss2_RC_Decode(rc);
}

bool tpm_rc_is(TSS2_RC rc, TSS2_RC code)
{
        if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
                return false;
        if (rc & TPM2_RC_FMT1)
                return (rc & (TPM2_RC_FMT1 | 0x3f)) == code;
        return (rc & 0xfff) == code;
}

static int rc_errno(TSS2_RC rc)
{
        static const struct {
                TSS2_RC rc;
                int errnum;
        } map[] = {
                {TPM2_RC_HANDLE, ENOENT},         {TPM2_RC_NV_DEFINED, EEXIST},
                {TPM2_RC_AUTH_FAIL, EACCES},      {TPM2_RC_BAD_AUTH, EACCES},
                {TPM2_RC_POLICY_FAIL, EACCES},    {TPM2_RC_INTEGRITY, EACCES},
                {TPM2_RC_HIERARCHY, EPERM},       {TPM2_RC_NV_UNINITIALIZED, ENODATA},
                {TPM2_RC_OBJECT_MEMORY, ENOSPC},  {TPM2_RC_SESSION_MEMORY, ENOSPC},
                {TPM2_RC_OBJECT_HANDLES, ENOSPC}, {TPM2_RC_NV_SPACE, ENOSPC},
                {TPM2_RC_LOCKOUT, EBUSY},         {TPM2_RC_RETRY, EAGAIN},
        };

        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (tpm_rc_is(rc, map[i].rc))
                        return map[i].errnum;
        return EIO;
}

int tpm_error(struct dw_error *err, TSS2_RC rc, const char *fmt, ...)
{
        if (err) {
                char what[120];
                va_list ap;

                va_start(ap, fmt);
                vsnprintf(what, sizeof(what), fmt, ap);
                va_end(ap);
                dw_error_set(err, 0, 0, 0, "%s: %s", what, dw_tpm_strerror(rc));
        }
        return -rc_errno(rc);
}

void tpm_obj_release(struct tpm_obj *o)
{
        if (o->tr == ESYS_TR_NONE || o->tr == ESYS_TR_PASSWORD)
                return;
        /* A flush that fails (the TPM lost the object already) still has to free ESAPI's record. */
        if (!o->flush || Esys_FlushContext(o->esys, o->tr) != TSS2_RC_SUCCESS)
                (void)Esys_TR_Close(o->esys, &o->tr);
        o->tr = ESYS_TR_NONE;
}

static int query_nv_buffer_max(struct dw_tpm *t, struct dw_error *err)
{
        _cleanup_esys_ TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more;
        TSS2_RC rc;

        rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                TPM2_PT_NV_BUFFER_MAX, 1, &more, &cap);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_GetCapability(TPM2_PT_NV_BUFFER_MAX)");
        t->nv_buffer_max = 512; /* the PC Client minimum, if the TPM does not say */
        if (cap->data.tpmProperties.count > 0 &&
            cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX)
                t->nv_buffer_max = MIN(cap->data.tpmProperties.tpmProperty[0].value,
                                       (uint32_t)sizeof(((TPM2B_MAX_NV_BUFFER *)NULL)->buffer));
        return 0;
}

int dw_tpm_open(const char *tcti, struct dw_tpm **ret, struct dw_error *err)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        TSS2_RC rc;
        int r;

        if (!tcti)
                tcti = DW_TPM_TCTI_DEFAULT;
        t = calloc(1, sizeof(*t));
        if (!t)
                return dw_error_set(err, ENOMEM, 0, 0, "out of memory");
        rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "cannot open TPM TCTI '%s'", tcti);
        rc = Esys_Initialize(&t->esys, t->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "cannot initialise ESAPI over TCTI '%s'", tcti);
        r = query_nv_buffer_max(t, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

void dw_tpm_close(struct dw_tpm *t)
{
        if (!t)
                return;
        if (t->esys)
                Esys_Finalize(&t->esys);
        if (t->tcti)
                Tss2_TctiLdr_Finalize(&t->tcti);
        free(t);
}

int tpm_handle_exists(struct dw_tpm *t, TPM2_HANDLE handle, bool *ret, struct dw_error *err)
{
        _cleanup_esys_ TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more;
        TSS2_RC rc;

        rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, handle, 1, &more,
                                &cap);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_GetCapability(handles from 0x%08x)", handle);
        *ret = cap->data.handles.count > 0 && cap->data.handles.handle[0] == handle;
        return 0;
}

int tpm_obj_open(struct dw_tpm *t, TPM2_HANDLE handle, struct tpm_obj *ret, struct dw_error *err)
{
        ESYS_TR tr;
        bool exists;
        TSS2_RC rc;
        int r;

        r = tpm_handle_exists(t, handle, &exists, err);
        if (r < 0)
                return r;
        if (!exists)
                return dw_error_set(err, ENOENT, 0, 0, "TPM handle 0x%08x is not defined", handle);
        rc = Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "cannot use TPM handle 0x%08x", handle);
        *ret = (struct tpm_obj){.esys = t->esys, .tr = tr, .flush = false};
        return 0;
}

int tpm_key_read(struct dw_tpm *t, ESYS_TR tr, struct dw_tpm_key *key, struct dw_error *err)
{
        _cleanup_esys_ TPM2B_PUBLIC *pub = NULL;
        _cleanup_esys_ TPM2B_NAME *name = NULL, *qname = NULL;
        TSS2_RC rc;

        rc = Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name, &qname);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_ReadPublic");
        key->public = *pub;
        key->name = *name;
        key->qualified_name = *qname;
        return 0;
}

int tpm_policy_session(struct dw_tpm *t, TPMI_ALG_HASH hash_alg, struct tpm_obj *ret, struct dw_error *err)
{
        const TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
        ESYS_TR session;
        TSS2_RC rc;

        rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
                                   TPM2_SE_POLICY, &sym, hash_alg, &session);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(err, rc, "TPM2_StartAuthSession(policy)");
        *ret = (struct tpm_obj){.esys = t->esys, .tr = session, .flush = true};
        return 0;
}

int tpm_data_from(const uint8_t *data, size_t size, TPM2B_DATA *ret, struct dw_error *err)
{
        if (size > sizeof(ret->buffer))
                return dw_error_set(err, EINVAL, 0, 0, "qualifying data of %zu bytes, the TPM takes at most %zu", size,
                                    sizeof(ret->buffer));
        ret->size = (UINT16)size;
        if (size > 0)
                memcpy(ret->buffer, data, size);
        return 0;
}
