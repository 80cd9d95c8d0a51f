/* Robust mutexes: a lock whose owner died returns EOWNERDEAD, whether the owner was a
 * thread (seen at once after join, and by a thread already waiting) or another process
 * sharing the mutex; get_robust_list finds the registration glibc made. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t m;
static volatile int holding;

static void *die_holding(void *slow) {
    pthread_mutex_lock(&m);
    holding = 1;
    if (slow)
        usleep(200 * 1000);  /* the main thread is waiting for it by then */
    return NULL;
}

static const char *name(int r) {
    return r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "0" : strerror(r);
}

static void robust_init(pthread_mutex_t *mutex, int shared) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (shared)
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(mutex, &a);
}

int main(void) {
    pthread_t t;
    robust_init(&m, 0);
    pthread_create(&t, NULL, die_holding, NULL);
    pthread_join(t, NULL);
    int r = pthread_mutex_trylock(&m);
    printf("trylock just after the owner thread was joined: %s\n", name(r));
    pthread_mutex_consistent(&m);
    pthread_mutex_unlock(&m);

    holding = 0;
    pthread_create(&t, NULL, die_holding, (void *)1);
    while (!holding)
        usleep(1000);
    r = pthread_mutex_lock(&m);  /* waits until the owner thread dies */
    printf("lock waiting while its owner thread died: %s\n", name(r));
    pthread_mutex_consistent(&m);
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);

    pthread_mutex_t *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        return 1;
    robust_init(shared, 1);
    pid_t p = fork();
    if (p == 0) {
        pthread_mutex_lock(shared);
        _exit(0);
    }
    waitpid(p, NULL, 0);
    r = pthread_mutex_lock(shared);
    printf("lock whose owner process exited: %s\n", name(r));

    void *head = NULL;
    size_t len = 0;
    r = (int)syscall(SYS_get_robust_list, 0, &head, &len);
    printf("get_robust_list: %d, head %s, size %zu\n", r, head ? "set" : "none", len);
    return 0;
}
