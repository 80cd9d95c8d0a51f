/* Process calls made through `int 0x80` from a 64-bit program (build with -no-pie, so
 * the strings below have 32-bit addresses): fork, execve and exit must stay under the
 * tool, as their x86_64 twins do. The exec'd copy (argv[1] == "child") and the forked
 * child report getppid(), which the test's rule answers with 4242.
 * "state": i386 brk, rt_sigprocmask (block all) and munmap of the first page of this
 * program's own code; their results, then whether the program still runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[256], arg0[] = "int80_process", arg1[] = "child";
static unsigned int argv32[3];

static unsigned long all_signals[1] = {~0UL};

static long int80(long nr, long a, long b, long c) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

static long int80_4(long nr, long a, long b, long c, long d) {
    long r;
    register long esi __asm__("rsi") = d;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(esi)
                     : "memory");
    return r;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "state") == 0) {
        printf("brk %s\n", int80(45, 0, 0, 0) == -38 ? "ENOSYS" : "ran");
        printf("rt_sigprocmask %ld\n", int80_4(175, 0, (long)all_signals, 0, 8));
        printf("munmap %ld\n", int80(91, 0x400000, 4096, 0));
        puts("still running");
        return 0;
    }
    if (argc > 1) {
        printf("exec'd copy sees ppid %d\n", getppid());
        return 0;
    }
    fflush(stdout);
    long pid = int80(2, 0, 0, 0);  /* i386 fork */
    if (pid == 0) {
        printf("forked child sees ppid %d\n", getppid());
        fflush(stdout);
        int80(1, 0, 0, 0);  /* i386 exit */
        return 99;
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child exit %d\n", WEXITSTATUS(status));
    fflush(stdout);
    if (fork() == 0) {
        strncpy(path, argv[0], sizeof path - 1);
        argv32[0] = (unsigned int)(unsigned long)arg0;
        argv32[1] = (unsigned int)(unsigned long)arg1;
        long r = int80(11, (long)path, (long)argv32, 0);  /* i386 execve */
        printf("execve failed: %ld\n", r);
        exit(1);
    }
    wait(&status);
    fflush(stdout);
    int80(1, 7, 0, 0);  /* i386 exit(7) */
    return 0;
}
