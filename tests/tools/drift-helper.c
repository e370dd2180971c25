/* SPDX-License-Identifier: MIT */
/* drift-helper: the actions tests/shell/test-ebpf.sh needs that the shell cannot do, each the way an attacker
 * would, so that the monitor's eBPF programs see them.
 *
 *   drift-helper memfd-exec FILE [ARG...]     copy FILE into a memfd and execute it (fileless)
 *   drift-helper unlinked-exec FILE DIR [ARG...]
 *                                             copy FILE into DIR, open it, unlink it, execute the descriptor
 *   drift-helper finit-module FILE            finit_module() of FILE (fails unless it is a module: still seen)
 *   drift-helper bpf-load NAME                load a two-instruction socket filter named NAME, then close it
 *   drift-helper ptrace-attach PID            PTRACE_ATTACH to PID, wait for the stop, detach
 *
 * Exit status 0 when the action was attempted (a refused syscall included: the attempt is what is watched), 1
 * when it could not even be set up, 2 for a bad command line. */

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"

extern char **environ;

static int copy_fd(const char *from, int to)
{
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
        char buf[65536];
        ssize_t n;

        if (in < 0)
                return -errno;
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(to, buf, (size_t)n) != n)
                        return -EIO;
        return n < 0 ? -errno : 0;
}

static int exec_fd(int fd, char **argv)
{
        syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
        fprintf(stderr, "drift-helper: execveat: %m\n");
        return 1;
}

static int memfd_exec(int argc, char **argv)
{
        int fd;

        if (argc < 1)
                return 2;
        fd = memfd_create("drift-test", 0);
        if (fd < 0 || copy_fd(argv[0], fd) < 0) {
                fprintf(stderr, "drift-helper: memfd: %m\n");
                return 1;
        }
        return exec_fd(fd, argv);
}

static int unlinked_exec(int argc, char **argv)
{
        _cleanup_free_ char *path = NULL;
        int fd;

        if (argc < 2 || asprintf(&path, "%s/unlinked-XXXXXX", argv[1]) < 0)
                return 2;
        fd = mkstemp(path);
        if (fd < 0 || copy_fd(argv[0], fd) < 0 || fchmod(fd, 0755) < 0) {
                fprintf(stderr, "drift-helper: %s: %m\n", path);
                return 1;
        }
        close(fd); /* an executable cannot be open for write */
        fd = open(path, O_RDONLY);
        if (fd < 0 || unlink(path) < 0) {
                fprintf(stderr, "drift-helper: %s: %m\n", path);
                return 1;
        }
        argv[1] = argv[0];
        return exec_fd(fd, argv + 1);
}

static int finit_module(const char *file)
{
        _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
        long r;

        if (fd < 0) {
                fprintf(stderr, "drift-helper: %s: %m\n", file);
                return 1;
        }
        r = syscall(SYS_finit_module, fd, "", 0);
        printf("finit_module: %s\n", r == 0 ? "loaded" : strerror(errno));
        return 0;
}

static int bpf_load(const char *name)
{
        struct bpf_insn insns[] = {
                {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
                {.code = BPF_JMP | BPF_EXIT},
        };
        union bpf_attr attr = {
                .prog_type = BPF_PROG_TYPE_SOCKET_FILTER,
                .insns = (uint64_t)(uintptr_t)insns,
                .insn_cnt = ELEMENTSOF(insns),
                .license = (uint64_t)(uintptr_t) "GPL",
        };
        long fd;

        snprintf(attr.prog_name, sizeof(attr.prog_name), "%s", name);
        fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
        printf("bpf(BPF_PROG_LOAD): %s\n", fd >= 0 ? "loaded" : strerror(errno));
        if (fd >= 0)
                close((int)fd);
        return 0;
}

static int ptrace_attach(const char *pid_text)
{
        pid_t pid = (pid_t)atoi(pid_text);
        int status;

        if (pid <= 0)
                return 2;
        if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0) {
                printf("ptrace: %m\n");
                return 0;
        }
        (void)waitpid(pid, &status, 0);
        (void)ptrace(PTRACE_DETACH, pid, NULL, NULL);
        printf("ptrace: attached and detached\n");
        return 0;
}

int main(int argc, char **argv)
{
        if (argc >= 3 && strcmp(argv[1], "memfd-exec") == 0)
                return memfd_exec(argc - 2, argv + 2);
        if (argc >= 4 && strcmp(argv[1], "unlinked-exec") == 0)
                return unlinked_exec(argc - 2, argv + 2);
        if (argc == 3 && strcmp(argv[1], "finit-module") == 0)
                return finit_module(argv[2]);
        if (argc == 3 && strcmp(argv[1], "bpf-load") == 0)
                return bpf_load(argv[2]);
        if (argc == 3 && strcmp(argv[1], "ptrace-attach") == 0)
                return ptrace_attach(argv[2]);
        fprintf(stderr, "usage: drift-helper memfd-exec FILE [ARG...] | unlinked-exec FILE DIR [ARG...] | "
                        "finit-module FILE | bpf-load NAME | ptrace-attach PID\n");
        return 2;
}
