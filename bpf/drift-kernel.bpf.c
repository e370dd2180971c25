/* SPDX-License-Identifier: MIT */
/* The kernel's integrity: module loads, BPF program loads by other processes, kexec loads, ptrace attach to
 * privileged processes, mounts over protected paths, and IMA policies loaded from a file. One program per hook and
 * tier; the monitor loads the best tier the kernel allows (monitor/drift-load.c). Program names are
 * <tier>_<category>_<hook>. */

#include "vmlinux.h"

#include "drift-common.bpf.h"

#define BPF_PROG_LOAD_CMD      5
#define PTRACE_ATTACH_REQ      16
#define PTRACE_SEIZE_REQ       0x4206
#define PTRACE_MODE_ATTACH_BIT 0x02
#define MOVE_MOUNT_T_EMPTY     0x40

/* x86_64 syscall numbers watched by raw_kernel_sys_enter, for kernels that have no tracepoint for them (the
 * monitor sets the bits of those whose syscalls:sys_enter_* tracepoint is missing). */
#define NR_INIT_MODULE     175
#define NR_KEXEC_LOAD      246
#define NR_FINIT_MODULE    313
#define NR_KEXEC_FILE_LOAD 320
const volatile __u64 drift_raw_syscalls[8] = {};

/* ---- shared handlers ------------------------------------------------------------------------------------------ */

static __always_inline int module_mem(__u64 len, const char *uargs, __u32 tier)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, DRIFT_OP_MODULE_LOAD, tier);
        if (!s)
                return 0;
        s->ev.arg = (__s64)len;
        drift_aux_user(&s->ev, uargs);
        drift_emit(&s->ev);
        return 0;
}

static __always_inline int module_fd(long fd, const char *uargs, __u64 flags, __u32 tier)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, DRIFT_OP_MODULE_LOAD, tier);
        if (!s)
                return 0;
        drift_fd(s, fd);
        s->ev.arg2 = (__s64)flags;
        drift_aux_user(&s->ev, uargs);
        drift_emit(&s->ev);
        return 0;
}

static __always_inline int kexec_mem(__u64 flags, __u32 tier)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, DRIFT_OP_KEXEC, tier);
        if (!s)
                return 0;
        s->ev.arg = (__s64)flags;
        drift_emit(&s->ev);
        return 0;
}

static __always_inline int kexec_fd(long fd, const char *cmdline, __u64 flags, __u32 tier)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, DRIFT_OP_KEXEC, tier);
        if (!s)
                return 0;
        drift_fd(s, fd);
        s->ev.arg = (__s64)flags;
        drift_aux_user(&s->ev, cmdline);
        drift_emit(&s->ev);
        return 0;
}

/* A file the kernel reads for itself (LSM/fentry): a module, a kexec image, an IMA policy. */
static __always_inline int kernel_file(struct file *file, int id, __u32 tier)
{
        struct drift_scratch *s;
        __u32 op;

        if (id == bpf_core_enum_value(enum kernel_read_file_id, READING_MODULE))
                op = DRIFT_OP_MODULE_LOAD;
        else if (id == bpf_core_enum_value(enum kernel_read_file_id, READING_KEXEC_IMAGE) ||
                 id == bpf_core_enum_value(enum kernel_read_file_id, READING_KEXEC_INITRAMFS))
                op = DRIFT_OP_KEXEC;
        else if (id == bpf_core_enum_value(enum kernel_read_file_id, READING_POLICY))
                op = DRIFT_OP_IMA_POLICY_WRITE;
        else
                return 0;
        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, op, tier);
        if (!s)
                return 0;
        if (file) {
                drift_inode(&s->ev, BPF_CORE_READ(file, f_inode));
                drift_file_name(s, file);
        }
        s->ev.arg2 = id;
        drift_emit(&s->ev);
        return 0;
}

/* Data the kernel is handed from memory (LSM/fentry): init_module, kexec_load, an IMA policy. */
static __always_inline int kernel_data(int id, __u32 tier)
{
        struct drift_scratch *s;
        __u32 op;

        if (id == bpf_core_enum_value(enum kernel_load_data_id, LOADING_MODULE))
                op = DRIFT_OP_MODULE_LOAD;
        else if (id == bpf_core_enum_value(enum kernel_load_data_id, LOADING_KEXEC_IMAGE))
                op = DRIFT_OP_KEXEC;
        else if (id == bpf_core_enum_value(enum kernel_load_data_id, LOADING_POLICY))
                op = DRIFT_OP_IMA_POLICY_WRITE;
        else
                return 0;
        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, op, tier);
        if (!s)
                return 0;
        s->ev.arg2 = id;
        drift_emit(&s->ev);
        return 0;
}

/* A BPF program load by another process; attr in kernel memory (LSM/fentry) or the caller's (tracepoint). */
static __always_inline int bpf_load(int cmd, const union bpf_attr *attr, bool user, __u32 tier)
{
        struct drift_scratch *s;
        __u32 type = 0;

        if (cmd != BPF_PROG_LOAD_CMD || drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, DRIFT_OP_BPF_LOAD, tier);
        if (!s)
                return 0;
        if (user) {
                bpf_probe_read_user(&type, sizeof(type), (const void *)attr);
                bpf_probe_read_user(s->ev.aux, 16, (const char *)attr + __builtin_offsetof(union bpf_attr, prog_name));
        } else {
                bpf_probe_read_kernel(&type, sizeof(type), (const void *)attr);
                bpf_probe_read_kernel(s->ev.aux, 16,
                                      (const char *)attr + __builtin_offsetof(union bpf_attr, prog_name));
        }
        s->ev.aux[15] = '\0';
        for (int i = 0; i < 16; i++) {
                if (s->ev.aux[i] == '\0')
                        break;
                s->ev.aux_len = i + 1;
        }
        s->ev.arg = type;
        drift_emit(&s->ev);
        return 0;
}

static __always_inline int ptrace_req(long request, long pid, __u32 tier)
{
        struct drift_scratch *s;

        if ((request != PTRACE_ATTACH_REQ && request != PTRACE_SEIZE_REQ) || drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, DRIFT_OP_PTRACE, tier);
        if (!s)
                return 0;
        s->ev.arg = pid;
        s->ev.arg2 = request;
        drift_emit(&s->ev);
        return 0;
}

/* LSM/fentry: an attach-mode access to another task, reported when that task runs as root or is the monitor. */
static __always_inline int ptrace_check(struct task_struct *child, unsigned int mode, __u32 tier)
{
        struct drift_scratch *s;
        __u32 euid, tgid;

        if (!(mode & PTRACE_MODE_ATTACH_BIT) || drift_is_self())
                return 0;
        euid = BPF_CORE_READ(child, real_cred, euid.val);
        tgid = BPF_CORE_READ(child, tgid);
        if (euid != 0 && tgid != drift_self_tgid)
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, DRIFT_OP_PTRACE, tier);
        if (!s)
                return 0;
        if (euid == 0)
                s->ev.flags |= DRIFT_F_PRIVILEGED;
        s->ev.arg = tgid;
        s->ev.arg2 = mode;
        drift_emit(&s->ev);
        return 0;
}

/* LSM/fentry: a mount onto a protected path. */
static __always_inline int mount_kpath(const struct path *path, const char *source, __u64 flags, __u32 tier)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, DRIFT_OP_MOUNT, tier);
        if (!s || !drift_kpath(s, path))
                return 0;
        drift_aux_kernel(&s->ev, source);
        s->ev.arg = (__s64)flags;
        drift_emit(&s->ev);
        return 0;
}

/* ---- tracepoint tier ------------------------------------------------------------------------------------------ */

SEC("tracepoint/syscalls/sys_enter_init_module")
int tp_module_sys_enter_init_module(struct trace_event_raw_sys_enter *ctx)
{
        return module_mem(ctx->args[1], (const char *)ctx->args[2], DRIFT_TIER_TRACEPOINT);
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int tp_module_sys_enter_finit_module(struct trace_event_raw_sys_enter *ctx)
{
        return module_fd(FD_ARG(ctx->args[0]), (const char *)ctx->args[1], ctx->args[2], DRIFT_TIER_TRACEPOINT);
}

SEC("tracepoint/syscalls/sys_enter_kexec_load")
int tp_kexec_sys_enter_kexec_load(struct trace_event_raw_sys_enter *ctx)
{
        return kexec_mem(ctx->args[3], DRIFT_TIER_TRACEPOINT);
}

SEC("tracepoint/syscalls/sys_enter_kexec_file_load")
int tp_kexec_sys_enter_kexec_file_load(struct trace_event_raw_sys_enter *ctx)
{
        return kexec_fd(FD_ARG(ctx->args[0]), (const char *)ctx->args[3], ctx->args[4], DRIFT_TIER_TRACEPOINT);
}

/* The same four syscalls on kernels without their tracepoints (CONFIG_MODULES or CONFIG_KEXEC off: the syscall
 * still exists and fails, and an attempt is still drift). Runs at every syscall: one bit test. */
SEC("raw_tracepoint/sys_enter")
int raw_kernel_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
        struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
        unsigned long id = ctx->args[1];

        if (id >= 512 || !((drift_raw_syscalls[(id >> 6) & 7] >> (id & 63)) & 1))
                return 0;
        switch (id) {
        case NR_INIT_MODULE:
                return module_mem(BPF_CORE_READ(regs, si), (const char *)BPF_CORE_READ(regs, dx),
                                  DRIFT_TIER_TRACEPOINT);
        case NR_FINIT_MODULE:
                return module_fd(FD_ARG(BPF_CORE_READ(regs, di)), (const char *)BPF_CORE_READ(regs, si),
                                 BPF_CORE_READ(regs, dx), DRIFT_TIER_TRACEPOINT);
        case NR_KEXEC_LOAD:
                return kexec_mem(BPF_CORE_READ(regs, r10), DRIFT_TIER_TRACEPOINT);
        case NR_KEXEC_FILE_LOAD:
                return kexec_fd(FD_ARG(BPF_CORE_READ(regs, di)), (const char *)BPF_CORE_READ(regs, r10),
                                BPF_CORE_READ(regs, r8), DRIFT_TIER_TRACEPOINT);
        }
        return 0;
}

SEC("tracepoint/syscalls/sys_enter_bpf")
int tp_bpf_sys_enter_bpf(struct trace_event_raw_sys_enter *ctx)
{
        return bpf_load((int)ctx->args[0], (const union bpf_attr *)ctx->args[1], true, DRIFT_TIER_TRACEPOINT);
}

SEC("tracepoint/syscalls/sys_enter_ptrace")
int tp_ptrace_sys_enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
        return ptrace_req(FD_ARG(ctx->args[0]), FD_ARG(ctx->args[1]), DRIFT_TIER_TRACEPOINT);
}

SEC("tracepoint/syscalls/sys_enter_mount")
int tp_mount_sys_enter_mount(struct trace_event_raw_sys_enter *ctx)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, DRIFT_OP_MOUNT, DRIFT_TIER_TRACEPOINT);
        if (!s || !drift_target(s, AT_FDCWD, (const char *)ctx->args[1], false))
                return 0;
        drift_aux_user(&s->ev, (const char *)ctx->args[0]);
        s->ev.arg = (__s64)ctx->args[3];
        drift_emit(&s->ev);
        return 0;
}

SEC("tracepoint/syscalls/sys_enter_move_mount")
int tp_mount_sys_enter_move_mount(struct trace_event_raw_sys_enter *ctx)
{
        struct drift_scratch *s;

        if (drift_is_self())
                return 0;
        s = drift_begin(DRIFT_KIND_KERNEL, DRIFT_OP_MOUNT, DRIFT_TIER_TRACEPOINT);
        if (!s || !drift_target(s, FD_ARG(ctx->args[2]), (const char *)ctx->args[3], ctx->args[4] & MOVE_MOUNT_T_EMPTY))
                return 0;
        drift_aux_user(&s->ev, (const char *)ctx->args[1]);
        s->ev.arg = (__s64)ctx->args[4];
        drift_emit(&s->ev);
        return 0;
}

/* ---- fentry tier ---------------------------------------------------------------------------------------------- */

SEC("fentry/security_kernel_read_file")
int BPF_PROG(fentry_module_kernel_read_file, struct file *file, int id)
{
        return kernel_file(file, id, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_kernel_load_data")
int BPF_PROG(fentry_module_kernel_load_data, int id)
{
        return kernel_data(id, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_bpf")
int BPF_PROG(fentry_bpf_bpf, int cmd, union bpf_attr *attr)
{
        return bpf_load(cmd, attr, false, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_ptrace_access_check")
int BPF_PROG(fentry_ptrace_access_check, struct task_struct *child, unsigned int mode)
{
        return ptrace_check(child, mode, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_sb_mount")
int BPF_PROG(fentry_mount_sb_mount, const char *dev_name, const struct path *path, const char *type,
             unsigned long flags)
{
        return mount_kpath(path, dev_name, flags, DRIFT_TIER_FENTRY);
}

SEC("fentry/security_move_mount")
int BPF_PROG(fentry_mount_move_mount, const struct path *from_path, const struct path *to_path)
{
        return mount_kpath(to_path, NULL, 0, DRIFT_TIER_FENTRY);
}

/* ---- BPF LSM tier --------------------------------------------------------------------------------------------- */

/* The programs only watch: they return 0, which lets the hook go on to the next program and the other LSMs (a
 * program runs only while every one before it returned 0). */

SEC("lsm/kernel_read_file")
int BPF_PROG(lsm_module_kernel_read_file, struct file *file, int id, bool contents)
{
        kernel_file(file, id, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/kernel_load_data")
int BPF_PROG(lsm_module_kernel_load_data, int id, bool contents)
{
        kernel_data(id, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/bpf")
int BPF_PROG(lsm_bpf_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
        bpf_load(cmd, attr, false, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(lsm_ptrace_access_check, struct task_struct *child, unsigned int mode)
{
        ptrace_check(child, mode, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/sb_mount")
int BPF_PROG(lsm_mount_sb_mount, const char *dev_name, const struct path *path, const char *type, unsigned long flags,
             void *data)
{
        mount_kpath(path, dev_name, flags, DRIFT_TIER_LSM);
        return 0;
}

SEC("lsm/move_mount")
int BPF_PROG(lsm_mount_move_mount, const struct path *from_path, const struct path *to_path)
{
        mount_kpath(to_path, NULL, 0, DRIFT_TIER_LSM);
        return 0;
}
