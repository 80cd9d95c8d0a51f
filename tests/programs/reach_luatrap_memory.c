/* A hostile program under the emulate engine: it looks for memory that is not its own
   (luatrap's C core, Unicorn, Python) in /proc/self/numa_maps (its maps file shows the
   program's own ranges only) and has the kernel write there through forwarded calls:
   at the last mapping of such a library, its writable data. Natively there is none
   ("nothing to aim at"). Each route prints its result; "survived" at the end shows
   luatrap was not hurt. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static unsigned long find_target(void) {
    char line[1024];
    unsigned long start, found = 0;
    FILE *maps = fopen("/proc/self/numa_maps", "r");
    if (maps == NULL)
        return 0;
    while (fgets(line, sizeof line, maps))
        if (sscanf(line, "%lx", &start) == 1 && strstr(line, "file=") &&
            (strstr(line, "_core") || strstr(line, "unicorn") || strstr(line, "python")))
            found = start; /* the last one wins: a library's data comes last */
    fclose(maps);
    return found;
}

static void report(const char *route, long r) {
    printf("%s: %s\n", route, r >= 0 ? "wrote" : strerror(errno));
    fflush(stdout);
}

int main(void) {
    unsigned long target = find_target();
    int p[2];
    if (target == 0) {
        printf("nothing to aim at\n");
        return 0;
    }
    if (pipe(p) != 0)
        return 1;
    struct iovec v = {(void *)target, 64};
    char junk[64];
    memset(junk, 0xCC, sizeof junk);
    write(p[1], junk, sizeof junk);
    report("read", syscall(SYS_read, p[0], target, 64));
    report("readv", syscall(SYS_readv, p[0], &v, 1));
    report("recvfrom", syscall(SYS_recvfrom, p[0], target, 64, MSG_DONTWAIT, 0, 0));
    struct iovec local = {junk, 64};
    report("process_vm_writev", syscall(SYS_process_vm_writev, getpid(), &local, 1, &v, 1, 0));
    report("clock_gettime", syscall(SYS_clock_gettime, 0, target));
    int mem = open("/proc/self/mem", O_RDWR);
    report("open /proc/self/mem", mem);
    if (mem >= 0)
        report("pwrite /proc/self/mem", pwrite(mem, junk, 64, (off_t)target));
    printf("survived\n");
    return 0;
}
