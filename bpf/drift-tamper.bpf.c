/* SPDX-License-Identifier: MIT */
/* Tampering: opens for write, truncate, rename, unlink, link, symlink, chmod, chown and xattr changes of protected
 * files, and writes to the IMA policy. Filtered here, in the kernel: a target is protected when its path is under a
 * protected prefix (drift_prefixes) or it lies below a protected directory (drift_inodes, followed up through the
 * dentries and mounts). One program per hook and tier; the monitor loads the best tier the kernel allows
 * (monitor/drift-load.c). Program names are <tier>_<category>_<hook>. */

#include "vmlinux.h"

#include "drift-common.bpf.h"

#define AT_REMOVEDIR 0x200

/* ---- shared handlers ------------------------------------------------------------------------------------------ */

/* An open for write: tampering when the file is protected, an IMA policy write when it is the policy. */
static __always_inline int open_write(struct file *file, __u32 tier, bool use_d_path)
{
        struct drift_scratch *s;
        struct drift_event *ev;
        bool prot;

        s = drift_begin(DRIFT_KIND_TAMPER, DRIFT_OP_OPEN_WRITE, tier);
        if (!s)
                return 0;
        ev = &s->ev;
        drift_inode(ev, BPF_CORE_READ(file, f_inode));
        prot = drift_file_path(s, file);
        if (use_d_path && !(ev->flags & (DRIFT_F_DISCONNECTED | DRIFT_F_TRUNCATED | DRIFT_F_NLINK0))) {
                long n = bpf_d_path((struct path *)&file->f_path, ev->path, sizeof(ev->path));

                if (n > 0)
                        ev->path_len = (__u32)(n - 1) & (DRIFT_PATH_MAX - 1);
        }
        if (drift_is_ima_policy(file)) {
                ev->kind = DRIFT_KIND_KERNEL;
                ev->op = DRIFT_OP_IMA_POLICY_WRITE;
        } else if (!prot && !drift_prefix_protected(s)) {
                return 0;
        }
        ev->arg = BPF_CORE_READ(file, f_flags);
        drift_emit(ev);
        return 0;
}

static __always_inline int open_exit(long fd)
{
        struct file *file;

        if (fd < 0 || drift_is_self())
                return 0;
        file = drift_fd_file(fd);
        if (!file || !(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
                return 0;
        return open_write(file, DRIFT_TIER_TRACEPOINT, false);
}

/* A path syscall on (dfd, upath): emitted when the target is protected. */
static __always_inline int at_path(__u32 op, long dfd, const char *upath, bool empty_ok, __s64 arg, __s64 arg2,
                                   const char *aux)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_TAMPER, op, DRIFT_TIER_TRACEPOINT);
        if (!s || !drift_target(s, dfd, upath, empty_ok))
                return 0;
        s->ev.arg = arg;
        s->ev.arg2 = arg2;
        if (aux)
                drift_aux_user(&s->ev, aux);
        drift_emit(&s->ev);
        return 0;
}

/* A descriptor syscall on fd. */
static __always_inline int at_fd(__u32 op, long fd, __s64 arg, __s64 arg2, const char *aux)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_TAMPER, op, DRIFT_TIER_TRACEPOINT);
        if (!s || !drift_fd(s, fd))
                return 0;
        s->ev.arg = arg;
        s->ev.arg2 = arg2;
        if (aux)
                drift_aux_user(&s->ev, aux);
        drift_emit(&s->ev);
        return 0;
}

/* Two paths (rename, link): emitted when either is protected. The first goes to aux (the new name of a rename,
 * the existing file of a link), the second to path (the file renamed, the new link). */
static __always_inline int two_paths(__u32 op, long dfd1, const char *path1, long dfd2, const char *path2,
                                     bool empty_ok1, __s64 arg)
{
        struct drift_scratch *s;
        bool prot;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_TAMPER, op, DRIFT_TIER_TRACEPOINT);
        if (!s)
                return 0;
        prot = drift_target(s, dfd1, path1, empty_ok1);
        drift_path_to_aux(&s->ev);
        s->ev.path_len = 0;
        s->ev.path[0] = '\0';
        prot = drift_target(s, dfd2, path2, false) || prot;
        if (!prot)
                return 0;
        s->ev.arg = arg;
        drift_emit(&s->ev);
        return 0;
}

/* LSM/fentry: a struct path. */
static __always_inline int kpath(__u32 op, const struct path *path, __s64 arg, __s64 arg2, __u32 tier)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_TAMPER, op, tier);
        if (!s || !drift_kpath(s, path))
                return 0;
        s->ev.arg = arg;
        s->ev.arg2 = arg2;
        drift_emit(&s->ev);
        return 0;
}

/* LSM/fentry: a name (dentry) in the directory dir. */
static __always_inline int kchild(__u32 op, const struct path *dir, struct dentry *dentry, __s64 arg, const char *aux,
                                  __u32 tier)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_TAMPER, op, tier);
        if (!s || !drift_kchild(s, dir, dentry))
                return 0;
        s->ev.arg = arg;
        if (aux)
                drift_aux_kernel(&s->ev, aux);
        drift_emit(&s->ev);
        return 0;
}

/* LSM/fentry: rename and link, two names in (possibly) two directories of one mount; the first goes to aux. */
static __always_inline int kchild2(__u32 op, const struct path *dir1, struct dentry *d1, const struct path *dir2,
                                   struct dentry *d2, __u32 tier)
{
        struct drift_scratch *s;
        bool prot;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_TAMPER, op, tier);
        if (!s)
                return 0;
        prot = drift_kchild(s, dir1, d1);
        drift_path_to_aux(&s->ev);
        prot = drift_kchild(s, dir2, d2) || prot;
        if (!prot)
                return 0;
        drift_emit(&s->ev);
        return 0;
}

/* LSM/fentry: an xattr change, by dentry only (no mount: the path is relative to the filesystem's root). */
static __always_inline int kxattr(__u32 op, struct dentry *dentry, const char *name, __u32 tier)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_TAMPER, op, tier);
        if (!s)
                return 0;
        drift_inode(&s->ev, BPF_CORE_READ(dentry, d_inode));
        if (!drift_path(s, dentry, NULL) && !drift_prefix_protected(s))
                return 0;
        drift_aux_kernel(&s->ev, name);
        drift_emit(&s->ev);
        return 0;
}

/* ---- tracepoint tier ------------------------------------------------------------------------------------------ */

/* Opens are judged when they return, on the file the kernel opened (symlinks, relative paths and descriptors
 * resolved). */
SEC("tracepoint/syscalls/sys_exit_openat")
int tp_tamper_sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
        return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tp_tamper_sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
        return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_open")
int tp_tamper_sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
        return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int tp_tamper_sys_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
        return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_open_by_handle_at")
int tp_tamper_sys_exit_open_by_handle_at(struct trace_event_raw_sys_exit *ctx)
{
        return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_truncate")
int tp_tamper_sys_enter_truncate(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_TRUNCATE, AT_FDCWD, (const char *)ctx->args[0], false, (__s64)ctx->args[1], 0, NULL);
}

SEC("tracepoint/syscalls/sys_enter_ftruncate")
int tp_tamper_sys_enter_ftruncate(struct trace_event_raw_sys_enter *ctx)
{
        return at_fd(DRIFT_OP_TRUNCATE, FD_ARG(ctx->args[0]), (__s64)ctx->args[1], 0, NULL);
}

SEC("tracepoint/syscalls/sys_enter_rename")
int tp_tamper_sys_enter_rename(struct trace_event_raw_sys_enter *ctx)
{
        return two_paths(DRIFT_OP_RENAME, AT_FDCWD, (const char *)ctx->args[1], AT_FDCWD, (const char *)ctx->args[0],
                         false, 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int tp_tamper_sys_enter_renameat(struct trace_event_raw_sys_enter *ctx)
{
        return two_paths(DRIFT_OP_RENAME, FD_ARG(ctx->args[2]), (const char *)ctx->args[3], FD_ARG(ctx->args[0]),
                         (const char *)ctx->args[1], false, 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int tp_tamper_sys_enter_renameat2(struct trace_event_raw_sys_enter *ctx)
{
        return two_paths(DRIFT_OP_RENAME, FD_ARG(ctx->args[2]), (const char *)ctx->args[3], FD_ARG(ctx->args[0]),
                         (const char *)ctx->args[1], false, (__s64)ctx->args[4]);
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int tp_tamper_sys_enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_UNLINK, AT_FDCWD, (const char *)ctx->args[0], false, 0, 0, NULL);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int tp_tamper_sys_enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_UNLINK, FD_ARG(ctx->args[0]), (const char *)ctx->args[1], false, (__s64)ctx->args[2], 0,
                       NULL);
}

SEC("tracepoint/syscalls/sys_enter_rmdir")
int tp_tamper_sys_enter_rmdir(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_UNLINK, AT_FDCWD, (const char *)ctx->args[0], false, AT_REMOVEDIR, 0, NULL);
}

SEC("tracepoint/syscalls/sys_enter_link")
int tp_tamper_sys_enter_link(struct trace_event_raw_sys_enter *ctx)
{
        return two_paths(DRIFT_OP_LINK, AT_FDCWD, (const char *)ctx->args[0], AT_FDCWD, (const char *)ctx->args[1],
                         false, 0);
}

SEC("tracepoint/syscalls/sys_enter_linkat")
int tp_tamper_sys_enter_linkat(struct trace_event_raw_sys_enter *ctx)
{
        return two_paths(DRIFT_OP_LINK, FD_ARG(ctx->args[0]), (const char *)ctx->args[1], FD_ARG(ctx->args[2]),
                         (const char *)ctx->args[3], ctx->args[4] & AT_EMPTY_PATH, (__s64)ctx->args[4]);
}

SEC("tracepoint/syscalls/sys_enter_symlink")
int tp_tamper_sys_enter_symlink(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_SYMLINK, AT_FDCWD, (const char *)ctx->args[1], false, 0, 0, (const char *)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_symlinkat")
int tp_tamper_sys_enter_symlinkat(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_SYMLINK, FD_ARG(ctx->args[1]), (const char *)ctx->args[2], false, 0, 0,
                       (const char *)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_chmod")
int tp_tamper_sys_enter_chmod(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_CHMOD, AT_FDCWD, (const char *)ctx->args[0], false, (__s64)ctx->args[1], 0, NULL);
}

SEC("tracepoint/syscalls/sys_enter_fchmodat")
int tp_tamper_sys_enter_fchmodat(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_CHMOD, FD_ARG(ctx->args[0]), (const char *)ctx->args[1], false, (__s64)ctx->args[2], 0,
                       NULL);
}

SEC("tracepoint/syscalls/sys_enter_fchmodat2")
int tp_tamper_sys_enter_fchmodat2(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_CHMOD, FD_ARG(ctx->args[0]), (const char *)ctx->args[1], ctx->args[3] & AT_EMPTY_PATH,
                       (__s64)ctx->args[2], 0, NULL);
}

SEC("tracepoint/syscalls/sys_enter_fchmod")
int tp_tamper_sys_enter_fchmod(struct trace_event_raw_sys_enter *ctx)
{
        return at_fd(DRIFT_OP_CHMOD, FD_ARG(ctx->args[0]), (__s64)ctx->args[1], 0, NULL);
}

SEC("tracepoint/syscalls/sys_enter_chown")
int tp_tamper_sys_enter_chown(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_CHOWN, AT_FDCWD, (const char *)ctx->args[0], false, (__s64)ctx->args[1],
                       (__s64)ctx->args[2], NULL);
}

SEC("tracepoint/syscalls/sys_enter_lchown")
int tp_tamper_sys_enter_lchown(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_CHOWN, AT_FDCWD, (const char *)ctx->args[0], false, (__s64)ctx->args[1],
                       (__s64)ctx->args[2], NULL);
}

SEC("tracepoint/syscalls/sys_enter_fchownat")
int tp_tamper_sys_enter_fchownat(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_CHOWN, FD_ARG(ctx->args[0]), (const char *)ctx->args[1], ctx->args[4] & AT_EMPTY_PATH,
                       (__s64)ctx->args[2], (__s64)ctx->args[3], NULL);
}

SEC("tracepoint/syscalls/sys_enter_fchown")
int tp_tamper_sys_enter_fchown(struct trace_event_raw_sys_enter *ctx)
{
        return at_fd(DRIFT_OP_CHOWN, FD_ARG(ctx->args[0]), (__s64)ctx->args[1], (__s64)ctx->args[2], NULL);
}

SEC("tracepoint/syscalls/sys_enter_setxattr")
int tp_tamper_sys_enter_setxattr(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_SETXATTR, AT_FDCWD, (const char *)ctx->args[0], false, 0, 0,
                       (const char *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_lsetxattr")
int tp_tamper_sys_enter_lsetxattr(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_SETXATTR, AT_FDCWD, (const char *)ctx->args[0], false, 0, 0,
                       (const char *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_fsetxattr")
int tp_tamper_sys_enter_fsetxattr(struct trace_event_raw_sys_enter *ctx)
{
        return at_fd(DRIFT_OP_SETXATTR, FD_ARG(ctx->args[0]), 0, 0, (const char *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_setxattrat")
int tp_tamper_sys_enter_setxattrat(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_SETXATTR, FD_ARG(ctx->args[0]), (const char *)ctx->args[1],
                       ctx->args[2] & AT_EMPTY_PATH, 0, 0, (const char *)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_removexattr")
int tp_tamper_sys_enter_removexattr(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_REMOVEXATTR, AT_FDCWD, (const char *)ctx->args[0], false, 0, 0,
                       (const char *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_lremovexattr")
int tp_tamper_sys_enter_lremovexattr(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_REMOVEXATTR, AT_FDCWD, (const char *)ctx->args[0], false, 0, 0,
                       (const char *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_fremovexattr")
int tp_tamper_sys_enter_fremovexattr(struct trace_event_raw_sys_enter *ctx)
{
        return at_fd(DRIFT_OP_REMOVEXATTR, FD_ARG(ctx->args[0]), 0, 0, (const char *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_removexattrat")
int tp_tamper_sys_enter_removexattrat(struct trace_event_raw_sys_enter *ctx)
{
        return at_path(DRIFT_OP_REMOVEXATTR, FD_ARG(ctx->args[0]), (const char *)ctx->args[1],
                       ctx->args[2] & AT_EMPTY_PATH, 0, 0, (const char *)ctx->args[3]);
}

/* ---- fentry tier ---------------------------------------------------------------------------------------------- */

SEC("fentry/security_file_open")
int BPF_PROG(fentry_tamper_file_open, struct file *file)
{
        if (drift_is_self() || !(file->f_mode & FMODE_WRITE))
                return 0;
        return open_write(file, DRIFT_TIER_FENTRY, true);
}

SEC("fentry/security_path_truncate")
int BPF_PROG(fentry_tamper_path_truncate, const struct path *path)
{
        return kpath(DRIFT_OP_TRUNCATE, path, 0, 0, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_path_unlink")
int BPF_PROG(fentry_tamper_path_unlink, const struct path *dir, struct dentry *dentry)
{
        return kchild(DRIFT_OP_UNLINK, dir, dentry, 0, NULL, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_path_rmdir")
int BPF_PROG(fentry_tamper_path_rmdir, const struct path *dir, struct dentry *dentry)
{
        return kchild(DRIFT_OP_UNLINK, dir, dentry, AT_REMOVEDIR, NULL, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_path_rename")
int BPF_PROG(fentry_tamper_path_rename, const struct path *old_dir, struct dentry *old_dentry,
             const struct path *new_dir, struct dentry *new_dentry)
{
        return kchild2(DRIFT_OP_RENAME, new_dir, new_dentry, old_dir, old_dentry, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_path_link")
int BPF_PROG(fentry_tamper_path_link, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry)
{
        return kchild2(DRIFT_OP_LINK, new_dir, old_dentry, new_dir, new_dentry, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_path_symlink")
int BPF_PROG(fentry_tamper_path_symlink, const struct path *dir, struct dentry *dentry, const char *old_name)
{
        return kchild(DRIFT_OP_SYMLINK, dir, dentry, 0, old_name, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_path_chmod")
int BPF_PROG(fentry_tamper_path_chmod, const struct path *path, umode_t mode)
{
        return kpath(DRIFT_OP_CHMOD, path, mode, 0, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_path_chown")
int BPF_PROG(fentry_tamper_path_chown, const struct path *path, unsigned int uid, unsigned int gid)
{
        return kpath(DRIFT_OP_CHOWN, path, uid, gid, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_inode_setxattr")
int BPF_PROG(fentry_tamper_inode_setxattr, void *idmap, struct dentry *dentry, const char *name)
{
        return kxattr(DRIFT_OP_SETXATTR, dentry, name, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_inode_removexattr")
int BPF_PROG(fentry_tamper_inode_removexattr, void *idmap, struct dentry *dentry, const char *name)
{
        return kxattr(DRIFT_OP_REMOVEXATTR, dentry, name, DRIFT_TIER_FENTRY);
}

/* ---- BPF LSM tier --------------------------------------------------------------------------------------------- */

/* The programs only watch: they return 0, which lets the hook go on to the next program and the other LSMs. */

SEC("lsm/file_open")
int BPF_PROG(lsm_tamper_file_open, struct file *file)
{
        if (drift_is_self() || !(file->f_mode & FMODE_WRITE))
                return 0;
        open_write(file, DRIFT_TIER_LSM, true);
        return 0;
}

SEC("lsm/path_truncate")
int BPF_PROG(lsm_tamper_path_truncate, const struct path *path)
{
        kpath(DRIFT_OP_TRUNCATE, path, 0, 0, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/path_unlink")
int BPF_PROG(lsm_tamper_path_unlink, const struct path *dir, struct dentry *dentry)
{
        kchild(DRIFT_OP_UNLINK, dir, dentry, 0, NULL, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/path_rmdir")
int BPF_PROG(lsm_tamper_path_rmdir, const struct path *dir, struct dentry *dentry)
{
        kchild(DRIFT_OP_UNLINK, dir, dentry, AT_REMOVEDIR, NULL, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/path_rename")
int BPF_PROG(lsm_tamper_path_rename, const struct path *old_dir, struct dentry *old_dentry, const struct path *new_dir,
             struct dentry *new_dentry)
{
        kchild2(DRIFT_OP_RENAME, new_dir, new_dentry, old_dir, old_dentry, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/path_link")
int BPF_PROG(lsm_tamper_path_link, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry)
{
        kchild2(DRIFT_OP_LINK, new_dir, old_dentry, new_dir, new_dentry, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/path_symlink")
int BPF_PROG(lsm_tamper_path_symlink, const struct path *dir, struct dentry *dentry, const char *old_name)
{
        kchild(DRIFT_OP_SYMLINK, dir, dentry, 0, old_name, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/path_chmod")
int BPF_PROG(lsm_tamper_path_chmod, const struct path *path, umode_t mode)
{
        kpath(DRIFT_OP_CHMOD, path, mode, 0, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/path_chown")
int BPF_PROG(lsm_tamper_path_chown, const struct path *path, unsigned int uid, unsigned int gid)
{
        kpath(DRIFT_OP_CHOWN, path, uid, gid, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/inode_setxattr")
int BPF_PROG(lsm_tamper_inode_setxattr, void *idmap, struct dentry *dentry, const char *name)
{
        kxattr(DRIFT_OP_SETXATTR, dentry, name, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/inode_removexattr")
int BPF_PROG(lsm_tamper_inode_removexattr, void *idmap, struct dentry *dentry, const char *name)
{
        kxattr(DRIFT_OP_REMOVEXATTR, dentry, name, DRIFT_TIER_LSM);
        return 0;
}
