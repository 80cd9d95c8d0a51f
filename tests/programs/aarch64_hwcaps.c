/* For each CPU feature the auxiliary vector's AT_HWCAP advertises, run one of its
 * instructions (SIGILL caught): a program that trusts HWCAP must not die. Prints
 * "NAME advertised: runs" (or "dies"), and "NAME not advertised". */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/auxv.h>

static sigjmp_buf back;
static long word; /* what the memory instructions touch */
static void on_ill(int sig) { siglongjmp(back, sig); }

#define TRY(bit, name, insn)                                                     \
    do {                                                                         \
        if (!(hwcap & (1UL << (bit)))) {                                         \
            printf("%s not advertised\n", name);                                 \
            break;                                                               \
        }                                                                        \
        if (sigsetjmp(back, 1) == 0) {                                           \
            __asm__ volatile("mov x1, %0\n" insn ::"r"(&word)                   \
                             : "v0", "v1", "v2", "x0", "x1", "memory");          \
            printf("%s advertised: runs\n", name);                               \
        } else {                                                                 \
            printf("%s advertised: dies\n", name);                               \
        }                                                                        \
    } while (0)

int main(void) {
    unsigned long hwcap = getauxval(AT_HWCAP);
    signal(SIGILL, on_ill);
    TRY(0, "fp", "fadd d0, d0, d0");
    TRY(1, "asimd", "add v0.4s, v0.4s, v1.4s");
    TRY(3, "aes", "aese v0.16b, v1.16b");
    TRY(4, "pmull", "pmull v0.1q, v1.1d, v2.1d");
    TRY(5, "sha1", "sha1h s0, s1");
    TRY(6, "sha2", "sha256su0 v0.4s, v1.4s");
    TRY(7, "crc32", "crc32x w0, w0, x0");
    TRY(8, "atomics", "ldadd x0, x0, [x1]");
    TRY(9, "fphp", "fadd h0, h0, h0");
    TRY(10, "asimdhp", "fadd v0.8h, v0.8h, v1.8h");
    TRY(12, "asimdrdm", "sqrdmlah v0.4s, v1.4s, v2.4s");
    TRY(13, "jscvt", "fjcvtzs w0, d0");
    TRY(14, "fcma", "fcadd v0.4s, v1.4s, v2.4s, #90");
    TRY(15, "lrcpc", "ldapr x0, [x1]");
    TRY(16, "dcpop", "dc cvap, x1");
    TRY(17, "sha3", "eor3 v0.16b, v1.16b, v2.16b, v0.16b");
    TRY(18, "sm3", "sm3ss1 v0.4s, v1.4s, v2.4s, v0.4s");
    TRY(19, "sm4", "sm4e v0.4s, v1.4s");
    TRY(20, "asimddp", "sdot v0.4s, v1.16b, v2.16b");
    TRY(21, "sha512", "sha512su0 v0.2d, v1.2d");
    TRY(22, "sve", "ptrue p0.b");
    return 0;
}
