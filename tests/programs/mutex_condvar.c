/* Producer/consumer through a 4-slot queue guarded by a mutex and two condition
 * variables: threads block in futex waits and wake each other all the time. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS 4
static long queue[SLOTS];
static int head, count, done;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static long total, taken;

static void *consumer(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (count == 0 && !done)
            pthread_cond_wait(&not_empty, &lock);
        if (count == 0 && done) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        long item = queue[head];
        head = (head + 1) % SLOTS;
        count--;
        total += item;
        taken++;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
    }
}

int main(int argc, char **argv) {
    long items = atol(argv[1]);
    pthread_t consumers[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&consumers[i], NULL, consumer, NULL);
    for (long i = 1; i <= items; i++) {
        pthread_mutex_lock(&lock);
        while (count == SLOTS)
            pthread_cond_wait(&not_full, &lock);
        queue[(head + count) % SLOTS] = i;
        count++;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    done = 1;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 3; i++)
        pthread_join(consumers[i], NULL);
    printf("%ld items, sum %ld\n", taken, total);
    return 0;
}
