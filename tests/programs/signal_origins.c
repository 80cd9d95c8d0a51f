/* Where a signal comes from, as its siginfo says, and which thread takes it:
 *   a write to a pipe nobody reads: SIGPIPE, SI_USER, sent by the process itself;
 *   a SIGEV_THREAD timer (glibc's helper thread waits for its signal, 32): the
 *   callback runs at each expiration;
 *   a SIGEV_THREAD_ID timer aimed at one thread: that thread's handler runs, with
 *   SI_TIMER and the timer's id. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int pipe_code = -1, pipe_from_self, callbacks, taken_by, timer_code,
                    timer_id_seen = -1;
static volatile int target_tid;

static void on_pipe(int sig, siginfo_t *info, void *context) {
    (void)sig, (void)context;
    pipe_code = info->si_code;
    pipe_from_self = info->si_pid == getpid();
}

static void on_timer(int sig, siginfo_t *info, void *context) {
    (void)sig, (void)context;
    taken_by = gettid();
    timer_code = info->si_code;
    timer_id_seen = info->si_timerid;
}

static void callback(union sigval value) {
    (void)value;
    callbacks++;
}

static void *target(void *arg) {
    (void)arg;
    target_tid = gettid();
    while (!taken_by)
        usleep(1000);
    return NULL;
}

int main(void) {
    struct sigaction sa;
    struct sigevent ev;
    struct itimerspec every = {{0, 5000000}, {0, 5000000}}, once = {{0, 0}, {0, 5000000}};
    timer_t periodic, aimed, unused;
    pthread_t thread;
    int fds[2];

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_pipe;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGPIPE, &sa, NULL);
    if (pipe(fds) != 0)
        return 1;
    close(fds[0]);
    if (write(fds[1], "x", 1) != -1)
        return 1;
    printf("SIGPIPE: si_code %d, from the process itself: %s\n", pipe_code,
           pipe_from_self ? "yes" : "no");

    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = callback;
    if (timer_create(CLOCK_MONOTONIC, &ev, &periodic) != 0)
        return 1;
    timer_settime(periodic, 0, &every, NULL);
    while (callbacks < 5)
        usleep(1000);
    timer_delete(periodic);
    printf("SIGEV_THREAD timer: callback ran 5 times\n");

    sa.sa_sigaction = on_timer;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_create(&thread, NULL, target, NULL);
    while (!target_tid)
        usleep(1000);
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR2;
    timer_create(CLOCK_MONOTONIC, &ev, &unused); /* so the aimed timer's id is not 0 */
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGUSR1;
    ev._sigev_un._tid = target_tid;
    if (timer_create(CLOCK_MONOTONIC, &ev, &aimed) != 0)
        return 1;
    timer_settime(aimed, 0, &once, NULL);
    pthread_join(thread, NULL);
    printf("SIGEV_THREAD_ID timer: taken by the thread it names: %s, SI_TIMER: %s, "
           "its id: %s\n", taken_by == target_tid ? "yes" : "no",
           timer_code == SI_TIMER ? "yes" : "no",
           timer_id_seen == (int)(long)aimed ? "yes" : "no");
    ev._sigev_un._tid = 1; /* a thread of another process: EINVAL */
    printf("SIGEV_THREAD_ID for another process's thread: %s\n",
           timer_create(CLOCK_MONOTONIC, &ev, &unused) == -1 ? "refused" : "created");
    return 0;
}
