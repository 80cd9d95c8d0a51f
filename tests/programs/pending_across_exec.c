/* A blocked signal pending at execve is still pending in the new program. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    sigset_t set;
    if (argc > 1) {
        sigpending(&set);
        printf("after execve, SIGUSR1 pending: %d\n", sigismember(&set, SIGUSR1));
        return 0;
    }
    sigemptyset(&set); sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    kill(getpid(), SIGUSR1);
    execl(argv[0], argv[0], "after", (char *)NULL);
    return 1;
}
