/* A program's own seccomp filters, each verdict compared with the kernel's: errno
 * (capped at 4095), a trap (SIGSYS and its siginfo), no tracer, no supervisor, log,
 * precedence between two filters, per-thread filters and TSYNC, inheritance by fork,
 * threads and exec, strict mode, kills, and the filters the kernel refuses.
 * argv[1] = "after-exec": only report what an exec'd copy still has. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#define OWN_ARCH AUDIT_ARCH_X86_64
#else
#define OWN_ARCH AUDIT_ARCH_AARCH64
#endif
#define NR offsetof(struct seccomp_data, nr)
#define ARCH offsetof(struct seccomp_data, arch)
#define ARG0 offsetof(struct seccomp_data, args[0])
#define ON(nr, verdict) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
                        BPF_STMT(BPF_RET | BPF_K, (verdict))

static int install(struct sock_filter *f, unsigned short n, unsigned flags) {
    struct sock_fprog prog = {n, f};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static void report(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerror(errno));
    else
        printf("%s: %ld\n", what, r);
    fflush(stdout);
}

static volatile sig_atomic_t trapped;
static siginfo_t trap_info;

static void on_sigsys(int sig, siginfo_t *info, void *uc) {
    (void)sig, (void)uc;
    trap_info = *info;
    trapped = 1;
}

static int first_filter(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, OWN_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
        ON(SYS_getppid, SECCOMP_RET_ERRNO | EPERM),
        ON(SYS_getpriority, SECCOMP_RET_ERRNO | 5000),
        ON(SYS_gettid, SECCOMP_RET_TRAP | 42),
        ON(SYS_getuid, SECCOMP_RET_TRACE),
        ON(SYS_geteuid, SECCOMP_RET_USER_NOTIF),
        ON(SYS_getgid, SECCOMP_RET_LOG),
        ON(SYS_getsid, SECCOMP_RET_ERRNO | 1),
        /* a check on an argument: close(-5) is refused with EACCES, other closes run */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)-5, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    return install(f, sizeof f / sizeof f[0], 0);
}

static int second_filter(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
        ON(SYS_getppid, SECCOMP_RET_ALLOW),          /* the first filter's errno wins */
        ON(SYS_getegid, SECCOMP_RET_ERRNO | EACCES), /* the first one allows it */
        ON(SYS_getsid, SECCOMP_RET_ERRNO | 2),       /* a tie: the newest filter wins */
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    return install(f, sizeof f / sizeof f[0], 0);
}

static int pipe_in[2], pipe_out[2];

static void *late_thread(void *unused) {
    char c;
    (void)unused;
    for (int round = 0; round < 2; round++) {
        if (read(pipe_in[0], &c, 1) != 1)
            return NULL;
        long r = syscall(SYS_getpgid, 0);
        printf("thread started before the filter, getpgid: %s\n", r < 0 ? strerror(errno) : "runs");
        fflush(stdout);
        if (write(pipe_out[1], "x", 1) != 1)
            return NULL;
    }
    return NULL;
}

static void *filtered_thread(void *unused) {
    (void)unused;
    report("new thread's getppid", syscall(SYS_getppid));
    return NULL;
}

static void *killed_thread(void *unused) {
    (void)unused;
    syscall(SYS_getpid);
    printf("not reached\n");
    return NULL;
}

static void refused_filters(void) {
    struct sock_filter bad_opcode[] = {{0xff, 0, 0, 0}, BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_filter far_jump[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 5, 0),
                                     BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_filter no_return[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR)};
    struct sock_filter odd_offset[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2),
                                       BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_filter past_data[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64),
                                      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_filter unset_scratch[] = {BPF_STMT(BPF_LD | BPF_MEM, 3),
                                          BPF_STMT(BPF_RET | BPF_A, 0)};
    struct sock_filter divide_by_zero[] = {BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0),
                                           BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    report("filter with an unknown instruction", install(bad_opcode, 2, 0));
    report("filter jumping past its end", install(far_jump, 2, 0));
    report("filter without a return", install(no_return, 1, 0));
    report("filter reading at offset 2", install(odd_offset, 2, 0));
    report("filter reading past seccomp_data", install(past_data, 2, 0));
    report("filter reading an unset scratch word", install(unset_scratch, 2, 0));
    report("filter dividing by zero", install(divide_by_zero, 2, 0));
    report("empty filter", install(allow, 0, 0));
    report("filter at a bad address",
           syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (void *)8));
    report("unknown flag", install(allow, 1, 1U << 30));
    unsigned action = SECCOMP_RET_KILL_PROCESS;
    report("action kill-process available",
           syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
    action = 0x7ffe0000;
    report("action 0x7ffe0000 available",
           syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
}

static void child_killed(const char *what, void (*body)(void)) {
    pid_t p = fork();
    if (p == 0) {
        body();
        _exit(0);
    }
    int status;
    waitpid(p, &status, 0);
    if (WIFSIGNALED(status))
        printf("%s: killed by %s\n", what, strsignal(WTERMSIG(status)));
    else
        printf("%s: exit %d\n", what, WEXITSTATUS(status));
    fflush(stdout);
}

#if defined(__x86_64__)
static void i386_call(void) {  /* getpid through int 0x80: AUDIT_ARCH_I386's call 20 */
    long r = 20;
    __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
}
#endif

static void strict_mode(void) {
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
        _exit(3);
    const char line[] = "strict mode: write runs\n";
    if (write(1, line, sizeof line - 1) < 0)
        _exit(4);
    syscall(SYS_getpid);
    _exit(5);
}

static void kill_process(void) {
    struct sock_filter f[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
                              ON(SYS_getpid, SECCOMP_RET_KILL_PROCESS),
                              BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    if (install(f, sizeof f / sizeof f[0], 0) != 0)
        _exit(3);
    syscall(SYS_getpid);
}

static void kill_one_thread(void) {
    struct sock_filter f[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
                              ON(SYS_getpid, SECCOMP_RET_KILL_THREAD),
                              BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    pthread_t th;
    if (install(f, sizeof f / sizeof f[0], 0) != 0)
        _exit(3);
    pthread_create(&th, NULL, killed_thread, NULL);
    sleep(1);
    printf("kill-thread: the other threads run on\n");
    fflush(stdout);
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc > 1) {  /* an exec'd copy: its filters are the ones it was exec'd with */
        report("after exec, getppid", syscall(SYS_getppid));
        report("after exec, prctl(PR_GET_SECCOMP)", prctl(PR_GET_SECCOMP));
        return 0;
    }
    pthread_t late, th;
    if (pipe(pipe_in) != 0 || pipe(pipe_out) != 0)
        return 1;
    pthread_create(&late, NULL, late_thread, NULL);
    report("prctl(PR_GET_SECCOMP)", prctl(PR_GET_SECCOMP));
    report("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    refused_filters();
    child_killed("strict mode", strict_mode);
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigaction(SIGSYS, &sa, NULL);
    report("first filter", first_filter());
    report("prctl(PR_GET_SECCOMP)", prctl(PR_GET_SECCOMP));
    report("getppid", syscall(SYS_getppid));
    report("getpriority", syscall(SYS_getpriority, 0, 0));
    long r = syscall(SYS_gettid, 7);
    printf("gettid: trapped %d, si_code %d, si_errno %d, si_syscall is gettid %d, "
           "si_arch ours %d, call address set %d, returned the %s\n",
           trapped, trap_info.si_code, trap_info.si_errno, trap_info.si_syscall == SYS_gettid,
           trap_info.si_arch == OWN_ARCH, trap_info.si_call_addr != NULL,
#if defined(__x86_64__)
           r == SYS_gettid ? "call number" : "wrong value"
#else
           r == 7 ? "first argument" : "wrong value"
#endif
           );
    report("getuid", syscall(SYS_getuid));
    report("geteuid", syscall(SYS_geteuid));
    report("getgid runs", syscall(SYS_getgid) >= 0);
    report("close(-5)", syscall(SYS_close, -5));
    report("close(-6)", syscall(SYS_close, -6));
    report("second filter", second_filter());
    report("getppid", syscall(SYS_getppid));
    report("getegid", syscall(SYS_getegid));
    report("getsid", syscall(SYS_getsid, 0));

    struct sock_filter no_getpgid[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
                                       ON(SYS_getpgid, SECCOMP_RET_ERRNO | ENOTTY),
                                       BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    char c;
    if (write(pipe_in[1], "x", 1) != 1 || read(pipe_out[0], &c, 1) != 1)
        return 1;
    report("the same filter on every thread (TSYNC)", install(no_getpgid, sizeof no_getpgid / sizeof no_getpgid[0],
                                                                  SECCOMP_FILTER_FLAG_TSYNC));
    if (write(pipe_in[1], "x", 1) != 1 || read(pipe_out[0], &c, 1) != 1)
        return 1;
    pthread_join(late, NULL);
    pthread_create(&th, NULL, filtered_thread, NULL);
    pthread_join(th, NULL);

    pid_t p = fork();
    if (p == 0) {
        report("forked child's getppid", syscall(SYS_getppid));
        execl(argv[0], argv[0], "after-exec", (char *)NULL);
        _exit(127);
    }
    waitpid(p, NULL, 0);
    report("strict mode over filters", prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT));
    child_killed("kill-process", kill_process);
#if defined(__x86_64__)
    child_killed("an i386 call, which the first filter kills", i386_call);
#endif
    child_killed("kill-thread", kill_one_thread);
    return 0;
}
