/* SPDX-License-Identifier: MIT */
/* The files of installed Debian packages: see policy-dpkg.h. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "hex.h"
#include "macro.h"
#include "policy-dpkg.h"

#define DB_FILE_MAX (256u * 1024 * 1024)

void dw_dpkg_done(struct dw_dpkg *d)
{
        for (size_t i = 0; i < d->n_packages; i++)
                free(d->packages[i]);
        free(d->packages);
        for (size_t i = 0; i < d->n_md5s; i++)
                free(d->md5s[i].path);
        free(d->md5s);
        *d = (struct dw_dpkg){};
}

_printf_(3, 4) static int bad_line(struct dw_dpkg_error *err, unsigned line, const char *fmt, ...)
{
        va_list ap;

        if (err) {
                err->line = line;
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

int dw_dpkg_parse_md5sums(const char *data, size_t len,
                          int (*add)(void *userdata, const char *path, size_t path_len, const uint8_t md5[16]),
                          void *userdata, struct dw_dpkg_error *err)
{
        unsigned line = 0;

        for (size_t pos = 0; pos < len;) {
                const char *s = data + pos, *nl = memchr(s, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - s) : len - pos;
                uint8_t md5[16];
                int r;

                line++;
                pos += n + (nl ? 1 : 0);
                if (n == 0)
                        continue;
                if (n < 35 || dw_hex_decode(s, 32, md5, sizeof(md5)) != 16 || s[32] != ' ' || s[33] != ' ')
                        return bad_line(err, line, "expected \"<32 hex digits>  <path>\"");
                if (memchr(s + 34, '\0', n - 34))
                        return bad_line(err, line, "path with a NUL byte");
                r = add(userdata, s + 34, n - 34, md5);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int package_add(struct dw_dpkg *d, const char *name, size_t len, const char **ret)
{
        char **p = realloc(d->packages, (d->n_packages + 1) * sizeof(*p));

        if (!p)
                return -ENOMEM;
        d->packages = p;
        p[d->n_packages] = strndup(name, len);
        if (!p[d->n_packages])
                return -ENOMEM;
        *ret = p[d->n_packages++];
        return 0;
}

struct md5_ctx {
        struct dw_dpkg *d;
        int root_fd;
        const char *package;
};

static int md5_add(void *userdata, const char *path, size_t path_len, const uint8_t md5[16])
{
        struct md5_ctx *c = userdata;
        struct dw_dpkg *d = c->d;
        _cleanup_free_ char *rel = strndup(path, path_len), *resolved = NULL;
        struct dw_dpkg_md5 *m;
        int r;

        if (!rel)
                return -ENOMEM;
        /* Recorded under the path the file really has (IMA logs that one); a file not on disk has no entry. */
        r = dw_tree_resolve(c->root_fd, "/", rel[0] == '/' ? rel + 1 : rel, &resolved);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        if (d->n_md5s == d->max_md5s) {
                size_t max = d->max_md5s ? d->max_md5s * 2 : 4096;
                struct dw_dpkg_md5 *p = realloc(d->md5s, max * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                d->md5s = p;
                d->max_md5s = max;
        }
        m = &d->md5s[d->n_md5s];
        if (asprintf(&m->path, "/%s", resolved) < 0)
                return -ENOMEM;
        memcpy(m->md5, md5, 16);
        m->package = c->package;
        d->n_md5s++;
        return 0;
}

static int cmp_md5(const void *a, const void *b)
{
        return strcmp(((const struct dw_dpkg_md5 *)a)->path, ((const struct dw_dpkg_md5 *)b)->path);
}

const struct dw_dpkg_md5 *dw_dpkg_md5_find(const struct dw_dpkg *d, const char *gw_path)
{
        struct dw_dpkg_md5 key = {.path = (char *)gw_path};

        if (d->n_md5s == 0)
                return NULL;
        return bsearch(&key, d->md5s, d->n_md5s, sizeof(key), cmp_md5);
}

static int read_db_file(const char *info_dir, const char *name, uint8_t **ret, size_t *ret_len)
{
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", info_dir, name) < 0)
                return -ENOMEM;
        return dw_read_full_file(path, DB_FILE_MAX, ret, ret_len);
}

/* One PACKAGE.list: every path, resolved within root; regular files listed. */
static int collect_list(struct dw_dpkg *d, int root_fd, const char *info_dir, const char *name, const char *package,
                        struct dw_tree_list *files)
{
        _cleanup_free_ uint8_t *data = NULL;
        size_t len;
        int r;

        r = read_db_file(info_dir, name, &data, &len);
        if (r < 0)
                return r;
        for (size_t pos = 0; pos < len;) {
                char *s = (char *)data + pos, *nl = memchr(s, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - s) : len - pos;
                _cleanup_free_ char *resolved = NULL, *gw = NULL;
                struct stat st;

                pos += n + (nl ? 1 : 0);
                if (n == 0 || s[0] != '/' || memchr(s, '\0', n) || (n == 2 && s[1] == '.'))
                        continue;
                s[n] = '\0';
                d->paths++;
                if (fstatat(root_fd, s + 1, &st, 0) == 0 && S_ISDIR(st.st_mode)) {
                        d->dirs++;
                        continue;
                }
                r = dw_tree_resolve(root_fd, "/", s + 1, &resolved);
                if (r == -ENOMEM)
                        return r;
                if (r == -ENOENT || r == -ENOTDIR) {
                        d->missing++;
                        continue;
                }
                if (r < 0) {
                        d->other++;
                        continue;
                }
                if (fstatat(root_fd, resolved, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (asprintf(&gw, "/%s", resolved) < 0)
                        return -ENOMEM;
                r = dw_tree_list_add(files, resolved, gw, package, (uint64_t)st.st_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int collect_md5sums(struct dw_dpkg *d, int root_fd, const char *info_dir, const char *name, const char *package,
                           struct dw_dpkg_error *err)
{
        struct md5_ctx c = {.d = d, .root_fd = root_fd, .package = package};
        _cleanup_free_ uint8_t *data = NULL;
        size_t len;
        int r;

        r = read_db_file(info_dir, name, &data, &len);
        if (r == -ENOENT)
                return 0; /* packages without files, or from before md5sums */
        if (r < 0)
                return r;
        r = dw_dpkg_parse_md5sums((const char *)data, len, md5_add, &c, err);
        if (r == -EBADMSG && err)
                snprintf(err->file, sizeof(err->file), "%.200s", name);
        return r;
}

static int cmp_strp(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The PACKAGE.list names of the database, sorted, so the result does not depend on readdir's order. */
static int list_names(int info_fd, char ***ret, size_t *ret_n)
{
        DIR *dir = fdopendir(dup(info_fd));
        char **names = NULL;
        size_t n = 0, max = 0;
        struct dirent *de;

        if (!dir)
                return -errno;
        while ((de = readdir(dir))) {
                size_t len = strlen(de->d_name);

                if (len <= 5 || strcmp(de->d_name + len - 5, ".list") != 0)
                        continue;
                if (n == max) {
                        char **p = realloc(names, (max = max ? 2 * max : 1024) * sizeof(*p));

                        if (!p)
                                break;
                        names = p;
                }
                names[n] = strdup(de->d_name);
                if (!names[n])
                        break;
                n++;
        }
        closedir(dir);
        if (de) {
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
                return -ENOMEM;
        }
        if (n)
                qsort(names, n, sizeof(*names), cmp_strp);
        *ret = names;
        *ret_n = n;
        return 0;
}

int dw_dpkg_collect(const char *root, bool md5, struct dw_tree_list *ret_files, struct dw_dpkg *ret,
                    struct dw_dpkg_error *err)
{
        _cleanup_close_ int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), info_fd = -EBADF;
        _cleanup_free_ char *info_dir = NULL;
        struct dw_tree_list files = {};
        struct dw_dpkg d = {};
        char **names = NULL;
        size_t n = 0;
        int r;

        if (root_fd < 0)
                return -errno;
        info_fd = openat(root_fd, "var/lib/dpkg/info", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (info_fd < 0)
                return -errno;
        if (asprintf(&info_dir, "%s/var/lib/dpkg/info", root) < 0) {
                info_dir = NULL;
                return -ENOMEM;
        }
        r = list_names(info_fd, &names, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                size_t len = strlen(names[i]) - 5;
                const char *package = NULL;
                char md5name[512];

                r = package_add(&d, names[i], len, &package);
                if (r < 0)
                        break;
                r = collect_list(&d, root_fd, info_dir, names[i], package, &files);
                if (r < 0 || !md5)
                        continue;
                snprintf(md5name, sizeof(md5name), "%.*s.md5sums", (int)len, names[i]);
                r = collect_md5sums(&d, root_fd, info_dir, md5name, package, err);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (r < 0) {
                dw_tree_list_done(&files);
                dw_dpkg_done(&d);
                return r;
        }
        if (d.n_md5s)
                qsort(d.md5s, d.n_md5s, sizeof(*d.md5s), cmp_md5);
        dw_tree_list_sort_unique(&files);
        *ret_files = files;
        *ret = d;
        return 0;
}
