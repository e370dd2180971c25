/* SPDX-License-Identifier: MIT */
/* driftwatch policy create: a runtime policy from an image tree, from an IMA log (learning mode), or from the files
 * of the installed Debian packages. The walking and hashing is lib/policy-tree, lib/policy-dpkg; the document is
 * lib/policy-doc. */

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hex.h"
#include "policy-cli.h"
#include "policy-doc.h"
#include "policy-dpkg.h"
#include "policy-tree.h"

#define MAX_EXCLUDES 256

enum source { SOURCE_NONE, SOURCE_TREE, SOURCE_IMA_LOG, SOURCE_DPKG };

struct create_args {
        enum source source;
        const char *input; /* DIR or FILE */
        const char *prefix;
        const char *root;
        const char *output;
        const char *name;
        const char *version;
        const char *excludes[MAX_EXCLUDES];
        size_t n_excludes;
        enum dw_hash_alg alg;
        unsigned jobs;
        enum dw_ima_format format;
        bool format_set;
        enum dw_hash_alg log_alg;
        bool log_alg_set;
        bool check_md5sums;
        bool skip_unreadable;
        bool verbose;
        bool quiet;
};

static void create_help(void)
{
        printf("Usage: driftwatch policy create --from-tree DIR [--prefix PATH] [--exclude GLOB]... -o POLICY\n"
               "       driftwatch policy create --from-ima-log FILE [--ascii|--binary] [--digest-alg ALG] -o POLICY\n"
               "       driftwatch policy create --from-dpkg [--root DIR] [--check-md5sums] -o POLICY\n"
               "\n"
               "Create a runtime policy (allowlist): the digest of every regular file of an image tree (DIR mapped\n"
               "to PATH on the gateway), every file and buffer an IMA log measured (learning mode), or every file\n"
               "of the installed Debian packages as it is on disk. Output is sorted and deterministic\n"
               "(SOURCE_DATE_EPOCH sets meta.created). See docs/runtime-policy.md.\n"
               "\n"
               "  --from-tree DIR       walk DIR: symlinks are never followed out of it, pseudo file systems\n"
               "                        mounted below it are skipped, only regular files are listed\n"
               "  --prefix PATH         the gateway path of DIR (default /)\n"
               "  --exclude GLOB        leave out matching paths (a pattern with a '/' is matched against the whole\n"
               "                        gateway path, one without against the file name); repeatable\n"
               "  --from-ima-log FILE   an IMA measurement list (boot_aggregate and violations are skipped)\n"
               "  --ascii, --binary     FILE's format (default: from its name)\n"
               "  --digest-alg ALG      bank of the template digests of a binary FILE (default: from its name)\n"
               "  --from-dpkg           the files listed in ROOT/var/lib/dpkg/info/*.list\n"
               "  --root DIR            the root file system holding the dpkg database (default /)\n"
               "  --check-md5sums       also compare each file with the package's md5sums and report changed files\n"
               "  --alg ALG             file digest algorithm: sha256 (default), sha1, sha384, sha512, sm3\n"
               "  --jobs N              hashing threads (default: one per CPU)\n"
               "  --skip-unreadable     leave out files that cannot be read instead of failing\n"
               "  --name NAME           meta.name (default: from the source)\n"
               "  --policy-version V    meta.version\n"
               "  -o, --output POLICY   where to write the policy (\"-\": stdout)\n"
               "  -v, --verbose         name every skipped directory and symlink\n"
               "  -q, --quiet           no summary on stderr\n"
               "\n"
               "Progress is shown on stderr when it is a terminal. Exit status: 0 written, 2 bad input (nothing\n"
               "written).\n");
}

static int set_source(struct create_args *a, enum source s, const char *input)
{
        if (a->source != SOURCE_NONE)
                return cli_error("policy create: give one of --from-tree, --from-ima-log, --from-dpkg");
        a->source = s;
        a->input = input;
        return 0;
}

static int parse_create_args(int argc, char **argv, struct create_args *a)
{
        enum {
                ARG_TREE = 0x100,
                ARG_PREFIX,
                ARG_EXCLUDE,
                ARG_LOG,
                ARG_ASCII,
                ARG_BINARY,
                ARG_DIGEST_ALG,
                ARG_DPKG,
                ARG_ROOT,
                ARG_MD5,
                ARG_ALG,
                ARG_JOBS,
                ARG_SKIP,
                ARG_NAME,
                ARG_VERSION,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"from-tree", required_argument, NULL, ARG_TREE},
                {"prefix", required_argument, NULL, ARG_PREFIX},
                {"exclude", required_argument, NULL, ARG_EXCLUDE},
                {"from-ima-log", required_argument, NULL, ARG_LOG},
                {"ascii", no_argument, NULL, ARG_ASCII},
                {"binary", no_argument, NULL, ARG_BINARY},
                {"digest-alg", required_argument, NULL, ARG_DIGEST_ALG},
                {"from-dpkg", no_argument, NULL, ARG_DPKG},
                {"root", required_argument, NULL, ARG_ROOT},
                {"check-md5sums", no_argument, NULL, ARG_MD5},
                {"alg", required_argument, NULL, ARG_ALG},
                {"jobs", required_argument, NULL, ARG_JOBS},
                {"skip-unreadable", no_argument, NULL, ARG_SKIP},
                {"name", required_argument, NULL, ARG_NAME},
                {"policy-version", required_argument, NULL, ARG_VERSION},
                {"output", required_argument, NULL, 'o'},
                {"verbose", no_argument, NULL, 'v'},
                {"quiet", no_argument, NULL, 'q'},
                {},
        };
        char *end;
        int c, r;

        *a = (struct create_args){.prefix = "/", .root = "/", .alg = DW_HASH_SHA256, .log_alg = DW_HASH_SHA1};
        optind = 1;
        while ((c = getopt_long(argc, argv, "ho:vq", options, NULL)) >= 0) {
                r = 0;
                switch (c) {
                case 'h':
                        create_help();
                        exit(0);
                case ARG_TREE:
                        r = set_source(a, SOURCE_TREE, optarg);
                        break;
                case ARG_LOG:
                        r = set_source(a, SOURCE_IMA_LOG, optarg);
                        break;
                case ARG_DPKG:
                        r = set_source(a, SOURCE_DPKG, NULL);
                        break;
                case ARG_PREFIX:
                        if (optarg[0] != '/')
                                return cli_error("policy create: --prefix '%s' is not an absolute path", optarg);
                        a->prefix = optarg;
                        break;
                case ARG_EXCLUDE:
                        if (a->n_excludes == MAX_EXCLUDES || !optarg[0])
                                return cli_error("policy create: too many or empty --exclude patterns");
                        a->excludes[a->n_excludes++] = optarg;
                        break;
                case ARG_ASCII:
                case ARG_BINARY:
                        a->format = c == ARG_ASCII ? DW_IMA_FORMAT_ASCII : DW_IMA_FORMAT_BINARY;
                        a->format_set = true;
                        break;
                case ARG_DIGEST_ALG:
                        if (dw_hash_alg_from_name(optarg, strlen(optarg), &a->log_alg) < 0)
                                return cli_error("policy create: unknown hash algorithm '%s'", optarg);
                        a->log_alg_set = true;
                        break;
                case ARG_ROOT:
                        a->root = optarg;
                        break;
                case ARG_MD5:
                        a->check_md5sums = true;
                        break;
                case ARG_ALG:
                        if (dw_hash_alg_from_name(optarg, strlen(optarg), &a->alg) < 0)
                                return cli_error("policy create: unknown hash algorithm '%s' (sha1, sha256, sha384, "
                                                 "sha512, sm3)",
                                                 optarg);
                        break;
                case ARG_JOBS:
                        a->jobs = (unsigned)strtoul(optarg, &end, 10);
                        if (*end || a->jobs == 0 || a->jobs > 1024)
                                return cli_error("policy create: --jobs '%s' is not a number from 1 to 1024", optarg);
                        break;
                case ARG_SKIP:
                        a->skip_unreadable = true;
                        break;
                case ARG_NAME:
                        a->name = optarg;
                        break;
                case ARG_VERSION:
                        a->version = optarg;
                        break;
                case 'o':
                        a->output = optarg;
                        break;
                case 'v':
                        a->verbose = true;
                        break;
                case 'q':
                        a->quiet = true;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
                if (r != 0)
                        return r;
        }
        if (optind != argc)
                return cli_error("policy create: unexpected argument '%s' (see --help)", argv[optind]);
        if (a->source == SOURCE_NONE)
                return cli_error("policy create: one of --from-tree, --from-ima-log, --from-dpkg is required");
        if (!a->output)
                return cli_error("policy create: -o POLICY is required");
        if (a->source == SOURCE_IMA_LOG)
                policy_guess_log_format(a->input, &a->format, a->format_set, &a->log_alg, a->log_alg_set);
        return 0;
}

/* ---- progress and notes ---- */

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(void *userdata, uint64_t files_done, uint64_t files_total, uint64_t bytes_done,
                     uint64_t bytes_total)
{
        (void)userdata;
        fprintf(stderr, "\rhashing: %" PRIu64 "/%" PRIu64 " files, %.1f/%.1f MB ", files_done, files_total,
                (double)bytes_done / 1e6, (double)bytes_total / 1e6);
}

static void note(void *userdata, const char *what, const char *gw_path, const char *detail)
{
        const struct create_args *a = userdata;

        if (a->verbose)
                fprintf(stderr, "driftwatch: %s: %s: %s\n", gw_path, what, detail);
}

/* ---- hashing and adding ---- */

/* Hashes the list and adds every file to doc. Unreadable files fail the whole run unless --skip-unreadable. */
static int hash_and_add(const struct create_args *a, const char *dir, struct dw_tree_list *l, json_t *doc,
                        uint64_t *ret_skipped)
{
        bool tty = isatty(STDERR_FILENO) && !a->quiet;
        struct dw_tree_hash h = {
                .alg = a->alg,
                .jobs = a->jobs,
                .md5 = a->check_md5sums,
                .progress = tty ? progress : NULL,
        };
        uint64_t unreadable = 0, skipped = 0;
        int r;

        r = dw_tree_hash_files(dir, l, &h);
        if (tty)
                fputs("\r\033[K", stderr);
        if (r < 0)
                return cli_error("%s: cannot hash: %s", dir, strerror(-r));
        for (size_t i = 0; i < l->n_files; i++) {
                struct dw_tree_file *f = &l->files[i];
                _cleanup_free_ char *name = NULL;

                if (f->error < 0) {
                        fprintf(stderr, "driftwatch: %s%s: %s: cannot read: %s\n",
                                a->skip_unreadable ? "warning: " : "", dir, f->rel, strerror(-f->error));
                        unreadable++;
                        continue;
                }
                if (f->skipped) {
                        skipped++;
                        continue;
                }
                name = dw_policy_name(f->gw_path, strlen(f->gw_path), true);
                if (!name)
                        return cli_error("out of memory");
                r = dw_policy_doc_add_digest(doc, DW_POLICY_SECTION_DIGESTS, name, strlen(name), a->alg, false,
                                             f->digest);
                if (r < 0)
                        return cli_error("%s: cannot add to the policy: %s", f->gw_path, strerror(-r));
        }
        if (unreadable && !a->skip_unreadable)
                return cli_error("%" PRIu64 " file%s could not be read: nothing written (--skip-unreadable leaves "
                                 "them out)",
                                 unreadable, unreadable == 1 ? "" : "s");
        *ret_skipped = skipped + unreadable;
        return 0;
}

static void summary(const struct create_args *a, const char *what, uint64_t files, uint64_t bytes, double secs)
{
        if (a->quiet)
                return;
        fprintf(stderr, "driftwatch: %s: %" PRIu64 " files, %.1f MB hashed in %.2f s (%.0f files/s, %.1f MB/s)\n", what,
                files, (double)bytes / 1e6, secs, secs > 0 ? (double)files / secs : 0.0,
                secs > 0 ? (double)bytes / 1e6 / secs : 0.0);
}

static int create_from_tree(const struct create_args *a, json_t *doc)
{
        struct dw_tree_walk w = {
                .prefix = a->prefix,
                .excludes = a->excludes,
                .n_excludes = a->n_excludes,
                .note = note,
                .userdata = (void *)a,
        };
        _cleanup_(dw_tree_list_done) struct dw_tree_list l = {};
        struct dw_tree_stats s = {};
        uint64_t skipped = 0;
        double t0 = now_s();
        int r;

        r = dw_tree_walk(a->input, &w, &l, &s);
        if (r < 0)
                return cli_error("%s: cannot walk: %s", a->input, strerror(-r));
        r = hash_and_add(a, a->input, &l, doc, &skipped);
        if (r != 0)
                return r;
        summary(a, a->input, l.n_files - skipped, s.bytes, now_s() - t0);
        if (!a->quiet)
                fprintf(stderr,
                        "driftwatch: skipped: %" PRIu64 " special files, %" PRIu64 " pseudo file systems, %" PRIu64
                        " symlinks not followed (%" PRIu64 " listed by their target), %" PRIu64 " excluded, %" PRIu64
                        " unreadable directories\n",
                        s.special, s.pseudo_fs, s.symlinks_other, s.symlinks_in, s.excluded, s.unreadable);
        return 0;
}

static int create_from_dpkg(const struct create_args *a, json_t *doc)
{
        _cleanup_(dw_tree_list_done) struct dw_tree_list l = {};
        _cleanup_(dw_dpkg_done) struct dw_dpkg d = {};
        struct dw_dpkg_error err = {};
        uint64_t skipped = 0, changed = 0, bytes = 0;
        double t0 = now_s();
        int r;

        r = dw_dpkg_collect(a->root, a->check_md5sums, &l, &d, &err);
        if (r == -EBADMSG)
                return cli_error("%s/var/lib/dpkg/info/%s: line %u: %s", a->root, err.file, err.line, err.msg);
        if (r < 0)
                return cli_error("%s/var/lib/dpkg/info: cannot read the dpkg database: %s", a->root, strerror(-r));
        r = hash_and_add(a, a->root, &l, doc, &skipped);
        if (r != 0)
                return r;
        for (size_t i = 0; i < l.n_files; i++) {
                const struct dw_tree_file *f = &l.files[i];
                const struct dw_dpkg_md5 *m;
                char hex[33], want[33];

                bytes += f->size;
                if (!a->check_md5sums || f->error < 0 || f->skipped)
                        continue;
                m = dw_dpkg_md5_find(&d, f->gw_path);
                if (!m || memcmp(m->md5, f->md5, 16) == 0)
                        continue;
                changed++;
                fprintf(stderr, "driftwatch: %s (%s): changed since installation: md5 %s, the package says %s\n",
                        f->gw_path, m->package, dw_hex_encode(f->md5, 16, hex), dw_hex_encode(m->md5, 16, want));
        }
        summary(a, "dpkg", l.n_files - skipped, bytes, now_s() - t0);
        if (!a->quiet)
                fprintf(stderr,
                        "driftwatch: %zu packages, %" PRIu64 " paths listed: %" PRIu64 " directories, %" PRIu64
                        " missing, %" PRIu64 " other%s",
                        d.n_packages, d.paths, d.dirs, d.missing, d.other, a->check_md5sums ? "" : "\n");
        if (!a->quiet && a->check_md5sums)
                fprintf(stderr, "; %" PRIu64 " changed since installation\n", changed);
        return 0;
}

static int create_from_ima_log(const struct create_args *a, json_t *doc)
{
        _cleanup_(dw_hasher_freep) struct dw_hasher *h = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t counts[_DW_POLICY_LEARN_MAX] = {};
        struct dw_error err = {};
        struct dw_ima_parser p;
        size_t size;
        int r;

        r = cli_read_file(a->input, &buf, &size);
        if (r != 0)
                return r;
        if (dw_hasher_new(&h) < 0)
                return cli_error("out of memory");
        dw_ima_parser_init(&p, a->format, a->log_alg, buf, size);
        for (;;) {
                enum dw_policy_learn what;
                struct dw_ima_entry e;

                r = dw_ima_parser_next(&p, &e, &err);
                if (r <= 0)
                        break;
                r = dw_ima_entry_check_digest(h, &e, &err);
                if (r < 0)
                        break;
                r = dw_policy_doc_learn_entry(doc, &e, &what);
                if (r < 0) {
                        dw_ima_parser_done(&p);
                        return cli_error("out of memory");
                }
                counts[what]++;
        }
        dw_ima_parser_done(&p);
        if (r < 0)
                return cli_parse_error(a->input, "entry", &err);
        if (!a->quiet)
                fprintf(stderr,
                        "driftwatch: %s: %" PRIu64 " file and %" PRIu64 " buffer measurements learned; skipped %" PRIu64
                        " boot_aggregate, %" PRIu64 " violations, %" PRIu64 " without a usable digest\n",
                        a->input, counts[DW_POLICY_LEARN_FILE], counts[DW_POLICY_LEARN_BUFFER],
                        counts[DW_POLICY_LEARN_BOOT_AGGREGATE], counts[DW_POLICY_LEARN_VIOLATION],
                        counts[DW_POLICY_LEARN_UNSUPPORTED]);
        return 0;
}

int cli_policy_create(int argc, char **argv)
{
        static const char *const generators[] = {
                [SOURCE_TREE] = "driftwatch policy create --from-tree",
                [SOURCE_IMA_LOG] = "driftwatch policy create --from-ima-log",
                [SOURCE_DPKG] = "driftwatch policy create --from-dpkg",
        };
        _cleanup_(json_decrefp) json_t *doc = NULL;
        struct create_args a;
        char created[32];
        const char *name;
        int r;

        r = parse_create_args(argc, argv, &a);
        if (r != 0)
                return r;
        name = a.name ?: a.source == SOURCE_DPKG ? "installed Debian packages" : a.input;
        doc = dw_policy_doc_new(name, a.version, policy_now(created), generators[a.source]);
        if (!doc)
                return cli_error("out of memory");
        r = a.source == SOURCE_TREE      ? create_from_tree(&a, doc)
            : a.source == SOURCE_IMA_LOG ? create_from_ima_log(&a, doc)
                                         : create_from_dpkg(&a, doc);
        if (r != 0)
                return r;
        return policy_write_doc(a.output, doc);
}
