/* System call numbers with garbage in rax's upper half, which the kernel ignores (it
 * reads the number as 32 bits): a rule must meet them, and an execve so made must not
 * leave luatrap. `high_bits exec` execs itself that way once. */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    printf("getpid: %ld\n", syscall((1L << 32) | SYS_getpid));
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        char *again[] = {argv[0], NULL};
        syscall((7L << 40) | SYS_execve, argv[0], again, environ);
        perror("execve");
    }
    return 0;
}
