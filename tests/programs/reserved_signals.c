/* Signals 32 and 33, which glibc keeps for itself in its own threads (the tool's, when
 * it is written in C or Python), are the program's as any other: a child that sends
 * itself one dies by it, as by any signal whose default action ends a process. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int signals[] = {32, 33, 34}, status;
    for (int i = 0; i < 3; i++) {
        pid_t child = fork();
        if (child == 0) {
            kill(getpid(), signals[i]);
            pause();
            return 0;
        }
        waitpid(child, &status, 0);
        if (WIFSIGNALED(status))
            printf("signal %d: the child was killed by %d\n", signals[i], WTERMSIG(status));
        else
            printf("signal %d: the child exited %d\n", signals[i], WEXITSTATUS(status));
    }
    return 0;
}
