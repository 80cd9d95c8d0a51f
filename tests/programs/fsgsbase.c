/* HWCAP2_FSGSBASE says the FS/GS base instructions run in user space: write the GS
 * base (unused by the C library) and read it back. */
#include <stdio.h>
#include <sys/auxv.h>

int main(void) {
    if (!(getauxval(AT_HWCAP2) & 2)) {
        printf("no FSGSBASE\n");
        return 0;
    }
    unsigned long in = 0x12345678abcdUL, out = 0;
    __asm__ volatile("wrgsbase %1\n\trdgsbase %0" : "=r"(out) : "r"(in));
    printf("rdgsbase after wrgsbase: %s\n", out == in ? "same" : "different");
    return 0;
}
