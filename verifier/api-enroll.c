/* SPDX-License-Identifier: MIT */
/* Enrollment, in two requests (docs/protocol.md, "Enrollment"):
 *
 *   POST /v1/gateways/{id}/enroll     EK certificate, EK, AK and event key public areas, CSR
 *                                     -> the EK chain and keys are checked; a credential (TPM2_MakeCredential for
 *                                        the EK and the AK's Name) wrapping a fresh random secret, and a nonce
 *   POST /v1/gateways/{id}/activate   HMAC-SHA256(secret, nonce) and TPM2_Certify of the event key by the AK over
 *                                     the nonce
 *                                     -> the gateway is enrolled and gets its TLS client certificate
 *
 * Only a TPM that holds both the EK (whose certificate chains to a configured manufacturer CA) and the AK can
 * recover the secret, so the proof binds the AK, and through TPM2_Certify the event key, to a genuine TPM. */

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api.h"
#include "ek-cert.h"
#include "hex.h"
#include "log.h"
#include "round.h"
#include "tpm-credential.h"
#include "tpm-marshal.h"
#include "tpm-quote.h"
#include "util.h"

#define EK_CERT_MAX 16384

/* The public areas of an enrollment request, parsed. */
struct enroll_keys {
        TPMT_PUBLIC ek, ak, event_key;
        TPM2B_NAME ek_name, ak_name;
};

static void enroll_log(struct vf_request *rq, const char *step, const char *result, const char *why)
{
        vf_log_json(VF_LOG_INFO, "enrollment",
                    json_pack("{s:s, s:s, s:s, s:s}", "gateway", rq->params[0], "step", step, "result", result,
                              "reason", why ? why : ""));
        if (strcmp(result, "ok") != 0 || strcmp(step, "activate") == 0)
                vf_metrics_enrollment(rq->v->metrics, strcmp(result, "ok") == 0);
}

/* Replies with an error and logs the refused step. */
static enum MHD_Result refuse(struct vf_request *rq, const char *step, unsigned status, const char *error,
                              const char *detail)
{
        enroll_log(rq, step, error, detail);
        return vf_reply_error(rq, status, error, "%s", detail);
}

static bool attrs(const TPMT_PUBLIC *p, TPMA_OBJECT set, TPMA_OBJECT clear)
{
        return (p->objectAttributes & set) == set && (p->objectAttributes & clear) == 0;
}

/* A member that is a marshalled TPM2B_PUBLIC with the attributes of its role. */
static int key_member(json_t *body, const char *key, TPMA_OBJECT set, TPMA_OBJECT clear, uint8_t *raw, size_t *raw_size,
                      TPMT_PUBLIC *ret, char *why, size_t why_size)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        size_t size;
        int r;

        r = vf_json_base64(body, key, true, VF_TPM_PUBLIC_MAX, &buf, &size, why, why_size);
        if (r < 0)
                return r;
        r = dw_tpm_public_parse(buf, size, ret, &err);
        if (r < 0) {
                snprintf(why, why_size, "%s: not a marshalled TPM2B_PUBLIC: %s", key, err.msg);
                return -EINVAL;
        }
        if (ret->type != TPM2_ALG_RSA && ret->type != TPM2_ALG_ECC) {
                snprintf(why, why_size, "%s: not an RSA or ECC key", key);
                return -EINVAL;
        }
        if (!attrs(ret, set, clear)) {
                snprintf(why, why_size, "%s: object attributes 0x%08x are not those of its role", key,
                         ret->objectAttributes);
                return -EINVAL;
        }
        memcpy(raw, buf, size);
        *raw_size = size;
        return 0;
}

#define KEY_BASE (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN)

static int keys_parse(json_t *body, struct vf_enrollment *e, struct enroll_keys *k, char *why, size_t why_size)
{
        int r;

        r = key_member(body, "ek_public", KEY_BASE | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
                       TPMA_OBJECT_SIGN_ENCRYPT, e->ek_public, &e->ek_public_size, &k->ek, why, why_size);
        if (r == 0)
                r = key_member(body, "ak_public", KEY_BASE | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT,
                               TPMA_OBJECT_DECRYPT, e->ak_public, &e->ak_public_size, &k->ak, why, why_size);
        if (r == 0)
                r = key_member(body, "event_key_public", KEY_BASE | TPMA_OBJECT_SIGN_ENCRYPT,
                               TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT, e->event_key_public,
                               &e->event_key_public_size, &k->event_key, why, why_size);
        if (r < 0)
                return r;
        if (dw_tpm_public_name(&k->ek, &k->ek_name) < 0 || dw_tpm_public_name(&k->ak, &k->ak_name) < 0) {
                snprintf(why, why_size, "cannot compute the Name of the EK or AK (unknown nameAlg)");
                return -EINVAL;
        }
        dw_hex_encode(k->ek_name.name, k->ek_name.size, e->ek_name);
        dw_hex_encode(k->ak_name.name, k->ak_name.size, e->ak_name);
        return 0;
}

/* The EK certificate chains to a configured CA and carries the key of ek_public. */
static int ek_cert_check(struct verifier *v, json_t *body, const TPMT_PUBLIC *ek, struct vf_enrollment *e,
                         const char **ret_error, char *why, size_t why_size)
{
        _cleanup_free_ uint8_t *der = NULL;
        _cleanup_(dw_x509_freep) X509 *cert = NULL;
        struct dw_ek_cert_result res = {};
        struct dw_error err = {};
        size_t size;
        int r;

        *ret_error = "malformed-request";
        r = vf_json_base64(body, "ek_certificate", true, EK_CERT_MAX, &der, &size, why, why_size);
        if (r < 0)
                return r;
        r = dw_ek_cert_parse(der, size, &cert, &err);
        if (r < 0) {
                snprintf(why, why_size, "ek_certificate: %s", err.msg);
                return -EINVAL;
        }
        r = dw_ek_cert_verify(v->ek_trust, cert, 0, ek, &res);
        if (r < 0) {
                snprintf(why, why_size, "cannot validate the EK certificate: %s", strerror(-r));
                return r;
        }
        if (!res.valid) {
                *ret_error = res.reason == DW_EK_CERT_KEY_MISMATCH ? "ek-certificate-key-mismatch"
                                                                   : "ek-certificate-invalid";
                snprintf(why, why_size, "%s: %s", dw_ek_cert_reason_name(res.reason), res.msg);
                return -EACCES;
        }
        snprintf(e->tpm_manufacturer, sizeof(e->tpm_manufacturer), "%s", res.tpm.manufacturer);
        return 0;
}

/* A re-enrollment must be the same TPM: the same EK and AK. */
static int conflict_check(struct verifier *v, const struct vf_enrollment *e, const char **ret_error, char *why,
                          size_t why_size)
{
        struct vf_gateway g = {};
        int r;

        r = vf_store_gateway_get(v->store, e->gateway_id, &g);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        vf_gateway_done(&g);
        if (strcmp(g.ek_name, e->ek_name) != 0) {
                *ret_error = "ek-mismatch";
                snprintf(why, why_size, "gateway %s is enrolled with another EK", e->gateway_id);
                return -EEXIST;
        }
        if (strcmp(g.ak_name, e->ak_name) != 0) {
                *ret_error = "ak-mismatch";
                snprintf(why, why_size, "gateway %s is enrolled with another AK", e->gateway_id);
                return -EEXIST;
        }
        return 0;
}

/* The credential for the EK and the AK's Name, the nonce, and the proof the gateway must return. */
static int challenge_make(const struct enroll_keys *k, struct vf_enrollment *e, char **ret_credential_b64)
{
        _cleanup_free_ uint8_t *file = NULL;
        TPM2B_DIGEST secret = {.size = 32};
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET seed;
        unsigned proof_size = sizeof(e->proof);
        size_t size;
        int r;

        r = vf_random_bytes(secret.buffer, secret.size);
        if (r == 0)
                r = vf_random_bytes(e->nonce, sizeof(e->nonce));
        if (r == 0)
                r = dw_tpm_make_credential(&k->ek, &k->ak_name, &secret, &blob, &seed);
        if (r == 0 &&
            !HMAC(EVP_sha256(), secret.buffer, secret.size, e->nonce, sizeof(e->nonce), e->proof, &proof_size))
                r = -EIO;
        OPENSSL_cleanse(&secret, sizeof(secret));
        if (r == 0)
                r = dw_tpm_credential_file_write(&blob, &seed, &file, &size);
        if (r < 0)
                return r;
        *ret_credential_b64 = vf_base64_encode(file, size);
        return *ret_credential_b64 ? 0 : -ENOMEM;
}

enum MHD_Result vf_api_enroll(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_(vf_enrollment_done) struct vf_enrollment e = {};
        _cleanup_free_ char *credential = NULL;
        struct enroll_keys k;
        const char *csr, *error = "malformed-request";
        char why[512], expires[32], nonce_hex[65];
        int r;

        if (!v->ek_trust)
                return refuse(rq, "enroll", 503, "enrollment-disabled",
                              "this verifier has no ek_ca_bundle configured, so it cannot enroll gateways");
        if (vf_request_json(rq, &body, why, sizeof(why)) < 0)
                return refuse(rq, "enroll", 400, "malformed-json", why);
        snprintf(e.gateway_id, sizeof(e.gateway_id), "%s", rq->params[0]);
        r = keys_parse(body, &e, &k, why, sizeof(why));
        if (r == 0)
                r = ek_cert_check(v, body, &k.ek, &e, &error, why, sizeof(why));
        if (r == 0)
                r = vf_json_string(body, "csr", true, &csr, why, sizeof(why));
        if (r == 0) {
                error = "malformed-csr";
                r = vf_pki_check_csr(csr, strlen(csr), why, sizeof(why));
        }
        if (r == 0)
                r = conflict_check(v, &e, &error, why, sizeof(why));
        if (r == -EEXIST)
                return refuse(rq, "enroll", 409, error, why);
        if (r == -EACCES)
                return refuse(rq, "enroll", 403, error, why);
        if (r < 0)
                return refuse(rq, "enroll", 400, error, why);
        e.csr_pem = strdup(csr);
        if (!e.csr_pem)
                return vf_reply_error(rq, 500, "internal-error", "out of memory");
        r = challenge_make(&k, &e, &credential);
        if (r < 0)
                return refuse(rq, "enroll", 500, "internal-error", "cannot make the credential");
        e.expires = vf_now_usec() + v->cfg->enrollment_lifetime * 1000000u;
        r = vf_store_enrollment_put(v->store, &e);
        if (r < 0)
                return refuse(rq, "enroll", 500, "internal-error", "database error");
        enroll_log(rq, "enroll", "ok", NULL);
        vf_request_log(rq, "gateway", json_string(e.gateway_id));
        return vf_reply_json(rq, 200,
                             json_pack("{s:s, s:s, s:s, s:I}", "credential", credential, "nonce",
                                       dw_hex_encode(e.nonce, sizeof(e.nonce), nonce_hex), "expires",
                                       vf_format_time(e.expires, expires, sizeof(expires)), "expires_in",
                                       (json_int_t)v->cfg->enrollment_lifetime));
}

/* TPM2_Certify of the event key by the AK, over the enrollment nonce. */
static int certify_check(const struct vf_enrollment *e, json_t *body, const char **ret_error, char *why,
                         size_t why_size)
{
        _cleanup_free_ uint8_t *attest = NULL, *sig = NULL;
        TPMT_PUBLIC ak, event_key;
        struct dw_attest_result res = {};
        struct dw_error err = {};
        size_t attest_size, sig_size;
        json_t *c = json_object_get(body, "event_key_certify");
        int r;

        *ret_error = "malformed-request";
        if (!json_is_object(c)) {
                snprintf(why, why_size, "event_key_certify: expected an object {\"attest\", \"signature\"}");
                return -EINVAL;
        }
        r = vf_json_base64(c, "attest", true, sizeof(TPMS_ATTEST), &attest, &attest_size, why, why_size);
        if (r == 0)
                r = vf_json_base64(c, "signature", true, sizeof(TPMT_SIGNATURE), &sig, &sig_size, why, why_size);
        if (r < 0)
                return r;
        if (dw_tpm_public_parse(e->ak_public, e->ak_public_size, &ak, NULL) < 0 ||
            dw_tpm_public_parse(e->event_key_public, e->event_key_public_size, &event_key, NULL) < 0)
                return -EIO;
        r = dw_tpm_certify_verify(
                &(struct dw_attest_expect){.ak_public = &ak, .nonce = e->nonce, .nonce_size = sizeof(e->nonce)},
                &(struct dw_attest_evidence){attest, attest_size, sig, sig_size}, &event_key, NULL, &res, NULL, &err);
        if (r < 0) {
                snprintf(why, why_size, "event_key_certify: %s", err.msg);
                return -EINVAL;
        }
        if (!res.valid) {
                *ret_error = "event-key-certify-invalid";
                snprintf(why, why_size, "%s: %s", dw_attest_reason_name(res.reason), res.msg);
                return -EACCES;
        }
        return 0;
}

/* The proof: HMAC-SHA256 keyed with the recovered secret over the nonce. */
static int proof_check(const struct vf_enrollment *e, json_t *body, const char **ret_error, char *why, size_t why_size)
{
        uint8_t proof[32];
        int r;

        *ret_error = "malformed-request";
        r = vf_json_hex(body, "proof", true, proof, sizeof(proof), why, why_size);
        if (r < 0)
                return r;
        if (!vf_memeq_const(proof, e->proof, sizeof(proof))) {
                *ret_error = "activation-failed";
                snprintf(why, why_size,
                         "the proof is not HMAC-SHA256(credential secret, nonce): the credential "
                         "was not activated by the TPM holding this EK and AK");
                return -EACCES;
        }
        return 0;
}

static int gateway_make(struct verifier *v, const struct vf_enrollment *e, const struct vf_issued_cert *cert,
                        struct vf_gateway *ret)
{
        struct vf_gateway g = {};

        snprintf(g.id, sizeof(g.id), "%s", e->gateway_id);
        snprintf(g.group, sizeof(g.group), "%s", v->cfg->default_group);
        memcpy(g.ek_public, e->ek_public, e->ek_public_size);
        g.ek_public_size = e->ek_public_size;
        memcpy(g.ak_public, e->ak_public, e->ak_public_size);
        g.ak_public_size = e->ak_public_size;
        memcpy(g.event_key_public, e->event_key_public, e->event_key_public_size);
        g.event_key_public_size = e->event_key_public_size;
        memcpy(g.ek_name, e->ek_name, sizeof(g.ek_name));
        memcpy(g.ak_name, e->ak_name, sizeof(g.ak_name));
        memcpy(g.cert_fingerprint, cert->fingerprint, sizeof(g.cert_fingerprint));
        memcpy(g.cert_serial, cert->serial, sizeof(g.cert_serial));
        g.cert_not_after = cert->not_after;
        memcpy(g.tpm_manufacturer, e->tpm_manufacturer, sizeof(g.tpm_manufacturer));
        g.enrolled_at = vf_now_usec();
        g.boot_log_required = true;
        *ret = g;
        return vf_round_initial_state(v->cfg->bank, &ret->state, &ret->state_size);
}

static enum MHD_Result enrolled(struct vf_request *rq, const struct vf_gateway *g, const struct vf_issued_cert *cert)
{
        struct verifier *v = rq->v;
        char selection[128];

        if (vf_round_pcr_selection(g->state, g->state_size, selection, sizeof(selection)) < 0)
                selection[0] = '\0';
        enroll_log(rq, "activate", "ok", NULL);
        vf_events_publish(v->events, "enrollment",
                          json_pack("{s:s, s:s}", "gateway", g->id, "tpm_manufacturer", g->tpm_manufacturer));
        return vf_reply_json(rq, 200,
                             json_pack("{s:s, s:s, s:s, s:s, s:s}", "gateway", g->id, "certificate", cert->pem, "ca",
                                       vf_pki_ca_pem(v->pki), "group", g->group, "pcr_selection", selection));
}

enum MHD_Result vf_api_activate(struct vf_request *rq)
{
        struct verifier *v = rq->v;
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_(vf_enrollment_done) struct vf_enrollment e = {};
        _cleanup_(vf_issued_cert_done) struct vf_issued_cert cert = {};
        _cleanup_(vf_gateway_done) struct vf_gateway g = {};
        const char *error = NULL, *conflict = NULL;
        char why[512];
        int r;

        if (vf_request_json(rq, &body, why, sizeof(why)) < 0)
                return refuse(rq, "activate", 400, "malformed-json", why);
        /* One attempt per challenge: the pending enrollment is consumed whatever the outcome. */
        r = vf_store_enrollment_take(v->store, rq->params[0], &e);
        if (r == -ENOENT)
                return refuse(rq, "activate", 409, "no-pending-enrollment",
                              "no enrollment of this gateway awaits activation (POST .../enroll first; a challenge "
                              "is answered once)");
        if (r < 0)
                return refuse(rq, "activate", 500, "internal-error", "database error");
        if (e.expires < vf_now_usec())
                return refuse(rq, "activate", 409, "enrollment-expired",
                              "the enrollment challenge expired (enrollment_lifetime); enroll again");
        r = proof_check(&e, body, &error, why, sizeof(why));
        if (r == 0)
                r = certify_check(&e, body, &error, why, sizeof(why));
        if (r == -EACCES)
                return refuse(rq, "activate", 403, error, why);
        if (r < 0)
                return refuse(rq, "activate", r == -EIO ? 500 : 400, r == -EIO ? "internal-error" : error, why);
        r = vf_pki_issue_client_cert(v->pki, e.csr_pem, strlen(e.csr_pem), e.gateway_id, v->cfg->client_cert_lifetime,
                                     &cert, why, sizeof(why));
        if (r < 0)
                return refuse(rq, "activate", r == -EINVAL ? 400 : 500,
                              r == -EINVAL ? "malformed-csr" : "internal-error", why);
        r = gateway_make(v, &e, &cert, &g);
        if (r < 0)
                return refuse(rq, "activate", 500, "internal-error", "cannot create the attestation state");
        r = vf_store_gateway_enroll(v->store, &g, &conflict);
        if (r == -EEXIST)
                return refuse(rq, "activate", 409,
                              strcmp(conflict, "ek") == 0   ? "ek-mismatch"
                              : strcmp(conflict, "ak") == 0 ? "ak-mismatch"
                                                            : "ek-in-use",
                              "the gateway id or the EK is enrolled with other keys");
        if (r < 0)
                return refuse(rq, "activate", 500, "internal-error", "database error");
        vf_request_log(rq, "gateway", json_string(g.id));
        return enrolled(rq, &g, &cert);
}
