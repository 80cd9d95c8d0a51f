/* argv[1] threads each add 1 to two counters argv[2] times: one with the compiler's
 * atomic add (LDXR/STXR loops or LSE's LDADD, by -march), one under a mutex. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long atomic_total, locked_total, rounds;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg) {
    for (long i = 0; i < rounds; i++) {
        __atomic_fetch_add(&atomic_total, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_lock(&lock);
        locked_total++;
        pthread_mutex_unlock(&lock);
    }
    return arg;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 4;
    pthread_t threads[64];
    rounds = argc > 2 ? atol(argv[2]) : 100000;
    if (n < 1 || n > 64)
        return 2;
    for (int i = 0; i < n; i++)
        pthread_create(&threads[i], NULL, work, NULL);
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    printf("atomic %ld locked %ld\n", atomic_total, locked_total);
    return 0;
}
