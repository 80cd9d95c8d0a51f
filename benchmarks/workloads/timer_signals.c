/* A compute loop taking a timer signal every argv[1] microseconds (a handler counts
   them): what a signal costs the program. Prints its own wall time in seconds. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static volatile long hits;

static void on_alarm(int sig) {
    (void)sig;
    hits++;
}

int main(int argc, char **argv) {
    long usec = argc > 1 ? atol(argv[1]) : 100, n = argc > 2 ? atol(argv[2]) : 300000000;
    struct sigaction sa = {0};
    struct itimerval every = {{0, usec}, {0, usec}}, off = {{0, 0}, {0, 0}};
    struct timespec a, b;
    volatile unsigned long x = 0;
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &every, NULL);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        x += (unsigned long)i * 7;
    clock_gettime(CLOCK_MONOTONIC, &b);
    setitimer(ITIMER_REAL, &off, NULL);
    fprintf(stderr, "%ld signals\n", hits);
    printf("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
