/* One thread computes without a system call while the main thread sleeps a millisecond
 * twenty times, then tells it to stop: the main thread must get its turns (under the
 * emulate engine the threads share one emulated CPU). */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static volatile int stop;

static void *spin(void *arg) {
    unsigned long x = 0;
    while (!stop)
        x++;
    return arg;
}

int main(void) {
    pthread_t t;
    struct timespec ms = {0, 1000000};
    pthread_create(&t, NULL, spin, NULL);
    for (int i = 0; i < 20; i++)
        nanosleep(&ms, NULL);
    stop = 1;
    pthread_join(t, NULL);
    printf("the sleeper had its turns\n");
    return 0;
}
