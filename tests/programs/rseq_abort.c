/* Restartable sequences: glibc's registration, and a critical section (a loop that
 * never ends by itself) left for its abort handler when the thread takes a signal in
 * it, and when it is preempted in it by another thread of the same CPU. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/rseq.h>
#include <sys/time.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x) STR_(x)

static void spin_until_aborted(volatile int *aborted) {
    static struct rseq_cs cs __attribute__((aligned(32)));
    struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
#if defined(__x86_64__)
    __asm__ volatile(
        "leaq 1f(%%rip), %%rax\n\t"
        "movq %%rax, 8(%[cs])\n\t"      /* start_ip */
        "leaq 2f(%%rip), %%rcx\n\t"
        "subq %%rax, %%rcx\n\t"
        "movq %%rcx, 16(%[cs])\n\t"     /* post_commit_offset */
        "leaq 4f(%%rip), %%rax\n\t"
        "movq %%rax, 24(%[cs])\n\t"     /* abort_ip */
        "movq %[cs], 8(%[rs])\n\t"      /* rs->rseq_cs = &cs: the section begins */
        "1: jmp 1b\n\t"
        "2: jmp 5f\n\t"
        ".long " STR(RSEQ_SIG) "\n\t"   /* the signature the abort handler follows */
        "4: movl $1, (%[ab])\n\t"
        "5:\n\t"
        : : [cs] "r"(&cs), [rs] "r"(rs), [ab] "r"(aborted) : "rax", "rcx", "memory");
#else
    __asm__ volatile(
        "adr x9, 1f\n\t"
        "str x9, [%[cs], #8]\n\t"
        "adr x10, 2f\n\t"
        "sub x10, x10, x9\n\t"
        "str x10, [%[cs], #16]\n\t"
        "adr x9, 4f\n\t"
        "str x9, [%[cs], #24]\n\t"
        "str %[cs], [%[rs], #8]\n\t"
        "1: b 1b\n\t"
        "2: b 5f\n\t"
        ".inst " STR(RSEQ_SIG) "\n\t"
        "4: mov w9, #1\n\t"
        "str w9, [%[ab]]\n\t"
        "5:\n\t"
        : : [cs] "r"(&cs), [rs] "r"(rs), [ab] "r"(aborted) : "x9", "x10", "memory");
#endif
}

static volatile int signalled, preempted;

static void on_alarm(int sig) {
    (void)sig;  /* (natively a preemption may come first: either one aborts) */
}

static void *spinner(void *unused) {
    (void)unused;
    spin_until_aborted(&preempted);
    return NULL;
}

int main(void) {
    printf("rseq registered by glibc: %s\n", __rseq_size > 0 ? "yes" : "no");
    if (__rseq_size == 0)
        return 0;
    signal(SIGALRM, on_alarm);
    struct itimerval once = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &once, NULL);
    spin_until_aborted(&signalled);
    printf("a signal inside the critical section: %s\n", signalled ? "aborted" : "not aborted");

    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);  /* the threads share a CPU, as under luatrap */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setaffinity_np(&attr, sizeof one, &one);
    pthread_create(&t, &attr, spinner, NULL);
    for (int i = 0; i < 5000 && !preempted; i++)
        usleep(1000);
    printf("preempted inside the critical section: %s\n", preempted ? "aborted" : "not aborted");
    if (preempted)
        pthread_join(t, NULL);
    return 0;
}
