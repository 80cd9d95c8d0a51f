/* Arguments at the edges the kernel defines: the action of a signal that has no handler
   to set, and lengths of nothing and of more than the address space. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
int main(void) {
    struct sigaction old;
    int r = sigaction(SIGKILL, NULL, &old);
    printf("sigaction(SIGKILL, NULL, &old): %d %s\n", r, r ? strerror(errno) : "");
    r = sigaction(SIGKILL, &old, NULL);
    printf("sigaction(SIGKILL, &act, NULL): %d %s\n", r, r ? strerror(errno) : "");
    void *p = mmap(NULL, (size_t)-4, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap(NULL, -4): %s\n", p == MAP_FAILED ? strerror(errno) : "mapped");
    p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap(NULL, 0): %s\n", p == MAP_FAILED ? strerror(errno) : "mapped");
    return 0;
}
