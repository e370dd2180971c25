/* SPDX-License-Identifier: MIT */
/* Executions: every program executed, with the file the kernel executes (path, inode, times) and what makes it
 * fileless (a memfd, an unlinked file, execveat of a descriptor). One program per tier; the monitor loads the best
 * tier the kernel allows (monitor/drift-load.c). Program names are <tier>_<category>_<hook>. */

#include "vmlinux.h"

#include "drift-common.bpf.h"

/* Processes that called execveat(fd, "", AT_EMPTY_PATH), until their exec completes: tgid → 1. */
struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, 4096);
        __type(key, __u32);
        __type(value, __u8);
} drift_fd_execs SEC(".maps");

static __always_inline void exec_flags(struct drift_event *ev)
{
        const char memfd[] = "memfd:";
        int i;

        /* A memfd's name is "memfd:NAME", on a dentry of no mount. */
        if (!(ev->flags & DRIFT_F_DISCONNECTED))
                return;
        for (i = 0; i < 6; i++)
                if (ev->path[1 + i] != memfd[i])
                        return;
        ev->flags |= DRIFT_F_MEMFD;
}

#define CAP_SETUID 7
#define CAP_SETGID 6

/* What the rules of IMA's policy test for this exec (ima_match_rules()): the file's filesystem (magic, uuid, type
 * name) and owner, and the task's credentials. cred: the task's subjective credentials, which IMA's BPRM_CHECK uses
 * (current_cred() before the exec; after it, post_exec). */
static __always_inline void exec_facts(struct drift_event *ev, struct inode *inode, const struct cred *cred,
                                       bool post_exec)
{
        struct super_block *sb;
        const char *fs_name;
        __u64 caps = 0;
        long n;

        if (!inode || !cred)
                return;
        sb = BPF_CORE_READ(inode, i_sb);
        ev->fs_magic = BPF_CORE_READ(sb, s_magic);
        BPF_CORE_READ_INTO(&ev->fs_uuid, sb, s_uuid.b);
        fs_name = BPF_CORE_READ(sb, s_type, name);
        n = fs_name ? bpf_probe_read_kernel_str(ev->fs_name, sizeof(ev->fs_name), fs_name) : -1;
        if (n <= 0)
                ev->fs_name[0] = '\0';
        ev->cred_flags = post_exec ? DRIFT_CRED_POST_EXEC : 0;
        if (n == sizeof(ev->fs_name))
                ev->cred_flags |= DRIFT_CRED_FS_NAME_CUT; /* may have been cut */
        ev->fowner = BPF_CORE_READ(inode, i_uid.val);
        ev->fgroup = BPF_CORE_READ(inode, i_gid.val);
        ev->uid = BPF_CORE_READ(cred, uid.val);
        ev->euid = BPF_CORE_READ(cred, euid.val);
        ev->suid = BPF_CORE_READ(cred, suid.val);
        ev->gid = BPF_CORE_READ(cred, gid.val);
        ev->egid = BPF_CORE_READ(cred, egid.val);
        ev->sgid = BPF_CORE_READ(cred, sgid.val);
        /* kernel_cap_t is a u64 since 6.3 and two u32 before: the same 8 bytes either way. */
        bpf_core_read(&caps, sizeof(caps), &cred->cap_effective);
        /* has_capability_noaudit(current, CAP_SETUID) is for the initial user namespace. */
        if (BPF_CORE_READ(cred, user_ns, level) == 0) {
                if (caps & (1ull << CAP_SETUID))
                        ev->cred_flags |= DRIFT_CRED_CAP_SETUID;
                if (caps & (1ull << CAP_SETGID))
                        ev->cred_flags |= DRIFT_CRED_CAP_SETGID;
        }
        ev->flags |= DRIFT_F_HAS_FACTS;
}

static __always_inline const struct cred *current_cred(void)
{
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();

        return BPF_CORE_READ(task, cred);
}

static __always_inline int exec_file(struct file *file, const char *filename, bool kernel_filename, __u32 tier)
{
        struct drift_scratch *s;
        struct drift_event *ev;

        if (drift_is_self() || !file)
                return 0;
        s = drift_begin(DRIFT_KIND_EXEC, DRIFT_OP_EXEC, tier);
        if (!s)
                return 0;
        ev = &s->ev;
        drift_inode(ev, BPF_CORE_READ(file, f_inode));
        exec_facts(ev, BPF_CORE_READ(file, f_inode), current_cred(), false);
        drift_file_name(s, file);
        exec_flags(ev);
        if (kernel_filename)
                drift_aux_kernel(ev, filename);
        drift_emit(ev);
        return 0;
}

/* ---- tracepoint tier ------------------------------------------------------------------------------------------ */

SEC("tracepoint/sched/sched_process_exec")
int tp_exec_sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        __u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
        struct drift_scratch *s;
        struct drift_event *ev;
        struct file *file;
        __u16 loc;

        if (drift_is_self())
                return 0;
        file = BPF_CORE_READ(task, mm, exe_file);
        if (!file)
                return 0;
        s = drift_begin(DRIFT_KIND_EXEC, DRIFT_OP_EXEC, DRIFT_TIER_TRACEPOINT);
        if (!s)
                return 0;
        ev = &s->ev;
        drift_inode(ev, BPF_CORE_READ(file, f_inode));
        exec_facts(ev, BPF_CORE_READ(file, f_inode), BPF_CORE_READ(task, cred), true);
        drift_file_name(s, file);
        exec_flags(ev);
        loc = (__u16)(ctx->__data_loc_filename & 0xffff);
        drift_aux_kernel(ev, (const char *)ctx + loc);
        if (bpf_map_lookup_elem(&drift_fd_execs, &tgid)) {
                ev->flags |= DRIFT_F_EMPTY_PATH;
                bpf_map_delete_elem(&drift_fd_execs, &tgid);
        }
        drift_emit(ev);
        return 0;
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int tp_fileless_sys_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
        __u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
        const char *upath = (const char *)ctx->args[1];
        char first = 0;
        __u8 one = 1;

        if (!(ctx->args[4] & AT_EMPTY_PATH))
                return 0;
        if (upath && bpf_probe_read_user(&first, 1, upath) < 0)
                return 0;
        if (first == '\0')
                bpf_map_update_elem(&drift_fd_execs, &tgid, &one, BPF_ANY);
        return 0;
}

/* ---- fentry tier ---------------------------------------------------------------------------------------------- */

SEC("fentry/security_bprm_check")
int BPF_PROG(fentry_exec_bprm_check, struct linux_binprm *bprm)
{
        return exec_file(BPF_CORE_READ(bprm, file), BPF_CORE_READ(bprm, filename), true, DRIFT_TIER_FENTRY);
}

/* ---- BPF LSM tier --------------------------------------------------------------------------------------------- */

/* Watches only: returns 0, so the exec goes on to the next program and the other LSMs. */

SEC("lsm/bprm_check_security")
int BPF_PROG(lsm_exec_bprm_check_security, struct linux_binprm *bprm)
{
        struct drift_scratch *s;
        struct drift_event *ev;
        struct file *file;
        long n;

        if (drift_is_self())
                return 0;
        file = bprm->file;
        if (!file)
                return 0;
        s = drift_begin(DRIFT_KIND_EXEC, DRIFT_OP_EXEC, DRIFT_TIER_LSM);
        if (!s)
                return 0;
        ev = &s->ev;
        drift_inode(ev, file->f_inode);
        exec_facts(ev, file->f_inode, current_cred(), false);
        /* The kernel's own d_path() where the hook allows it (it names a deleted file "... (deleted)"), else the
         * walk; the walk also tells a memfd. */
        drift_file_name(s, file);
        exec_flags(ev);
        if (!(ev->flags & (DRIFT_F_DISCONNECTED | DRIFT_F_TRUNCATED | DRIFT_F_NLINK0))) {
                n = bpf_d_path((struct path *)&file->f_path, ev->path, sizeof(ev->path));
                if (n > 0)
                        ev->path_len = (__u32)(n - 1) & (DRIFT_PATH_MAX - 1);
        }
        drift_aux_kernel(ev, bprm->filename);
        drift_emit(ev);
        return 0;
}
