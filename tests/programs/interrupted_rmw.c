/* Read-modify-write instructions interrupted over and over: by a 1 ms SIGALRM
 * ("signals"), or by time slices while two threads share a spinlock that never sleeps
 * ("threads"). Each instruction must run exactly once however often the CPU is stopped
 * from outside: one run twice shows as a lock found held by nobody (a deadlock in
 * real programs) or a count off by one. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static int lock;
static long plain_count, atomic_count, iterations;
static volatile long ticks;
static volatile int held_by_nobody;

static void on_alarm(int sig) { (void)sig; ticks++; }

static void *work(void *spin) {
    for (long i = 0; i < iterations; i++) {
        int expected = 0;
        while (!__atomic_compare_exchange_n(&lock, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED)) {
            if (!spin) { held_by_nobody = 1; return NULL; }
            expected = 0;
        }
        __atomic_fetch_add(&atomic_count, 1, __ATOMIC_RELAXED);
        __asm__ volatile("addq $1, %0" : "+m"(plain_count));
        __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
    }
    return NULL;
}

int main(int argc, char **argv) {
    iterations = argc > 2 ? atol(argv[2]) : 1000000;
    if (argc > 1 && strcmp(argv[1], "threads") == 0) {
        pthread_t other;
        pthread_create(&other, NULL, work, (void *)1);
        work((void *)1);
        pthread_join(other, NULL);
        printf("%ld %ld\n", atomic_count, plain_count);
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every_ms = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &every_ms, NULL);
    work(NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("%ld %ld %s, interrupted: %s\n", atomic_count, plain_count,
           held_by_nobody ? "lock held by nobody" : "lock sound", ticks > 0 ? "yes" : "no");
    return 0;
}
