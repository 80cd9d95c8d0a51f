/* Guest signal handlers, each mode one way a signal arrives:
 *   alarm   SIGALRM from alarm(1) while the program spins in a compute loop
 *   pause   SIGALRM from alarm(1) while it waits in pause()
 *   outside SIGINT sent by another process while it spins (prints "ready" first)
 *   segv    a NULL dereference, caught, and left with siglongjmp
 *   restart SIGALRM interrupting a read() on a pipe, with and without SA_RESTART
 * The compute loop uses floating point, so a handler that clobbered the registers of
 * the interrupted code (a wrong rt_sigreturn) shows in its result. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

static volatile sig_atomic_t hits;
static sigjmp_buf back;

static void on_signal(int sig) {
    double x = 1e300;  /* use the FP registers inside the handler too */
    for (int i = 0; i < 100; i++) x = x / 3.0 + 1.5;
    hits += (x > 0) ? 1 : 0;
    (void)sig;
}

static void on_segv(int sig, siginfo_t *info, void *ctx) {
    (void)sig; (void)ctx;
    printf("caught SIGSEGV at %p\n", info->si_addr);
    siglongjmp(back, 1);
}

static double spin_until_hit(void) {
    double sum = 0;
    long i = 0;
    while (!hits) {
        sum += (double)(i % 1000) * 0.5;
        i++;
    }
    /* recompute the same sum without interruption: equal if nothing was clobbered */
    double check = 0;
    for (long j = 0; j < i; j++) check += (double)(j % 1000) * 0.5;
    return sum == check ? 1.0 : 0.0;
}

static void handle(int sig, int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
    const char *mode = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "alarm")) {
        handle(SIGALRM, 0);
        alarm(1);
        printf("alarm in compute loop, registers intact: %s\n",
               spin_until_hit() == 1.0 ? "yes" : "no");
    } else if (!strcmp(mode, "pause")) {
        handle(SIGALRM, 0);
        alarm(1);
        int r = pause();
        printf("pause returned %d errno=%d hits=%d\n", r, errno, (int)hits);
    } else if (!strcmp(mode, "outside")) {
        handle(SIGINT, 0);
        printf("ready\n");
        printf("SIGINT in compute loop, registers intact: %s\n",
               spin_until_hit() == 1.0 ? "yes" : "no");
    } else if (!strcmp(mode, "segv")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &sa, NULL);
        if (!sigsetjmp(back, 1))
            printf("%d\n", *(volatile int *)0);
        printf("after the handler\n");
    } else if (!strcmp(mode, "restart")) {
        int fds[2];
        char c;
        pipe(fds);
        handle(SIGALRM, 0);
        alarm(1);
        ssize_t r = read(fds[0], &c, 1);
        printf("read without SA_RESTART: %zd errno=%d\n", r, errno);
        handle(SIGALRM, SA_RESTART);
        if (fork() == 0) { sleep(2); write(fds[1], "x", 1); _exit(0); }
        alarm(1);
        r = read(fds[0], &c, 1);
        printf("read with SA_RESTART: %zd '%c' hits=%d\n", r, c, (int)hits);
    }
    return 0;
}
