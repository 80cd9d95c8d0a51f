/* The main thread leaves with pthread_exit; another thread ends the process with 4. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *worker(void *arg) {
    usleep(200000);
    printf("worker ends the process\n");
    fflush(stdout);
    exit(4);
    return arg;
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_exit(NULL);
}
