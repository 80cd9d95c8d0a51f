/* SIGRTMAX is the program's as any other signal: a handler for it, sent to itself,
 * sent by another process (kill, tgkill, sigqueue with a value) while it waits in a
 * read (EINTR, no SA_RESTART), and its default action. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got, code, value, from_child;
static pid_t child;

static void on_rtmax(int sig, siginfo_t *info, void *uc) {
    (void)sig, (void)uc;
    got++;
    code = info->si_code;
    value = info->si_value.sival_int;
    from_child = info->si_pid == child;
}

static void send_from_child(int how) {
    int p[2];
    if (pipe(p) != 0)
        return;
    got = 0;
    pid_t parent = getpid();
    child = fork();
    if (child == 0) {
        usleep(100 * 1000);  /* the parent is in its read by then */
        if (how == 0)
            kill(parent, SIGRTMAX);
        else if (how == 1)
            syscall(SYS_tgkill, parent, parent, SIGRTMAX);
        else
            sigqueue(parent, SIGRTMAX, (union sigval){.sival_int = 42});
        _exit(0);
    }
    char c;
    ssize_t r = read(p[0], &c, 1);
    int err = errno;
    waitpid(child, NULL, 0);
    const char *names[] = {"kill", "tgkill", "sigqueue"};
    printf("%s from another process: read %s, handler ran %d, si_code %d, value %d, "
           "sender %s\n", names[how], r < 0 ? strerror(err) : "returned", got, code,
           how == 2 ? value : 0, from_child ? "the child" : "someone else");
    close(p[0]), close(p[1]);
}

int main(void) {
    struct sigaction sa = {.sa_sigaction = on_rtmax, .sa_flags = SA_SIGINFO};
    printf("sigaction(SIGRTMAX): %d\n", sigaction(SIGRTMAX, &sa, NULL));
    raise(SIGRTMAX);
    printf("raise: handler ran %d, si_code %d\n", got, code);
    for (int how = 0; how < 3; how++)
        send_from_child(how);
    child = fork();
    if (child == 0) {
        signal(SIGRTMAX, SIG_DFL);
        pause();
        _exit(0);
    }
    usleep(100 * 1000);
    kill(child, SIGRTMAX);
    int status;
    waitpid(child, &status, 0);
    printf("default action: %s %d\n", WIFSIGNALED(status) ? "killed by" : "exit",
           WIFSIGNALED(status) ? WTERMSIG(status) - SIGRTMIN : WEXITSTATUS(status));
    return 0;
}
