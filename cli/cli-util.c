/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "cli.h"
#include "fileio.h"
#include "hex.h"

int cli_error(const char *fmt, ...)
{
        va_list ap;

        fputs("driftwatch: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_BAD_INPUT;
}

int cli_parse_error(const char *path, const char *what, const struct dw_error *err)
{
        return cli_error("%s: %s %" PRIu64 " at byte offset %zu: %s", path, what, err->index, err->offset, err->msg);
}

int cli_read_file(const char *path, uint8_t **ret_data, size_t *ret_size)
{
        int r = dw_read_full_file(path, DW_CLI_MAX_FILE, ret_data, ret_size);

        if (r == -EFBIG)
                return cli_error("%s: larger than %llu bytes, refusing", path, DW_CLI_MAX_FILE);
        if (r < 0)
                return cli_error("%s: cannot read: %s", path, strerror(-r));
        return 0;
}

static void escape_bytes(const char *s, size_t len, char *out)
{
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c >= 0x20 && c < 0x7f && c != '\\') {
                        out[o++] = (char)c;
                } else {
                        sprintf(out + o, "\\x%02x", c);
                        o += 4;
                }
        }
        out[o] = '\0';
}

json_t *cli_json_bytes_string(const char *s, size_t len)
{
        _cleanup_free_ char *buf = NULL;
        json_t *j;

        j = json_stringn(s, len); /* NULL when not valid UTF-8 or it has a NUL */
        if (j)
                return j;
        buf = malloc(len * 4 + 1);
        if (!buf)
                return NULL;
        escape_bytes(s, len, buf);
        return json_string(buf);
}

json_t *cli_json_hex(const uint8_t *data, size_t len)
{
        _cleanup_free_ char *buf = malloc(len * 2 + 1);

        if (!buf)
                return NULL;
        return json_string(dw_hex_encode(data, len, buf));
}

int cli_json_print(json_t *j)
{
        if (json_dumpf(j, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) < 0)
                return cli_error("cannot write JSON to stdout");
        fputc('\n', stdout);
        return 0;
}

void cli_print_escaped(const char *s, size_t len)
{
        _cleanup_free_ char *buf = malloc(len * 4 + 1);

        if (!buf)
                return;
        escape_bytes(s, len, buf);
        fputs(buf, stdout);
}

json_t *cli_json_pcr_bank(const uint8_t (*pcrs)[DW_HASH_MAX_SIZE], unsigned n_pcrs, uint32_t touched,
                          enum dw_hash_alg alg)
{
        json_t *bank = json_object();

        for (unsigned i = 0; i < n_pcrs && i < 32; i++) {
                char key[4];

                if (!(touched & (1u << i)))
                        continue;
                snprintf(key, sizeof(key), "%u", i);
                json_object_set_new(bank, key, cli_json_hex(pcrs[i], dw_hash_alg_size(alg)));
        }
        return bank;
}

int cli_dispatch(const char *group, const struct cli_verb *verbs, size_t n_verbs, void (*help)(void), int argc,
                 char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                help();
                return argc < 2 ? EXIT_BAD_INPUT : 0;
        }
        for (size_t i = 0; i < n_verbs; i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return verbs[i].run(argc - 1, argv + 1);
        return cli_error("%s: unknown command '%s' (see 'driftwatch %s --help')", group, argv[1], group);
}
