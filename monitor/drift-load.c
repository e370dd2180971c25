/* SPDX-License-Identifier: MIT */
/* Loading the drift programs: which tiers this kernel allows (each probed with the smallest program of its kind,
 * bpf/drift-probe.bpf.c; at start only when a category needs it, best tier first, so that a lower tier is not probed
 * once the better ones cover every category it could serve), then, per concern (exec, tamper, kernel; one skeleton
 * each), the programs of the best allowed tier for each category, falling back a tier when the kernel refuses to load
 * or attach them. The maps the programs share (ring buffer, counters, protected prefixes and inodes, scratch) are
 * created here once and handed to every skeleton. Everything that is not covered, and why, goes into the report. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "drift-exec.skel.h"
#include "drift-internal.h"
#include "drift-kernel.skel.h"
#include "drift-probe.skel.h"
#include "drift-tamper.skel.h"

#define CAT(c)              (1u << (c))
#define TRACEFS             "/sys/kernel/tracing"
#define DEBUGFS_TRACING     "/sys/kernel/debug/tracing"
#define BTF_VMLINUX         "/sys/kernel/btf/vmlinux"
#define LSM_LIST            "/sys/kernel/security/lsm"
#define LOCKDOWN            "/sys/kernel/security/lockdown"
#define NR_LSM_LIST_MODULES 461 /* x86_64 */
#define LSM_ID_BPF          109
#define RAW_FALLBACK        -2 /* prog_def.raw_nr of the raw tracepoint program itself */

/* ---- the programs --------------------------------------------------------------------------------------------- */

struct prog_def {
        const char *name;
        enum mon_drift_tier tier;
        unsigned cats;    /* CAT() of enum mon_drift_category */
        const char *hook; /* tracepoints: "group/name", looked up in tracefs; the others: the hook, for the report */
        int raw_nr;       /* -1, or the syscall raw_kernel_sys_enter covers when this tracepoint is missing */
};

#define TAMPER_CATS (CAT(MON_DRIFT_TAMPER))
#define OPEN_CATS   (CAT(MON_DRIFT_TAMPER) | CAT(MON_DRIFT_IMA_POLICY_WRITE))
#define EXEC_CATS   (CAT(MON_DRIFT_EXEC) | CAT(MON_DRIFT_FILELESS_EXEC))
#define KFILE_CATS  (CAT(MON_DRIFT_MODULE_LOAD) | CAT(MON_DRIFT_KEXEC) | CAT(MON_DRIFT_IMA_POLICY_WRITE))

#define TP(n, c, h)                                                                                                    \
        {                                                                                                              \
                n, MON_DRIFT_TIER_TRACEPOINT, c, h, -1                                                                 \
        }
#define TPR(n, c, h, nr)                                                                                               \
        {                                                                                                              \
                n, MON_DRIFT_TIER_TRACEPOINT, c, h, nr                                                                 \
        }
#define FE(n, c, h)                                                                                                    \
        {                                                                                                              \
                n, MON_DRIFT_TIER_FENTRY, c, h, -1                                                                     \
        }
#define LSM(n, c, h)                                                                                                   \
        {                                                                                                              \
                n, MON_DRIFT_TIER_LSM, c, h, -1                                                                        \
        }

static const struct prog_def exec_progs[] = {
        TP("tp_exec_sched_process_exec", EXEC_CATS, "sched/sched_process_exec"),
        TP("tp_fileless_sys_enter_execveat", CAT(MON_DRIFT_FILELESS_EXEC), "syscalls/sys_enter_execveat"),
        FE("fentry_exec_bprm_check", EXEC_CATS, "security_bprm_check"),
        LSM("lsm_exec_bprm_check_security", EXEC_CATS, "bprm_check_security"),
};

static const struct prog_def tamper_progs[] = {
        TP("tp_tamper_sys_exit_openat", OPEN_CATS, "syscalls/sys_exit_openat"),
        TP("tp_tamper_sys_exit_openat2", OPEN_CATS, "syscalls/sys_exit_openat2"),
        TP("tp_tamper_sys_exit_open", OPEN_CATS, "syscalls/sys_exit_open"),
        TP("tp_tamper_sys_exit_creat", OPEN_CATS, "syscalls/sys_exit_creat"),
        TP("tp_tamper_sys_exit_open_by_handle_at", OPEN_CATS, "syscalls/sys_exit_open_by_handle_at"),
        TP("tp_tamper_sys_enter_truncate", TAMPER_CATS, "syscalls/sys_enter_truncate"),
        TP("tp_tamper_sys_enter_ftruncate", TAMPER_CATS, "syscalls/sys_enter_ftruncate"),
        TP("tp_tamper_sys_enter_rename", TAMPER_CATS, "syscalls/sys_enter_rename"),
        TP("tp_tamper_sys_enter_renameat", TAMPER_CATS, "syscalls/sys_enter_renameat"),
        TP("tp_tamper_sys_enter_renameat2", TAMPER_CATS, "syscalls/sys_enter_renameat2"),
        TP("tp_tamper_sys_enter_unlink", TAMPER_CATS, "syscalls/sys_enter_unlink"),
        TP("tp_tamper_sys_enter_unlinkat", TAMPER_CATS, "syscalls/sys_enter_unlinkat"),
        TP("tp_tamper_sys_enter_rmdir", TAMPER_CATS, "syscalls/sys_enter_rmdir"),
        TP("tp_tamper_sys_enter_link", TAMPER_CATS, "syscalls/sys_enter_link"),
        TP("tp_tamper_sys_enter_linkat", TAMPER_CATS, "syscalls/sys_enter_linkat"),
        TP("tp_tamper_sys_enter_symlink", TAMPER_CATS, "syscalls/sys_enter_symlink"),
        TP("tp_tamper_sys_enter_symlinkat", TAMPER_CATS, "syscalls/sys_enter_symlinkat"),
        TP("tp_tamper_sys_enter_chmod", TAMPER_CATS, "syscalls/sys_enter_chmod"),
        TP("tp_tamper_sys_enter_fchmodat", TAMPER_CATS, "syscalls/sys_enter_fchmodat"),
        TP("tp_tamper_sys_enter_fchmodat2", TAMPER_CATS, "syscalls/sys_enter_fchmodat2"),
        TP("tp_tamper_sys_enter_fchmod", TAMPER_CATS, "syscalls/sys_enter_fchmod"),
        TP("tp_tamper_sys_enter_chown", TAMPER_CATS, "syscalls/sys_enter_chown"),
        TP("tp_tamper_sys_enter_lchown", TAMPER_CATS, "syscalls/sys_enter_lchown"),
        TP("tp_tamper_sys_enter_fchownat", TAMPER_CATS, "syscalls/sys_enter_fchownat"),
        TP("tp_tamper_sys_enter_fchown", TAMPER_CATS, "syscalls/sys_enter_fchown"),
        TP("tp_tamper_sys_enter_setxattr", TAMPER_CATS, "syscalls/sys_enter_setxattr"),
        TP("tp_tamper_sys_enter_lsetxattr", TAMPER_CATS, "syscalls/sys_enter_lsetxattr"),
        TP("tp_tamper_sys_enter_fsetxattr", TAMPER_CATS, "syscalls/sys_enter_fsetxattr"),
        TP("tp_tamper_sys_enter_setxattrat", TAMPER_CATS, "syscalls/sys_enter_setxattrat"),
        TP("tp_tamper_sys_enter_removexattr", TAMPER_CATS, "syscalls/sys_enter_removexattr"),
        TP("tp_tamper_sys_enter_lremovexattr", TAMPER_CATS, "syscalls/sys_enter_lremovexattr"),
        TP("tp_tamper_sys_enter_fremovexattr", TAMPER_CATS, "syscalls/sys_enter_fremovexattr"),
        TP("tp_tamper_sys_enter_removexattrat", TAMPER_CATS, "syscalls/sys_enter_removexattrat"),
        FE("fentry_tamper_file_open", OPEN_CATS, "security_file_open"),
        FE("fentry_tamper_path_truncate", TAMPER_CATS, "security_path_truncate"),
        FE("fentry_tamper_path_unlink", TAMPER_CATS, "security_path_unlink"),
        FE("fentry_tamper_path_rmdir", TAMPER_CATS, "security_path_rmdir"),
        FE("fentry_tamper_path_rename", TAMPER_CATS, "security_path_rename"),
        FE("fentry_tamper_path_link", TAMPER_CATS, "security_path_link"),
        FE("fentry_tamper_path_symlink", TAMPER_CATS, "security_path_symlink"),
        FE("fentry_tamper_path_chmod", TAMPER_CATS, "security_path_chmod"),
        FE("fentry_tamper_path_chown", TAMPER_CATS, "security_path_chown"),
        FE("fentry_tamper_inode_setxattr", TAMPER_CATS, "security_inode_setxattr"),
        FE("fentry_tamper_inode_removexattr", TAMPER_CATS, "security_inode_removexattr"),
        LSM("lsm_tamper_file_open", OPEN_CATS, "file_open"),
        LSM("lsm_tamper_path_truncate", TAMPER_CATS, "path_truncate"),
        LSM("lsm_tamper_path_unlink", TAMPER_CATS, "path_unlink"),
        LSM("lsm_tamper_path_rmdir", TAMPER_CATS, "path_rmdir"),
        LSM("lsm_tamper_path_rename", TAMPER_CATS, "path_rename"),
        LSM("lsm_tamper_path_link", TAMPER_CATS, "path_link"),
        LSM("lsm_tamper_path_symlink", TAMPER_CATS, "path_symlink"),
        LSM("lsm_tamper_path_chmod", TAMPER_CATS, "path_chmod"),
        LSM("lsm_tamper_path_chown", TAMPER_CATS, "path_chown"),
        LSM("lsm_tamper_inode_setxattr", TAMPER_CATS, "inode_setxattr"),
        LSM("lsm_tamper_inode_removexattr", TAMPER_CATS, "inode_removexattr"),
};

static const struct prog_def kernel_progs[] = {
        TPR("tp_module_sys_enter_init_module", CAT(MON_DRIFT_MODULE_LOAD), "syscalls/sys_enter_init_module", 175),
        TPR("tp_module_sys_enter_finit_module", CAT(MON_DRIFT_MODULE_LOAD), "syscalls/sys_enter_finit_module", 313),
        TPR("tp_kexec_sys_enter_kexec_load", CAT(MON_DRIFT_KEXEC), "syscalls/sys_enter_kexec_load", 246),
        TPR("tp_kexec_sys_enter_kexec_file_load", CAT(MON_DRIFT_KEXEC), "syscalls/sys_enter_kexec_file_load", 320),
        TPR("raw_kernel_sys_enter", CAT(MON_DRIFT_MODULE_LOAD) | CAT(MON_DRIFT_KEXEC), "raw_syscalls:sys_enter",
            RAW_FALLBACK),
        TP("tp_bpf_sys_enter_bpf", CAT(MON_DRIFT_BPF_LOAD), "syscalls/sys_enter_bpf"),
        TP("tp_ptrace_sys_enter_ptrace", CAT(MON_DRIFT_PTRACE), "syscalls/sys_enter_ptrace"),
        TP("tp_mount_sys_enter_mount", CAT(MON_DRIFT_MOUNT), "syscalls/sys_enter_mount"),
        TP("tp_mount_sys_enter_move_mount", CAT(MON_DRIFT_MOUNT), "syscalls/sys_enter_move_mount"),
        FE("fentry_module_kernel_read_file", KFILE_CATS, "security_kernel_read_file"),
        FE("fentry_module_kernel_load_data", KFILE_CATS, "security_kernel_load_data"),
        FE("fentry_bpf_bpf", CAT(MON_DRIFT_BPF_LOAD), "security_bpf"),
        FE("fentry_ptrace_access_check", CAT(MON_DRIFT_PTRACE), "security_ptrace_access_check"),
        FE("fentry_mount_sb_mount", CAT(MON_DRIFT_MOUNT), "security_sb_mount"),
        FE("fentry_mount_move_mount", CAT(MON_DRIFT_MOUNT), "security_move_mount"),
        LSM("lsm_module_kernel_read_file", KFILE_CATS, "kernel_read_file"),
        LSM("lsm_module_kernel_load_data", KFILE_CATS, "kernel_load_data"),
        LSM("lsm_bpf_bpf", CAT(MON_DRIFT_BPF_LOAD), "bpf"),
        LSM("lsm_ptrace_access_check", CAT(MON_DRIFT_PTRACE), "ptrace_access_check"),
        LSM("lsm_mount_sb_mount", CAT(MON_DRIFT_MOUNT), "sb_mount"),
        LSM("lsm_mount_move_mount", CAT(MON_DRIFT_MOUNT), "move_mount"),
};

/* ---- the concerns (one skeleton each) ------------------------------------------------------------------------- */

struct open_args {
        pid_t self;
        uint64_t raw_syscalls[8]; /* bits for raw_kernel_sys_enter */
};

struct concern {
        const char *name;
        const struct prog_def *progs;
        size_t n_progs;
        struct bpf_object *(*open)(void **ret_skel, const struct open_args *a);
        void (*destroy)(void *skel);
};

static struct bpf_object *exec_open(void **ret_skel, const struct open_args *a)
{
        struct drift_exec *s = drift_exec__open();

        if (!s)
                return NULL;
        s->rodata->drift_self_tgid = (__u32)a->self;
        *ret_skel = s;
        return s->obj;
}

static void exec_destroy(void *s)
{
        drift_exec__destroy(s);
}

static struct bpf_object *tamper_open(void **ret_skel, const struct open_args *a)
{
        struct drift_tamper *s = drift_tamper__open();

        if (!s)
                return NULL;
        s->rodata->drift_self_tgid = (__u32)a->self;
        *ret_skel = s;
        return s->obj;
}

static void tamper_destroy(void *s)
{
        drift_tamper__destroy(s);
}

static struct bpf_object *kernel_open(void **ret_skel, const struct open_args *a)
{
        struct drift_kernel *s = drift_kernel__open();

        if (!s)
                return NULL;
        s->rodata->drift_self_tgid = (__u32)a->self;
        memcpy((void *)s->rodata->drift_raw_syscalls, a->raw_syscalls, sizeof(a->raw_syscalls));
        *ret_skel = s;
        return s->obj;
}

static void kernel_destroy(void *s)
{
        drift_kernel__destroy(s);
}

_Static_assert(ELEMENTSOF(tamper_progs) <= 64 && ELEMENTSOF(kernel_progs) <= 64, "concern_state.dropped is too small");

static const struct concern concerns[] = {
        {"exec", exec_progs, ELEMENTSOF(exec_progs), exec_open, exec_destroy},
        {"tamper", tamper_progs, ELEMENTSOF(tamper_progs), tamper_open, tamper_destroy},
        {"kernel", kernel_progs, ELEMENTSOF(kernel_progs), kernel_open, kernel_destroy},
};

/* The maps every object shares, created once from the exec object's definitions. */
static const char *const shared_maps[] = {"drift_events", "drift_counters", "drift_prefixes",
                                          "drift_inodes", "drift_scratch",  "drift_wakeup"};
enum { MAP_EVENTS, MAP_COUNTERS, MAP_PREFIXES, MAP_INODES, MAP_SCRATCH, MAP_WAKEUP, _MAP_MAX };

struct loaded {
        void *skel;
        struct bpf_object *obj;
        void (*destroy)(void *skel);
        struct bpf_link **links;
        size_t n_links;
};

struct drift_programs {
        int maps[_MAP_MAX];
        struct loaded loaded[ELEMENTSOF(concerns)];
};

/* ---- what the kernel offers ----------------------------------------------------------------------------------- */

struct kernel_facts {
        bool root;
        bool btf;
        int bpf_lsm; /* 1 active, 0 not in the LSM list, -1 unknown */
        char lsm_list[160];
        char lockdown[32];   /* the mode in effect, "" unknown */
        const char *tracefs; /* NULL when not mounted */
};

static bool quiet;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
        char line[1024];
        size_t n;

        if (quiet || drift_log_level < 7 || level == LIBBPF_DEBUG)
                return 0;
        vsnprintf(line, sizeof(line), fmt, ap);
        n = strlen(line);
        while (n > 0 && line[n - 1] == '\n')
                line[--n] = '\0';
        drift_log(7, "%s", line); /* libbpf's lines start with "libbpf: " */
        return 0;
}

static void read_line(const char *path, char *buf, size_t size)
{
        FILE *f = fopen(path, "re");

        buf[0] = '\0';
        if (!f)
                return;
        if (!fgets(buf, (int)size, f))
                buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
}

static const char *lsm_name(uint64_t id)
{
        static const char *const names[] = {"capability", "selinux", "smack",     "tomoyo",   "apparmor",
                                            "yama",       "loadpin", "safesetid", "lockdown", "bpf",
                                            "landlock",   "ima",     "evm",       "ipe"};

        return id >= 100 && id - 100 < ELEMENTSOF(names) ? names[id - 100] : "?";
}

/* The active LSMs: securityfs, else the lsm_list_modules() syscall (Linux 6.8). */
static void lsm_probe(struct kernel_facts *k)
{
        uint64_t ids[32];
        uint32_t size = sizeof(ids);
        long n;

        read_line(LSM_LIST, k->lsm_list, sizeof(k->lsm_list));
        if (k->lsm_list[0]) {
                char list[sizeof(k->lsm_list) + 2];

                snprintf(list, sizeof(list), ",%s,", k->lsm_list);
                k->bpf_lsm = strstr(list, ",bpf,") != NULL;
                return;
        }
        k->bpf_lsm = -1;
        n = syscall(NR_LSM_LIST_MODULES, ids, &size, 0);
        if (n <= 0)
                return;
        k->bpf_lsm = 0;
        for (long i = 0; i < n && i < (long)ELEMENTSOF(ids); i++) {
                size_t len = strlen(k->lsm_list);

                snprintf(k->lsm_list + len, sizeof(k->lsm_list) - len, "%s%s", i ? "," : "", lsm_name(ids[i]));
                if (ids[i] == LSM_ID_BPF)
                        k->bpf_lsm = 1;
        }
}

static void kernel_facts(struct kernel_facts *k)
{
        char line[128];
        const char *open, *close;

        *k = (struct kernel_facts){.root = geteuid() == 0, .btf = access(BTF_VMLINUX, R_OK) == 0};
        lsm_probe(k);
        read_line(LOCKDOWN, line, sizeof(line)); /* "none [integrity] confidentiality" */
        open = strchr(line, '[');
        close = open ? strchr(open, ']') : NULL;
        if (open && close)
                snprintf(k->lockdown, sizeof(k->lockdown), "%.*s", (int)(close - open - 1), open + 1);
        if (access(DEBUGFS_TRACING "/events", F_OK) == 0)
                k->tracefs = DEBUGFS_TRACING;
        else if (access(TRACEFS "/events", F_OK) == 0)
                k->tracefs = TRACEFS;
}

static bool tracepoint_exists(const struct kernel_facts *k, const char *hook)
{
        char path[256];

        if (!k->tracefs)
                return false;
        snprintf(path, sizeof(path), "%s/events/%s", k->tracefs, hook);
        return access(path, F_OK) == 0;
}

static const char *errno_text(int err, char *buf, size_t size)
{
        const char *name = strerrorname_np(err);

        snprintf(buf, size, "%s (%s)", strerror(err), name ?: "?");
        return buf;
}

/* Loads and attaches the probe program of one tier; 0 or a negative errno, *ret_attach says which step failed. The
 * tracepoint tier loads a tracepoint program but attaches a raw tracepoint: attaching a tracepoint program makes
 * libbpf read the event's id in tracefs, and IMA's tcb policy measures that read (a measurement the allowlist would
 * have to exclude); a raw tracepoint attaches by name (BPF_RAW_TRACEPOINT_OPEN), without tracefs. That tracefs is
 * mounted is checked apart (tiers_probe_one()). */
static int probe_tier(enum mon_drift_tier t, bool *ret_attach)
{
        static const char *const load[] = {"probe_lsm", "probe_fentry", "probe_tracepoint"};
        static const char *const attach[] = {"probe_lsm", "probe_fentry", "probe_raw_tracepoint"};
        struct drift_probe *s = drift_probe__open();
        struct bpf_program *p, *want = NULL;
        struct bpf_link *link;
        int r;

        *ret_attach = false;
        if (!s)
                return -errno;
        bpf_object__for_each_program(p, s->obj)
        {
                const char *name = bpf_program__name(p);

                bpf_program__set_autoload(p, strcmp(name, load[t]) == 0 || strcmp(name, attach[t]) == 0);
                if (strcmp(name, attach[t]) == 0)
                        want = p;
        }
        r = drift_probe__load(s);
        if (r == 0 && want) {
                link = bpf_program__attach(want);
                if (!link) {
                        r = -errno;
                        *ret_attach = true;
                } else
                        bpf_link__destroy(link);
        }
        drift_probe__destroy(s);
        return r < 0 ? r : 0;
}

static void append(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static void append(char *buf, size_t size, const char *fmt, ...)
{
        size_t len = strlen(buf);
        va_list ap;

        if (len >= size - 1)
                return;
        va_start(ap, fmt);
        vsnprintf(buf + len, size - len, fmt, ap);
        va_end(ap);
}

/* The tiers: probed all at once (--probe), or one by one as the loader first asks for each (at start). */
struct tiers {
        const struct kernel_facts *k;
        unsigned allowed; /* Drift.Tiers=, a bit per tier */
        unsigned probed;
        struct mon_drift_report *rep;
};

static void tiers_probe_one(struct tiers *tiers, enum mon_drift_tier t)
{
        static const char *const what[] = {"a BPF LSM program", "an fentry program", "a tracepoint program"};
        const struct kernel_facts *k = tiers->k;
        struct mon_drift_report *rep = tiers->rep;
        char *reason = rep->tiers[t].reason;
        size_t size = sizeof(rep->tiers[t].reason);
        bool attach = false;
        char e[96];
        int r;

        tiers->probed |= 1u << t;
        if (t == MON_DRIFT_TIER_TRACEPOINT && !k->tracefs && k->root) {
                /* The probe attaches without tracefs, the tracepoint programs cannot. */
                r = -ENOENT;
                attach = true;
        } else
                r = probe_tier(t, &attach);
        rep->tiers[t].available = r == 0;
        reason[0] = '\0';
        if (r == 0)
                append(reason, size, "%s loads and attaches", what[t]);
        else
                append(reason, size, "the kernel refused to %s %s: %s", attach ? "attach" : "load", what[t],
                       errno_text(-r, e, sizeof(e)));
        if (r < 0 && !k->root)
                append(reason, size,
                       "; not running as root (BPF needs CAP_BPF and CAP_PERFMON, or "
                       "CAP_SYS_ADMIN)");
        if (r < 0 && !k->btf)
                append(reason, size,
                       "; the kernel has no BTF (%s, CONFIG_DEBUG_INFO_BTF): programs cannot "
                       "be relocated (CO-RE)",
                       BTF_VMLINUX);
        if (r < 0 && strcmp(k->lockdown, "confidentiality") == 0)
                append(reason, size,
                       "; kernel lockdown is in confidentiality mode: BPF may not read kernel "
                       "memory");
        if (t == MON_DRIFT_TIER_LSM && k->bpf_lsm == 0)
                append(reason, size, "; bpf is not in the active LSM list (%s): boot with lsm=%s,bpf", k->lsm_list,
                       k->lsm_list);
        else if (t == MON_DRIFT_TIER_LSM && r < 0 && k->bpf_lsm == 1 && k->root && k->btf)
                append(reason, size,
                       "; bpf is in the active LSM list (%s), so the platform or a security "
                       "policy forbids BPF LSM programs",
                       k->lsm_list);
        if (t == MON_DRIFT_TIER_TRACEPOINT && !k->tracefs)
                append(reason, size, "; tracefs is not mounted (%s)", TRACEFS);
        if (t == MON_DRIFT_TIER_LSM && r == 0 && k->bpf_lsm == 0)
                rep->tiers[t].available = false; /* loads, but the hooks never run */
        if (rep->tiers[t].available && !(tiers->allowed & (1u << t)))
                append(reason, size, "; not used: Drift.Tiers= does not allow it");
}

/* Whether tier t is allowed and available, probing it the first time it is asked for. */
static bool tiers_usable(struct tiers *tiers, enum mon_drift_tier t)
{
        if (!(tiers->allowed & (1u << t)))
                return false;
        if (!(tiers->probed & (1u << t)))
                tiers_probe_one(tiers, t);
        return tiers->rep->tiers[t].available;
}

/* After loading: what the tiers never asked for say so. */
static void tiers_finish(struct tiers *tiers)
{
        for (enum mon_drift_tier t = 0; t < _MON_DRIFT_TIER_MAX; t++) {
                if (tiers->probed & (1u << t))
                        continue;
                tiers->rep->tiers[t].available = false;
                snprintf(tiers->rep->tiers[t].reason, sizeof(tiers->rep->tiers[t].reason), "%s",
                         !(tiers->allowed & (1u << t))
                                 ? "not probed: Drift.Tiers= does not allow it"
                                 : "not probed: better tiers cover every category it could serve (--probe probes "
                                   "every tier)");
        }
}

/* ---- loading -------------------------------------------------------------------------------------------------- */

static int shared_maps_create(size_t ring_bytes, int fds[_MAP_MAX])
{
        struct drift_exec *s = drift_exec__open();
        int r = 0;

        for (size_t i = 0; i < _MAP_MAX; i++)
                fds[i] = -1;
        if (!s)
                return -errno;
        for (size_t i = 0; i < _MAP_MAX && r == 0; i++) {
                struct bpf_map *m = bpf_object__find_map_by_name(s->obj, shared_maps[i]);
                LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = m ? bpf_map__map_flags(m) : 0);

                if (!m) {
                        r = -ENOENT;
                        break;
                }
                fds[i] = bpf_map_create(bpf_map__type(m), shared_maps[i], bpf_map__key_size(m), bpf_map__value_size(m),
                                        i == MAP_EVENTS ? (uint32_t)ring_bytes : bpf_map__max_entries(m), &opts);
                if (fds[i] < 0)
                        r = -errno;
        }
        drift_exec__destroy(s);
        return r;
}

/* The kernel's dev_t of a stat() st_dev. */
static uint64_t kernel_dev(dev_t d)
{
        return ((uint64_t)major(d) << 20) | minor(d);
}

static void protect_path(const int fds[_MAP_MAX], const char *path, size_t len, bool log)
{
        struct drift_prefix_key key = {};
        struct drift_inode_key ikey = {};
        char p[DRIFT_PREFIX_MAX];
        uint8_t one = 1;
        struct stat st;

        while (len > 1 && path[len - 1] == '/')
                len--;
        if (len == 0 || len > DRIFT_PREFIX_MAX - 2)
                return;
        memcpy(p, path, len);
        p[len] = '\0';
        memcpy(key.data, p, len);
        if (len > 1)
                key.data[len++] = '/';
        key.prefixlen = (uint32_t)len * 8;
        if (bpf_map_update_elem(fds[MAP_PREFIXES], &key, &one, BPF_ANY) < 0 && log)
                drift_log(4, "%s: cannot be protected: %m", p);
        if (stat(p, &st) < 0) {
                if (log)
                        drift_log(7, "%s: %m (protected as a path only)", p);
                return;
        }
        ikey.dev = kernel_dev(st.st_dev);
        ikey.ino = st.st_ino;
        (void)bpf_map_update_elem(fds[MAP_INODES], &ikey, &one, BPF_ANY);
}

static const struct prog_def *prog_find(const struct concern *c, const char *name)
{
        for (size_t i = 0; i < c->n_progs; i++)
                if (strcmp(c->progs[i].name, name) == 0)
                        return &c->progs[i];
        return NULL;
}

/* The best allowed and available tier below or at `from` that has programs for category cat in concern c; a tier
 * is probed only when it has programs for cat and no better tier was had. */
static enum mon_drift_tier tier_for(const struct concern *c, enum mon_drift_category cat, struct tiers *tiers,
                                    enum mon_drift_tier from)
{
        for (enum mon_drift_tier t = from; t < _MON_DRIFT_TIER_MAX; t++) {
                bool has = false;

                for (size_t i = 0; i < c->n_progs && !has; i++)
                        has = c->progs[i].tier == t && (c->progs[i].cats & CAT(cat));
                if (has && tiers_usable(tiers, t))
                        return t;
        }
        return MON_DRIFT_TIER_NONE;
}

static void hook_name(const struct prog_def *d, char *buf, size_t size)
{
        const char *slash = strchr(d->hook, '/');

        if (d->tier == MON_DRIFT_TIER_TRACEPOINT && slash)
                snprintf(buf, size, "%.*s:%s", (int)(slash - d->hook), d->hook, slash + 1);
        else if (d->tier == MON_DRIFT_TIER_LSM)
                snprintf(buf, size, "lsm/%s", d->hook);
        else if (d->tier == MON_DRIFT_TIER_FENTRY)
                snprintf(buf, size, "fentry/%s", d->hook);
        else
                snprintf(buf, size, "%s", d->hook);
}

struct concern_state {
        enum mon_drift_tier want[_MON_DRIFT_CATEGORY_MAX]; /* NONE: the concern does not serve it (or cannot) */
        char notes[_MON_DRIFT_CATEGORY_MAX][320];          /* why a better tier was not had, what is missing */
        bool dropped[64];                                  /* tracepoint programs refused one by one */
};

static bool prog_enabled(const struct concern *c, const struct prog_def *d, const struct concern_state *st)
{
        if (st->dropped[d - c->progs])
                return false;
        for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++)
                if ((d->cats & CAT(cat)) && st->want[cat] == d->tier)
                        return true;
        return false;
}

static void note(struct concern_state *st, enum mon_drift_category cat, const char *fmt, ...) _printf_(3, 4);
static void note(struct concern_state *st, enum mon_drift_category cat, const char *fmt, ...)
{
        char text[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (!strstr(st->notes[cat], text))
                append(st->notes[cat], sizeof(st->notes[cat]), "%s%s", st->notes[cat][0] ? "; " : "", text);
}

/* Category cat goes down from tier t, noting why. */
static void demote(const struct concern *c, struct concern_state *st, struct tiers *tiers, enum mon_drift_category cat,
                   const char *why)
{
        enum mon_drift_tier t = st->want[cat];

        if (t == MON_DRIFT_TIER_NONE)
                return;
        note(st, cat, "%s: %s", mon_drift_tier_name(t), why);
        st->want[cat] = tier_for(c, cat, tiers, t + 1);
}

/* A program the kernel refused: its categories go down a tier, or, on tracepoints, it alone is dropped. */
static void refuse(const struct concern *c, struct concern_state *st, struct tiers *tiers, const struct prog_def *d,
                   const char *why)
{
        char name[96];

        if (d->tier == MON_DRIFT_TIER_TRACEPOINT) {
                st->dropped[d - c->progs] = true;
                hook_name(d, name, sizeof(name));
                for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++)
                        if (d->cats & CAT(cat))
                                note(st, cat, "%s missing: %s", name, why);
                return;
        }
        for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++)
                if ((d->cats & CAT(cat)) && st->want[cat] == d->tier)
                        demote(c, st, tiers, cat, why);
}

static void links_free(struct loaded *l)
{
        for (size_t i = 0; i < l->n_links; i++)
                bpf_link__destroy(l->links[i]);
        free(l->links);
        l->links = NULL;
        l->n_links = 0;
}

/* Once attached, only the links (and the shared maps' fds) keep the programs running: the kernel holds its own
 * references to the programs and maps. libbpf's copy of the object (ELF sections, BTF, relocated instructions; about
 * 1 MiB on the tracepoint tier) is freed for the rest of the monitor's life. */
static void loaded_release_object(struct loaded *l)
{
        if (l->skel)
                l->destroy(l->skel);
        l->skel = NULL;
        l->obj = NULL;
}

static void loaded_free(struct loaded *l)
{
        links_free(l);
        loaded_release_object(l);
}

/* Opens c's skeleton with the shared maps and the programs st wants (only: just that one, for a test load).
 * Returns 0 (l->obj NULL when no program is wanted) or a negative errno. */
static int concern_open(const struct concern *c, const struct concern_state *st, const struct kernel_facts *k,
                        pid_t self, const int fds[_MAP_MAX], const struct prog_def *only, struct loaded *l)
{
        struct open_args a = {.self = self};
        struct bpf_object *obj;
        struct bpf_program *p;
        bool raw = false, any = false;
        int r;

        /* Syscalls whose tracepoint is missing go to the raw tracepoint, when their category is on tracepoints. */
        for (size_t i = 0; i < c->n_progs; i++) {
                const struct prog_def *d = &c->progs[i];

                if (d->raw_nr >= 0 && prog_enabled(c, d, st) && !tracepoint_exists(k, d->hook)) {
                        a.raw_syscalls[d->raw_nr / 64] |= 1ull << (d->raw_nr % 64);
                        raw = true;
                }
        }
        obj = c->open(&l->skel, &a);
        if (!obj)
                return -errno;
        l->destroy = c->destroy;
        l->obj = obj;
        bpf_object__for_each_program(p, obj)
        {
                const struct prog_def *d = prog_find(c, bpf_program__name(p));
                bool on = d && prog_enabled(c, d, st) && (!only || d == only);

                if (on && d->raw_nr == RAW_FALLBACK)
                        on = raw;
                else if (on && d->tier == MON_DRIFT_TIER_TRACEPOINT && !tracepoint_exists(k, d->hook))
                        on = false; /* this kernel has no such syscall, or no tracepoint for it */
                if (!d)
                        drift_log(3, "program %s is not in the loader's table: not loaded", bpf_program__name(p));
                bpf_program__set_autoload(p, on);
                any = any || on;
        }
        for (size_t i = 0; i < _MAP_MAX; i++) {
                struct bpf_map *m = bpf_object__find_map_by_name(obj, shared_maps[i]);

                r = m ? bpf_map__reuse_fd(m, fds[i]) : -ENOENT;
                if (r < 0)
                        return r;
        }
        if (!any)
                loaded_free(l);
        return 0;
}

/* Attaches every program that was loaded; on failure, its definition in *ret_failed. */
static int concern_attach(const struct concern *c, struct loaded *l, const struct prog_def **ret_failed)
{
        struct bpf_program *p;

        bpf_object__for_each_program(p, l->obj)
        {
                struct bpf_link **links, *link;

                if (!bpf_program__autoload(p))
                        continue;
                link = bpf_program__attach(p);
                if (!link) {
                        *ret_failed = prog_find(c, bpf_program__name(p));
                        return -errno;
                }
                links = realloc(l->links, (l->n_links + 1) * sizeof(*links));
                if (!links) {
                        bpf_link__destroy(link);
                        return -ENOMEM;
                }
                l->links = links;
                l->links[l->n_links++] = link;
        }
        return 0;
}

/* After a failed load: loads each wanted program alone to find those the kernel refuses. Returns how many. */
static size_t concern_isolate(const struct concern *c, struct concern_state *st, struct tiers *tiers,
                              const struct kernel_facts *k, pid_t self, const int fds[_MAP_MAX])
{
        const struct prog_def *refused[64];
        int errs[64];
        size_t n = 0;
        char e[96], why[160];

        for (size_t i = 0; i < c->n_progs && n < ELEMENTSOF(refused); i++) {
                struct loaded l = {};
                int r;

                if (!prog_enabled(c, &c->progs[i], st))
                        continue;
                r = concern_open(c, st, k, self, fds, &c->progs[i], &l);
                if (r == 0 && l.obj)
                        r = bpf_object__load(l.obj);
                loaded_free(&l);
                if (r < 0) {
                        refused[n] = &c->progs[i];
                        errs[n++] = r;
                }
        }
        for (size_t i = 0; i < n; i++) {
                snprintf(why, sizeof(why), "the kernel refused to load %s: %s", refused[i]->name,
                         errno_text(-errs[i], e, sizeof(e)));
                refuse(c, st, tiers, refused[i], why);
        }
        return n;
}

/* Loads concern c, falling back as the kernel refuses programs; st says what each category got. */
static int concern_load(const struct concern *c, struct tiers *tiers, const struct kernel_facts *k, pid_t self,
                        const int fds[_MAP_MAX], struct loaded *l, struct concern_state *st)
{
        char e[96], why[200];

        for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++)
                st->want[cat] = tier_for(c, cat, tiers, 0);
        for (int attempt = 0; attempt < 8; attempt++) {
                const struct prog_def *failed = NULL;
                int r;

                r = concern_open(c, st, k, self, fds, NULL, l);
                if (r == 0 && !l->obj)
                        return 0; /* nothing (more) this concern can do on this kernel */
                if (r == 0)
                        r = bpf_object__load(l->obj);
                if (r == 0)
                        r = concern_attach(c, l, &failed);
                if (r == 0)
                        return 0;
                loaded_free(l);
                if (r == -ENOMEM)
                        return r;
                if (failed) {
                        snprintf(why, sizeof(why), "the kernel refused to attach %s: %s", failed->name,
                                 errno_text(-r, e, sizeof(e)));
                        refuse(c, st, tiers, failed, why);
                        continue;
                }
                if (concern_isolate(c, st, tiers, k, self, fds) > 0)
                        continue;
                /* Each program loads alone but not all together: give up the best tier in use. */
                snprintf(why, sizeof(why), "the kernel refused to load the %s programs: %s", c->name,
                         errno_text(-r, e, sizeof(e)));
                {
                        enum mon_drift_tier top = MON_DRIFT_TIER_NONE;

                        for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++)
                                top = MIN(top, st->want[cat]);
                        for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++)
                                if (st->want[cat] == top)
                                        demote(c, st, tiers, cat, why);
                }
        }
        return 0;
}

/* ---- the report ----------------------------------------------------------------------------------------------- */

/* What each tier of each category cannot see. */
static const char *const blind[_MON_DRIFT_CATEGORY_MAX][_MON_DRIFT_TIER_MAX] = {
        [MON_DRIFT_EXEC] =
                {
                        "sees every exec before it completes (also one that then fails), scripts as the script and as "
                        "its "
                        "interpreter",
                        "as lsm: every exec before it completes, scripts as the script and as its interpreter",
                        "sees an exec once it succeeded, as the file the process then runs: a script is seen as its "
                        "interpreter (its path is in the filename field; IMA measures the script)",
                },
        [MON_DRIFT_FILELESS_EXEC] =
                {
                        "memfds and unlinked files are told from the file the kernel executes",
                        "memfds and unlinked files are told from the file the kernel executes",
                        "memfds and unlinked files are told from the file the process runs after the exec; execveat of "
                        "a "
                        "descriptor is marked",
                },
        [MON_DRIFT_TAMPER] =
                {
                        "xattr changes are located from their filesystem's root; writes through files opened before "
                        "the "
                        "monitor started, or through shared mappings, are not seen",
                        "as lsm: xattr changes are located from their filesystem's root; writes through files opened "
                        "before "
                        "the monitor started, or through shared mappings, are not seen",
                        "rename, unlink, link, chmod, chown, truncate and xattr calls are judged on the caller's path "
                        "(a "
                        "protected file reached through a symlink or a bind mount in an absolute path is missed; "
                        "relative "
                        "paths, descriptors and opens are resolved in the kernel); io_uring opens, writes through "
                        "files "
                        "opened before the monitor started or through shared mappings are not seen; an attempt is "
                        "reported "
                        "even when the call then fails",
                },
        [MON_DRIFT_MODULE_LOAD] =
                {
                        "every module the kernel loads, from a file or from memory",
                        "every module the kernel loads, from a file or from memory",
                        "init_module and finit_module calls, also failing ones; modules the kernel loads on its own "
                        "(request_module) are seen only through their modprobe exec",
                },
        [MON_DRIFT_BPF_LOAD] =
                {
                        "BPF program loads by other processes",
                        "BPF program loads by other processes",
                        "bpf(BPF_PROG_LOAD) calls by other processes, also failing ones",
                },
        [MON_DRIFT_KEXEC] =
                {
                        "kexec images and initramfs the kernel reads or is given",
                        "kexec images and initramfs the kernel reads or is given",
                        "kexec_load and kexec_file_load calls, also failing ones",
                },
        [MON_DRIFT_PTRACE] =
                {
                        "attach-mode access (ptrace, /proc/PID/mem) to a process running as root or to the monitor",
                        "attach-mode access (ptrace, /proc/PID/mem) to a process running as root or to the monitor",
                        "PTRACE_ATTACH and PTRACE_SEIZE; whether the target runs as root is read from /proc when the "
                        "event "
                        "arrives (a target gone by then is not reported); /proc/PID/mem writes are not seen",
                },
        [MON_DRIFT_MOUNT] =
                {
                        "mounts and mount moves onto protected paths",
                        "mounts and mount moves onto protected paths",
                        "mount and move_mount onto protected paths, as the caller names them",
                },
        [MON_DRIFT_IMA_POLICY_WRITE] =
                {
                        "opens of the IMA policy for write, and policies the kernel reads from a file",
                        "opens of the IMA policy for write, and policies the kernel reads from a file",
                        "opens of the IMA policy (securityfs .../ima/policy) for write",
                },
};

/* Adds what concern c attached to the coverage. */
static void coverage_add(const struct concern *c, const struct loaded *l, const struct concern_state *st,
                         const struct kernel_facts *k, struct mon_drift_report *rep)
{
        struct concern_state notes = *st;
        struct bpf_program *p;

        st = &notes;
        for (size_t i = 0; l->obj && i < c->n_progs; i++) {
                const struct prog_def *d = &c->progs[i];
                char name[96];

                if (d->raw_nr < 0 || !prog_enabled(c, d, st) || tracepoint_exists(k, d->hook))
                        continue;
                hook_name(d, name, sizeof(name));
                for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++)
                        if (d->cats & CAT(cat))
                                note(&notes, cat,
                                     "no %s tracepoint on this kernel: watched through "
                                     "raw_syscalls:sys_enter",
                                     name);
        }

        for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++)
                if (st->notes[cat][0])
                        append(rep->coverage[cat].blind, sizeof(rep->coverage[cat].blind), "%s%s",
                               rep->coverage[cat].blind[0] ? "; " : "", st->notes[cat]);
        if (!l->obj || l->n_links == 0)
                return;
        bpf_object__for_each_program(p, l->obj)
        {
                const struct prog_def *d = prog_find(c, bpf_program__name(p));
                char name[96];

                if (!d || !bpf_program__autoload(p))
                        continue;
                hook_name(d, name, sizeof(name));
                for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++) {
                        char *hooks = rep->coverage[cat].hooks;

                        if (!(d->cats & CAT(cat)) || st->want[cat] != d->tier)
                                continue;
                        rep->coverage[cat].tier = MIN(rep->coverage[cat].tier, d->tier);
                        if (strlen(hooks) + strlen(name) + 3 < sizeof(rep->coverage[cat].hooks))
                                append(hooks, sizeof(rep->coverage[cat].hooks), "%s%s", hooks[0] ? ", " : "", name);
                        else if (!strstr(hooks, ", ..."))
                                append(hooks, sizeof(rep->coverage[cat].hooks), ", ...");
                }
        }
}

static void coverage_finish(struct mon_drift_report *rep)
{
        for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++) {
                char notes[sizeof(rep->coverage[cat].blind)];
                enum mon_drift_tier t = rep->coverage[cat].tier;

                snprintf(notes, sizeof(notes), "%s", rep->coverage[cat].blind);
                rep->coverage[cat].blind[0] = '\0';
                if (t == MON_DRIFT_TIER_NONE)
                        append(rep->coverage[cat].blind, sizeof(rep->coverage[cat].blind),
                               "not covered: no tier this kernel allows gives a hook for it%s%s", notes[0] ? "; " : "",
                               notes);
                else
                        append(rep->coverage[cat].blind, sizeof(rep->coverage[cat].blind), "%s%s%s", blind[cat][t],
                               notes[0] ? "; " : "", notes);
        }
}

/* ---- entry points --------------------------------------------------------------------------------------------- */

int drift_programs_load(const struct drift_load_options *o, struct drift_programs **ret,
                        struct mon_drift_report *report)
{
        _cleanup_(drift_programs_freep) struct drift_programs *p = NULL;
        struct kernel_facts k;
        struct tiers tiers = {.k = &k, .allowed = o->tiers, .rep = report};
        char e[96];
        int r;

        quiet = o->quiet;
        libbpf_set_print(libbpf_log);
        for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++)
                report->coverage[cat].tier = MON_DRIFT_TIER_NONE;
        kernel_facts(&k);
        if (o->quiet) /* --probe: every tier, allowed or not */
                for (enum mon_drift_tier t = 0; t < _MON_DRIFT_TIER_MAX; t++)
                        tiers_probe_one(&tiers, t);

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r = shared_maps_create(o->ring_buffer_bytes, p->maps);
        if (r < 0) {
                for (enum mon_drift_category cat = 0; cat < _MON_DRIFT_CATEGORY_MAX; cat++)
                        snprintf(report->coverage[cat].blind, sizeof(report->coverage[cat].blind),
                                 "not covered: the kernel refused to create the BPF maps: %s",
                                 errno_text(-r, e, sizeof(e)));
                for (enum mon_drift_tier t = 0; t < _MON_DRIFT_TIER_MAX; t++)
                        (void)tiers_usable(&tiers, t);
                tiers_finish(&tiers);
                *ret = TAKE_PTR(p);
                return 0;
        }
        for (size_t i = 0; i < o->n_protected_paths; i++)
                protect_path(p->maps, o->protected_paths[i], strlen(o->protected_paths[i]), !o->quiet);
        for (size_t i = 0; i < ELEMENTSOF(concerns); i++) {
                struct concern_state st = {};

                r = concern_load(&concerns[i], &tiers, &k, o->self, p->maps, &p->loaded[i], &st);
                if (r < 0)
                        return r;
                coverage_add(&concerns[i], &p->loaded[i], &st, &k, report);
                loaded_release_object(&p->loaded[i]);
        }
        tiers_finish(&tiers);
        coverage_finish(report);
        *ret = TAKE_PTR(p);
        return 0;
}

int drift_programs_events_fd(const struct drift_programs *p)
{
        return p->maps[MAP_EVENTS];
}

int drift_programs_counters(const struct drift_programs *p, uint64_t ret[_DRIFT_COUNTER_MAX])
{
        int ncpu = libbpf_num_possible_cpus();
        _cleanup_free_ uint64_t *v = NULL;

        if (ncpu <= 0 || p->maps[MAP_COUNTERS] < 0)
                return -ENODEV;
        v = calloc((size_t)ncpu, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (uint32_t key = 0; key < _DRIFT_COUNTER_MAX; key++) {
                ret[key] = 0;
                if (bpf_map_lookup_elem(p->maps[MAP_COUNTERS], &key, v) < 0)
                        return -errno;
                for (int c = 0; c < ncpu; c++)
                        ret[key] += v[c];
        }
        return 0;
}

void drift_programs_free(struct drift_programs *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < ELEMENTSOF(concerns); i++)
                loaded_free(&p->loaded[i]);
        for (size_t i = 0; i < _MAP_MAX; i++)
                if (p->maps[i] > 0)
                        close(p->maps[i]);
        free(p);
}
