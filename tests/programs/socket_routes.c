/* Tries to open a socket by several routes; prints each route's result.
   Build with -no-pie so static data sits below 4 GiB for the 32-bit calls. */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned int socketcall_args[3] = {AF_INET, SOCK_STREAM, 0};

static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

int main(void) {
    printf("libc socket: %d\n", socket(AF_INET, SOCK_STREAM, 0));
    printf("syscall socket: %ld\n", syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
    printf("int80 socket: %ld\n", int80(359, AF_INET, SOCK_STREAM, 0));
    printf("int80 socketcall: %ld\n", int80(102, 1, (long)socketcall_args, 0));
    long x32 = syscall(SYS_socket | 0x40000000, AF_INET, SOCK_STREAM, 0);
    printf("x32 socket: %ld errno=%d\n", x32, x32 < 0 ? errno : 0);
    return 0;
}
