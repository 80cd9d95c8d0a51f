/* What a program finds at start: argv, one environment variable, the auxiliary vector
 * entries whose values do not depend on where things were loaded, and the answer to a
 * system call number no kernel has. */
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
    printf("AT_PAGESZ=%lu AT_UID=%lu AT_EUID=%lu AT_SECURE=%lu\n", getauxval(AT_PAGESZ),
           getauxval(AT_UID), getauxval(AT_EUID), getauxval(AT_SECURE));
    printf("AT_PLATFORM=%s AT_EXECFN=%s\n", (char *)getauxval(AT_PLATFORM),
           (char *)getauxval(AT_EXECFN));
    printf("AT_PHDR set: %d, AT_ENTRY set: %d, AT_RANDOM set: %d\n", getauxval(AT_PHDR) != 0,
           getauxval(AT_ENTRY) != 0, getauxval(AT_RANDOM) != 0);
    long r = syscall(1000);
    printf("syscall(1000) = %ld errno=%d\n", r, errno);
    return 0;
}
