/* SPDX-License-Identifier: MIT */
#pragma once

/* What the drift programs (bpf/drift-*.bpf.c) send to driftwatch-monitor through the ring buffer, and the maps
 * through which the monitor configures them. Shared by the BPF side (which includes vmlinux.h first) and user
 * space (monitor/drift*.c). One event is one struct drift_event cut after path[path_len] (plus its NUL): the
 * kernel sends DRIFT_EVENT_HDR_SIZE + path_len + 1 bytes. */

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define DRIFT_PATH_MAX   4096 /* path[], with its NUL; longer paths are cut (DRIFT_F_TRUNCATED) */
#define DRIFT_AUX_MAX    256  /* aux[]: the second path of a rename/link, a module's arguments, a program name... */
#define DRIFT_COMM_LEN   16
#define DRIFT_FSNAME_LEN 32      /* fs_name[], with its NUL */
#define DRIFT_PREFIX_MAX 256     /* longest protected path prefix, with the '/' added at its end */
#define DRIFT_WAKEUP_NS  4000000 /* the consumer is woken at most this often (and reads on a timer meanwhile) */

/* What happened. */
enum drift_kind {
        DRIFT_KIND_EXEC = 1, /* a program was executed */
        DRIFT_KIND_TAMPER,   /* a protected file or directory was changed (or an attempt was made) */
        DRIFT_KIND_KERNEL,   /* the kernel's integrity: modules, BPF programs, kexec, ptrace, mounts, IMA policy */
};

enum drift_op {
        DRIFT_OP_EXEC = 1,
        /* DRIFT_KIND_TAMPER */
        DRIFT_OP_OPEN_WRITE, /* arg: the open flags */
        DRIFT_OP_TRUNCATE,
        DRIFT_OP_RENAME, /* aux: the new name */
        DRIFT_OP_UNLINK,
        DRIFT_OP_LINK,        /* path: the new link, aux: the existing file */
        DRIFT_OP_SYMLINK,     /* path: the new link, aux: its target */
        DRIFT_OP_CHMOD,       /* arg: the mode */
        DRIFT_OP_CHOWN,       /* arg: uid, arg2: gid */
        DRIFT_OP_SETXATTR,    /* aux: the attribute's name */
        DRIFT_OP_REMOVEXATTR, /* aux: the attribute's name */
        /* DRIFT_KIND_KERNEL */
        DRIFT_OP_MODULE_LOAD,      /* path: the module file (finit_module) or empty (init_module); aux: arguments */
        DRIFT_OP_BPF_LOAD,         /* arg: the program type; aux: its name */
        DRIFT_OP_KEXEC,            /* path: the kernel image (kexec_file_load) or empty (kexec_load) */
        DRIFT_OP_PTRACE,           /* arg: the target's pid, arg2: the request (or the LSM's mode) */
        DRIFT_OP_MOUNT,            /* path: the mount point; aux: the source; arg: the flags */
        DRIFT_OP_IMA_POLICY_WRITE, /* path: the policy file, or the policy loaded by the kernel */
        _DRIFT_OP_MAX,
};

/* The hook tier a program belongs to (monitor/drift.h has the same order). */
enum drift_tier {
        DRIFT_TIER_LSM = 0,
        DRIFT_TIER_FENTRY = 1,
        DRIFT_TIER_TRACEPOINT = 2,
};

/* flags */
#define DRIFT_F_TRUNCATED    (1u << 0)  /* path[] or the walk that built it was cut */
#define DRIFT_F_NLINK0       (1u << 1)  /* the file has no name left (unlinked, or a memfd) */
#define DRIFT_F_MEMFD        (1u << 2)  /* an anonymous memory file (memfd_create) */
#define DRIFT_F_DISCONNECTED (1u << 3)  /* the file is not reachable from any mount (memfd, deleted, pseudo file) */
#define DRIFT_F_TMPFS        (1u << 4)  /* on tmpfs/ramfs: a writable, in-memory filesystem */
#define DRIFT_F_EMPTY_PATH   (1u << 5)  /* execveat(fd, "", AT_EMPTY_PATH): executed through a descriptor */
#define DRIFT_F_FS_RELATIVE  (1u << 6)  /* path is relative to its filesystem's root (no mount was known) */
#define DRIFT_F_USER_PATH    (1u << 7)  /* path is the string the caller gave, not resolved by the kernel */
#define DRIFT_F_HAS_INODE    (1u << 8)  /* dev, ino, size, mtime, ctime, nlink and mode are set */
#define DRIFT_F_PRIVILEGED   (1u << 9)  /* ptrace: the kernel saw that the target runs with euid 0 */
#define DRIFT_F_HAS_FACTS    (1u << 10) /* exec: the IMA facts below (filesystem, owner, credentials) are set */

/* cred_flags (exec): what the task's credentials say, for IMA's euid/egid rules (ima_match_rules()). */
#define DRIFT_CRED_CAP_SETUID (1u << 0) /* CAP_SETUID in the effective set, in the initial user namespace */
#define DRIFT_CRED_CAP_SETGID (1u << 1)
/* read after the exec (tracepoint tier): a set-id file or file capabilities may have changed euid, suid, egid, sgid
 * and capabilities */
#define DRIFT_CRED_POST_EXEC   (1u << 2)
#define DRIFT_CRED_FS_NAME_CUT (1u << 3) /* fs_name did not fit */

struct drift_event {
        __u32 kind; /* enum drift_kind */
        __u32 op;   /* enum drift_op */
        __u32 tier; /* enum drift_tier of the program that saw it */
        __u32 flags;
        __u32 pid; /* thread id */
        __u32 tgid;
        __u32 ppid; /* the parent's tgid */
        __u32 uid;
        __u64 cgroup_id;
        __u64 ktime_ns; /* CLOCK_MONOTONIC */
        /* The file, when DRIFT_F_HAS_INODE: dev is the kernel's (major << 20 | minor). */
        __u64 dev;
        __u64 ino;
        __u64 size;
        __s64 mtime_sec;
        __s64 ctime_sec;
        __u32 mtime_nsec;
        __u32 ctime_nsec;
        __u32 nlink;
        __u32 mode;
        __s64 arg; /* per op, see enum drift_op */
        __s64 arg2;
        /* Executions, when DRIFT_F_HAS_FACTS: what the rules of IMA's policy test (func=BPRM_CHECK mask=MAY_EXEC
         * with fsmagic=, fsuuid=, fsname=, uid=, euid=, gid=, egid=, fowner=, fgroup=). uid above is the real
         * uid. Ids are the kernel's (initial user namespace). */
        __u64 fs_magic; /* super_block s_magic of the file's filesystem */
        __u32 fowner;   /* inode i_uid */
        __u32 fgroup;   /* inode i_gid */
        __u32 euid, suid, gid, egid, sgid;
        __u32 cred_flags;               /* DRIFT_CRED_* */
        __u8 fs_uuid[16];               /* super_block s_uuid */
        char fs_name[DRIFT_FSNAME_LEN]; /* the filesystem type ("ext4"), NUL-terminated */
        char comm[DRIFT_COMM_LEN];
        __u32 aux_len;  /* bytes in aux before its NUL */
        __u32 path_len; /* bytes in path before its NUL */
        char aux[DRIFT_AUX_MAX];
        char path[DRIFT_PATH_MAX];
};

#define DRIFT_EVENT_HDR_SIZE __builtin_offsetof(struct drift_event, path)

/* Key of the protected-prefix map (BPF_MAP_TYPE_LPM_TRIE): the prefix with a '/' at its end ("/usr/"),
 * prefixlen in bits. A path is looked up with a '/' added too, so that "/usr" and "/usr/bin" match "/usr/" and
 * "/usrx" does not. */
struct drift_prefix_key {
        __u32 prefixlen;
        char data[DRIFT_PREFIX_MAX];
};

/* Key of the protected-inode map: a protected directory (or file) by the kernel's device number and inode; a
 * file is protected when it or one of its ancestors is in the map. */
struct drift_inode_key {
        __u64 dev;
        __u64 ino;
};

/* Counters (a per-CPU array): */
enum drift_counter {
        DRIFT_COUNTER_LOST = 0,   /* events the ring buffer had no room for */
        DRIFT_COUNTER_UNREADABLE, /* a path string that could not be read from the caller's memory */
        _DRIFT_COUNTER_MAX,
};
