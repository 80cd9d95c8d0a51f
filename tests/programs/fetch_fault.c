/* Code that runs off the end of an executable page into one the program made
 * PROT_NONE, after running once (so it was translated): the SIGSEGV handler must see
 * the kernel's view: si_addr the first byte not executable, the pc of the instruction
 * that reaches it, and the registers of the instructions before it. argv[1] is where
 * the second instruction starts relative to the page boundary (0: on it, -2: straddling). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

/* mov $1, %edi; mov $2, %edi; ret */
static const unsigned char code[] = {0xbf, 1, 0, 0, 0, 0xbf, 2, 0, 0, 0, 0xc3};
static char *boundary;

static void on_segv(int sig, siginfo_t *info, void *context) {
    mcontext_t *mc = &((ucontext_t *)context)->uc_mcontext;
    (void)sig;
    printf("si_addr at the boundary: %d, pc offset %ld, edi %lld\n",
           (char *)info->si_addr == boundary, (long)((char *)mc->gregs[REG_RIP] - boundary),
           (long long)mc->gregs[REG_RDI]);
    mprotect(boundary, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
}

int main(int argc, char **argv) {
    int second = argc > 1 ? atoi(argv[1]) : 0;
    struct sigaction sa;
    char *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned long (*fn)(unsigned long);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    boundary = pages + 4096;
    fn = (unsigned long (*)(unsigned long))(boundary + second - 5);
    memcpy(boundary + second - 5, code, sizeof code);
    fn(0);  /* translated while all of it is executable */
    mprotect(boundary, 4096, PROT_NONE);
    fn(0);
    printf("returned after the handler\n");
    return 0;
}
