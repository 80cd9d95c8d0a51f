/* argv[1] threads each make argv[2] getppid() calls; then argv[3] children each make one. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long calls;

static void *worker(void *arg) {
    for (long i = 0; i < calls; i++) syscall(SYS_getppid);
    return arg;
}

int main(int argc, char **argv) {
    int threads = atoi(argv[1]);
    calls = atol(argv[2]);
    int children = atoi(argv[3]);
    pthread_t *t = calloc(threads, sizeof *t);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < children; i++) {
        pid_t p = fork();
        if (p == 0) { syscall(SYS_getppid); _exit(0); }
        waitpid(p, NULL, 0);
    }
    printf("done\n");
    return 0;
}
