/* Bad pointers handed to the system calls an emulator must emulate itself (signals,
 * TLS, clone3, execve): each must fail with EFAULT as natively, not crash the tool.
 * "altstack": a handler whose alternate stack is unmapped: the kernel kills the
 * process with SIGSEGV when it cannot write the signal frame. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BAD 8L
#define TRY(name, ...) do { errno = 0; long r = syscall(__VA_ARGS__); \
    printf("%-18s %ld %s\n", name, r, r < 0 ? strerrorname_np(errno) : "-"); } while (0)

static void on_usr1(int sig) { (void)sig; }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "altstack") == 0) {
        stack_t ss = {.ss_sp = (void *)0x10000, .ss_size = 65536, .ss_flags = 0};
        sigaltstack(&ss, NULL);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_ONSTACK;
        sigaction(SIGUSR1, &sa, NULL);
        fflush(stdout);
        raise(SIGUSR1);
        puts("survived");
        return 0;
    }
    TRY("rt_sigaction new", SYS_rt_sigaction, SIGUSR1, BAD, 0, 8);
    TRY("rt_sigaction old", SYS_rt_sigaction, SIGUSR1, 0, BAD, 8);
    TRY("rt_sigprocmask new", SYS_rt_sigprocmask, SIG_BLOCK, BAD, 0, 8);
    TRY("rt_sigprocmask old", SYS_rt_sigprocmask, SIG_BLOCK, 0, BAD, 8);
    TRY("rt_sigpending", SYS_rt_sigpending, BAD, 8);
    TRY("rt_sigsuspend", SYS_rt_sigsuspend, BAD, 8);
    TRY("rt_sigtimedwait", SYS_rt_sigtimedwait, BAD, 0, 0, 8);
    TRY("sigaltstack new", SYS_sigaltstack, BAD, 0);
    TRY("sigaltstack old", SYS_sigaltstack, 0, BAD);
    TRY("arch_prctl get_fs", SYS_arch_prctl, 0x1003, BAD);
    TRY("ppoll mask", SYS_ppoll, 0, 0, 0, BAD, 8);
    TRY("pselect6 mask", SYS_pselect6, 0, 0, 0, 0, 0, BAD);
    TRY("clone3", SYS_clone3, BAD, 88);
    TRY("execve path", SYS_execve, BAD, 0, 0);
    TRY("execve argv", SYS_execve, "/bin/true", BAD, 0);
    long fs;
    TRY("arch_prctl good", SYS_arch_prctl, 0x1003, &fs);
    return 0;
}
