/* Pointers into a file mapping beyond the file's end, where a read is a SIGBUS: the
 * kernel answers each call with EFAULT, and so must the tool, whose own reads of the
 * program's memory (paths, iovec arrays, message headers) must not end it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static void report(const char *what, long r) {
    printf("%-8s %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "-");
}

int main(void) {
    char name[] = "/tmp/truncated_mappingXXXXXX";
    int fd = mkstemp(name), pair[2];
    struct stat st;
    unlink(name);
    char *empty = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd < 0 || empty == MAP_FAILED || socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0)
        return 1;
    errno = 0;
    report("open", open(empty, O_RDONLY));
    report("stat", stat(empty, &st));
    report("write", write(pair[0], empty, 4));
    report("writev", writev(pair[0], (struct iovec *)empty, 2));
    report("sendmsg", sendmsg(pair[0], (struct msghdr *)empty, 0));
    report("recvmsg", recvmsg(pair[1], (struct msghdr *)empty, MSG_DONTWAIT));
    return 0;
}
