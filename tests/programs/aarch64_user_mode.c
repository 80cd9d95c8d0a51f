/* What an aarch64 program sees of its exception level, EL0: system registers of EL1
 * and privileged instructions are SIGILL; what Linux lets EL0 do works (CTR_EL0, DC ZVA,
 * cache maintenance, the virtual counter, TPIDR_EL0); ID registers read as the kernel
 * answers the trap (MPIDR's safe value, REVIDR 0, ID_AA64PFR0's EL0/EL1 fields, 0 for
 * an unallocated one), and AT_HWCAP says so (HWCAP_CPUID). */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

static sigjmp_buf back;
static void on_ill(int sig) { siglongjmp(back, sig); }

#define TRY(name, ...)                                                                    \
    do {                                                                                  \
        printf("%s: ", name);                                                             \
        fflush(stdout);                                                                   \
        if (sigsetjmp(back, 1) == 0) {                                                    \
            __VA_ARGS__;                                                                  \
        } else {                                                                          \
            printf("SIGILL\n");                                                           \
        }                                                                                 \
        fflush(stdout);                                                                   \
    } while (0)
#define READ(reg) ({ uint64_t v; __asm__ volatile("mrs %0, " reg : "=r"(v)); v; })

int main(void) {
    static uint8_t block[4096] __attribute__((aligned(4096)));
    signal(SIGILL, on_ill);
    printf("hwcap cpuid: %d\n", (int)(getauxval(AT_HWCAP) >> 11 & 1));
    TRY("mrs CurrentEL", printf("%#lx\n", (unsigned long)READ("CurrentEL")));
    TRY("mrs sctlr_el1", printf("%#lx\n", (unsigned long)READ("sctlr_el1")));
    TRY("mrs S3_1_C0_C0_0 (ccsidr_el1)", printf("%#lx\n", (unsigned long)READ("S3_1_C0_C0_0")));
    TRY("msr daifset", { __asm__ volatile("msr daifset, #2"); printf("ran\n"); });
    TRY("msr tpidrro_el0", { __asm__ volatile("msr tpidrro_el0, %0" ::"r"(1UL)); printf("ran\n"); });
    TRY("hvc", { __asm__ volatile("hvc #0"); printf("ran\n"); });
    TRY("mrs ctr_el0", printf("readable %d\n", READ("ctr_el0") != 0));
    TRY("dc zva", {
        uint64_t dczid = READ("dczid_el0");
        memset(block, 0xaa, sizeof block);
        __asm__ volatile("dc zva, %0" ::"r"(block) : "memory");
        printf("prohibited %d, zeroed %d\n", (int)(dczid >> 4 & 1),
               block[0] == 0 && block[(4 << (dczid & 15)) - 1] == 0);
    });
    TRY("dc cvau, ic ivau", {
        __asm__ volatile("dc cvau, %0; dsb ish; ic ivau, %0; dsb ish; isb" ::"r"(block));
        printf("ran\n");
    });
    TRY("mrs cntvct_el0", {
        uint64_t a = READ("cntvct_el0"), b;
        do b = READ("cntvct_el0"); while (b == a);
        printf("counts up %d, frequency set %d\n", b > a, READ("cntfrq_el0") != 0);
    });
    TRY("tpidr_el0", {
        uint64_t old = READ("tpidr_el0"), set; /* the C library's thread pointer */
        __asm__ volatile("msr tpidr_el0, %1; mrs %0, tpidr_el0; msr tpidr_el0, %2"
                         : "=&r"(set) : "r"(0x1234UL), "r"(old));
        printf("%#lx\n", (unsigned long)set);
    });
    TRY("mrs midr_el1", { (void)READ("midr_el1"); printf("read\n"); });
    TRY("mrs mpidr_el1", printf("%#lx\n", (unsigned long)READ("mpidr_el1")));
    TRY("mrs revidr_el1", printf("%#lx\n", (unsigned long)READ("revidr_el1")));
    TRY("mrs id_aa64pfr0_el1", {
        uint64_t v = READ("id_aa64pfr0_el1");
        printf("el0 %lu, el1 %lu\n", (unsigned long)(v & 15), (unsigned long)(v >> 4 & 15));
    });
    TRY("mrs S3_0_C0_C7_7 (unallocated)", printf("%#lx\n", (unsigned long)READ("S3_0_C0_C7_7")));
    TRY("mrs xzr, midr_el1", { __asm__ volatile("mrs xzr, midr_el1"); printf("ran\n"); });
    return 0;
}
