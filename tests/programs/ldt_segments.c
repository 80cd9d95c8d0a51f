/* The local descriptor table through modify_ldt(2): what each function answers (the
** raw register: the kernel returns an int in a 64-bit register, so errors are not
** negative there), and what a segment register loaded from the table reaches,
** in this thread, in a thread started before the change, and in a forked child. */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned char table[70000];
static sigjmp_buf escape;
static int pipe_fds[2];
static uint32_t *data;

static unsigned long modify_ldt(long func, void *ptr, unsigned long bytecount) {
  unsigned long ret;
  __asm__ volatile("syscall" : "=a"(ret)
                   : "0"((long)SYS_modify_ldt), "D"(func), "S"(ptr), "d"(bytecount)
                   : "rcx", "r11", "memory");
  return ret;
}

static struct user_desc segment(unsigned entry, uint32_t base) {
  struct user_desc d;
  memset(&d, 0, sizeof d);
  d.entry_number = entry;
  d.base_addr = base;
  d.limit = 0xfffff;
  d.seg_32bit = 1;
  d.limit_in_pages = 1;
  d.useable = 1;
  return d;
}

/* An entry as read back: its limit, access and flags bytes, and whether its base is
** `base` (the base's bytes are the 32-bit mapping's, which moves from run to run). */
static void print_entry(const char *what, unsigned entry, uint32_t base) {
  unsigned long n = modify_ldt(0, table, sizeof table);
  const unsigned char *e = table + entry * 8;
  uint32_t found = e[2] | e[3] << 8 | e[4] << 16 | (uint32_t)e[7] << 24;
  printf("%-9s read %lu: limit %02x%02x, access %02x, flags %02x, base %s\n", what, n,
         e[1], e[0], e[5], e[6], found == base ? "as written" : "other");
}

/* The word at offset 4 of the segment `selector` names, through %gs. */
static uint32_t through_gs(unsigned short selector) {
  uint32_t value;
  __asm__ volatile("mov %1, %%gs\n\tmovl %%gs:4, %0\n\txor %%eax, %%eax\n\tmov %%ax, %%gs"
                   : "=r"(value) : "r"(selector) : "rax", "memory");
  return value;
}

static void on_fault(int sig, siginfo_t *info, void *ctx) {
  (void)ctx;
  printf("  %s, si_code %d\n", sig == SIGSEGV ? "SIGSEGV" : "SIGBUS", info->si_code);
  siglongjmp(escape, 1);
}

static void try_selector(const char *what, unsigned short selector) {
  printf("%s: selector %#x\n", what, selector);
  if (sigsetjmp(escape, 1) == 0)
    printf("  reads %#x\n", through_gs(selector));
}

static void *late_reader(void *arg) {
  char go;
  (void)arg;
  if (read(pipe_fds[0], &go, 1) != 1)
    return NULL;
  printf("thread started before: reads %#x\n", through_gs(3 << 3 | 7));
  return NULL;
}

int main(void) {
  struct user_desc d;
  struct sigaction sa;
  pthread_t thread;
  unsigned long n;
  pid_t child;
  int status;

  setvbuf(stdout, NULL, _IONBF, 0);
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  data = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
              -1, 0);
  if (data == MAP_FAILED || pipe(pipe_fds) != 0)
    return 1;
  data[1] = 0x12345678;
  if (pthread_create(&thread, NULL, late_reader, NULL) != 0)
    return 1;

  memset(table, 0xaa, sizeof table);
  printf("read, no table: %lu\n", modify_ldt(0, table, sizeof table));
  memset(table, 0xaa, sizeof table);
  n = modify_ldt(2, table, 512);
  printf("read default: %lu, first %02x, after %02x\n", n, table[0], table[n]);

  d = segment(3, (uint32_t)(uintptr_t)data);
  printf("write, old mode: %#lx\n", modify_ldt(1, &d, sizeof d));
  print_entry("old mode", 3, (uint32_t)(uintptr_t)data);
  printf("read 4 bytes: %lu\n", modify_ldt(0, table, 4));
  memset(table, 0xaa, sizeof table);
  n = modify_ldt(0, table, sizeof table);
  printf("read all: %lu, after the entries %02x %02x\n", n, table[32], table[65535]);
  d.entry_number = 5;
  printf("write, new mode: %#lx\n", modify_ldt(0x11, &d, sizeof d));
  print_entry("new mode", 5, (uint32_t)(uintptr_t)data);

  printf("gs from the table reads %#x\n", through_gs(3 << 3 | 7));
  if (write(pipe_fds[1], "g", 1) != 1 || pthread_join(thread, NULL) != 0)
    return 1;
  child = fork();
  if (child == 0) {
    printf("forked child: reads %#x\n", through_gs(5 << 3 | 7));
    _exit(0);
  }
  waitpid(child, &status, 0);

  try_selector("beyond the table", 40 << 3 | 7);
  d = segment(4, 0);
  d.seg_not_present = 1;
  modify_ldt(0x11, &d, sizeof d);
  try_selector("not present", 4 << 3 | 7);
  memset(&d, 0, sizeof d);
  d.entry_number = 3;
  printf("clear, old mode: %#lx\n", modify_ldt(1, &d, sizeof d));
  print_entry("cleared", 3, 0);
  try_selector("cleared", 3 << 3 | 7);

  d = segment(1, 0);
  printf("short count: %#lx\n", modify_ldt(1, &d, 3));
  d.contents = 3;
  printf("conforming, old mode: %#lx\n", modify_ldt(1, &d, sizeof d));
  d = segment(8192, 0);
  printf("entry 8192: %#lx\n", modify_ldt(0x11, &d, sizeof d));
  printf("unknown function: %#lx\n", modify_ldt(7, &d, sizeof d));
  printf("write from NULL: %#lx\n", modify_ldt(1, NULL, sizeof d));
  printf("read into NULL: %#lx\n", modify_ldt(0, NULL, 16));
  return 0;
}
