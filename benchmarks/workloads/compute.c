/* Compute-bound with rare system calls: integer work with calls and returns, one
   getpid() every million iterations. Prints its own wall time in seconds (start-up of
   the tool around it excluded; that is measured on its own). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static unsigned long step(unsigned long x) {
    return x * 6364136223846793005UL + 1442695040888963407UL;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000000;
    unsigned long x = 1, sum = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        x = step(x);
        sum += x >> 33;
        if (i % 1000000 == 0) getpid();
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    fprintf(stderr, "checksum %lu\n", sum);
    printf("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
