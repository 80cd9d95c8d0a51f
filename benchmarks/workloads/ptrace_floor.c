/* The floor of a native-engine rule that uses c_do_syscall: the getpid loop in a child
   whose getpid stops its tracer twice (a seccomp stop at the entry, a syscall stop at
   the exit, where the tracer sets the result), as luatrap's injection does, served by a
   bare C tracer that polls waitpid (no rules, no Lua, no Python).
   Usage: ptrace_floor N. Prints the microseconds per call, as the child measured it. */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int child(long n) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    struct timespec a, b;
    pid_t self = getpid(); /* before the filter makes getpid a traced call */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        perror("seccomp");
        return 1;
    }
    kill(self, SIGSTOP); /* the tracer seizes us meanwhile */
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        syscall(SYS_getpid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.4f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
    return 0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    struct user_regs_struct regs;
    int status;
    pid_t pid = fork(), tid;
    if (pid == 0)
        return child(n);
    if (pid < 0 || waitpid(pid, &status, WUNTRACED) != pid ||
        ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD) != 0 ||
        kill(pid, SIGCONT) != 0) {
        perror("ptrace");
        return 1;
    }
    for (;;) {
        while ((tid = waitpid(-1, &status, __WALL | WNOHANG)) == 0)
            ; /* as luatrap does between two stops of one call */
        if (tid < 0 || WIFEXITED(status) || WIFSIGNALED(status))
            return 0;
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
            ptrace(PTRACE_SYSCALL, tid, 0, 0); /* run the call, stop at its exit */
        } else if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
            if (ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0) {
                regs.rax = 99999;
                ptrace(PTRACE_SETREGS, tid, 0, &regs);
            }
            ptrace(PTRACE_CONT, tid, 0, 0);
        } else {
            ptrace(PTRACE_CONT, tid, 0, 0); /* SIGCONT's stops */
        }
    }
}
