/* SPDX-License-Identifier: MIT */
#pragma once

/* Hashing the files a runtime policy is made from: a directory tree (a built image, or a gateway's own /), or a
 * list of files (the files of installed Debian packages). Unlike the rest of lib/, this reads the file system; it
 * never writes. Hashing runs in worker threads, each with its own dw_hasher.
 *
 * Paths come in two forms: the path on this machine (under the tree's directory) and the path on the gateway, which
 * is what IMA logs and the policy lists: the tree's directory mapped to a prefix ("/" for an image of the whole root
 * file system). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"

/* One file to hash. */
struct dw_tree_file {
        char *rel;       /* path below the tree's directory, without a leading '/' */
        char *gw_path;   /* path on the gateway (prefix + rel), as IMA names it */
        const char *tag; /* for the caller (the Debian package), not freed */
        uint64_t size;
        int error;    /* after hashing: 0, or a negative errno (the file could not be read) */
        bool skipped; /* after hashing: not a regular file any more, or on a pseudo file system */
        uint8_t digest[DW_HASH_MAX_SIZE];
        uint8_t md5[16]; /* when dw_tree_options.md5 */
};

struct dw_tree_list {
        struct dw_tree_file *files;
        size_t n_files, max_files;
};

void dw_tree_list_done(struct dw_tree_list *l);
/* Adds a file; rel and gw_path are copied. Returns 0 or -ENOMEM. */
int dw_tree_list_add(struct dw_tree_list *l, const char *rel, const char *gw_path, const char *tag, uint64_t size);
/* Sorts by gateway path and drops entries whose gateway path repeats (a symlink target walked too). */
void dw_tree_list_sort_unique(struct dw_tree_list *l);

/* What a walk skipped, for the report. */
struct dw_tree_stats {
        uint64_t files;          /* regular files listed */
        uint64_t bytes;          /* their size */
        uint64_t special;        /* devices, sockets, fifos: never measured by IMA as files */
        uint64_t pseudo_fs;      /* directories skipped because a pseudo file system (proc, sysfs, tmpfs...) is
                                  * mounted there */
        uint64_t symlinks_in;    /* symlinks whose target is a regular file inside the tree: target listed */
        uint64_t symlinks_other; /* symlinks to directories, to nothing, or out of the tree: not followed */
        uint64_t excluded;       /* files and directories matching an --exclude pattern */
        uint64_t unreadable;     /* directories that could not be opened or read */
};

/* Called for each skipped directory (pseudo file system, unreadable) and out-of-tree symlink, for a verbose report.
 * what is "pseudo-fs", "unreadable", "symlink-out". */
typedef void (*dw_tree_note_fn)(void *userdata, const char *what, const char *gw_path, const char *detail);

struct dw_tree_walk {
        const char *prefix;          /* the gateway path of the tree's directory: "/" (default) or "/usr" */
        const char *const *excludes; /* fnmatch(3) patterns; see dw_tree_excluded() */
        size_t n_excludes;
        dw_tree_note_fn note; /* may be NULL */
        void *userdata;
};

/* Whether a gateway path matches one of the patterns: a pattern with a '/' is matched against the whole path
 * (FNM_PATHNAME: '*' does not cross '/'), one without against the last component ("*.pyc"). */
bool dw_tree_excluded(const char *const *patterns, size_t n, const char *gw_path);

/* Whether a statfs f_type is a pseudo file system whose files are not part of an image: proc, sysfs, devtmpfs,
 * devpts, tmpfs, ramfs, securityfs, debugfs, tracefs, cgroup, cgroup2, bpf, pstore, efivarfs, configfs, mqueue,
 * hugetlbfs, fusectl, selinuxfs, binfmt_misc, autofs, nsfs. */
bool dw_tree_pseudo_fs(int64_t f_type);

/* Walks dir and lists its regular files (see docs/runtime-policy.md, "Creating policies"): never descends into
 * a symlink, lists a symlink's target only when it resolves, within the tree, to a regular file inside it, skips
 * mount points of pseudo file systems below dir and everything but regular files. Names get IMA's spaces-to-'_'
 * only later, in the policy. Returns 0, -ENOENT/-ENOTDIR/-EACCES for dir itself, -EINVAL for a relative prefix,
 * -ENOMEM. */
int dw_tree_walk(const char *dir, const struct dw_tree_walk *w, struct dw_tree_list *ret, struct dw_tree_stats *stats);

/* Resolves rel (below the tree's directory, opened as root_fd) as the gateway would, following every symlink on
 * the way, with the tree's directory at prefix: absolute targets are gateway paths. Returns 0 with *ret_rel
 * (malloc'd) the regular file it ends at inside the tree, -EXDEV when it leaves the tree, -ELOOP, -ENOENT, -EISDIR (a
 * directory), -ENOMEM. */
int dw_tree_resolve(int root_fd, const char *prefix, const char *rel, char **ret_rel);

struct dw_tree_hash {
        enum dw_hash_alg alg;
        unsigned jobs; /* worker threads; 0: one per online CPU */
        bool md5;      /* also MD5 (dpkg's md5sums) */
        /* Called about every 200 ms from the calling thread while workers hash. */
        void (*progress)(void *userdata, uint64_t files_done, uint64_t files_total, uint64_t bytes_done,
                         uint64_t bytes_total);
        void *userdata;
};

/* Hashes every file of the list, below dir (each opened without following any symlink below dir, when the kernel
 * has openat2(RESOLVE_NO_SYMLINKS)). Per-file problems are in each file's error/skipped. Returns 0, or a negative
 * errno when dir cannot be opened or threads cannot start. */
int dw_tree_hash_files(const char *dir, struct dw_tree_list *l, const struct dw_tree_hash *h);
