/* N threads each call getpid() many times; prints how many calls saw each value. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define THREADS 4
#define CALLS 2000

static long faked[THREADS], real[THREADS];

static void *worker(void *arg) {
    long i = (long)arg;
    for (int n = 0; n < CALLS; n++) {
        if (syscall(SYS_getpid) == 99999) faked[i]++; else real[i]++;
    }
    return NULL;
}

int main(void) {
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    long f = 0, r = 0;
    for (int i = 0; i < THREADS; i++) { pthread_join(t[i], NULL); f += faked[i]; r += real[i]; }
    printf("faked=%ld real=%ld\n", f, r);
    return 0;
}
