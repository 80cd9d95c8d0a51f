/* N threads each add 1 to shared counters M times with lock-prefixed instructions.
 * Under an emulator that runs threads truly in parallel without making `lock`
 * atomic, increments get lost and the totals come out short. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long counter;        /* lock xadd, through the compiler builtin */
static long asm_counter;    /* lock incq, written out */
static long iterations;

static void *work(void *arg) {
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
        __asm__ volatile("lock incq %0" : "+m"(asm_counter));
    }
    return NULL;
}

int main(int argc, char **argv) {
    int threads = atoi(argv[1]);
    iterations = atol(argv[2]);
    pthread_t tid[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, work, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    printf("%ld %ld\n", counter, asm_counter);
    return 0;
}
