#include <unistd.h>
#include <stdio.h>
#include <time.h>

#define ITERATIONS 100000

int main() {
    clock_t start, end;
    double time_used;

    start = clock();
    for (int i = 0; i < ITERATIONS; i++) {
        getpid();
    }
    end = clock();

    time_used = ((double)(end - start)) / CLOCKS_PER_SEC;
    printf("Time: %.6f seconds\n", time_used);
    printf("Avg per call: %.3f microseconds\n",
           (time_used * 1000000) / ITERATIONS);

    return 0;
}
