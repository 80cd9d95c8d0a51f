/* Asks the kernel for an io_uring, the way round every socket/connect rule. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    char params[120];
    memset(params, 0, sizeof params);
    long fd = syscall(SYS_io_uring_setup, 4, params);
    printf("io_uring_setup: %ld errno=%d\n", fd, fd < 0 ? errno : 0);
    return 0;
}
