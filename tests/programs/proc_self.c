/* What a program learns about itself from /proc/self; prints yes/no per fact, so the
   output is the same natively and under luatrap if /proc/self is the program's. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

static size_t slurp(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY);
    size_t got = 0;
    ssize_t n;
    if (fd < 0)
        return 0;
    while (got < size && (n = read(fd, buf + got, size - got)) > 0)
        got += (size_t)n;
    close(fd);
    return got;
}

static void fact(const char *what, int yes) {
    printf("%s: %s\n", what, yes ? "yes" : "no");
}

int main(int argc, char **argv) {
    static char buf[1 << 20], real[PATH_MAX], link[PATH_MAX], pidpath[64];
    size_t n;
    ssize_t l;
    (void)argc;
    if (!realpath(argv[0], real))
        return 1;
    l = readlink("/proc/self/exe", link, sizeof link - 1);
    link[l > 0 ? l : 0] = '\0';
    fact("exe is the program", strcmp(link, real) == 0);
    snprintf(pidpath, sizeof pidpath, "/proc/%d/exe", (int)getpid());
    l = readlink(pidpath, link, sizeof link - 1);
    link[l > 0 ? l : 0] = '\0';
    fact("/proc/PID/exe too", strcmp(link, real) == 0);
    n = slurp("/proc/self/cmdline", buf, sizeof buf);
    fact("cmdline is argv", n == strlen(argv[0]) + 1 + strlen(argv[1]) + 1 &&
                                strcmp(buf, argv[0]) == 0 &&
                                strcmp(buf + strlen(argv[0]) + 1, argv[1]) == 0);
    n = slurp("/proc/self/environ", buf, sizeof buf);
    fact("environ has PROC_SELF_TEST", memmem(buf, n, "PROC_SELF_TEST=1", 17) != NULL);
    n = slurp("/proc/self/auxv", buf, sizeof buf);
    int entry = 0;
    for (size_t i = 0; i + 16 <= n; i += 16) {
        unsigned long key, value;
        memcpy(&key, buf + i, 8);
        memcpy(&value, buf + i + 8, 8);
        if (key == AT_ENTRY)
            entry = value == getauxval(AT_ENTRY);
    }
    fact("auxv has the entry point", entry);
    n = slurp("/proc/self/maps", buf, sizeof buf - 1);
    buf[n] = '\0';
    fact("maps lists the program", strstr(buf, real) != NULL);
    fact("maps lists the stack", strstr(buf, "[stack]") != NULL);
    fact("maps lists no Python", strstr(buf, "python") == NULL);
    n = slurp("/proc/self/stat", buf, sizeof buf - 1);
    buf[n] = '\0';
    char comm[32];
    snprintf(comm, sizeof comm, "(%.15s)", strrchr(real, '/') + 1);
    fact("stat names the program", strstr(buf, comm) != NULL);
    return 0;
}
