/* SPDX-License-Identifier: MIT */
/* Walking an image tree and hashing its files in worker threads: see policy-tree.h. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "macro.h"
#include "policy-tree.h"

#define MAX_SYMLINK_HOPS 40 /* the kernel's MAXSYMLINKS */
#define READ_CHUNK       (1024 * 1024)

/* ---- the list ---- */

void dw_tree_list_done(struct dw_tree_list *l)
{
        for (size_t i = 0; i < l->n_files; i++) {
                free(l->files[i].rel);
                free(l->files[i].gw_path);
        }
        free(l->files);
        *l = (struct dw_tree_list){};
}

int dw_tree_list_add(struct dw_tree_list *l, const char *rel, const char *gw_path, const char *tag, uint64_t size)
{
        struct dw_tree_file *f;

        if (l->n_files == l->max_files) {
                size_t max = l->max_files ? l->max_files * 2 : 1024;
                struct dw_tree_file *p = realloc(l->files, max * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                l->files = p;
                l->max_files = max;
        }
        f = &l->files[l->n_files];
        *f = (struct dw_tree_file){.rel = strdup(rel), .gw_path = strdup(gw_path), .tag = tag, .size = size};
        if (!f->rel || !f->gw_path) {
                free(f->rel);
                free(f->gw_path);
                return -ENOMEM;
        }
        l->n_files++;
        return 0;
}

static int cmp_gw(const void *a, const void *b)
{
        const struct dw_tree_file *x = a, *y = b;

        return strcmp(x->gw_path, y->gw_path);
}

void dw_tree_list_sort_unique(struct dw_tree_list *l)
{
        size_t k = 0;

        if (l->n_files == 0)
                return;
        qsort(l->files, l->n_files, sizeof(*l->files), cmp_gw);
        for (size_t i = 1; i < l->n_files; i++) {
                if (strcmp(l->files[i].gw_path, l->files[k].gw_path) == 0) {
                        free(l->files[i].rel);
                        free(l->files[i].gw_path);
                        continue;
                }
                l->files[++k] = l->files[i];
        }
        l->n_files = k + 1;
}

/* ---- rules ---- */

bool dw_tree_excluded(const char *const *patterns, size_t n, const char *gw_path)
{
        const char *base = strrchr(gw_path, '/');

        base = base ? base + 1 : gw_path;
        for (size_t i = 0; i < n; i++) {
                bool whole = strchr(patterns[i], '/') != NULL;

                if (fnmatch(patterns[i], whole ? gw_path : base, whole ? FNM_PATHNAME : 0) == 0)
                        return true;
        }
        return false;
}

bool dw_tree_pseudo_fs(int64_t f_type)
{
        static const uint32_t magics[] = {
                0x9fa0,     /* PROC_SUPER_MAGIC */
                0x62656572, /* SYSFS_MAGIC */
                0x1cd1,     /* DEVPTS_SUPER_MAGIC */
                0x01021994, /* TMPFS_MAGIC (also devtmpfs) */
                0x858458f6, /* RAMFS_MAGIC */
                0x73636673, /* SECURITYFS_MAGIC */
                0x64626720, /* DEBUGFS_MAGIC */
                0x74726163, /* TRACEFS_MAGIC */
                0x27e0eb,   /* CGROUP_SUPER_MAGIC */
                0x63677270, /* CGROUP2_SUPER_MAGIC */
                0xcafe4a11, /* BPF_FS_MAGIC */
                0x6165676c, /* PSTOREFS_MAGIC */
                0xde5e81e4, /* EFIVARFS_MAGIC */
                0x62656570, /* CONFIGFS_MAGIC */
                0x19800202, /* MQUEUE_MAGIC */
                0x958458f6, /* HUGETLBFS_MAGIC */
                0x65735543, /* FUSECTL_SUPER_MAGIC */
                0xf97cff8c, /* SELINUX_MAGIC */
                0x42494e4d, /* BINFMTFS_MAGIC */
                0x0187,     /* AUTOFS_SUPER_MAGIC */
                0x6e736673, /* NSFS_MAGIC */
        };

        for (size_t i = 0; i < ELEMENTSOF(magics); i++)
                if ((uint32_t)f_type == magics[i])
                        return true;
        return false;
}

/* ---- paths ---- */

/* prefix + "/" + rel, with neither a doubled nor a trailing '/'. */
static char *gateway_path(const char *prefix, const char *rel)
{
        size_t plen = strlen(prefix);
        char *s;

        while (plen > 1 && prefix[plen - 1] == '/')
                plen--;
        if (plen == 1)
                plen = 0; /* "/" */
        if (asprintf(&s, "%.*s/%s", (int)plen, prefix, rel) < 0)
                return NULL;
        if (s[1] == '\0' && plen > 0)
                s[plen] = '\0'; /* rel "": the prefix itself */
        return s;
}

static char *join(const char *a, const char *b)
{
        char *s;

        if (asprintf(&s, "%s%s%s", a, a[0] ? "/" : "", b) < 0)
                return NULL;
        return s;
}

static int read_link(int root_fd, const char *rel, char **ret)
{
        char buf[PATH_MAX];
        ssize_t n = readlinkat(root_fd, rel, buf, sizeof(buf) - 1);

        if (n < 0)
                return -errno;
        buf[n] = '\0';
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

/* An absolute link target as a path below the tree: prefix stripped. */
static int strip_prefix(const char *prefix, const char *target, const char **ret)
{
        size_t plen = strlen(prefix);

        while (plen > 0 && prefix[plen - 1] == '/')
                plen--;
        if (strncmp(target, prefix, plen) != 0 || (target[plen] != '/' && target[plen] != '\0'))
                return -EXDEV;
        *ret = target + plen;
        return 0;
}

int dw_tree_resolve(int root_fd, const char *prefix, const char *rel, char **ret_rel)
{
        _cleanup_free_ char *resolved = strdup(""), *pending = NULL, *target = strdup(rel);
        bool at_root = strlen(prefix) == strspn(prefix, "/"); /* ".." at the top stays there, as on "/" */
        const char *rest;
        unsigned hops = 0;
        struct stat st;
        int r;

        if (!resolved || !target)
                return -ENOMEM;
        for (;;) {
                char *comp, *next;

                /* target holds what is left to resolve. */
                rest = target;
                if (rest[0] == '/') {
                        r = strip_prefix(prefix, rest, &rest);
                        if (r < 0)
                                return r;
                        resolved[0] = '\0';
                }
                free(pending);
                pending = strdup(rest);
                if (!pending)
                        return -ENOMEM;
                next = pending;
                for (comp = strsep(&next, "/"); comp; comp = strsep(&next, "/")) {
                        char *candidate, *link = NULL;

                        if (comp[0] == '\0' || strcmp(comp, ".") == 0)
                                continue;
                        if (strcmp(comp, "..") == 0) {
                                char *up = strrchr(resolved, '/');

                                if (resolved[0] == '\0' && !at_root)
                                        return -EXDEV;
                                if (up)
                                        *up = '\0';
                                else
                                        resolved[0] = '\0';
                                continue;
                        }
                        candidate = join(resolved, comp);
                        if (!candidate)
                                return -ENOMEM;
                        if (fstatat(root_fd, candidate, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                r = -errno;
                                free(candidate);
                                return r;
                        }
                        if (!S_ISLNK(st.st_mode)) {
                                free(resolved);
                                resolved = candidate;
                                continue;
                        }
                        /* Another link: resolve its target, then what was left after it. */
                        if (++hops > MAX_SYMLINK_HOPS) {
                                free(candidate);
                                return -ELOOP;
                        }
                        r = read_link(root_fd, candidate, &link);
                        free(candidate);
                        if (r < 0)
                                return r;
                        free(target);
                        if (asprintf(&target, "%s%s%s", link, next ? "/" : "", next ?: "") < 0) {
                                target = NULL;
                                free(link);
                                return -ENOMEM;
                        }
                        free(link);
                        break;
                }
                if (!comp)
                        break;
        }
        if (resolved[0] == '\0')
                return -EISDIR;
        if (fstatat(root_fd, resolved, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -ENOENT;
        *ret_rel = TAKE_PTR(resolved);
        return 0;
}

/* ---- walking ---- */

struct walk {
        const struct dw_tree_walk *w;
        const char *prefix;
        int root_fd;
        struct dw_tree_list *list;
        struct dw_tree_stats *stats;
};

static void note(struct walk *k, const char *what, const char *gw, const char *detail)
{
        if (k->w->note)
                k->w->note(k->w->userdata, what, gw, detail);
}

static int add_file(struct walk *k, const char *rel, const char *gw, uint64_t size)
{
        k->stats->files++;
        k->stats->bytes += size;
        return dw_tree_list_add(k->list, rel, gw, NULL, size);
}

static int walk_symlink(struct walk *k, const char *rel, const char *gw)
{
        _cleanup_free_ char *target = NULL, *tgw = NULL;
        struct stat st;
        int r;

        r = dw_tree_resolve(k->root_fd, k->prefix, rel, &target);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                k->stats->symlinks_other++;
                if (r == -EXDEV)
                        note(k, "symlink-out", gw, "target outside the tree, not followed");
                return 0;
        }
        tgw = gateway_path(k->prefix, target);
        if (!tgw)
                return -ENOMEM;
        if (dw_tree_excluded(k->w->excludes, k->w->n_excludes, tgw) ||
            fstatat(k->root_fd, target, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                k->stats->symlinks_other++;
                return 0;
        }
        k->stats->symlinks_in++;
        /* Counted as a file only if the walk does not reach it itself: dw_tree_list_sort_unique() drops the twin. */
        return dw_tree_list_add(k->list, target, tgw, NULL, (uint64_t)st.st_size);
}

static int walk_dir(struct walk *k, int dfd, const char *rel, dev_t dev);

static int walk_subdir(struct walk *k, int dfd, const char *name, const char *rel, const char *gw, dev_t parent_dev,
                       const struct stat *st)
{
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct statfs sfs;

        if (fd < 0) {
                k->stats->unreadable++;
                note(k, "unreadable", gw, strerror(errno));
                return 0;
        }
        if (st->st_dev != parent_dev && fstatfs(fd, &sfs) == 0 && dw_tree_pseudo_fs((int64_t)sfs.f_type)) {
                char detail[64];

                snprintf(detail, sizeof(detail), "pseudo file system 0x%lx mounted here, skipped",
                         (unsigned long)sfs.f_type);
                k->stats->pseudo_fs++;
                note(k, "pseudo-fs", gw, detail);
                return 0;
        }
        return walk_dir(k, TAKE_FD(fd), rel, st->st_dev);
}

static int walk_entry(struct walk *k, int dfd, const char *name, const char *rel_dir, dev_t dev)
{
        _cleanup_free_ char *rel = join(rel_dir, name), *gw = NULL;
        struct stat st;

        if (!rel)
                return -ENOMEM;
        gw = gateway_path(k->prefix, rel);
        if (!gw)
                return -ENOMEM;
        if (dw_tree_excluded(k->w->excludes, k->w->n_excludes, gw)) {
                k->stats->excluded++;
                return 0;
        }
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0; /* gone meanwhile */
        if (S_ISDIR(st.st_mode))
                return walk_subdir(k, dfd, name, rel, gw, dev, &st);
        if (S_ISREG(st.st_mode))
                return add_file(k, rel, gw, (uint64_t)st.st_size);
        if (S_ISLNK(st.st_mode))
                return walk_symlink(k, rel, gw);
        k->stats->special++;
        return 0;
}

/* Takes dfd. */
static int walk_dir(struct walk *k, int dfd, const char *rel, dev_t dev)
{
        DIR *d = fdopendir(dfd);
        struct dirent *de;
        int r = 0;

        if (!d) {
                close(dfd);
                k->stats->unreadable++;
                return 0;
        }
        while (r == 0 && (errno = 0, de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                r = walk_entry(k, dirfd(d), de->d_name, rel, dev);
        }
        closedir(d);
        return r;
}

int dw_tree_walk(const char *dir, const struct dw_tree_walk *w, struct dw_tree_list *ret, struct dw_tree_stats *stats)
{
        const char *prefix = w->prefix ?: "/";
        struct dw_tree_stats s = {};
        struct dw_tree_list l = {};
        struct walk k;
        struct stat st;
        int fd, r;

        if (prefix[0] != '/')
                return -EINVAL;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        k = (struct walk){.w = w, .prefix = prefix, .root_fd = fd, .list = &l, .stats = &s};
        r = walk_dir(&k, fcntl(fd, F_DUPFD_CLOEXEC, 3), "", st.st_dev);
        close(fd);
        if (r < 0) {
                dw_tree_list_done(&l);
                return r;
        }
        dw_tree_list_sort_unique(&l);
        *ret = l;
        *stats = s;
        return 0;
}

/* ---- hashing ---- */

struct hash_job {
        const struct dw_tree_hash *h;
        struct dw_tree_list *list;
        int root_fd;
        dev_t root_dev;
        atomic_size_t next;
        atomic_uint_fast64_t files_done, bytes_done;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        unsigned finished;
        int error;
};

static atomic_bool no_openat2;

struct open_how_compat {
        uint64_t flags, mode, resolve;
};

static int open_beneath(int root_fd, const char *rel)
{
        int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
#ifdef SYS_openat2
        if (!atomic_load(&no_openat2)) {
                /* RESOLVE_BENEATH 0x08, RESOLVE_NO_SYMLINKS 0x04 (linux/openat2.h) */
                struct open_how_compat how = {.flags = (uint64_t)flags, .resolve = 0x08 | 0x04};
                long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));

                if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
                        return fd >= 0 ? (int)fd : -errno;
                atomic_store(&no_openat2, true);
        }
#endif
        int fd = openat(root_fd, rel, flags);

        return fd >= 0 ? fd : -errno;
}

struct worker {
        struct dw_hasher *hasher;
        EVP_MD *md5;
        EVP_MD_CTX *md5_ctx;
        uint8_t *buf;
};

static int hash_one(struct hash_job *j, struct worker *w, struct dw_tree_file *f)
{
        _cleanup_close_ int fd = open_beneath(j->root_fd, f->rel);
        bool md5 = j->h->md5;
        struct statfs sfs;
        struct stat st;
        int r;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) ||
            (st.st_dev != j->root_dev && fstatfs(fd, &sfs) == 0 && dw_tree_pseudo_fs((int64_t)sfs.f_type))) {
                f->skipped = true;
                return 0;
        }
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        r = dw_hasher_init(w->hasher, j->h->alg);
        if (r < 0)
                return r;
        if (md5 && EVP_DigestInit_ex(w->md5_ctx, w->md5, NULL) != 1)
                return -EIO;
        for (;;) {
                ssize_t n = read(fd, w->buf, READ_CHUNK);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                r = dw_hasher_update(w->hasher, w->buf, (size_t)n);
                if (r < 0)
                        return r;
                if (md5 && EVP_DigestUpdate(w->md5_ctx, w->buf, (size_t)n) != 1)
                        return -EIO;
                atomic_fetch_add(&j->bytes_done, (uint64_t)n);
        }
        r = dw_hasher_final(w->hasher, f->digest);
        if (r < 0)
                return r;
        if (md5 && EVP_DigestFinal_ex(w->md5_ctx, f->md5, NULL) != 1)
                return -EIO;
        return 0;
}

static void worker_done(struct worker *w)
{
        dw_hasher_free(w->hasher);
        EVP_MD_CTX_free(w->md5_ctx);
        EVP_MD_free(w->md5);
        free(w->buf);
}

static void *worker_main(void *arg)
{
        struct hash_job *j = arg;
        struct worker w = {.buf = malloc(READ_CHUNK)};
        int error = 0;

        if (!w.buf || dw_hasher_new(&w.hasher) < 0)
                error = -ENOMEM;
        if (error == 0 && j->h->md5) {
                w.md5 = EVP_MD_fetch(NULL, "MD5", NULL);
                w.md5_ctx = EVP_MD_CTX_new();
                if (!w.md5 || !w.md5_ctx)
                        error = -EOPNOTSUPP;
        }
        while (error == 0) {
                size_t i = atomic_fetch_add(&j->next, 1);
                struct dw_tree_file *f;

                if (i >= j->list->n_files)
                        break;
                f = &j->list->files[i];
                f->error = hash_one(j, &w, f);
                atomic_fetch_add(&j->files_done, 1);
        }
        worker_done(&w);
        pthread_mutex_lock(&j->lock);
        if (error < 0 && j->error == 0)
                j->error = error;
        j->finished++;
        pthread_cond_signal(&j->cond);
        pthread_mutex_unlock(&j->lock);
        return NULL;
}

static void wait_workers(struct hash_job *j, unsigned n, uint64_t bytes_total)
{
        pthread_mutex_lock(&j->lock);
        while (j->finished < n) {
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 200 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                (void)pthread_cond_timedwait(&j->cond, &j->lock, &ts);
                if (j->h->progress && j->finished < n) {
                        pthread_mutex_unlock(&j->lock);
                        j->h->progress(j->h->userdata, atomic_load(&j->files_done), j->list->n_files,
                                       atomic_load(&j->bytes_done), bytes_total);
                        pthread_mutex_lock(&j->lock);
                }
        }
        pthread_mutex_unlock(&j->lock);
}

int dw_tree_hash_files(const char *dir, struct dw_tree_list *l, const struct dw_tree_hash *h)
{
        _cleanup_close_ int root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned n = h->jobs ? h->jobs : (unsigned)MAX(cpus, 1L), started = 0;
        _cleanup_free_ pthread_t *threads = NULL;
        uint64_t bytes_total = 0;
        struct hash_job j;
        struct stat st;
        int r = 0;

        if (root_fd < 0)
                return -errno;
        if (fstat(root_fd, &st) < 0)
                return -errno;
        if (h->alg < 0 || h->alg >= _DW_HASH_ALG_MAX)
                return -EINVAL;
        n = (unsigned)MIN((size_t)n, MAX(l->n_files, (size_t)1));
        threads = calloc(n, sizeof(*threads));
        if (!threads)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_files; i++)
                bytes_total += l->files[i].size;
        j = (struct hash_job){.h = h, .list = l, .root_fd = root_fd, .root_dev = st.st_dev};
        pthread_mutex_init(&j.lock, NULL);
        pthread_cond_init(&j.cond, NULL);
        for (; started < n; started++) {
                r = -pthread_create(&threads[started], NULL, worker_main, &j);
                if (r < 0)
                        break;
        }
        if (started > 0)
                wait_workers(&j, started, bytes_total);
        for (unsigned i = 0; i < started; i++)
                pthread_join(threads[i], NULL);
        pthread_mutex_destroy(&j.lock);
        pthread_cond_destroy(&j.cond);
        if (started == 0)
                return r;
        return j.error;
}
