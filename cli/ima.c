/* SPDX-License-Identifier: MIT */
/* driftwatch ima show|replay: the kernel's IMA measurement list, binary or ascii. */

#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <string.h>

#include "cli.h"
#include "hex.h"
#include "ima-log.h"
#include "ima-replay.h"

struct ima_args {
        const char *path;
        enum dw_ima_format format;
        bool format_set;
        enum dw_hash_alg digest_alg;
        bool digest_alg_set;
        bool json;
        bool allow_partial;
        bool banks[_DW_HASH_ALG_MAX];
        bool sha1_padded[_DW_HASH_ALG_MAX];
        bool native[_DW_HASH_ALG_MAX];
};

static void ima_help(void)
{
        printf("Usage: driftwatch ima show|replay [OPTIONS] FILE\n"
               "\n"
               "FILE is the kernel's binary_runtime_measurements[_BANK] or ascii_runtime_measurements[_BANK]\n"
               "(from /sys/kernel/security/ima/), or a copy of it.\n"
               "\n"
               "  --ascii               FILE is in the ascii format (default: guessed from the name)\n"
               "  --binary              FILE is in the binary format\n"
               "  --digest-alg ALG      bank of the logged template digests in a binary FILE (default: from a\n"
               "                        _sha256-style suffix of the name, else sha1)\n"
               "  --json                one JSON object on stdout\n"
               "replay only:\n"
               "  --banks LIST          banks to replay (default sha1,sha256,sha384,sha512)\n"
               "  --native LIST         report these banks under the native rule (the bank's own hash of\n"
               "                        the template data, kernels >= 5.11 with the algorithm built in)\n"
               "  --sha1-padded LIST    report these banks under the legacy rule (SHA-1 template digest\n"
               "                        zero-padded: kernels before 5.11, and banks whose algorithm the\n"
               "                        kernel lacked at IMA init). Default: native for sha1, sha256 and\n"
               "                        the log's file-digest algorithm, sha1-padded for the others.\n"
               "                        Both rules are always computed and shown.\n"
               "  --allow-partial       a log whose last entry is cut short (still being written) is replayed\n"
               "                        up to it instead of being an error\n");
}

/* Splits "sha1,sha256" into a bank set. */
static int parse_bank_list(const char *list, bool banks[static _DW_HASH_ALG_MAX])
{
        const char *p = list;

        memset(banks, 0, sizeof(bool) * _DW_HASH_ALG_MAX);
        while (*p) {
                size_t n = strcspn(p, ",");
                enum dw_hash_alg alg;

                if (dw_hash_alg_from_name(p, n, &alg) < 0)
                        return cli_error("unknown hash algorithm '%.*s' in '%s'", (int)n, p, list);
                banks[alg] = true;
                p += n;
                if (*p == ',')
                        p++;
        }
        return 0;
}

/* binary_runtime_measurements_sha256 -> sha256; ascii_* -> ascii format. */
static void guess_from_name(struct ima_args *a)
{
        _cleanup_free_ char *copy = strdup(a->path);
        const char *base, *suffix;
        enum dw_hash_alg alg;

        if (!copy)
                return;
        base = basename(copy);
        if (!a->format_set)
                a->format = strncmp(base, "ascii", 5) == 0 ? DW_IMA_FORMAT_ASCII : DW_IMA_FORMAT_BINARY;
        suffix = strrchr(base, '_');
        if (!a->digest_alg_set && suffix && dw_hash_alg_from_name(suffix + 1, strlen(suffix + 1), &alg) == 0)
                a->digest_alg = alg;
}

static int parse_args(int argc, char **argv, bool replay, struct ima_args *a)
{
        enum {
                ARG_ASCII = 0x100,
                ARG_BINARY,
                ARG_DIGEST_ALG,
                ARG_JSON,
                ARG_BANKS,
                ARG_SHA1_PADDED,
                ARG_NATIVE,
                ARG_PARTIAL
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"ascii", no_argument, NULL, ARG_ASCII},
                {"binary", no_argument, NULL, ARG_BINARY},
                {"digest-alg", required_argument, NULL, ARG_DIGEST_ALG},
                {"json", no_argument, NULL, ARG_JSON},
                {"banks", required_argument, NULL, ARG_BANKS},
                {"sha1-padded", required_argument, NULL, ARG_SHA1_PADDED},
                {"native", required_argument, NULL, ARG_NATIVE},
                {"allow-partial", no_argument, NULL, ARG_PARTIAL},
                {},
        };
        int c, r;

        *a = (struct ima_args){.digest_alg = DW_HASH_SHA1};
        FOREACH_HASH_ALG (alg)
                a->banks[alg] = alg != DW_HASH_SM3_256;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        ima_help();
                        exit(0);
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
                case ARG_BANKS:
                case ARG_SHA1_PADDED:
                case ARG_NATIVE:
                case ARG_PARTIAL:
                        if (!replay)
                                return cli_error("ima show: option '%s' is for 'ima replay'", argv[optind - 1]);
                        if (c == ARG_PARTIAL)
                                a->allow_partial = true;
                        else {
                                r = parse_bank_list(optarg, c == ARG_BANKS    ? a->banks
                                                            : c == ARG_NATIVE ? a->native
                                                                              : a->sha1_padded);
                                if (r != 0)
                                        return r;
                        }
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        }
        if (optind + 1 != argc)
                return cli_error("ima %s: expected exactly one FILE (see --help)", replay ? "replay" : "show");
        a->path = argv[optind];
        guess_from_name(a);
        return 0;
}

static json_t *entry_to_json(const struct dw_ima_entry *e)
{
        json_t *j = json_object();
        const uint8_t *digest, *data;
        const char *name, *type;
        enum dw_hash_alg alg;
        size_t len, name_len;
        uint32_t data_len;

        json_object_set_new(j, "index", json_integer((json_int_t)e->index));
        json_object_set_new(j, "pcr", json_integer(e->pcr));
        json_object_set_new(j, "template", cli_json_bytes_string(e->template_name, e->template_name_len));
        json_object_set_new(j, "template_digest", cli_json_hex(e->template_digest, dw_hash_alg_size(e->digest_alg)));
        json_object_set_new(j, "violation", json_boolean(e->violation));
        if (dw_ima_entry_file_digest(e, &alg, &digest, &len, &type) == 0) {
                char hex[2 * DW_HASH_MAX_SIZE + 1];

                if (len <= DW_HASH_MAX_SIZE) {
                        json_object_set_new(j, "digest_alg", json_string(dw_hash_alg_name(alg) ?: "unknown"));
                        json_object_set_new(j, "digest", json_string(dw_hex_encode(digest, len, hex)));
                }
                if (type)
                        json_object_set_new(j, "digest_type", json_string(type));
        }
        if (dw_ima_entry_event_name(e, &name, &name_len) == 0)
                json_object_set_new(j, "name", cli_json_bytes_string(name, name_len));
        if (dw_ima_entry_field(e, DW_IMA_FIELD_SIG, &data, &data_len) == 0)
                json_object_set_new(j, "sig", cli_json_hex(data, data_len));
        if (dw_ima_entry_field(e, DW_IMA_FIELD_BUF, &data, &data_len) == 0)
                json_object_set_new(j, "buf", cli_json_hex(data, data_len));
        if (dw_ima_entry_field(e, DW_IMA_FIELD_MODSIG, &data, &data_len) == 0)
                json_object_set_new(j, "modsig", cli_json_hex(data, data_len));
        if (dw_ima_entry_field(e, DW_IMA_FIELD_EVMSIG, &data, &data_len) == 0)
                json_object_set_new(j, "evmsig", cli_json_hex(data, data_len));
        return j;
}

static void entry_print(const struct dw_ima_entry *e)
{
        const uint8_t *digest;
        const char *name, *type;
        enum dw_hash_alg alg;
        size_t len, name_len;

        printf("%6" PRIu64 " %2u ", e->index, e->pcr);
        cli_print_escaped(e->template_name, e->template_name_len);
        if (dw_ima_entry_file_digest(e, &alg, &digest, &len, &type) == 0 && len <= DW_HASH_MAX_SIZE) {
                char hex[2 * DW_HASH_MAX_SIZE + 1];

                printf(" %s%s%s:%s", type ?: "", type ? ":" : "", dw_hash_alg_name(alg) ?: "?",
                       dw_hex_encode(digest, len, hex));
        }
        if (dw_ima_entry_event_name(e, &name, &name_len) == 0) {
                putchar(' ');
                cli_print_escaped(name, name_len);
        }
        if (e->violation)
                fputs("  [violation]", stdout);
        putchar('\n');
}

static int ima_show(int argc, char **argv)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = NULL;
        _cleanup_(json_decrefp) json_t *entries = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_ima_parser p;
        struct ima_args a;
        struct dw_error err = {};
        size_t size;
        int r;

        r = parse_args(argc, argv, false, &a);
        if (r != 0)
                return r;
        r = cli_read_file(a.path, &buf, &size);
        if (r != 0)
                return r;
        if (dw_hasher_new(&h) < 0)
                return cli_error("out of memory");
        if (a.json)
                entries = json_array();

        dw_ima_parser_init(&p, a.format, a.digest_alg, buf, size);
        for (;;) {
                struct dw_ima_entry e;

                r = dw_ima_parser_next(&p, &e, &err);
                if (r == 0)
                        break;
                if (r < 0) {
                        dw_ima_parser_done(&p);
                        return cli_parse_error(a.path, "entry", &err);
                }
                r = dw_ima_entry_check_digest(h, &e, &err);
                if (r < 0) {
                        dw_ima_parser_done(&p);
                        return cli_parse_error(a.path, "entry", &err);
                }
                if (a.json)
                        json_array_append_new(entries, entry_to_json(&e));
                else
                        entry_print(&e);
        }
        dw_ima_parser_done(&p);

        if (a.json) {
                _cleanup_(json_decrefp) json_t *out = json_object();

                json_object_set_new(out, "entries", TAKE_PTR(entries));
                return cli_json_print(out);
        }
        return 0;
}

static json_t *pcrs_to_json(const struct dw_ima_replay *r, enum dw_ima_bank_rule rule_for[_DW_HASH_ALG_MAX],
                            const bool banks[_DW_HASH_ALG_MAX])
{
        json_t *pcrs = json_object();

        FOREACH_HASH_ALG (alg) {
                if (banks[alg] && r->enabled[alg][rule_for[alg]])
                        json_object_set_new(
                                pcrs, dw_hash_alg_name(alg),
                                cli_json_pcr_bank(r->pcr[alg][rule_for[alg]], DW_IMA_NR_PCRS, r->touched, alg));
        }
        return pcrs;
}

static void replay_print(const struct dw_ima_replay *r, const bool banks[_DW_HASH_ALG_MAX],
                         enum dw_ima_bank_rule chosen[_DW_HASH_ALG_MAX])
{
        printf("entries: %" PRIu64 "\nviolations: %" PRIu64 "\n", r->next_index, r->violations);
        FOREACH_HASH_ALG (alg) {
                if (!banks[alg])
                        continue;
                for (enum dw_ima_bank_rule rule = 0; rule < _DW_IMA_BANK_RULE_MAX; rule++) {
                        if (!r->enabled[alg][rule])
                                continue;
                        for (unsigned i = 0; i < DW_IMA_NR_PCRS; i++) {
                                char hex[2 * DW_HASH_MAX_SIZE + 1];

                                if (!(r->touched & (1u << i)))
                                        continue;
                                printf("%-7s PCR %2u: %s (%s%s)\n", dw_hash_alg_name(alg), i,
                                       dw_hex_encode(r->pcr[alg][rule][i], dw_hash_alg_size(alg), hex),
                                       dw_ima_bank_rule_name(rule), chosen[alg] == rule ? "" : ", alternative");
                        }
                }
        }
}

/* Which rule the kernel most likely used for a bank, unless --native/--sha1-padded says: it hashes a bank natively
 * only when the algorithm was available when IMA started. SHA-1 always is, SHA-256 in practice is (kernels that
 * measure with SHA-256 build it in), and so is the algorithm the log's own file digests use (ima_hash=); others
 * (sha384/sha512 are modules in distribution kernels, Debian's among them) get the zero-padded SHA-1 digest. */
static enum dw_ima_bank_rule kernel_rule(const struct ima_args *a, enum dw_hash_alg alg, const uint8_t *buf,
                                         size_t size)
{
        struct dw_ima_parser p;
        struct dw_ima_entry e;
        bool seen = false;

        if (alg == DW_HASH_SHA1 || a->native[alg])
                return DW_IMA_BANK_NATIVE;
        if (a->sha1_padded[alg])
                return DW_IMA_BANK_SHA1_PADDED;
        if (alg == DW_HASH_SHA256)
                return DW_IMA_BANK_NATIVE;
        /* The first few entries tell the file-digest algorithm (boot_aggregate uses ima_hash too). */
        dw_ima_parser_init(&p, a->format, a->digest_alg, buf, size);
        for (unsigned i = 0; i < 16 && !seen && dw_ima_parser_next(&p, &e, NULL) > 0; i++) {
                enum dw_hash_alg file_alg;
                const uint8_t *digest;
                const char *type;
                size_t len;

                if (dw_ima_entry_file_digest(&e, &file_alg, &digest, &len, &type) == 0 && file_alg == alg)
                        seen = true;
        }
        dw_ima_parser_done(&p);
        return seen ? DW_IMA_BANK_NATIVE : DW_IMA_BANK_SHA1_PADDED;
}

static int ima_replay(int argc, char **argv)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_free_ struct dw_ima_replay *r = NULL;
        enum dw_ima_bank_rule chosen[_DW_HASH_ALG_MAX];
        struct dw_error err = {};
        struct ima_args a;
        size_t size, consumed = 0;
        int ret;

        ret = parse_args(argc, argv, true, &a);
        if (ret != 0)
                return ret;
        ret = cli_read_file(a.path, &buf, &size);
        if (ret != 0)
                return ret;
        r = malloc(sizeof(*r));
        if (!r || dw_hasher_new(&h) < 0)
                return cli_error("out of memory");

        dw_ima_replay_init(r);
        FOREACH_HASH_ALG (alg) {
                if (!a.banks[alg])
                        continue;
                if (!dw_hasher_has(h, alg))
                        return cli_error("hash algorithm %s is not available in this OpenSSL", dw_hash_alg_name(alg));
                dw_ima_replay_enable(r, alg, DW_IMA_BANK_NATIVE);
                /* SHA-1 is the same under both rules. */
                if (alg != DW_HASH_SHA1)
                        dw_ima_replay_enable(r, alg, DW_IMA_BANK_SHA1_PADDED);
                chosen[alg] = kernel_rule(&a, alg, buf, size);
        }

        ret = dw_ima_replay_feed(r, h, a.format, a.digest_alg, buf, size, &consumed, &err);
        if (ret == -EAGAIN && a.allow_partial)
                fprintf(stderr,
                        "driftwatch: %s: entry %" PRIu64 " at byte offset %zu is incomplete (%s); replayed "
                        "the %" PRIu64 " entries before it\n",
                        a.path, err.index, err.offset, err.msg, r->next_index);
        else if (ret < 0)
                return cli_parse_error(a.path, "entry", &err);

        if (a.json) {
                _cleanup_(json_decrefp) json_t *out = json_object();
                json_t *rules = json_object();
                enum dw_ima_bank_rule padded[_DW_HASH_ALG_MAX];
                bool padded_banks[_DW_HASH_ALG_MAX];

                FOREACH_HASH_ALG (alg) {
                        padded[alg] = DW_IMA_BANK_SHA1_PADDED;
                        padded_banks[alg] = a.banks[alg] && alg != DW_HASH_SHA1;
                        if (a.banks[alg])
                                json_object_set_new(rules, dw_hash_alg_name(alg),
                                                    json_string(dw_ima_bank_rule_name(chosen[alg])));
                }
                json_object_set_new(out, "entries", json_integer((json_int_t)r->next_index));
                json_object_set_new(out, "violations", json_integer((json_int_t)r->violations));
                json_object_set_new(out, "pcrs", pcrs_to_json(r, chosen, a.banks));
                json_object_set_new(out, "rules", rules);
                json_object_set_new(out, "pcrs_sha1_padded", pcrs_to_json(r, padded, padded_banks));
                FOREACH_HASH_ALG (alg)
                        padded[alg] = DW_IMA_BANK_NATIVE;
                json_object_set_new(out, "pcrs_native", pcrs_to_json(r, padded, a.banks));
                if (ret == -EAGAIN)
                        json_object_set_new(out, "incomplete_tail_offset", json_integer((json_int_t)consumed));
                return cli_json_print(out);
        }
        replay_print(r, a.banks, chosen);
        return 0;
}

int cli_ima_main(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {
                {"show", ima_show},
                {"replay", ima_replay},
        };

        return cli_dispatch("ima", verbs, ELEMENTSOF(verbs), ima_help, argc, argv);
}
