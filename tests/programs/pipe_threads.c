/* Thread A reads an empty pipe (blocks); thread B, meanwhile, makes hooked calls and
   then writes the pipe. With both calls run by their hooks through c_do_syscall, this
   finishes only if A's waiting hook does not hold up B's. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fds[2];

static void *reader(void *arg) {
    char buf[64] = {0};
    long n = read(fds[0], buf, sizeof buf - 1);
    printf("reader got %ld: %s\n", n, buf);
    return arg;
}

int main(void) {
    pipe(fds);
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    usleep(300000);  /* let the reader block first */
    long pids = 0;
    for (int i = 0; i < 5; i++) pids += syscall(SYS_getpid) == 99999;
    printf("writer saw %ld faked getpid calls\n", pids);
    fflush(stdout);
    write(fds[1], "through the pipe", 16);
    pthread_join(t, NULL);
    return 0;
}
