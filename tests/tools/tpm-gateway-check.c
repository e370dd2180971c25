/* SPDX-License-Identifier: MIT */
/* Library-level checks of lib/tpm-gateway.h against a live TPM (swtpm), for tests/shell/test-tpm-gateway.sh.
 *
 *   tpm-gateway-check attest-show FILE
 *       Decodes a marshalled TPMS_ATTEST with libtss2-mu alone ("key: value" lines; tpm2_print 5.4 cannot show
 *       certify and NV certify attestations).
 *   tpm-gateway-check nv-read TCTI INDEX
 *       Writes the whole data of an ordinary NV index to stdout (dw_tpm_nv_read_all: chunks of the NV buffer size).
 *   tpm-gateway-check stress TCTI ROUNDS AK_HANDLE EVENT_KEY_HANDLE NV_INDEX
 *       In one ESAPI context, ROUNDS times: a quote, TPM2_Certify of the event key, NV extend + read + certify, a
 *       credential activation round trip (credential made in software for the AK's name) and the error paths
 *       (missing AK, missing object, wrong credential, undefined NV index, inactive PCR bank). Then asks the TPM
 *       for its loaded transient objects and sessions: there must be none. Exit 0 when all of it held. */

#include <stdio.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "fileio.h"
#include "hex.h"
#include "tpm-credential.h"
#include "tpm-gateway-internal.h"

static void print_hex(const char *key, const uint8_t *data, size_t size)
{
        char buf[2 * 1024 + 1];

        printf("%s: %s\n", key, dw_hex_encode(data, MIN(size, (size_t)1024), buf));
}

static int attest_show(const char *path)
{
        _cleanup_free_ uint8_t *buf = NULL;
        TPMS_ATTEST a;
        size_t size, off = 0;

        if (dw_read_full_file(path, 1 << 20, &buf, &size) < 0) {
                fprintf(stderr, "%s: cannot read\n", path);
                return 2;
        }
        if (Tss2_MU_TPMS_ATTEST_Unmarshal(buf, size, &off, &a) != TSS2_RC_SUCCESS || off != size) {
                fprintf(stderr, "%s: not a marshalled TPMS_ATTEST\n", path);
                return 2;
        }
        printf("magic: %08x\n", a.magic);
        printf("type: %s\n", a.type == TPM2_ST_ATTEST_QUOTE     ? "quote"
                             : a.type == TPM2_ST_ATTEST_CERTIFY ? "certify"
                             : a.type == TPM2_ST_ATTEST_NV      ? "nv"
                                                                : "other");
        print_hex("signer", a.qualifiedSigner.name, a.qualifiedSigner.size);
        print_hex("extra_data", a.extraData.buffer, a.extraData.size);
        printf("reset_count: %u\n", a.clockInfo.resetCount);
        if (a.type == TPM2_ST_ATTEST_QUOTE)
                print_hex("pcr_digest", a.attested.quote.pcrDigest.buffer, a.attested.quote.pcrDigest.size);
        if (a.type == TPM2_ST_ATTEST_CERTIFY) {
                print_hex("name", a.attested.certify.name.name, a.attested.certify.name.size);
                print_hex("qualified_name", a.attested.certify.qualifiedName.name,
                          a.attested.certify.qualifiedName.size);
        }
        if (a.type == TPM2_ST_ATTEST_NV) {
                print_hex("index_name", a.attested.nv.indexName.name, a.attested.nv.indexName.size);
                printf("offset: %u\n", a.attested.nv.offset);
                print_hex("contents", a.attested.nv.nvContents.buffer, a.attested.nv.nvContents.size);
        }
        return 0;
}

static int nv_read(const char *tcti, uint32_t index)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        struct dw_error err = {};
        size_t size;

        if (dw_tpm_open(tcti, &t, &err) < 0 || dw_tpm_nv_read_all(t, index, &data, &size, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 2;
        }
        return fwrite(data, 1, size, stdout) == size ? 0 : 2;
}

static unsigned failures;

static void check(bool ok, const char *what, const struct dw_error *err)
{
        if (ok)
                return;
        failures++;
        printf("FAIL %s%s%s\n", what, err && err->msg[0] ? ": " : "", err ? err->msg : "");
}

/* Handles the TPM reports loaded in a range (transient objects, loaded or saved sessions). */
static uint32_t count_handles(struct dw_tpm *t, TPM2_HANDLE first)
{
        _cleanup_esys_ TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more;
        uint32_t n = 0;

        if (Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, first, 64, &more,
                               &cap) != TSS2_RC_SUCCESS)
                return UINT32_MAX;
        for (uint32_t i = 0; i < cap->data.handles.count; i++)
                if ((cap->data.handles.handle[i] >> 24) == (first >> 24))
                        n++;
        return n;
}

static void round_ok_paths(struct dw_tpm *t, uint32_t ak, uint32_t evk, uint32_t nv, const struct dw_tpm_key *ak_key,
                           const struct dw_tpm_key *ek, unsigned i)
{
        _cleanup_free_ struct dw_tpm_pcrs *pcrs = malloc(sizeof(*pcrs));
        struct dw_tpm_signed_attest att;
        TPML_PCR_SELECTION sel;
        TPM2B_DIGEST credential = {.size = 16}, got;
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET seed;
        struct dw_error err = {};
        uint8_t nonce[8] = {1, 2, 3, 4, 5, 6, 7, (uint8_t)i}, value[32];

        check(pcrs != NULL, "malloc", NULL);
        if (!pcrs)
                return;
        (void)dw_tpm_pcr_selection_from_string("sha1:0-23+sha256:"
                                               "0,1,2,3,4,5,6,7,10",
                                               &sel, NULL);
        check(dw_tpm_quote_pcrs(t, ak, nonce, sizeof(nonce), &sel, &att, pcrs, &err) == 0 && pcrs->n_values == 33,
              "quote", &err);
        check(dw_tpm_certify(t, evk, ak, nonce, sizeof(nonce), &att, &err) == 0, "certify", &err);
        check(dw_tpm_nv_extend(t, nv, nonce, sizeof(nonce), &err) == 0, "nv extend", &err);
        check(dw_tpm_nv_extend_read(t, nv, value, &err) == 0, "nv read", &err);
        check(dw_tpm_nv_extend_certify(t, nv, ak, nonce, sizeof(nonce), &att, &err) == 0 && att.attest.size > 0,
              "nv certify", &err);
        memset(credential.buffer, 0x40 + (int)i, credential.size);
        check(dw_tpm_make_credential(&ek->public.publicArea, &ak_key->name, &credential, &blob, &seed) == 0,
              "make credential (software)", NULL);
        check(dw_tpm_activate_credential(t, ak, DW_TPM_KEY_RSA2048, &blob, &seed, &got, &err) == 0 &&
                      got.size == credential.size && memcmp(got.buffer, credential.buffer, got.size) == 0,
              "activate credential", &err);
}

static void round_error_paths(struct dw_tpm *t, uint32_t ak, const struct dw_tpm_key *ek)
{
        _cleanup_free_ struct dw_tpm_pcrs *pcrs = malloc(sizeof(*pcrs));
        struct dw_tpm_signed_attest att;
        TPML_PCR_SELECTION sel;
        TPM2B_DIGEST credential = {.size = 8}, got;
        TPM2B_NAME wrong = {.size = 34};
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET seed;
        struct dw_error err = {};
        uint8_t nonce[4] = {}, value[32];
        int r;

        if (!pcrs)
                return;
        (void)dw_tpm_pcr_selection_from_string("sha256:0", &sel, NULL);
        r = dw_tpm_quote_pcrs(t, 0x817ffff0, nonce, sizeof(nonce), &sel, &att, pcrs, &err);
        check(r == -ENOENT, "quote with a missing AK fails with -ENOENT", NULL);
        (void)dw_tpm_pcr_selection_from_string("sha384:0", &sel, NULL);
        r = dw_tpm_quote_pcrs(t, ak, nonce, sizeof(nonce), &sel, &att, pcrs, &err);
        check(r == -ENOENT, "quote of an inactive bank fails with -ENOENT", NULL);
        r = dw_tpm_certify(t, 0x817ffff1, ak, nonce, sizeof(nonce), &att, &err);
        check(r == -ENOENT, "certify of a missing object fails", NULL);
        r = dw_tpm_nv_extend_read(t, 0x01bffff0, value, &err);
        check(r == -ENOENT, "read of an undefined NV index fails", NULL);
        wrong.name[0] = 0x00;
        wrong.name[1] = 0x0b;
        check(dw_tpm_make_credential(&ek->public.publicArea, &wrong, &credential, &blob, &seed) == 0,
              "make credential for another name", NULL);
        r = dw_tpm_activate_credential(t, ak, DW_TPM_KEY_RSA2048, &blob, &seed, &got, &err);
        check(r == -EACCES, "activation of a credential for another name fails with -EACCES", &err);
}

static int stress(const char *tcti, unsigned rounds, uint32_t ak, uint32_t evk, uint32_t nv)
{
        _cleanup_(dw_tpm_closep) struct dw_tpm *t = NULL;
        struct dw_tpm_key ak_key, ek, evk_key;
        struct dw_tpm_nv_extend_info info;
        struct dw_error err = {};
        uint32_t transient, loaded, saved;

        if (dw_tpm_open(tcti, &t, &err) < 0) {
                printf("FAIL open: %s\n", err.msg);
                return 1;
        }
        check(dw_tpm_ak_ensure(t, ak, DW_TPM_KEY_ECC_P256, DW_TPM_KEY_RSA2048, &ak_key, &err) == 0, "AK", &err);
        check(dw_tpm_ek_create(t, DW_TPM_KEY_RSA2048, &ek, &err) == 0, "EK", &err);
        check(dw_tpm_event_key_ensure(t, evk, DW_TPM_KEY_RSA2048, &evk_key, &err) == 0, "event key", &err);
        check(dw_tpm_nv_extend_define(t, nv, true, &info, &err) == 0, "NV define", &err);
        if (failures > 0)
                return 1;
        for (unsigned i = 0; i < rounds; i++) {
                round_ok_paths(t, ak, evk, nv, &ak_key, &ek, i);
                round_error_paths(t, ak, &ek);
        }
        transient = count_handles(t, 0x80000000u);
        loaded = count_handles(t, 0x02000000u);
        saved = count_handles(t, 0x03000000u);
        printf("after %u rounds: %u transient objects, %u loaded sessions, %u saved sessions\n", rounds, transient,
               loaded, saved);
        check(transient == 0 && loaded == 0 && saved == 0, "nothing left loaded in the TPM", NULL);
        printf("%s: %u failures\n", failures ? "FAIL" : "ok", failures);
        return failures ? 1 : 0;
}

static int parse_u32(const char *s, uint32_t *ret)
{
        char *end;
        unsigned long v = strtoul(s, &end, 0);

        if (end == s || *end != '\0' || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

int main(int argc, char **argv)
{
        uint32_t rounds, ak, evk, nv;

        if (argc == 3 && strcmp(argv[1], "attest-show") == 0)
                return attest_show(argv[2]);
        setenv("TSS2_LOG", "all+none", 0);
        if (argc == 4 && strcmp(argv[1], "nv-read") == 0 && parse_u32(argv[3], &nv) == 0)
                return nv_read(argv[2], nv);
        if (argc == 7 && strcmp(argv[1], "stress") == 0 && parse_u32(argv[3], &rounds) == 0 &&
            parse_u32(argv[4], &ak) == 0 && parse_u32(argv[5], &evk) == 0 && parse_u32(argv[6], &nv) == 0) {
                return stress(argv[2], rounds, ak, evk, nv);
        }
        fprintf(stderr, "usage: tpm-gateway-check attest-show FILE\n"
                        "       tpm-gateway-check nv-read TCTI INDEX\n"
                        "       tpm-gateway-check stress TCTI ROUNDS AK_HANDLE EVENT_KEY_HANDLE NV_INDEX\n");
        return 2;
}
