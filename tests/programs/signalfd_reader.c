/* signalfd(2) with blocked SIGUSR1 and SIGCHLD: a signal sent to itself, a child's exit
 * status, poll() readiness, a nonblocking read with nothing left, a new mask on the same
 * fd, and (argument "exec") the fd kept across execve. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void read_one(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) { puts("poll: nothing"); exit(1); }
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof si) != sizeof si) { puts("short read"); exit(1); }
    if (si.ssi_signo == SIGCHLD)
        printf("SIGCHLD, status %d, from the child: %d\n", si.ssi_status,
               si.ssi_pid != (unsigned)getpid());
    else
        printf("signal %u, from this process: %d\n", si.ssi_signo,
               si.ssi_pid == (unsigned)getpid());
}

int main(int argc, char **argv) {
    sigset_t mask;
    if (argc > 2) {  /* after execve: the inherited fd */
        int fd = atoi(argv[2]);
        kill(getpid(), SIGUSR2);
        read_one(fd);
        return 0;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGUSR2);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sigdelset(&mask, SIGUSR2);
    int fd = signalfd(-1, &mask, SFD_NONBLOCK);
    kill(getpid(), SIGUSR1);
    read_one(fd);
    pid_t child = fork();
    if (child == 0) _exit(5);
    read_one(fd);
    waitpid(child, NULL, 0);
    struct signalfd_siginfo si;
    printf("empty: %s\n", read(fd, &si, sizeof si) < 0 && errno == EAGAIN ? "EAGAIN" : "?");
    sigaddset(&mask, SIGUSR2);
    printf("same fd, new mask: %d\n", signalfd(fd, &mask, 0) == fd);
    if (argc > 1) {
        char num[16];
        snprintf(num, sizeof num, "%d", fd);
        fflush(stdout);
        execl(argv[0], argv[0], "again", num, (char *)NULL);
    }
    return 0;
}
