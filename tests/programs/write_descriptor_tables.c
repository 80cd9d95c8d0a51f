/* A hostile program aims at the CPU's descriptor tables: sgdt gives the global table's
 * address (under luatrap's emulated CPU, luatrap's memory; natively a dummy, or the
 * kernel's), and it writes there and one page on (where luatrap keeps the local table).
 * Each write is SIGSEGV, and the kernel's data selector still loads afterwards. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static sigjmp_buf back;
static void on_segv(int sig) { siglongjmp(back, sig); }

static void aim(const char *what, volatile uint8_t *at) {
    printf("write to %s: ", what);
    fflush(stdout);
    if (sigsetjmp(back, 1) == 0) {
        at[0x2d] = 0; /* entry 5's access byte: __USER_DS would be gone */
        printf("wrote\n");
    } else {
        printf("SIGSEGV\n");
    }
}

int main(void) {
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdt;
    memset(&gdt, 0, sizeof gdt);
    signal(SIGSEGV, on_segv);
    __asm__ volatile("sgdt %0" : "=m"(gdt));
    aim("the global descriptor table", (volatile uint8_t *)gdt.base);
    aim("the page after it", (volatile uint8_t *)gdt.base + 4096);
    __asm__ volatile("mov $0x2b, %%eax; mov %%eax, %%ds" ::: "eax");
    printf("selector 0x2b still loads\n");
    return 0;
}
