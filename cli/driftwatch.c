/* SPDX-License-Identifier: MIT */
/* driftwatch: the admin CLI. Inspects and replays measurement logs; later verifies quotes and manages
 * allowlists. Each verb is a thin front over lib/. */

#include <stdio.h>
#include <string.h>

#include "cli.h"

#define DRIFTWATCH_VERSION "0.1.0"

static void help(void)
{
        printf("Usage: driftwatch COMMAND ...\n"
               "\n"
               "Inspect and replay integrity evidence.\n"
               "\n"
               "Commands:\n"
               "  ima show [--ascii] [--json] [--digest-alg ALG] FILE\n"
               "                     List the entries of an IMA measurement list\n"
               "  ima replay [--ascii] [--json] [--digest-alg ALG] [--banks LIST]\n"
               "             [--sha1-padded LIST] [--allow-partial] FILE\n"
               "                     Check every template digest and replay the PCRs\n"
               "  eventlog show [--json] FILE\n"
               "                     List the events of a TCG PC Client (TPM boot) event log\n"
               "  eventlog replay [--json] FILE\n"
               "                     Replay the PCRs of every bank in a boot event log\n"
               "  tpm enroll|quote|activate|event-key|nv ... [--tcti STR]\n"
               "                     The gateway's TPM: EK and AK, quotes, credential activation,\n"
               "                     event-signing key, NV extend index (driftwatch tpm --help)\n"
               "  quote verify --ak AK --nonce HEX --attest FILE --signature FILE [--pcrs FILE]\n"
               "                     Verify a TPM quote (tpm2_quote -m/-s/-o) against an AK and nonce\n"
               "  quote ekcert|makecredential ...\n"
               "                     Validate an EK certificate; MakeCredential for an EK and AK\n"
               "  policy check --policy POLICY --ima-log FILE [--ascii] [--json]\n"
               "                     Judge every entry of an IMA log against a runtime policy (allowlist)\n"
               "  policy validate [--json] POLICY\n"
               "                     Check a runtime policy and summarize it\n"
               "\n"
               "Exit status: 0 success, 1 a negative verdict (quote verify, quote ekcert, policy check), 2 bad input\n"
               "(the message names the file, entry and offset).\n"
               "Run 'driftwatch COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                help();
                return EXIT_BAD_INPUT;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                help();
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("driftwatch %s\n", DRIFTWATCH_VERSION);
                return 0;
        }
        if (strcmp(argv[1], "ima") == 0)
                return cli_ima_main(argc - 1, argv + 1);
        if (strcmp(argv[1], "eventlog") == 0)
                return cli_eventlog_main(argc - 1, argv + 1);
        if (strcmp(argv[1], "tpm") == 0)
                return cli_tpm_main(argc - 1, argv + 1);
        if (strcmp(argv[1], "quote") == 0)
                return cli_quote_main(argc - 1, argv + 1);
        if (strcmp(argv[1], "policy") == 0)
                return cli_policy_main(argc - 1, argv + 1);
        return cli_error("unknown command '%s' (see driftwatch --help)", argv[1]);
}
