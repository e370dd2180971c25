/* SPDX-License-Identifier: MIT */
#pragma once

/* The files of installed Debian packages, as dpkg records them: ROOT/var/lib/dpkg/info/PACKAGE.list (every path the
 * package installed, directories included) and PACKAGE.md5sums ("<md5>  <path without the leading />", conffiles
 * not included). Reads the file system (the lists, and lstat of each path); never writes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy-tree.h"

struct dw_dpkg_md5 {
        char *path; /* as on the gateway, after resolving symlinked directories (/bin/ls -> /usr/bin/ls) */
        uint8_t md5[16];
        const char *package;
};

struct dw_dpkg {
        char **packages; /* "coreutils", "libc6:amd64": the files' tags point here */
        size_t n_packages;
        struct dw_dpkg_md5 *md5s; /* sorted by path */
        size_t n_md5s, max_md5s;
        uint64_t paths;   /* paths listed */
        uint64_t dirs;    /* directories among them */
        uint64_t missing; /* listed but not on disk (removed by an admin, or path-excluded by dpkg) */
        uint64_t other;   /* symlinks to directories or out of the root, special files */
};

void dw_dpkg_done(struct dw_dpkg *d);

/* Where a bad line was found. */
struct dw_dpkg_error {
        char file[256]; /* "coreutils.md5sums" */
        unsigned line;
        char msg[160];
};

/* Parses one md5sums file (pure): calls add for each line. Returns 0, -EBADMSG with err's line and msg set (err->file
 * is left alone), or add's error. */
int dw_dpkg_parse_md5sums(const char *data, size_t len,
                          int (*add)(void *userdata, const char *path, size_t path_len, const uint8_t md5[16]),
                          void *userdata, struct dw_dpkg_error *err);

/* Lists every regular file the installed packages under root own (root "/" for this machine), with each file's
 * package as its tag; with md5 also loads the md5sums. Returns 0, -ENOENT when root has no dpkg database, -EBADMSG
 * with err set for a malformed md5sums file, -ENOMEM, or another negative errno for a database that cannot be
 * read. */
int dw_dpkg_collect(const char *root, bool md5, struct dw_tree_list *ret_files, struct dw_dpkg *ret,
                    struct dw_dpkg_error *err);

/* The md5sums entry of a gateway path, or NULL. */
const struct dw_dpkg_md5 *dw_dpkg_md5_find(const struct dw_dpkg *d, const char *gw_path);
