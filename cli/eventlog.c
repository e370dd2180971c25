/* SPDX-License-Identifier: MIT */
/* driftwatch eventlog show|replay: the TPM boot event log (binary_bios_measurements). */

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "hex.h"
#include "tcg-eventlog.h"

struct eventlog_args {
        const char *path;
        bool json;
};

static void eventlog_help(void)
{
        printf("Usage: driftwatch eventlog show|replay [--json] FILE\n"
               "\n"
               "FILE is a TCG PC Client event log, e.g. /sys/kernel/security/tpm0/binary_bios_measurements\n"
               "(crypto-agile or SHA-1-only). replay extends only the logged digests; event data is a label.\n");
}

static int parse_args(int argc, char **argv, struct eventlog_args *a)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, 'j'},
                {},
        };
        int c;

        *a = (struct eventlog_args){};
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        eventlog_help();
                        exit(0);
                case 'j':
                        a->json = true;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        }
        if (optind + 1 != argc)
                return cli_error("eventlog: expected exactly one FILE (see --help)");
        a->path = argv[optind];
        return 0;
}

static const char *digest_alg_label(const struct dw_tcg_digest *d, char *buf, size_t size)
{
        if (d->alg >= 0 && dw_hash_alg_name(d->alg))
                return dw_hash_alg_name(d->alg);
        snprintf(buf, size, "alg_0x%04x", d->tpm_alg);
        return buf;
}

static json_t *event_to_json(const struct dw_tcg_event *ev)
{
        json_t *j = json_object(), *digests = json_object();
        const char *type = dw_tcg_event_type_name(ev->type);
        char label[512], algbuf[16];

        json_object_set_new(j, "index", json_integer((json_int_t)ev->index));
        json_object_set_new(j, "pcr", json_integer(ev->pcr));
        json_object_set_new(j, "type", type ? json_string(type) : json_null());
        json_object_set_new(j, "type_id", json_integer(ev->type));
        for (unsigned i = 0; i < ev->n_digests; i++)
                json_object_set_new(digests, digest_alg_label(&ev->digests[i], algbuf, sizeof(algbuf)),
                                    cli_json_hex(ev->digests[i].digest, ev->digests[i].size));
        json_object_set_new(j, "digests", digests);
        json_object_set_new(j, "data_size", json_integer(ev->data_len));
        dw_tcg_event_describe(ev, label, sizeof(label));
        json_object_set_new(j, "description", cli_json_bytes_string(label, strlen(label)));
        return j;
}

static void event_print(const struct dw_tcg_event *ev)
{
        const char *type = dw_tcg_event_type_name(ev->type);
        char label[512], algbuf[16];

        dw_tcg_event_describe(ev, label, sizeof(label));
        printf("event %" PRIu64 " pcr %u ", ev->index, ev->pcr);
        if (type)
                printf("%s", type);
        else
                printf("type 0x%08x", ev->type);
        printf(" (%u bytes): ", ev->data_len);
        cli_print_escaped(label, strlen(label));
        putchar('\n');
        for (unsigned i = 0; i < ev->n_digests; i++) {
                _cleanup_free_ char *hex = malloc(2 * (size_t)ev->digests[i].size + 1);

                if (hex)
                        printf("    %-8s %s\n", digest_alg_label(&ev->digests[i], algbuf, sizeof(algbuf)),
                               dw_hex_encode(ev->digests[i].digest, ev->digests[i].size, hex));
        }
}

static int eventlog_show(int argc, char **argv)
{
        _cleanup_(json_decrefp) json_t *events = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        struct eventlog_args a;
        struct dw_tcg_parser p;
        size_t size;
        int r;

        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r;
        r = cli_read_file(a.path, &buf, &size);
        if (r != 0)
                return r;
        r = dw_tcg_parser_init(&p, buf, size, &err);
        if (r < 0)
                return cli_parse_error(a.path, "event", &err);
        if (a.json)
                events = json_array();
        for (;;) {
                struct dw_tcg_event ev;

                r = dw_tcg_parser_next(&p, &ev, &err);
                if (r == 0)
                        break;
                if (r < 0)
                        return cli_parse_error(a.path, "event", &err);
                if (a.json)
                        json_array_append_new(events, event_to_json(&ev));
                else
                        event_print(&ev);
        }
        if (a.json) {
                _cleanup_(json_decrefp) json_t *out = json_object();

                json_object_set_new(out, "crypto_agile", json_boolean(p.crypto_agile));
                json_object_set_new(out, "events", TAKE_PTR(events));
                return cli_json_print(out);
        }
        return 0;
}

static int eventlog_replay(int argc, char **argv)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = NULL;
        _cleanup_free_ struct dw_tcg_replay *rp = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        struct dw_error err = {};
        struct eventlog_args a;
        size_t size;
        int r;

        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r;
        r = cli_read_file(a.path, &buf, &size);
        if (r != 0)
                return r;
        rp = calloc(1, sizeof(*rp));
        if (!rp || dw_hasher_new(&h) < 0)
                return cli_error("out of memory");
        r = dw_tcg_replay_log(rp, h, buf, size, &err);
        if (r < 0)
                return cli_parse_error(a.path, "event", &err);

        if (a.json) {
                _cleanup_(json_decrefp) json_t *out = json_object();
                json_t *pcrs = json_object();

                FOREACH_HASH_ALG (alg) {
                        if (rp->has_bank[alg] && rp->touched[alg])
                                json_object_set_new(
                                        pcrs, dw_hash_alg_name(alg),
                                        cli_json_pcr_bank(rp->pcr[alg], DW_TCG_NR_PCRS, rp->touched[alg], alg));
                }
                json_object_set_new(out, "events", json_integer((json_int_t)rp->events));
                json_object_set_new(out, "pcrs", pcrs);
                return cli_json_print(out);
        }

        printf("events: %" PRIu64 "\n", rp->events);
        FOREACH_HASH_ALG (alg) {
                for (unsigned i = 0; i < DW_TCG_NR_PCRS; i++) {
                        char hex[2 * DW_HASH_MAX_SIZE + 1];

                        if (!rp->has_bank[alg] || !(rp->touched[alg] & (1u << i)))
                                continue;
                        printf("%-7s PCR %2u: %s\n", dw_hash_alg_name(alg), i,
                               dw_hex_encode(rp->pcr[alg][i], dw_hash_alg_size(alg), hex));
                }
        }
        return 0;
}

int cli_eventlog_main(int argc, char **argv)
{
        static const struct cli_verb verbs[] = {
                {"show", eventlog_show},
                {"replay", eventlog_replay},
        };

        return cli_dispatch("eventlog", verbs, ELEMENTSOF(verbs), eventlog_help, argc, argv);
}
