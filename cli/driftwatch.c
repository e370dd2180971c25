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
               "\n"
               "Exit status: 0 success, 2 bad input (the message names the file, entry and offset).\n"
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
        return cli_error("unknown command '%s' (see driftwatch --help)", argv[1]);
}
