/* The same fault, taken and handled several times in a row: each is the kernel's
** signal again (a CPU that still counts the first as in flight makes the second a
** double fault and the third a machine reset). */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static sigjmp_buf escape;

static void on_fault(int sig, siginfo_t *info, void *ctx) {
  (void)ctx;
  printf("  %s, si_code %d, %s\n", strsignal(sig), info->si_code,
         info->si_addr == NULL ? "no address" : "an address");
  siglongjmp(escape, 1);
}

int main(void) {
  static const char *what[] = {"divide by zero", "non-canonical address",
                               "bad selector", "invalid opcode"};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  setvbuf(stdout, NULL, _IONBF, 0);
  for (int kind = 0; kind < 4; kind++) {
    printf("%s:\n", what[kind]);
    for (volatile int round = 0; round < 3; round++) {
      volatile long *far = (long *)0x8000000000000000UL;
      if (sigsetjmp(escape, 1) != 0)
        continue;
      if (kind == 0)
        __asm__ volatile("xor %%ecx, %%ecx\n\tdiv %%ecx" : : : "rax", "rcx", "rdx");
      else if (kind == 1)
        printf("%ld\n", *far);
      else if (kind == 2)
        __asm__ volatile("mov %0, %%gs" : : "r"((unsigned short)8));
      else
        __asm__ volatile("ud2");
      printf("  no fault\n");
    }
  }
  return 0;
}
