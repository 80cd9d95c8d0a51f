/* Process calls made through `int 0x80` from a 64-bit program (build with -no-pie, so
 * the strings below have 32-bit addresses): fork, execve and exit must stay under the
 * tool, as their x86_64 twins do. The exec'd copy (argv[1] == "child") and the forked
 * child report getppid(), which the test's rule answers with 4242.
 * "state": i386 brk, rt_sigprocmask (block all), mmap2 (below 4 GiB, where 32-bit
 * pointers reach, and writable) and munmap of it; their results, then whether the
 * program still runs. */
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

/* i386 mmap2(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0): its
 * sixth argument is %ebp, set around the call (below the red zone). */
static long int80_mmap2(long len) {
    long r;
    register long flags __asm__("rsi") = 0x22;
    register long fd __asm__("rdi") = -1;
    __asm__ volatile("sub $128, %%rsp; push %%rbp; xor %%ebp, %%ebp; int $0x80;"
                     " pop %%rbp; add $128, %%rsp"
                     : "=a"(r) : "a"(192L), "b"(0L), "c"(len), "d"(3L), "r"(flags), "r"(fd)
                     : "memory");
    return r;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "state") == 0) {
        long brk = int80(45, 0, 0, 0), mapped = int80_mmap2(8192);
        printf("brk %s\n", brk > 0 ? "ran" : "failed");
        printf("rt_sigprocmask %ld\n", int80_4(175, 0, (long)all_signals, 0, 8));
        printf("mmap2 below 4 GiB %d\n", mapped > 0 && mapped < 1L << 32);
        if (mapped > 0)
            memset((void *)mapped, 1, 8192);
        printf("munmap of it %ld\n", int80(91, mapped, 8192, 0));
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
