/* SPDX-License-Identifier: MIT */
/* driftwatch policy merge|diff: combining and reviewing runtime policies (lib/policy-doc). */

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "policy-cli.h"
#include "policy-doc.h"

static void merge_help(void)
{
        printf("Usage: driftwatch policy merge [--name NAME] [--policy-version V] -o OUT POLICY...\n"
               "\n"
               "Merge runtime policies into one that accepts everything any of them accepts: digests and ima_buf\n"
               "united per name, excludes and keys united, allow_violations if any allows them, require_signatures\n"
               "only if all require them. meta is the first policy's, with a new created and generator. Exit\n"
               "status: 0 written, 2 bad input (two different keys with one key id, a policy that does not load).\n");
}

int cli_policy_merge(int argc, char **argv)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"output", required_argument, NULL, 'o'},
                {"name", required_argument, NULL, 'n'},
                {"policy-version", required_argument, NULL, 'V'},
                {},
        };
        _cleanup_(json_decrefp) json_t *out = NULL, *sources = json_array();
        const char *output = NULL, *name = NULL, *version = NULL;
        char created[32];
        json_t *meta;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "ho:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        merge_help();
                        exit(0);
                case 'o':
                        output = optarg;
                        break;
                case 'n':
                        name = optarg;
                        break;
                case 'V':
                        version = optarg;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        if (!output || optind >= argc)
                return cli_error("policy merge: -o OUT and at least one POLICY are required (see --help)");
        for (int i = optind; i < argc; i++) {
                _cleanup_(json_decrefp) json_t *doc = NULL;
                const json_t *m;
                char why[160];

                r = policy_load_doc(argv[i], &doc);
                if (r != 0)
                        return r;
                m = json_object_get(doc, "meta");
                json_array_append_new(sources,
                                      json_pack("{ss*ss*}", "name", json_string_value(json_object_get(m, "name")),
                                                "version", json_string_value(json_object_get(m, "version"))));
                if (!out) {
                        out = json_incref(doc);
                        continue;
                }
                r = dw_policy_doc_merge(out, doc, why, sizeof(why));
                if (r == -EEXIST)
                        return cli_error("%s: %s", argv[i], why);
                if (r < 0)
                        return cli_error("%s: cannot merge: %s", argv[i], strerror(-r));
        }
        meta = json_object_get(out, "meta");
        if (!meta) {
                meta = json_object();
                json_object_set_new(out, "meta", meta);
        }
        json_object_del(meta, "signature"); /* a merge is not what was signed */
        if (name)
                json_object_set_new(meta, "name", json_string(name));
        if (version)
                json_object_set_new(meta, "version", json_string(version));
        json_object_set_new(meta, "created", json_string(policy_now(created)));
        json_object_set_new(meta, "generator", json_string("driftwatch policy merge"));
        json_object_set(meta, "merged_from", sources);
        return policy_write_doc(output, out);
}

/* ---- diff ---- */

static void diff_help(void)
{
        printf("Usage: driftwatch policy diff [--json] OLD NEW\n"
               "\n"
               "What NEW changes from OLD: paths (and ima_buf names) added, removed, or whose accepted digests\n"
               "changed; excludes, keys (by key id) and options. meta is not compared.\n"
               "  + PATH DIGEST...        added\n"
               "  - PATH DIGEST...        removed\n"
               "  ~ PATH +DIGEST -DIGEST  changed\n"
               "--json prints one object (docs/cli.md). Exit status: 0 same, 1 different, 2 bad input.\n");
}

static void print_list(const json_t *list, const char *sign)
{
        for (size_t i = 0; i < json_array_size(list); i++)
                printf(" %s%s", sign, json_string_value(json_array_get(list, i)));
}

static int print_section(const json_t *d, const char *section)
{
        const json_t *s = json_object_get(d, section);
        static const char *const kinds[] = {"added", "removed", "changed"};
        const char *label = strcmp(section, "ima_buf") == 0 ? "ima_buf " : "";

        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                const json_t *m = json_object_get(s, kinds[k]);
                const char **keys = NULL;
                ssize_t n = dw_json_sorted_keys(m, &keys);

                if (n < 0)
                        return cli_error("out of memory");
                for (ssize_t i = 0; i < n; i++) {
                        const json_t *v = json_object_get(m, keys[i]);

                        printf("%c %s", "+-~"[k], label);
                        cli_print_escaped(keys[i], strlen(keys[i]));
                        if (k < 2)
                                print_list(v, "");
                        else {
                                print_list(json_object_get(v, "added"), "+");
                                print_list(json_object_get(v, "removed"), "-");
                        }
                        putchar('\n');
                }
                free(keys);
        }
        return 0;
}

static void print_rest(const json_t *d)
{
        const json_t *x = json_object_get(d, "excludes"), *k = json_object_get(d, "keys");
        const json_t *o = json_object_get(d, "options");

        for (size_t i = 0; i < json_array_size(json_object_get(x, "added")); i++)
                printf("+ exclude %s\n", json_string_value(json_array_get(json_object_get(x, "added"), i)));
        for (size_t i = 0; i < json_array_size(json_object_get(x, "removed")); i++)
                printf("- exclude %s\n", json_string_value(json_array_get(json_object_get(x, "removed"), i)));
        for (size_t i = 0; i < json_array_size(json_object_get(k, "added")); i++)
                printf("+ key %s\n", json_string_value(json_array_get(json_object_get(k, "added"), i)));
        for (size_t i = 0; i < json_array_size(json_object_get(k, "removed")); i++)
                printf("- key %s\n", json_string_value(json_array_get(json_object_get(k, "removed"), i)));
        for (void *it = json_object_iter((json_t *)o); it; it = json_object_iter_next((json_t *)o, it)) {
                const json_t *v = json_object_iter_value(it);

                printf("~ option %s %s -> %s\n", json_object_iter_key(it),
                       json_is_true(json_object_get(v, "old")) ? "true" : "false",
                       json_is_true(json_object_get(v, "new")) ? "true" : "false");
        }
}

int cli_policy_diff(int argc, char **argv)
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, 'j'},
                {},
        };
        _cleanup_(json_decrefp) json_t *old = NULL, *new = NULL, *d = NULL;
        const json_t *counts;
        bool json = false, same;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        diff_help();
                        exit(0);
                case 'j':
                        json = true;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        if (argc - optind != 2)
                return cli_error("policy diff: expected OLD and NEW (see --help)");
        r = policy_load_doc(argv[optind], &old);
        if (r != 0)
                return r;
        r = policy_load_doc(argv[optind + 1], &new);
        if (r != 0)
                return r;
        r = dw_policy_doc_diff(old, new, &d);
        if (r < 0)
                return cli_error("cannot compare: %s", strerror(-r));
        same = json_is_true(json_object_get(d, "same"));
        if (json) {
                r = cli_json_print(d);
                if (r != 0)
                        return r;
                return same ? 0 : EXIT_NEGATIVE;
        }
        r = print_section(d, "digests");
        if (r == 0)
                r = print_section(d, "ima_buf");
        if (r != 0)
                return r;
        print_rest(d);
        counts = json_object_get(d, "counts");
        printf("%s: %" JSON_INTEGER_FORMAT " added, %" JSON_INTEGER_FORMAT " removed, %" JSON_INTEGER_FORMAT
               " changed\n",
               same ? "same" : "different", json_integer_value(json_object_get(counts, "added")),
               json_integer_value(json_object_get(counts, "removed")),
               json_integer_value(json_object_get(counts, "changed")));
        return same ? 0 : EXIT_NEGATIVE;
}
