/* What a fault handler learns (si_signo, si_code, si_addr), for a read of an unmapped
 * address, a write to a read-only page and a jump to a page that is not executable. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static sigjmp_buf back;
static siginfo_t seen;

static void on_fault(int sig, siginfo_t *info, void *ctx) {
  (void)sig;
  (void)ctx;
  seen = *info;
  siglongjmp(back, 1);
}

static void report(const char *what, void *expected) {
  printf("%s: signal %d code %d at the address: %s\n", what, seen.si_signo, seen.si_code,
         seen.si_addr == expected ? "yes" : "no");
}

int main(void) {
  struct sigaction sa;
  char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  volatile char *unmapped = (char *)0x10000;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  if (sigsetjmp(back, 1) == 0)
    (void)*unmapped;
  report("read of unmapped memory", (void *)unmapped);
  if (sigsetjmp(back, 1) == 0)
    *(volatile char *)(page + 8) = 1;
  report("write to a read-only page", page + 8);
  if (sigsetjmp(back, 1) == 0)
    ((void (*)(void))page)();
  report("jump to a page without exec", page);
  return 0;
}
