/* Ruled calls while signals arrive (handlers without SA_RESTART):
 *   getpid N  - N getpids under a 200 us timer: how many did not return 99999 (or the
 *               real pid when not ruled): getpid never fails natively;
 *   read      - a read of an empty pipe interrupted by an alarm: natively -1 EINTR. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static volatile long ticks;
static void tick(int sig) { (void)sig; ticks++; }

int main(int argc, char **argv) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = tick; /* no SA_RESTART */
  sigaction(SIGALRM, &sa, NULL);
  if (argc > 2 && strcmp(argv[1], "getpid") == 0) {
    struct itimerval every = {{0, 200}, {0, 200}};
    long n = atol(argv[2]), odd = 0, expected = syscall(SYS_getpid);
    setitimer(ITIMER_REAL, &every, NULL);
    for (long i = 0; i < n; i++)
      if (syscall(SYS_getpid) != expected)
        odd++;
    printf("%ld odd results, interrupted: %s\n", odd, ticks > 0 ? "yes" : "no");
  } else if (argc > 1 && strcmp(argv[1], "read") == 0) {
    int fds[2];
    char c;
    if (pipe(fds) != 0)
      return 1;
    alarm(1);
    long r = read(fds[0], &c, 1);
    printf("read: %ld %s\n", r, r < 0 ? strerror(errno) : "");
  }
  return 0;
}
