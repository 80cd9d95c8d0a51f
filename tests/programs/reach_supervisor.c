/* A hostile program reaches for its parent (under luatrap's native engine: luatrap
 * itself) the ways that would let it copy luatrap's seccomp listener or its memory:
 * ptrace, pidfd_open (the way to pidfd_getfd), process_vm_readv/writev, /proc/PID/mem.
 * Prints what each got. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* A call reached its target unless it was refused (EPERM/EACCES); EFAULT means it got
 * as far as the target's memory. */
static void show(const char *what, long r) {
    int refused = r < 0 && (errno == EPERM || errno == EACCES);
    printf("%s: %s\n", what, refused ? "refused" : r < 0 && errno != EFAULT ? "failed"
                                                                          : "reached");
}

int main(void) {
    pid_t parent = getppid();
    char buf[16], path[64];
    struct iovec local = {buf, sizeof buf}, remote = {(void *)0x400000, sizeof buf};
    show("pidfd_open", syscall(SYS_pidfd_open, parent, 0));
    show("process_vm_readv", process_vm_readv(parent, &local, 1, &remote, 1, 0));
    snprintf(path, sizeof path, "/proc/%d/mem", parent);
    show("open /proc/PARENT/mem", open(path, O_RDONLY));
    show("ptrace seize", ptrace(PTRACE_SEIZE, parent, 0, 0));
    return 0;
}
