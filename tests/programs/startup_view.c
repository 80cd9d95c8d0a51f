/* What a program finds at start: argv, one environment variable, every auxiliary vector
 * entry (addresses shown as "set"), and the answer to a system call number no kernel
 * has. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    printf("LUATRAP_T=%s\n", getenv("LUATRAP_T") ? getenv("LUATRAP_T") : "(unset)");
    /* every auxiliary vector entry: its value, or "set" where it is an address */
    static const struct { int type; const char *name; char kind; } entries[] = {
        {3, "AT_PHDR", 'a'}, {4, "AT_PHENT", 'n'}, {5, "AT_PHNUM", 'n'},
        {6, "AT_PAGESZ", 'n'}, {7, "AT_BASE", 'a'}, {8, "AT_FLAGS", 'n'},
        {9, "AT_ENTRY", 'a'}, {11, "AT_UID", 'n'}, {12, "AT_EUID", 'n'},
        {13, "AT_GID", 'n'}, {14, "AT_EGID", 'n'}, {15, "AT_PLATFORM", 's'},
        {16, "AT_HWCAP", 'n'}, {17, "AT_CLKTCK", 'n'}, {23, "AT_SECURE", 'n'},
        {25, "AT_RANDOM", 'a'}, {26, "AT_HWCAP2", 'n'}, {27, "AT_RSEQ_FEATURE_SIZE", 'n'},
        {28, "AT_RSEQ_ALIGN", 'n'}, {31, "AT_EXECFN", 's'}, {33, "AT_SYSINFO_EHDR", 'a'},
        {51, "AT_MINSIGSTKSZ", 'n'},
    };
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        errno = 0;
        unsigned long v = getauxval(entries[i].type);
        if (v == 0 && errno == ENOENT)
            printf("%s absent\n", entries[i].name);
        else if (entries[i].kind == 's')
            printf("%s=%s\n", entries[i].name, (char *)v);
        else if (entries[i].kind == 'a')
            printf("%s set\n", entries[i].name);
        else
            printf("%s=%lu\n", entries[i].name, v);
    }
    long r = syscall(1000);
    printf("syscall(1000) = %ld errno=%d\n", r, errno);
    return 0;
}
