/* A handler changes the interrupted registers in its ucontext, as debuggers and
 * user-space schedulers do, and rt_sigreturn puts them back in place: a general
 * register, the flags (on x86_64 the kernel takes back only the arithmetic ones, never
 * IOPL), a vector register through the FP/SIMD state, and the pc (skipping an
 * instruction). A breakpoint instruction raises the SIGTRAP. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

static void on_trap(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    (void)sig, (void)info;
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RBX] = 42;
    uc->uc_mcontext.gregs[REG_EFL] |= 0x1 | 0x80 | 0x3000; /* CF, SF, IOPL 3 */
    uc->uc_mcontext.fpregs->_xmm[0].element[0] = 7;
    uc->uc_mcontext.gregs[REG_RIP] += 2; /* the pc is past int3: over a 2-byte mov */
#elif defined(__aarch64__)
    struct fpsimd_context *fp = (struct fpsimd_context *)(void *)uc->uc_mcontext.__reserved;
    uc->uc_mcontext.regs[19] = 42;
    uc->uc_mcontext.pstate |= 1u << 31 | 1u << 29; /* N, C */
    fp->vregs[0] = 7;
    uc->uc_mcontext.pc += 8; /* the pc is at brk: over it and the mov after it */
#endif
}

int main(void) {
    struct sigaction sa;
    unsigned long reg, flags, vec, skipped_to;
    int flags_ok;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &sa, NULL);
#if defined(__x86_64__)
    __asm__ volatile("xor %%ecx, %%ecx\n\t"
                     "movq %%rcx, %%xmm0\n\t"
                     "xor %%ebx, %%ebx\n\t" /* ZF set, CF and SF clear */
                     "int3\n\t"
                     "mov $1, %%cl\n\t"
                     "pushfq\n\t"
                     "popq %0\n\t"
                     "movq %%rbx, %1\n\t"
                     "movq %%xmm0, %2\n\t"
                     "movq %%rcx, %3"
                     : "=r"(flags), "=r"(reg), "=r"(vec), "=r"(skipped_to)
                     :
                     : "rbx", "rcx", "xmm0", "cc", "memory");
    flags_ok = (flags & 1) && (flags >> 6 & 1) && (flags >> 7 & 1) && !(flags >> 12 & 3);
#elif defined(__aarch64__)
    __asm__ volatile("mov x9, #0\n\t"
                     "mov x19, #0\n\t"
                     "fmov d0, xzr\n\t"
                     "cmn x19, #0\n\t" /* Z set, N and C clear */
                     "brk #0\n\t"
                     "mov x9, #1\n\t"
                     "mrs %0, nzcv\n\t"
                     "mov %1, x19\n\t"
                     "fmov %2, d0\n\t"
                     "mov %3, x9"
                     : "=r"(flags), "=r"(reg), "=r"(vec), "=r"(skipped_to)
                     :
                     : "x9", "x19", "v0", "cc", "memory");
    flags_ok = (flags >> 31 & 1) && (flags >> 30 & 1) && (flags >> 29 & 1);
#endif
    printf("register %lu\n", reg);
    printf("flags %s\n", flags_ok ? "as the kernel restores them" : "wrong");
    printf("vector %lu\n", vec);
    printf("instruction skipped: %s\n", skipped_to ? "no" : "yes");
    return 0;
}
