/* SPDX-License-Identifier: MIT */
/* driftwatch policy import-keylime|export-keylime: Keylime's runtime policy format (lib/policy-keylime). */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "policy-cli.h"
#include "policy-doc.h"
#include "policy-keylime.h"

static int parse_io(int argc, char **argv, const char *flag_name, bool *flag, const char **output, void (*help)(void))
{
        static struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"output", required_argument, NULL, 'o'},
                {NULL, no_argument, NULL, 'f'},
                {},
        };
        int c;

        options[2].name = flag_name;
        optind = 1;
        while ((c = getopt_long(argc, argv, "ho:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        exit(0);
                case 'o':
                        *output = optarg;
                        break;
                case 'f':
                        *flag = true;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        if (!*output || argc - optind != 1)
                return cli_error("%s: -o OUT and one input file are required (see --help)", argv[0]);
        return 0;
}

static void import_help(void)
{
        printf("Usage: driftwatch policy import-keylime [--drop-bad-excludes] -o POLICY KEYLIME.json\n"
               "\n"
               "Convert a Keylime runtime policy (format version 1) into a driftwatch policy: digests get their\n"
               "algorithm from their length, keyrings and ima-buf become ima_buf, ignored_keyrings become excludes,\n"
               "verification-keys become keys, Python exclude regexes become POSIX ones. An exclude without a POSIX\n"
               "equivalent is an error, unless --drop-bad-excludes (the policy is then stricter). What does not map "
               "is\n"
               "in docs/runtime-policy.md. Exit status: 0 written, 2 bad input.\n");
}

int cli_policy_import_keylime(int argc, char **argv)
{
        _cleanup_(json_decrefp) json_t *kl = NULL, *doc = NULL, *warnings = json_array();
        struct dw_policy_error err = {};
        const char *output = NULL;
        bool drop = false;
        char created[32];
        int r;

        r = parse_io(argc, argv, "drop-bad-excludes", &drop, &output, import_help);
        if (r != 0)
                return r;
        r = policy_load_json(argv[optind], &kl);
        if (r != 0)
                return r;
        r = dw_keylime_import(kl, drop, policy_now(created), "driftwatch policy import-keylime", &doc, warnings, &err);
        policy_print_warnings(warnings);
        if (r < 0)
                return policy_error(argv[optind], r, &err);
        return policy_write_doc(output, doc);
}

static void export_help(void)
{
        printf("Usage: driftwatch policy export-keylime [--lossy] -o KEYLIME.json POLICY\n"
               "\n"
               "Convert a driftwatch runtime policy into Keylime's format (version 1). What Keylime cannot express\n"
               "is left out with a warning when that only makes the Keylime policy stricter (allow_violations,\n"
               "fs-verity digests, excludes without a Python equivalent); require_signatures, which Keylime cannot\n"
               "enforce, is an error unless --lossy. Exit status: 0 written, 2 bad input.\n");
}

int cli_policy_export_keylime(int argc, char **argv)
{
        _cleanup_(json_decrefp) json_t *doc = NULL, *kl = NULL, *warnings = json_array();
        _cleanup_free_ char *text = NULL, *dumped = NULL;
        struct dw_policy_error err = {};
        const char *output = NULL;
        bool lossy = false;
        int r;

        r = parse_io(argc, argv, "lossy", &lossy, &output, export_help);
        if (r != 0)
                return r;
        r = policy_load_doc(argv[optind], &doc);
        if (r != 0)
                return r;
        r = dw_keylime_export(doc, lossy, &kl, warnings, &err);
        policy_print_warnings(warnings);
        if (r < 0)
                return policy_error(argv[optind], r, &err);
        /* Keylime reads any JSON layout; one member per line keeps it reviewable. */
        dumped = json_dumps(kl, JSON_INDENT(1) | JSON_SORT_KEYS);
        if (!dumped || asprintf(&text, "%s\n", dumped) < 0)
                return cli_error("out of memory");
        return policy_write_file(output, text, strlen(text));
}
