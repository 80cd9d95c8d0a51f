/* Alternates a call whose rule runs it itself (c_do_syscall: a ptrace stop) with one
   whose rule answers it (a seccomp notification), N times; prints how many answers of
   the second were not the rule's (its rule returns 4242). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000, missed = 0;
    for (long i = 0; i < n; i++) {
        syscall(SYS_getppid);
        if (syscall(SYS_getuid) != 4242)
            missed++;
    }
    printf("missed %ld of %ld\n", missed, n);
    return 0;
}
