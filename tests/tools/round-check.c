/* SPDX-License-Identifier: MIT */
/* round-check: one attestation round (lib/attest-round.h) from files, for live tests against swtpm
 * (tests/shell/test-attest-round.sh) and for trying the verifier's decision by hand.
 *
 *   round-check --ak AK --nonce HEX --quote F --signature F --pcrs F
 *               [--ima LOG [--ima-from N] [--ima-digest-alg sha1|sha256]] [--boot-log F]
 *               [--nv-attest F --nv-signature F --nv-name F [--expect-head HEX]]
 *               [--policy RUNTIME.json] [--boot-policy BOOT.json]
 *               [--state IN] [--state-out OUT] [--bank sha256] [--now N] [--ack ROUND]
 *
 * --ima LOG is the gateway's whole binary log; --ima-from N sends only its entries from index N (as a gateway that
 * resumes from the verifier's ima_next_index), default 0 (the round skips what it has seen). --state reads the
 * persisted state blob (default: a new gateway of --bank); --ack acknowledges its sticky failures up to ROUND (0: all)
 * first. Prints the result as JSON; --state-out writes the new state. Exit 0 trusted, 1 untrusted, 2 bad input. */

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest-round.h"
#include "fileio.h"
#include "hex.h"

#define MAX_FILE (256u << 20)

struct file {
        uint8_t *data;
        size_t size;
};

_printf_(1, 2) static int fail(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "round-check: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return 2;
}

static int load(const char *path, struct file *f)
{
        if (!path)
                return 0;
        if (dw_read_full_file(path, MAX_FILE, &f->data, &f->size) < 0)
                return fail("cannot read %s", path);
        return 0;
}

static int hex_arg(const char *s, uint8_t *out, size_t size, size_t *ret)
{
        int n = dw_hex_decode(s, strlen(s), out, size);

        if (n <= 0)
                return fail("'%s' is not hex", s);
        *ret = (size_t)n;
        return 0;
}

/* The byte offset of entry index in a binary log (its size when index is past the end). */
static size_t ima_offset(const struct file *log, enum dw_hash_alg alg, uint64_t index)
{
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        size_t off = log->size;

        dw_ima_parser_init(&p, DW_IMA_FORMAT_BINARY, alg, log->data, log->size);
        while (dw_ima_parser_next(&p, &e, NULL) > 0)
                if (e.index == index) {
                        off = e.offset;
                        break;
                }
        dw_ima_parser_done(&p);
        return off;
}

enum {
        OPT_AK = 0x100,
        OPT_NONCE,
        OPT_QUOTE,
        OPT_SIGNATURE,
        OPT_PCRS,
        OPT_IMA,
        OPT_IMA_FROM,
        OPT_IMA_ALG,
        OPT_BOOT_LOG,
        OPT_NV_ATTEST,
        OPT_NV_SIGNATURE,
        OPT_NV_NAME,
        OPT_EXPECT_HEAD,
        OPT_POLICY,
        OPT_BOOT_POLICY,
        OPT_STATE,
        OPT_STATE_OUT,
        OPT_BANK,
        OPT_NOW,
        OPT_ACK,
};

struct args {
        const char *ak, *quote, *signature, *pcrs, *ima, *boot_log, *nv_attest, *nv_signature, *nv_name;
        const char *policy, *boot_policy, *state, *state_out;
        uint8_t nonce[64], head[64];
        size_t nonce_size, head_size;
        uint64_t ima_from, now, ack;
        bool has_ack;
        enum dw_hash_alg ima_alg, bank;
};

static int parse_args(int argc, char **argv, struct args *a)
{
        static const struct option options[] = {
                {"ak", required_argument, NULL, OPT_AK},
                {"nonce", required_argument, NULL, OPT_NONCE},
                {"quote", required_argument, NULL, OPT_QUOTE},
                {"signature", required_argument, NULL, OPT_SIGNATURE},
                {"pcrs", required_argument, NULL, OPT_PCRS},
                {"ima", required_argument, NULL, OPT_IMA},
                {"ima-from", required_argument, NULL, OPT_IMA_FROM},
                {"ima-digest-alg", required_argument, NULL, OPT_IMA_ALG},
                {"boot-log", required_argument, NULL, OPT_BOOT_LOG},
                {"nv-attest", required_argument, NULL, OPT_NV_ATTEST},
                {"nv-signature", required_argument, NULL, OPT_NV_SIGNATURE},
                {"nv-name", required_argument, NULL, OPT_NV_NAME},
                {"expect-head", required_argument, NULL, OPT_EXPECT_HEAD},
                {"policy", required_argument, NULL, OPT_POLICY},
                {"boot-policy", required_argument, NULL, OPT_BOOT_POLICY},
                {"state", required_argument, NULL, OPT_STATE},
                {"state-out", required_argument, NULL, OPT_STATE_OUT},
                {"bank", required_argument, NULL, OPT_BANK},
                {"now", required_argument, NULL, OPT_NOW},
                {"ack", required_argument, NULL, OPT_ACK},
                {},
        };
        int c, r;

        *a = (struct args){.ima_alg = DW_HASH_SHA1, .bank = DW_HASH_SHA256};
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case OPT_AK:
                        a->ak = optarg;
                        break;
                case OPT_NONCE:
                        r = hex_arg(optarg, a->nonce, sizeof(a->nonce), &a->nonce_size);
                        if (r)
                                return r;
                        break;
                case OPT_QUOTE:
                        a->quote = optarg;
                        break;
                case OPT_SIGNATURE:
                        a->signature = optarg;
                        break;
                case OPT_PCRS:
                        a->pcrs = optarg;
                        break;
                case OPT_IMA:
                        a->ima = optarg;
                        break;
                case OPT_IMA_FROM:
                        a->ima_from = strtoull(optarg, NULL, 10);
                        break;
                case OPT_IMA_ALG:
                case OPT_BANK:
                        if (dw_hash_alg_from_name(optarg, strlen(optarg), c == OPT_BANK ? &a->bank : &a->ima_alg) < 0)
                                return fail("unknown hash algorithm %s", optarg);
                        break;
                case OPT_BOOT_LOG:
                        a->boot_log = optarg;
                        break;
                case OPT_NV_ATTEST:
                        a->nv_attest = optarg;
                        break;
                case OPT_NV_SIGNATURE:
                        a->nv_signature = optarg;
                        break;
                case OPT_NV_NAME:
                        a->nv_name = optarg;
                        break;
                case OPT_EXPECT_HEAD:
                        r = hex_arg(optarg, a->head, sizeof(a->head), &a->head_size);
                        if (r)
                                return r;
                        break;
                case OPT_POLICY:
                        a->policy = optarg;
                        break;
                case OPT_BOOT_POLICY:
                        a->boot_policy = optarg;
                        break;
                case OPT_STATE:
                        a->state = optarg;
                        break;
                case OPT_STATE_OUT:
                        a->state_out = optarg;
                        break;
                case OPT_NOW:
                        a->now = strtoull(optarg, NULL, 10);
                        break;
                case OPT_ACK:
                        a->ack = strtoull(optarg, NULL, 10);
                        a->has_ack = true;
                        break;
                default:
                        return fail("%s", "usage: see tests/tools/round-check.c");
                }
        }
        if (!a->ak || !a->nonce_size || !a->quote || !a->signature || !a->pcrs)
                return fail("%s", "--ak, --nonce, --quote, --signature and --pcrs are required");
        return 0;
}

struct inputs {
        struct file ak, quote, signature, pcrs, ima, boot_log, nv_attest, nv_signature, nv_name, policy, boot_policy,
                state;
};

static void inputs_done(struct inputs *in)
{
        struct file *all[] = {&in->ak,      &in->quote,    &in->signature,   &in->pcrs,
                              &in->ima,     &in->boot_log, &in->nv_attest,   &in->nv_signature,
                              &in->nv_name, &in->policy,   &in->boot_policy, &in->state};

        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                free(all[i]->data);
}

static int load_inputs(const struct args *a, struct inputs *in)
{
        const struct {
                const char *path;
                struct file *f;
        } files[] = {
                {a->ak, &in->ak},
                {a->quote, &in->quote},
                {a->signature, &in->signature},
                {a->pcrs, &in->pcrs},
                {a->ima, &in->ima},
                {a->boot_log, &in->boot_log},
                {a->nv_attest, &in->nv_attest},
                {a->nv_signature, &in->nv_signature},
                {a->nv_name, &in->nv_name},
                {a->policy, &in->policy},
                {a->boot_policy, &in->boot_policy},
                {a->state, &in->state},
        };

        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (load(files[i].path, files[i].f))
                        return 2;
        return 0;
}

static int write_state(const char *path, const struct dw_round_state *s)
{
        _cleanup_free_ uint8_t *blob = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size;

        if (dw_round_state_serialize(s, &blob, &size) < 0)
                return fail("%s", "cannot serialize the state");
        f = fopen(path, "we");
        if (!f || fwrite(blob, 1, size, f) != size || fflush(f) != 0)
                return fail("cannot write %s", path);
        return 0;
}

static int run(const struct args *a, struct inputs *in, struct dw_round_ctx *ctx, struct dw_round_result *res)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *policy = NULL;
        _cleanup_(dw_boot_policy_freep) struct dw_boot_policy *boot_policy = NULL;
        struct dw_policy_error perr = {};
        struct dw_round_evidence ev;
        struct dw_round_expect x;
        struct dw_round_state state;
        struct dw_error err = {};
        EVP_PKEY *ak = NULL;
        TPM2B_NAME nv_name = {};
        json_t *j;
        size_t ima_off = 0;
        int r;

        if (dw_tpm_key_load(in->ak.data, in->ak.size, &ak, NULL, NULL, &err) < 0)
                return fail("--ak: %s", err.msg);
        if (in->policy.data && dw_runtime_policy_load(in->policy.data, in->policy.size, &policy, &perr) < 0) {
                EVP_PKEY_free(ak);
                return fail("--policy: %s", perr.msg);
        }
        if (in->boot_policy.data &&
            dw_boot_policy_load(in->boot_policy.data, in->boot_policy.size, &boot_policy, &perr) < 0) {
                EVP_PKEY_free(ak);
                return fail("--boot-policy: %s", perr.msg);
        }
        if (in->state.data)
                r = dw_round_state_deserialize(in->state.data, in->state.size, &state, &err);
        else
                r = dw_round_state_init(&state, a->bank);
        if (r < 0) {
                EVP_PKEY_free(ak);
                return fail("--state: %s", err.msg);
        }
        if (a->has_ack)
                dw_round_state_acknowledge(&state, a->ack);
        if (in->nv_name.data) {
                nv_name.size = (UINT16)MIN(in->nv_name.size, sizeof(nv_name.name));
                memcpy(nv_name.name, in->nv_name.data, nv_name.size);
        }
        if (in->ima.data)
                ima_off = ima_offset(&in->ima, a->ima_alg, a->ima_from);

        x = (struct dw_round_expect){
                .ak = ak,
                .nonce = a->nonce,
                .nonce_size = a->nonce_size,
                .now = a->now,
                .runtime_policy = policy,
                .boot_policy = boot_policy,
                .nv_index_name = in->nv_name.data ? &nv_name : NULL,
                .event_chain_head = a->head_size ? a->head : NULL,
                .event_chain_head_size = a->head_size,
        };
        ev = (struct dw_round_evidence){
                .quote = in->quote.data,
                .quote_size = in->quote.size,
                .signature = in->signature.data,
                .signature_size = in->signature.size,
                .pcrs = in->pcrs.data,
                .pcrs_size = in->pcrs.size,
                .ima_log = in->ima.data ? in->ima.data + ima_off : NULL,
                .ima_log_size = in->ima.data ? in->ima.size - ima_off : 0,
                .ima_first_index = a->ima_from,
                .ima_log_digest_alg = a->ima_alg,
                .boot_log = in->boot_log.data,
                .boot_log_size = in->boot_log.size,
                .nv_attest = in->nv_attest.data,
                .nv_attest_size = in->nv_attest.size,
                .nv_signature = in->nv_signature.data,
                .nv_signature_size = in->nv_signature.size,
        };
        r = dw_attest_round(ctx, &state, &x, &ev, res);
        EVP_PKEY_free(ak);
        if (r < 0)
                return fail("dw_attest_round: %s", strerror(-r));
        j = dw_round_result_to_json(res);
        if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) < 0)
                return fail("%s", "cannot print the result");
        putchar('\n');
        json_decref(j);
        if (a->state_out && write_state(a->state_out, &res->state))
                return 2;
        return res->verdict == DW_ROUND_TRUSTED ? 0 : 1;
}

int main(int argc, char **argv)
{
        _cleanup_(dw_round_ctx_freep) struct dw_round_ctx *ctx = NULL;
        _cleanup_free_ struct dw_round_result *res = calloc(1, sizeof(*res));
        struct inputs in = {};
        struct args a;
        int r;

        r = parse_args(argc, argv, &a);
        if (r)
                return r;
        if (!res || dw_round_ctx_new(&ctx) < 0)
                return fail("%s", "out of memory");
        r = load_inputs(&a, &in);
        if (r == 0)
                r = run(&a, &in, ctx, res);
        inputs_done(&in);
        return r;
}
