/* pidfd_send_signal to the program's own process, through a pidfd and through a
 * /proc/PID directory: the handler has run by the time the call returns. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

int main(void) {
    char path[64];
    int fds[2];
    signal(SIGUSR1, on_usr1);
    fds[0] = (int)syscall(SYS_pidfd_open, getpid(), 0);
    snprintf(path, sizeof path, "/proc/%d", (int)getpid());
    fds[1] = open(path, O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 2; i++) {
        int before = handled;
        long r = syscall(SYS_pidfd_send_signal, fds[i], SIGUSR1, NULL, 0);
        printf("%s: %ld, handled before it returned: %d\n", i ? "/proc/PID" : "pidfd", r,
               handled == before + 1);
    }
    return 0;
}
