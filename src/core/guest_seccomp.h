/*
** guest_seccomp.h - a guest's own seccomp filters, as the kernel would run them.
**
** Under the emulate engine the guest's seccomp(2) cannot reach the host kernel (its
** filter would apply to luatrap). The Linux layer keeps each guest thread's filters
** (classic BPF programs, checked here as the kernel checks them) and the syscall hook
** runs them before anything else decides a call: the kernel's order, where a filter's
** verdict comes before the call reaches a tracer or a supervisor.
*/
#ifndef LUATRAP_GUEST_SECCOMP_H
#define LUATRAP_GUEST_SECCOMP_H

#include <stddef.h>
#include <stdint.h>

/* struct seccomp_data: what a filter reads. */
struct lt_seccomp_data {
  int32_t nr;
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t args[6];
};

/* struct sock_filter: one classic BPF instruction. */
struct lt_bpf_insn {
  uint16_t code;
  uint8_t jt, jf;
  uint32_t k;
};

#define LT_SECCOMP_RET_KILL_PROCESS 0x80000000U
#define LT_SECCOMP_RET_KILL_THREAD 0x00000000U
#define LT_SECCOMP_RET_TRAP 0x00030000U
#define LT_SECCOMP_RET_ERRNO 0x00050000U
#define LT_SECCOMP_RET_USER_NOTIF 0x7fc00000U
#define LT_SECCOMP_RET_TRACE 0x7ff00000U
#define LT_SECCOMP_RET_LOG 0x7ffc0000U
#define LT_SECCOMP_RET_ALLOW 0x7fff0000U
#define LT_SECCOMP_RET_ACTION_FULL 0xffff0000U
#define LT_SECCOMP_RET_DATA 0x0000ffffU

/* 0 if the kernel would accept the program (bpf_check_classic and seccomp's own
** list of allowed instructions), else -EINVAL. */
int lt_bpf_check(const struct lt_bpf_insn *prog, size_t len);

/* The value the program returns for `data`. */
uint32_t lt_bpf_run(const struct lt_bpf_insn *prog, size_t len,
                    const struct lt_seccomp_data *data);

/* A chain of filters, newest first, each as a 32-bit instruction count followed by its
** instructions: the verdict of highest precedence (the kernel's rule; on a tie, the
** newest filter's). */
uint32_t lt_seccomp_decide(const unsigned char *chain, size_t size,
                           const struct lt_seccomp_data *data);

#endif
