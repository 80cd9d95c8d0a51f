/* A hostile program: sends its route's name to a TCP listener on 127.0.0.1:PORT by the
   route argv[2] names, and prints "ROUTE: sent" or "ROUTE: blocked (errno)".
     libc       socket(), connect(), write()
     syscall    the same as raw syscall instructions
     high-bits  the same with garbage in rax's upper half (the kernel reads 32 bits)
     int80      i386 socket, connect, write through `int 0x80`
     socketcall i386 socketcall(SOCKET), socketcall(CONNECT)
     thread, fork, vfork, clone3   libc's route from a thread or another process
     exec       libc's route after an execve of itself (as "exec-child")
   Build with -static -no-pie: the 32-bit routes' buffers must sit below 4 GiB. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in addr;
static char route[64];
static unsigned int socket_args[3] = {AF_INET, SOCK_STREAM, 0};
static unsigned int connect_args[3];

static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

static int report(long fd, long connected, long written) {
    long bad = fd < 0 ? fd : connected < 0 ? connected : written;
    if (bad < 0)
        printf("%s: blocked (%s)\n", route, strerror((int)-bad));
    else
        printf("%s: sent\n", route);
    fflush(stdout);
    return 0;
}

static long neg(long r) { /* a libc result as -errno */
    return r < 0 ? -errno : r;
}

static int by_libc(void) {
    long fd = neg(socket(AF_INET, SOCK_STREAM, 0)), c = -1, w = -1;
    if (fd >= 0 && (c = neg(connect((int)fd, (struct sockaddr *)&addr, sizeof addr))) >= 0)
        w = neg(write((int)fd, route, strlen(route)));
    return report(fd, c, w);
}

static int by_syscall(long high) {
    long fd = neg(syscall(high | SYS_socket, AF_INET, SOCK_STREAM, 0)), c = -1, w = -1;
    if (fd >= 0 && (c = neg(syscall(high | SYS_connect, fd, &addr, sizeof addr))) >= 0)
        w = neg(syscall(high | SYS_write, fd, route, strlen(route)));
    return report(fd, c, w);
}

static int by_int80(void) {
    long fd = int80(359, AF_INET, SOCK_STREAM, 0), c = -1, w = -1; /* socket */
    if (fd >= 0 && (c = int80(362, fd, (long)&addr, sizeof addr)) >= 0) /* connect */
        w = int80(4, fd, (long)route, (long)strlen(route));                /* write */
    return report(fd, c, w);
}

static int by_socketcall(void) {
    long fd = int80(102, 1, (long)socket_args, 0), c = -1, w = -1;
    if (fd >= 0) {
        connect_args[0] = (unsigned int)fd;
        connect_args[1] = (unsigned int)(unsigned long)&addr;
        connect_args[2] = sizeof addr;
        if ((c = int80(102, 3, (long)connect_args, 0)) >= 0)
            w = int80(4, fd, (long)route, (long)strlen(route));
    }
    return report(fd, c, w);
}

static void *in_thread(void *arg) {
    by_libc();
    return arg;
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    snprintf(route, sizeof route, "%s", argv[2]);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!strcmp(route, "libc") || !strcmp(route, "exec-child"))
        return by_libc();
    if (!strcmp(route, "syscall"))
        return by_syscall(0);
    if (!strcmp(route, "high-bits"))
        return by_syscall(1L << 32);
    if (!strcmp(route, "int80"))
        return by_int80();
    if (!strcmp(route, "socketcall"))
        return by_socketcall();
    if (!strcmp(route, "thread")) {
        pthread_t t;
        pthread_create(&t, NULL, in_thread, NULL);
        return pthread_join(t, NULL);
    }
    if (!strcmp(route, "fork") || !strcmp(route, "vfork") || !strcmp(route, "clone3")) {
        struct clone_args args = {.exit_signal = SIGCHLD};
        pid_t pid = !strcmp(route, "fork") ? fork() : !strcmp(route, "vfork") ? vfork()
                    : (pid_t)syscall(SYS_clone3, &args, sizeof args);
        if (pid == 0)
            _exit(by_libc());
        return waitpid(pid, NULL, 0) < 0;
    }
    if (!strcmp(route, "exec")) {
        char *again[] = {argv[0], argv[1], "exec-child", NULL};
        execv(argv[0], again);
        return 1;
    }
    return 2;
}
