/* Signals, fork and exec, each printing what it saw (compared with qemu-aarch64):
 * a SA_SIGINFO handler's arguments, FP state across a handler, siglongjmp out of a
 * SIGSEGV handler, an interval timer interrupting a loop of calls, fork and wait, exec
 * of a host program, and exec of this program ("child" mode). */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t last_signal, ticks;
static sigjmp_buf recovery;

static void on_usr1(int sig, siginfo_t *info, void *context) {
    volatile double clobber = 3.0;
    clobber *= clobber;  /* the interrupted code's FP registers must come back */
    last_signal = sig;
    printf("handler: signal %d, code %d, from this process %d, context %d\n", sig,
           info->si_code, info->si_pid == getpid() || info->si_pid > 0, context != NULL);
}

static void on_segv(int sig) { siglongjmp(recovery, sig); }
static void on_alarm(int sig) { (void)sig; ticks++; }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        printf("exec'd child running, pid %d\n", (int)getpid());
        return 7;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    double x = 1.5;
    for (int i = 0; i < 3; i++) {
        raise(SIGUSR1);
        x *= 2;
    }
    printf("after handlers: last %d, fp %.2f\n", (int)last_signal, x);

    signal(SIGSEGV, on_segv);
    int got = sigsetjmp(recovery, 1);
    if (got == 0)
        *(volatile int *)16 = 1;
    printf("recovered from signal %d\n", got);

    signal(SIGALRM, on_alarm);
    struct itimerval every_ms = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &every_ms, NULL);
    long calls = 0;
    while (ticks < 20)
        if (getppid() > 0)
            calls++;
    setitimer(ITIMER_REAL, &off, NULL);
    printf("timer ticked 20 times during %s calls\n", calls > 0 ? "many" : "no");

    pid_t child = fork();
    if (child == 0)
        _exit(5);
    int status;
    waitpid(child, &status, 0);
    printf("fork: child exited %d\n", WEXITSTATUS(status));

    child = fork();
    if (child == 0) {
        execl("/bin/echo", "echo", "host echo ran", (char *)NULL);
        _exit(98);
    }
    waitpid(child, &status, 0);
    printf("exec of a host program: %d\n", WEXITSTATUS(status));

    child = fork();
    if (child == 0) {
        execl(argv[0], argv[0], "child", (char *)NULL);
        _exit(99);
    }
    waitpid(child, &status, 0);
    printf("exec of itself: %d\n", WEXITSTATUS(status));
    return 0;
}
