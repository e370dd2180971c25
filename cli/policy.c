/* SPDX-License-Identifier: MIT */
/* driftwatch policy check|validate: runtime policies (allowlists), and judging an IMA log against one offline, as
 * the verifier does. */

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "hex.h"
#include "policy-cli.h"
#include "ima-log.h"
#include "runtime-policy.h"

struct policy_args {
        const char *policy;
        const char *log;
        enum dw_ima_format format;
        bool format_set;
        enum dw_hash_alg digest_alg;
        bool digest_alg_set;
        bool json;
};

static void policy_help(void)
{
        printf("Usage: driftwatch policy check --policy POLICY --ima-log FILE [OPTIONS]\n"
               "       driftwatch policy validate [--json] POLICY\n"
               "       driftwatch policy create --from-tree DIR|--from-ima-log FILE|--from-dpkg ... -o POLICY\n"
               "       driftwatch policy merge -o OUT POLICY...\n"
               "       driftwatch policy diff [--json] OLD NEW\n"
               "       driftwatch policy sign --key KEY.pem [--detached] -o OUT POLICY\n"
               "       driftwatch policy verify --pubkey PUB.pem [--signature SIG] POLICY\n"
               "       driftwatch policy canonical [-o OUT] POLICY\n"
               "       driftwatch policy import-keylime [--drop-bad-excludes] -o POLICY KEYLIME.json\n"
               "       driftwatch policy export-keylime [--lossy] -o KEYLIME.json POLICY\n"
               "       driftwatch policy push --verifier URL --token-file F [--ca CA] [--name N] POLICY\n"
               "       driftwatch policy assign --verifier URL --token-file F (--gateway ID|--group G) --name N\n"
               "       driftwatch policy impact --verifier URL --token-file F [--gateway ID]... [--group G]... POLICY\n"
               "\n"
               "check: judge every entry of an IMA measurement list against a runtime policy, as the verifier\n"
               "does (template digests are checked too). validate: load a policy and summarize it. The others\n"
               "build, review, sign and convert policies: 'driftwatch policy COMMAND --help' for each.\n"
               "The policy format is described in docs/runtime-policy.md.\n"
               "\n"
               "  --policy POLICY       the runtime policy (JSON)\n"
               "  --ima-log FILE        binary_runtime_measurements[_BANK] or ascii_runtime_measurements[_BANK],\n"
               "                        or a copy\n"
               "  --ascii               FILE is in the ascii format (default: guessed from the name)\n"
               "  --binary              FILE is in the binary format\n"
               "  --digest-alg ALG      bank of the logged template digests in a binary FILE (default: from a\n"
               "                        _sha256-style suffix of the name, else sha1)\n"
               "  --json                one JSON object on stdout\n"
               "\n"
               "Exit status: 0 trusted (or a valid policy), 1 untrusted, 2 bad input.\n");
}

static int parse_args(int argc, char **argv, bool check, struct policy_args *a)
{
        enum { ARG_POLICY = 0x100, ARG_LOG, ARG_ASCII, ARG_BINARY, ARG_DIGEST_ALG, ARG_JSON };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"policy", required_argument, NULL, ARG_POLICY},
                {"ima-log", required_argument, NULL, ARG_LOG},
                {"ascii", no_argument, NULL, ARG_ASCII},
                {"binary", no_argument, NULL, ARG_BINARY},
                {"digest-alg", required_argument, NULL, ARG_DIGEST_ALG},
                {"json", no_argument, NULL, ARG_JSON},
                {},
        };
        int c;

        *a = (struct policy_args){.digest_alg = DW_HASH_SHA1};
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        policy_help();
                        exit(0);
                case ARG_POLICY:
                        a->policy = optarg;
                        break;
                case ARG_LOG:
                        a->log = optarg;
                        break;
                case ARG_ASCII:
                case ARG_BINARY:
                        a->format = c == ARG_ASCII ? DW_IMA_FORMAT_ASCII : DW_IMA_FORMAT_BINARY;
                        a->format_set = true;
                        break;
                case ARG_DIGEST_ALG:
                        if (dw_hash_alg_from_name(optarg, strlen(optarg), &a->digest_alg) < 0)
                                return cli_error("unknown hash algorithm '%s'", optarg);
                        a->digest_alg_set = true;
                        break;
                case ARG_JSON:
                        a->json = true;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        }
        if (!check) {
                if (optind + 1 != argc || a->log || a->format_set || a->digest_alg_set)
                        return cli_error("policy validate: expected exactly one POLICY and at most --json");
                a->policy = argv[optind];
                return 0;
        }
        if (optind != argc)
                return cli_error("policy check: unexpected argument '%s' (see --help)", argv[optind]);
        if (!a->policy || !a->log)
                return cli_error("policy check: --policy and --ima-log are required (see --help)");
        policy_guess_log_format(a->log, &a->format, a->format_set, &a->digest_alg, a->digest_alg_set);
        return 0;
}

static int load_policy(const char *path, struct dw_runtime_policy **ret)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_policy_error err = {};
        size_t size;
        int r;

        r = cli_read_file(path, &buf, &size);
        if (r != 0)
                return r;
        r = dw_runtime_policy_load(buf, size, ret, &err);
        if (r < 0)
                return policy_error(path, r, &err);
        return 0;
}

/* ---- check ---- */

struct tally {
        uint64_t entries;
        uint64_t failures;
        uint64_t counts[_DW_POLICY_RESULT_MAX];
};

/* "sha256:<hex>" (or "verity:sha256:<hex>"), as a policy writes it; NULL when the entry has no digest. */
static char *entry_digest_string(const struct dw_ima_entry *e)
{
        const uint8_t *digest;
        enum dw_hash_alg alg;
        const char *type;
        size_t len;
        char *s;

        if (dw_ima_entry_file_digest(e, &alg, &digest, &len, &type) < 0 || len > DW_HASH_MAX_SIZE)
                return NULL;
        s = malloc(16 + 2 * DW_HASH_MAX_SIZE + 1);
        if (!s)
                return NULL;
        sprintf(s, "%s%s:", type && strcmp(type, "verity") == 0 ? "verity:" : "",
                alg >= 0 ? dw_hash_alg_name(alg) : "unknown");
        dw_hex_encode(digest, len, s + strlen(s));
        return s;
}

static void failure_print(const struct dw_ima_entry *e, const struct dw_policy_verdict *v)
{
        _cleanup_free_ char *digest = entry_digest_string(e);
        const char *name = "";
        size_t len = 0;

        (void)dw_ima_entry_event_name(e, &name, &len);
        printf("entry %" PRIu64 ": ", e->index);
        cli_print_escaped(name, len);
        printf(" %s: %s%s%s\n", digest ?: "(no digest)", dw_policy_result_name(v->result), v->detail[0] ? ": " : "",
               v->detail);
}

static json_t *failure_json(const struct dw_ima_entry *e, const struct dw_policy_verdict *v)
{
        _cleanup_free_ char *digest = entry_digest_string(e);
        json_t *j = json_object();
        const char *name = "";
        size_t len = 0;

        (void)dw_ima_entry_event_name(e, &name, &len);
        json_object_set_new(j, "index", json_integer((json_int_t)e->index));
        json_object_set_new(j, "path", cli_json_bytes_string(name, len));
        json_object_set_new(j, "digest", digest ? json_string(digest) : json_null());
        json_object_set_new(j, "reason", json_string(dw_policy_result_name(v->result)));
        json_object_set_new(j, "detail", json_string(v->detail));
        return j;
}

/* Judges every entry; failures go to stdout (text) or into failures (JSON). */
static int check_log(const struct policy_args *a, const struct dw_runtime_policy *policy, const uint8_t *buf,
                     size_t size, struct tally *t, json_t *failures)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = NULL;
        struct dw_error err = {};
        struct dw_ima_parser p;
        int r = 0;

        if (dw_hasher_new(&h) < 0)
                return cli_error("out of memory");
        dw_ima_parser_init(&p, a->format, a->digest_alg, buf, size);
        for (;;) {
                struct dw_policy_verdict v;
                struct dw_ima_entry e;

                r = dw_ima_parser_next(&p, &e, &err);
                if (r <= 0)
                        break;
                r = dw_ima_entry_check_digest(h, &e, &err);
                if (r < 0)
                        break;
                r = dw_runtime_policy_judge_entry(policy, &e, &v);
                if (r < 0) {
                        dw_ima_parser_done(&p);
                        return cli_error("%s: entry %" PRIu64 ": cannot judge: %s", a->log, e.index, strerror(-r));
                }
                t->entries++;
                t->counts[v.result]++;
                if (!dw_policy_result_is_failure(v.result))
                        continue;
                t->failures++;
                if (failures)
                        json_array_append_new(failures, failure_json(&e, &v));
                else
                        failure_print(&e, &v);
        }
        dw_ima_parser_done(&p);
        if (r < 0)
                return cli_parse_error(a->log, "entry", &err);
        return 0;
}

static json_t *counts_json(const struct tally *t)
{
        json_t *j = json_object();

        for (enum dw_policy_result r = 0; r < _DW_POLICY_RESULT_MAX; r++)
                if (t->counts[r] > 0)
                        json_object_set_new(j, dw_policy_result_name(r), json_integer((json_int_t)t->counts[r]));
        return j;
}

static void summary_print(const struct tally *t)
{
        bool first = true;

        printf("%s: %" PRIu64 " entries, %" PRIu64 " failure%s (", t->failures ? "untrusted" : "trusted", t->entries,
               t->failures, t->failures == 1 ? "" : "s");
        for (enum dw_policy_result r = 0; r < _DW_POLICY_RESULT_MAX; r++)
                if (t->counts[r] > 0) {
                        printf("%s%s %" PRIu64, first ? "" : ", ", dw_policy_result_name(r), t->counts[r]);
                        first = false;
                }
        printf(")\n");
}

static int policy_check(int argc, char **argv)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *policy = NULL;
        _cleanup_(json_decrefp) json_t *failures = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        struct policy_args a;
        struct tally t = {};
        size_t size;
        int r;

        r = parse_args(argc, argv, true, &a);
        if (r != 0)
                return r;
        r = load_policy(a.policy, &policy);
        if (r != 0)
                return r;
        r = cli_read_file(a.log, &buf, &size);
        if (r != 0)
                return r;
        if (a.json)
                failures = json_array();
        r = check_log(&a, policy, buf, size, &t, failures);
        if (r != 0)
                return r;

        if (a.json) {
                _cleanup_(json_decrefp) json_t *out = json_object();

                json_object_set_new(out, "verdict", json_string(t.failures ? "untrusted" : "trusted"));
                json_object_set_new(out, "entries", json_integer((json_int_t)t.entries));
                json_object_set_new(out, "failures", TAKE_PTR(failures));
                json_object_set_new(out, "counts", counts_json(&t));
                r = cli_json_print(out);
                if (r != 0)
                        return r;
        } else
                summary_print(&t);
        return t.failures ? EXIT_NEGATIVE : 0;
}

/* ---- validate ---- */

static int policy_validate(int argc, char **argv)
{
        _cleanup_(dw_runtime_policy_freep) struct dw_runtime_policy *policy = NULL;
        struct dw_runtime_policy_info info;
        struct policy_args a;
        int r;

        r = parse_args(argc, argv, false, &a);
        if (r != 0)
                return r;
        r = load_policy(a.policy, &policy);
        if (r != 0)
                return r;
        dw_runtime_policy_get_info(policy, &info);
        if (a.json) {
                _cleanup_(json_decrefp) json_t *out = json_object();

                json_object_set_new(out, "name", info.name ? json_string(info.name) : json_null());
                json_object_set_new(out, "version", info.version ? json_string(info.version) : json_null());
                json_object_set_new(out, "paths", json_integer((json_int_t)info.n_paths));
                json_object_set_new(out, "digests", json_integer((json_int_t)info.n_digests));
                json_object_set_new(out, "excludes", json_integer((json_int_t)info.n_excludes));
                json_object_set_new(out, "keys", json_integer((json_int_t)info.n_keys));
                json_object_set_new(out, "ima_buf", json_integer((json_int_t)info.n_ima_buf));
                json_object_set_new(out, "allow_violations", json_boolean(info.allow_violations));
                json_object_set_new(out, "require_signatures", json_boolean(info.require_signatures));
                return cli_json_print(out);
        }
        printf("%s: valid runtime policy", a.policy);
        if (info.name)
                printf(" \"%s\"", info.name);
        if (info.version)
                printf(" version %s", info.version);
        printf("\n  %zu paths, %zu digests, %zu excludes, %zu keys, %zu ima_buf names\n"
               "  allow_violations %s, require_signatures %s\n",
               info.n_paths, info.n_digests, info.n_excludes, info.n_keys, info.n_ima_buf,
               info.allow_violations ? "true" : "false", info.require_signatures ? "true" : "false");
        return 0;
}

int cli_policy_main(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {
                {"check", policy_check},
                {"validate", policy_validate},
                {"create", cli_policy_create},
                {"merge", cli_policy_merge},
                {"diff", cli_policy_diff},
                {"sign", cli_policy_sign},
                {"verify", cli_policy_verify},
                {"canonical", cli_policy_canonical},
                {"import-keylime", cli_policy_import_keylime},
                {"export-keylime", cli_policy_export_keylime},
                {"push", cli_policy_push},
                {"assign", cli_policy_assign},
                {"impact", cli_policy_impact},
        };

        return cli_dispatch("policy", verbs, ELEMENTSOF(verbs), policy_help, argc, argv);
}
