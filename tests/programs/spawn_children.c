/* getpid() in a fork child, a vfork child, and programs they exec (argv[1] = self). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "report") == 0) {
        printf("%s: %d\n", argv[2], getpid());
        return 0;
    }
    printf("parent: %d\n", getpid());
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        printf("fork child: %d\n", getpid());
        fflush(stdout);
        execl(argv[0], argv[0], "report", "exec after fork", (char *)NULL);
        _exit(127);
    }
    waitpid(p, NULL, 0);
    p = vfork();
    if (p == 0) {
        execl(argv[0], argv[0], "report", "exec after vfork", (char *)NULL);
        _exit(127);
    }
    waitpid(p, NULL, 0);
    return 0;
}
