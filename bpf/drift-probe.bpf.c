/* SPDX-License-Identifier: MIT */
/* The smallest program of each tier, loaded and attached one at a time at start (and by --probe) to learn which
 * tiers this kernel allows, then detached. They do nothing. */

#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("lsm/bprm_check_security")
int BPF_PROG(probe_lsm, struct linux_binprm *bprm)
{
        return 0;
}

SEC("fentry/security_bprm_check")
int BPF_PROG(probe_fentry, struct linux_binprm *bprm)
{
        return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int probe_tracepoint(void *ctx)
{
        return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int probe_raw_tracepoint(void *ctx)
{
        return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
