/* The x87 and SSE control state a program starts with (the kernel's fninit state: control
 * word 037f, MXCSR 1f80), in a new thread and in a fork child, and a long double result
 * that single precision (control word 0000) would round differently; and the code and
 * stack segment selectors it reads (the kernel's user selectors, 0x33 and 0x2b). */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *where) {
    unsigned short cw, cs, ss;
    unsigned int mxcsr;
    volatile long double third = 1.0L;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("mov %%cs, %0\n\tmov %%ss, %1" : "=r"(cs), "=r"(ss));
    third /= 3.0L;
    printf("%s: control word %04x, mxcsr %08x, 1/3 = %.19Lf, cs %#x, ss %#x\n", where, cw,
           mxcsr, third, cs, ss);
    fflush(stdout);
}

static void *thread_main(void *arg) {
    report("thread");
    return arg;
}

int main(void) {
    pthread_t t;
    report("start");
    pthread_create(&t, NULL, thread_main, NULL);
    pthread_join(t, NULL);
    if (fork() == 0) {
        report("fork child");
        _exit(0);
    }
    wait(NULL);
    return 0;
}
