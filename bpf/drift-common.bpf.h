/* SPDX-License-Identifier: MIT */
#pragma once

/* What every drift program shares: the maps (created once by the monitor and reused by every object), the
 * per-CPU scratch event, and the helpers that fill an event from the current task, a file or a dentry. Included
 * once by each bpf/drift-*.bpf.c after vmlinux.h; everything here is inlined into the programs. */

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "drift-event.h"

#define AT_FDCWD         -100
#define AT_EMPTY_PATH    0x1000
#define FMODE_WRITE      0x2
#define TMPFS_MAGIC      0x01021994
#define RAMFS_MAGIC      0x858458f6
#define SECURITYFS_MAGIC 0x73636673
#define S_IFMT           00170000
#define S_IFREG          0100000
#define NSEC_MASK        0x3fffffff /* nanoseconds fit in 30 bits */

/* A descriptor argument: an int in a 64-bit slot whose upper half is not sign-extended (AT_FDCWD). */
#define FD_ARG(v) ((long)(int)(v))

#define WALK_HALF  4096 /* the walk buffer is two of these: a component may be written past the first half */
#define WALK_DEPTH 40   /* path components (and mount crossings) followed at most */

/* Set by the monitor before loading: its own process, whose file accesses and BPF loads are not drift. */
const volatile __u32 drift_self_tgid = 0;

struct drift_scratch {
        struct drift_event ev;
        /* The state of a path walk lives here rather than in registers: the verifier then sees every iteration
         * alike and verifies the loop in linear time. */
        __u32 walk_off;          /* where the path built so far starts in walk[] */
        __u32 walk_prot;         /* a protected inode was passed */
        char rel[DRIFT_AUX_MAX]; /* a relative path, while the path of its base directory is built */
        struct drift_prefix_key key;
        char walk[2 * WALK_HALF];
};

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 1 << 22); /* the monitor sets RingBufferSize= */
} drift_events SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, _DRIFT_COUNTER_MAX);
        __type(key, __u32);
        __type(value, __u64);
} drift_counters SEC(".maps");

/* When the consumer was last woken up (CLOCK_MONOTONIC ns): see drift_emit(). */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u64);
} drift_wakeup SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_LPM_TRIE);
        __uint(max_entries, 64);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, struct drift_prefix_key);
        __type(value, __u8);
} drift_prefixes SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 256);
        __type(key, struct drift_inode_key);
        __type(value, __u8);
} drift_inodes SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct drift_scratch);
} drift_scratch SEC(".maps");

/* The timestamps of struct inode before 6.6 and before 6.11 (CO-RE picks the layout the kernel has). */
struct inode___pre66 {
        struct timespec64 i_mtime;
        struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

struct inode___pre611 {
        struct timespec64 i_mtime;
        struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

static __always_inline bool drift_is_self(void)
{
        return (__u32)(bpf_get_current_pid_tgid() >> 32) == drift_self_tgid;
}

static __always_inline void drift_count(__u32 counter)
{
        __u64 *v = bpf_map_lookup_elem(&drift_counters, &counter);

        if (v)
                *v += 1;
}

/* The scratch event of this CPU, filled with the current task and nothing else. */
static __always_inline struct drift_scratch *drift_begin(__u32 kind, __u32 op, __u32 tier)
{
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        __u64 pid_tgid = bpf_get_current_pid_tgid();
        struct drift_scratch *s;
        struct drift_event *ev;
        __u32 zero = 0;

        s = bpf_map_lookup_elem(&drift_scratch, &zero);
        if (!s)
                return NULL;
        ev = &s->ev;
        ev->kind = kind;
        ev->op = op;
        ev->tier = tier;
        ev->flags = 0;
        ev->pid = (__u32)pid_tgid;
        ev->tgid = (__u32)(pid_tgid >> 32);
        ev->ppid = BPF_CORE_READ(task, real_parent, tgid);
        ev->uid = (__u32)bpf_get_current_uid_gid();
        ev->cgroup_id = bpf_get_current_cgroup_id();
        ev->ktime_ns = bpf_ktime_get_ns();
        ev->dev = ev->ino = ev->size = 0;
        ev->mtime_sec = ev->ctime_sec = 0;
        ev->mtime_nsec = ev->ctime_nsec = ev->nlink = ev->mode = 0;
        ev->arg = ev->arg2 = 0;
        bpf_get_current_comm(ev->comm, sizeof(ev->comm));
        ev->aux_len = ev->path_len = 0;
        ev->aux[0] = '\0';
        ev->path[0] = '\0';
        return s;
}

/* Waking the consumer costs an interrupt (a VM exit in a guest) per event: it is woken at most once per
 * DRIFT_WAKEUP_NS, or when the buffer is a quarter full; in between, the monitor reads on a timer of the same
 * period that it keeps armed while events come. */
static __always_inline void drift_emit(struct drift_event *ev)
{
        __u32 len = ev->path_len & (DRIFT_PATH_MAX - 1), zero = 0;
        __u64 now = bpf_ktime_get_ns(), flags = BPF_RB_NO_WAKEUP, *last;

        ev->path[len] = '\0';
        last = bpf_map_lookup_elem(&drift_wakeup, &zero);
        /* A fileless exec wakes it at once: the monitor must open /proc/PID/exe while the process lives. */
        if (!last || now - *last >= DRIFT_WAKEUP_NS || (ev->flags & (DRIFT_F_NLINK0 | DRIFT_F_DISCONNECTED)) ||
            bpf_ringbuf_query(&drift_events, BPF_RB_AVAIL_DATA) >=
                    bpf_ringbuf_query(&drift_events, BPF_RB_RING_SIZE) / 4) {
                flags = BPF_RB_FORCE_WAKEUP;
                if (last)
                        *last = now;
        }
        if (bpf_ringbuf_output(&drift_events, ev, DRIFT_EVENT_HDR_SIZE + len + 1, flags) < 0)
                drift_count(DRIFT_COUNTER_LOST);
}

static __always_inline void drift_inode(struct drift_event *ev, struct inode *inode)
{
        unsigned long magic;

        if (!inode)
                return;
        ev->flags |= DRIFT_F_HAS_INODE;
        ev->ino = BPF_CORE_READ(inode, i_ino);
        ev->dev = BPF_CORE_READ(inode, i_sb, s_dev);
        ev->size = BPF_CORE_READ(inode, i_size);
        ev->nlink = BPF_CORE_READ(inode, i_nlink);
        ev->mode = BPF_CORE_READ(inode, i_mode);
        if (bpf_core_field_exists(inode->i_mtime_sec)) {
                ev->mtime_sec = BPF_CORE_READ(inode, i_mtime_sec);
                ev->mtime_nsec = BPF_CORE_READ(inode, i_mtime_nsec);
                ev->ctime_sec = BPF_CORE_READ(inode, i_ctime_sec);
                /* Since 6.13 the top bit of i_ctime_nsec says whether the ctime was queried (multigrain
                 * timestamps): not part of the time. */
                ev->ctime_nsec = BPF_CORE_READ(inode, i_ctime_nsec) & NSEC_MASK;
        } else if (bpf_core_field_exists(((struct inode___pre611 *)inode)->__i_ctime)) {
                struct inode___pre611 *i = (void *)inode;

                ev->mtime_sec = BPF_CORE_READ(i, i_mtime.tv_sec);
                ev->mtime_nsec = BPF_CORE_READ(i, i_mtime.tv_nsec);
                ev->ctime_sec = BPF_CORE_READ(i, __i_ctime.tv_sec);
                ev->ctime_nsec = BPF_CORE_READ(i, __i_ctime.tv_nsec);
        } else {
                struct inode___pre66 *i = (void *)inode;

                ev->mtime_sec = BPF_CORE_READ(i, i_mtime.tv_sec);
                ev->mtime_nsec = BPF_CORE_READ(i, i_mtime.tv_nsec);
                ev->ctime_sec = BPF_CORE_READ(i, i_ctime.tv_sec);
                ev->ctime_nsec = BPF_CORE_READ(i, i_ctime.tv_nsec);
        }
        if (ev->nlink == 0)
                ev->flags |= DRIFT_F_NLINK0;
        magic = BPF_CORE_READ(inode, i_sb, s_magic);
        if (magic == TMPFS_MAGIC || magic == RAMFS_MAGIC)
                ev->flags |= DRIFT_F_TMPFS;
}

static __always_inline bool drift_dentry_protected(struct dentry *dentry)
{
        struct drift_inode_key key = {
                .dev = BPF_CORE_READ(dentry, d_sb, s_dev),
                .ino = BPF_CORE_READ(dentry, d_inode, i_ino),
        };

        return key.ino != 0 && bpf_map_lookup_elem(&drift_inodes, &key);
}

/* Prepends "/name" of dentry to the path built in the walk buffer. False when it does not fit. */
static __always_inline bool drift_walk_component(struct drift_scratch *s, struct dentry *dentry)
{
        const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
        __u32 len = BPF_CORE_READ(dentry, d_name.len) & 0xff; /* NAME_MAX */
        __u32 o = s->walk_off & (2 * WALK_HALF - 1);

        if (o > WALK_HALF || len + 1 > o)
                return false;
        o -= len + 1;
        bpf_probe_read_kernel(&s->walk[(o + 1) & (WALK_HALF - 1)], len, name);
        s->walk[o & (WALK_HALF - 1)] = '/';
        s->walk_off = o;
        return true;
}

/* Sets ev->path to the path of dentry, following mounts up from vfsmnt (NULL: up to the root of dentry's
 * filesystem, DRIFT_F_FS_RELATIVE). With check, returns whether dentry or one of its ancestors is a protected
 * inode (one map lookup per component). */
static __always_inline bool drift_walk(struct drift_scratch *s, struct dentry *dentry, struct vfsmount *vfsmnt,
                                       bool check)
{
        struct mount *mnt = NULL;
        struct drift_event *ev = &s->ev;
        __u32 off, len;

        if (vfsmnt)
                mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
        s->walk_off = WALK_HALF;
        s->walk_prot = 0;
        for (int i = 0; i < WALK_DEPTH; i++) {
                struct dentry *parent, *root = NULL;

                if (!dentry)
                        goto done;
                if (check && drift_dentry_protected(dentry))
                        s->walk_prot = 1;
                if (mnt)
                        root = BPF_CORE_READ(mnt, mnt.mnt_root);
                if (mnt && dentry == root) {
                        struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

                        if (up == mnt)
                                goto done; /* the root of the mount namespace */
                        dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
                        mnt = up;
                        continue;
                }
                parent = BPF_CORE_READ(dentry, d_parent);
                if (dentry == parent) {
                        /* The root of a filesystem not mounted here: a memfd, a pseudo file, or no mount known. */
                        if (!mnt) {
                                ev->flags |= DRIFT_F_FS_RELATIVE;
                                goto done;
                        }
                        ev->flags |= DRIFT_F_DISCONNECTED;
                        if (!drift_walk_component(s, dentry))
                                ev->flags |= DRIFT_F_TRUNCATED;
                        goto done;
                }
                if (!drift_walk_component(s, dentry)) {
                        ev->flags |= DRIFT_F_TRUNCATED;
                        goto done;
                }
                dentry = parent;
        }
        ev->flags |= DRIFT_F_TRUNCATED;
done:
        off = s->walk_off;
        if (off >= WALK_HALF) {
                off = WALK_HALF - 1;
                s->walk[WALK_HALF - 1] = '/';
        }
        barrier_var(off); /* keep the masks below: the verifier needs them to bound the copy */
        off &= WALK_HALF - 1;
        len = WALK_HALF - off;
        if (len > DRIFT_PATH_MAX - 1) {
                len = DRIFT_PATH_MAX - 1;
                ev->flags |= DRIFT_F_TRUNCATED;
        }
        barrier_var(len);
        len &= DRIFT_PATH_MAX - 1;
        bpf_probe_read_kernel(ev->path, len, &s->walk[off & (WALK_HALF - 1)]);
        ev->path[len] = '\0';
        ev->path_len = len;
        return s->walk_prot != 0;
}

static __always_inline bool drift_path(struct drift_scratch *s, struct dentry *dentry, struct vfsmount *vfsmnt)
{
        return drift_walk(s, dentry, vfsmnt, true);
}

/* The path of a file whose protection does not matter (an executable, a module): no map lookups on the way. */
static __always_inline void drift_file_name(struct drift_scratch *s, struct file *file)
{
        drift_walk(s, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), false);
}

static __always_inline bool drift_file_path(struct drift_scratch *s, struct file *file)
{
        return drift_path(s, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt));
}

/* Whether ev->path (path_len bytes) is under a protected prefix, as a string. */
static __always_inline bool drift_prefix_protected(struct drift_scratch *s)
{
        __u32 n = s->ev.path_len;

        if (n > DRIFT_PREFIX_MAX - 1)
                n = DRIFT_PREFIX_MAX - 1;
        n &= DRIFT_PREFIX_MAX - 1;
        bpf_probe_read_kernel(s->key.data, n, s->ev.path);
        s->key.data[n] = '/';
        s->key.prefixlen = (n + 1) * 8;
        return bpf_map_lookup_elem(&drift_prefixes, &s->key) != NULL;
}

/* The open file fd of the current task, or NULL. */
static __always_inline struct file *drift_fd_file(long fd)
{
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
        struct file **fds, *file = NULL;

        if (fd < 0 || !fdt || fd >= BPF_CORE_READ(fdt, max_fds))
                return NULL;
        fds = BPF_CORE_READ(fdt, fd);
        bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
        return file;
}

/* Sets ev->path to the file fd refers to and its inode; returns whether it is protected. */
static __always_inline bool drift_fd(struct drift_scratch *s, long fd)
{
        struct file *file = drift_fd_file(fd);

        if (!file)
                return false;
        drift_inode(&s->ev, BPF_CORE_READ(file, f_inode));
        return drift_file_path(s, file) || drift_prefix_protected(s);
}

/* Resolves the target of a path syscall as well as a tracepoint can: an absolute path is the caller's string; a
 * relative one is joined to the path of its base directory (the working directory, or dfd), built by the kernel;
 * an empty one with empty_ok is dfd itself. Sets ev->path and returns whether the target is protected: under a
 * protected prefix as a string, or below a protected inode. */
static __always_inline bool drift_target(struct drift_scratch *s, long dfd, const char *upath, bool empty_ok)
{
        struct drift_event *ev = &s->ev;
        struct task_struct *task;
        struct dentry *dentry;
        struct vfsmount *mnt;
        long n, rel_len;
        bool prot;
        __u32 at;

        n = bpf_probe_read_user_str(ev->path, sizeof(ev->path), upath);
        if (n <= 0) {
                drift_count(DRIFT_COUNTER_UNREADABLE);
                return false;
        }
        rel_len = n - 1;
        ev->path_len = (__u32)rel_len & (DRIFT_PATH_MAX - 1);
        ev->flags |= DRIFT_F_USER_PATH;
        if (ev->path[0] == '/')
                return drift_prefix_protected(s);
        if (rel_len == 0) {
                if (!empty_ok)
                        return false;
                ev->flags &= ~DRIFT_F_USER_PATH;
                return drift_fd(s, dfd);
        }
        bpf_probe_read_kernel_str(s->rel, sizeof(s->rel), ev->path);
        if (dfd == AT_FDCWD) {
                task = (struct task_struct *)bpf_get_current_task();
                dentry = BPF_CORE_READ(task, fs, pwd.dentry);
                mnt = BPF_CORE_READ(task, fs, pwd.mnt);
        } else {
                struct file *file = drift_fd_file(dfd);

                if (!file)
                        return false;
                dentry = BPF_CORE_READ(file, f_path.dentry);
                mnt = BPF_CORE_READ(file, f_path.mnt);
        }
        prot = drift_path(s, dentry, mnt);
        at = ev->path_len;
        if (at > 1 && at < DRIFT_PATH_MAX / 2 - 1) {
                ev->path[at & (DRIFT_PATH_MAX / 2 - 1)] = '/';
                at++;
        }
        if (at < DRIFT_PATH_MAX / 2) {
                n = bpf_probe_read_kernel_str(&ev->path[at & (DRIFT_PATH_MAX / 2 - 1)], DRIFT_AUX_MAX, s->rel);
                if (n > 0)
                        ev->path_len = (at + (__u32)n - 1) & (DRIFT_PATH_MAX - 1);
        } else {
                ev->flags |= DRIFT_F_TRUNCATED;
        }
        if (rel_len >= DRIFT_AUX_MAX - 1)
                ev->flags |= DRIFT_F_TRUNCATED;
        return prot || drift_prefix_protected(s);
}

/* Copies a user string into ev->aux. */
static __always_inline void drift_aux_user(struct drift_event *ev, const char *ustr)
{
        long n = ustr ? bpf_probe_read_user_str(ev->aux, sizeof(ev->aux), ustr) : 0;

        ev->aux_len = n > 0 ? (__u32)(n - 1) : 0;
        if (n <= 0)
                ev->aux[0] = '\0';
}

static __always_inline void drift_aux_kernel(struct drift_event *ev, const char *kstr)
{
        long n = kstr ? bpf_probe_read_kernel_str(ev->aux, sizeof(ev->aux), kstr) : 0;

        ev->aux_len = n > 0 ? (__u32)(n - 1) : 0;
        if (n <= 0)
                ev->aux[0] = '\0';
}

/* Copies ev->path (the first DRIFT_AUX_MAX - 1 bytes) into ev->aux: the first of two paths. */
static __always_inline void drift_path_to_aux(struct drift_event *ev)
{
        long n = bpf_probe_read_kernel_str(ev->aux, sizeof(ev->aux), ev->path);

        ev->aux_len = n > 0 ? (__u32)(n - 1) : 0;
}

/* A struct path's path and inode (LSM and fentry hooks); returns whether it is protected. */
static __always_inline bool drift_kpath(struct drift_scratch *s, const struct path *path)
{
        struct dentry *dentry = BPF_CORE_READ(path, dentry);

        drift_inode(&s->ev, BPF_CORE_READ(dentry, d_inode));
        return drift_path(s, dentry, BPF_CORE_READ(path, mnt)) || drift_prefix_protected(s);
}

/* A dentry in the directory dir (LSM and fentry path hooks). */
static __always_inline bool drift_kchild(struct drift_scratch *s, const struct path *dir, struct dentry *dentry)
{
        drift_inode(&s->ev, BPF_CORE_READ(dentry, d_inode));
        return drift_path(s, dentry, BPF_CORE_READ(dir, mnt)) || drift_prefix_protected(s);
}

/* The IMA policy file: securityfs, ".../ima/policy". */
static __always_inline bool drift_is_ima_policy(struct file *file)
{
        struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
        char name[8] = {}, parent[4] = {};

        if (BPF_CORE_READ(dentry, d_sb, s_magic) != SECURITYFS_MAGIC)
                return false;
        bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dentry, d_name.name));
        bpf_probe_read_kernel_str(parent, sizeof(parent), BPF_CORE_READ(dentry, d_parent, d_name.name));
        return name[0] == 'p' && name[1] == 'o' && name[2] == 'l' && name[3] == 'i' && name[4] == 'c' &&
               name[5] == 'y' && name[6] == '\0' && parent[0] == 'i' && parent[1] == 'm' && parent[2] == 'a' &&
               parent[3] == '\0';
}

/* GPL-compatible, for the tracing helpers. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
