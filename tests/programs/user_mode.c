/* What a program sees of the CPU's privilege level, as the kernel leaves it: privileged
 * instructions fault (SIGSEGV, SI_KERNEL) in the main thread, a new thread and a fork
 * child; popf cannot raise the I/O privilege level; the kernel's user selectors load
 * (0x2b into %ss and %ds, a far return to 0x33) and a kernel selector does not; a far
 * call through 0x23 runs 32-bit code and comes back. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "far_call_32bit.h"

static __thread sigjmp_buf back;

static void on_fault(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    printf("  %s, si_code %d, addr %p\n", sig == SIGSEGV ? "SIGSEGV" : "other", si->si_code,
           si->si_addr);
    siglongjmp(back, 1);
}

#define TRY(name, code)                                                                   \
    do {                                                                                  \
        printf("%s\n", name);                                                             \
        fflush(stdout);                                                                   \
        if (!sigsetjmp(back, 1)) {                                                        \
            code;                                                                         \
            printf("  ran\n");                                                            \
        }                                                                                 \
        fflush(stdout);                                                                   \
    } while (0)

static void privileged(const char *where) {
    printf("%s:\n", where);
    TRY("hlt", __asm__ volatile("hlt"));
    TRY("cli", __asm__ volatile("cli"));
    TRY("mov %cr0", ({ uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); }));
    TRY("wbinvd", __asm__ volatile("wbinvd"));
    TRY("sysretq", __asm__ volatile("sysretq"));
}

static void *thread_main(void *arg) {
    privileged("thread");
    return arg;
}

static uint64_t rflags(void) {
    uint64_t f;
    __asm__ volatile("pushfq; popq %0" : "=r"(f));
    return f;
}

static int call_32bit_code(void) {
    static const uint8_t code32[] = {0xb8, 42, 0, 0, 0, 0xcb}; /* mov $42, %eax; lret */
    return run_32bit(far_call_32bit(code32, sizeof code32));
}

int main(void) {
    struct sigaction sa;
    pthread_t t;
    uint64_t f = rflags();
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    printf("rflags: interrupts enabled %d, I/O privilege %d\n", (int)(f >> 9 & 1),
           (int)(f >> 12 & 3));
    privileged("main thread");
    pthread_create(&t, NULL, thread_main, NULL);
    pthread_join(t, NULL);
    if (fork() == 0) {
        privileged("fork child");
        _exit(0);
    }
    wait(NULL);
    TRY("popf with I/O privilege 3", ({
        uint64_t raised = f | 3 << 12;
        __asm__ volatile("pushq %0; popfq" : : "r"(raised) : "cc");
        printf("  I/O privilege now %d\n", (int)(rflags() >> 12 & 3));
    }));
    TRY("mov $0x2b, %ss", __asm__ volatile("mov $0x2b, %%eax; mov %%eax, %%ss" ::: "eax"));
    TRY("mov $0x2b, %ds", __asm__ volatile("mov $0x2b, %%eax; mov %%eax, %%ds" ::: "eax"));
    TRY("mov $0x18, %ds (the kernel's)",
        __asm__ volatile("mov $0x18, %%eax; mov %%eax, %%ds" ::: "eax"));
    TRY("lretq to 0x33", __asm__ volatile("leaq 1f(%%rip), %%rax; pushq $0x33; pushq %%rax;"
                                          " lretq; 1:" ::: "rax", "memory"));
    TRY("lar 0x33", ({
        uint32_t access = 0;
        uint8_t valid;
        __asm__ volatile("lar %2, %0; setz %1" : "=r"(access), "=q"(valid) : "r"(0x33u));
        printf("  valid %d, access %#x\n", valid, access & 0x00f0ff00);  /* 16-19 undefined */
    }));
    TRY("far call through 0x23", printf("  32-bit code returned %d\n", call_32bit_code()));
    return 0;
}
