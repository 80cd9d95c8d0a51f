/* Signals and 32-bit code (entered by a far call through 0x23): a timer's handler, 64-bit
 * code, runs while the program loops in 32-bit code, sees cs 0x23 in its frame, and
 * rt_sigreturn goes back into the 32-bit loop, which finishes; a frame whose code
 * selector is a data segment's makes rt_sigreturn end in SIGSEGV (SI_KERNEL), as the
 * kernel's iret fails. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>

#include "far_call_32bit.h"

static volatile int ticks, saw_32bit;
static sigjmp_buf back;

static void on_tick(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    (void)sig;
    (void)si;
    ticks++;
    if ((uc->uc_mcontext.gregs[REG_CSGSFS] & 0xffff) == 0x23)
        saw_32bit = 1;
}

static void on_usr1(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    (void)sig;
    (void)si;
    uc->uc_mcontext.gregs[REG_CSGSFS] = (uc->uc_mcontext.gregs[REG_CSGSFS] & ~0xffffL) | 0x2b;
}

static void on_segv(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    printf("  %s, si_code %d, addr %p\n", sig == SIGSEGV ? "SIGSEGV" : "other", si->si_code,
           si->si_addr);
    siglongjmp(back, 1);
}

int main(void) {
    /* mov $400000000, %ecx; 1: dec %ecx; jnz 1b; mov $42, %eax; lret */
    static const uint8_t code32[] = {0xb9, 0x00, 0x84, 0xd7, 0x17, 0x49, 0x75, 0xfd,
                                     0xb8, 42, 0, 0, 0, 0xcb};
    void *entry = far_call_32bit(code32, sizeof code32);
    struct itimerval every = {{0, 2000}, {0, 2000}}, off = {{0, 0}, {0, 0}};
    struct sigaction sa;
    int result;
    setvbuf(stdout, NULL, _IONBF, 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = on_tick;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_sigaction = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    setitimer(ITIMER_REAL, &every, NULL);
    result = run_32bit(entry);
    setitimer(ITIMER_REAL, &off, NULL);
    printf("32-bit code under a timer returned %d; handlers ran %d, saw cs 0x23 %d\n", result,
           ticks > 0, saw_32bit);
    printf("rt_sigreturn to a data selector:\n");
    fflush(stdout);
    if (!sigsetjmp(back, 1)) {
        raise(SIGUSR1);
        printf("  returned\n");
    }
    return 0;
}
