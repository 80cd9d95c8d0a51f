/* A signal directed at one thread, by a SIGEV_THREAD_ID timer ("timer") or by another
 * process's tgkill ("outside": the worker's tid is printed, and the sender waited for),
 * must run its handler in that thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t worker_tid, handled_by;

static void on_signal(int sig) {
    (void)sig;
    handled_by = (pid_t)syscall(SYS_gettid);
}

static void *worker(void *arg) {
    worker_tid = (pid_t)syscall(SYS_gettid);
    while (!handled_by)
        pause();
    return arg;
}

int main(int argc, char **argv) {
    pthread_t t;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t block;  /* only the worker may take it */
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    pthread_create(&t, NULL, worker, NULL);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    while (!worker_tid)
        usleep(1000);
    if (argc > 1 && strcmp(argv[1], "timer") == 0) {
        struct sigevent ev;
        timer_t timer;
        struct itimerspec soon = {{0, 0}, {0, 20000000}};
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = SIGUSR1;
        ev._sigev_un._tid = worker_tid;
        if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0 ||
            timer_settime(timer, 0, &soon, NULL) != 0) {
            perror("timer");
            return 1;
        }
    } else {
        printf("%d %d\n", (int)getpid(), (int)worker_tid);
        fflush(stdout);
    }
    pthread_join(t, NULL);
    printf("handled by the worker: %d\n", handled_by == worker_tid);
    return 0;
}
