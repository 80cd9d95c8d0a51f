/* Opens a socket from where argv[1] says: "direct", "thread", "fork", "vfork", "exec"
   (argv[0] re-run with "direct"), "clone3" (a raw clone3 child); prints the result. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void try_socket(const char *where) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    printf("%s: %d errno=%d\n", where, fd, fd < 0 ? errno : 0);
    fflush(stdout);
}

static void *in_thread(void *arg) { try_socket("thread"); return arg; }

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "direct";
    if (!strcmp(how, "direct")) try_socket("direct");
    if (!strcmp(how, "thread")) {
        pthread_t t;
        pthread_create(&t, NULL, in_thread, NULL);
        pthread_join(t, NULL);
    }
    if (!strcmp(how, "fork")) {
        if (fork() == 0) { try_socket("fork"); _exit(0); }
        wait(NULL);
    }
    if (!strcmp(how, "vfork")) {
        pid_t p = vfork();
        if (p == 0) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            _exit(fd < 0 ? 10 : 20);
        }
        int st;
        waitpid(p, &st, 0);
        printf("vfork: %s\n", WEXITSTATUS(st) == 10 ? "blocked" : "opened");
    }
    if (!strcmp(how, "exec")) {
        execl(argv[0], argv[0], "direct", (char *)NULL);
        perror("execl");
    }
    if (!strcmp(how, "clone3")) {
        struct clone_args ca;
        memset(&ca, 0, sizeof ca);
        ca.exit_signal = SIGCHLD;
        long p = syscall(SYS_clone3, &ca, sizeof ca);
        if (p == 0) { try_socket("clone3"); _exit(0); }
        waitpid(p, NULL, 0);
    }
    return 0;
}
