/* A program that turns itself non-dumpable, which would stop an unprivileged tracer
   from reading its memory, then opens the file it is given (a rule reads that path). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int r = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    int fd = argc > 1 ? open(argv[1], O_RDONLY) : -1;
    printf("prctl %d, open %s\n", r, fd >= 0 ? "ok" : "failed");
    return 0;
}
