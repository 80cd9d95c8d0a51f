/* AT_MINSIGSTKSZ is what the kernel's signal frame takes: a handler on an alternate
 * stack finds the frame (its siginfo and ucontext, and x86_64's return address below
 * them) within that many bytes of the stack's top. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

static char *top;
static volatile uintptr_t used;

static void handler(int sig, siginfo_t *info, void *uc) {
    (void)sig;
    uintptr_t lowest = (uintptr_t)info < (uintptr_t)uc ? (uintptr_t)info : (uintptr_t)uc;
    used = (uintptr_t)top - (lowest - sizeof(void *));
}

int main(void) {
    unsigned long min = getauxval(AT_MINSIGSTKSZ);
    size_t size = 64 * 1024;
    char *stack = malloc(size);
    top = stack + size;
    stack_t ss = {.ss_sp = stack, .ss_size = size, .ss_flags = 0};
    struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_ONSTACK | SA_SIGINFO};
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGUSR1, &sa, NULL) != 0)
        return 1;
    raise(SIGUSR1);
    printf("AT_MINSIGSTKSZ given: %s\n", min ? "yes" : "no");
    printf("the signal frame within it: %s\n", used > 0 && used <= min ? "yes" : "no");
    return 0;
}
