/* Where the kernel puts a program and its heap: a PIE program with an interpreter at
 * ELF_ET_DYN_BASE (0x555555554000) plus up to 2^40 of random pages, the heap above the
 * program, and room for the heap to grow by sbrk (which a program mapped among the
 * libraries would not have). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    uintptr_t code = (uintptr_t)main, base = 0x555555554000;
    printf("a PIE program's place: %d\n", code >= base && code < base + (1UL << 40));
    printf("the heap above the program: %d\n", (uintptr_t)sbrk(0) > code);
    for (int i = 0; i < 4; i++) {
        char *p = sbrk(1 << 20);
        printf("sbrk 1 MiB: %s\n", p == (void *)-1 ? "failed" : "ok");
        if (p != (void *)-1)
            memset(p, 1, 1 << 20);
    }
    return 0;
}
