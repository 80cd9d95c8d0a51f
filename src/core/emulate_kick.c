/*
** emulate_kick.c - the one host signal the emulate engine uses itself, shared with the
** program.
**
** luatrap interrupts a guest thread's host call by sending its host thread a signal
** (tgkill, SIGRTMAX: "a kick"), the only signal those threads leave unblocked. The
** program may use SIGRTMAX too: its own sends are emulated, and one from another
** process also arrives as a host SIGRTMAX. This handler tells them apart by the
** siginfo the kernel fills in, which no other process can forge: a kick is SI_TKILL
** from this process. Anything else is written, with the receiving thread's id, to a
** pipe the watcher reads, which routes it as any other signal for the program.
** Signals 32 and 33 get the same handler: glibc starts every thread with them
** unblocked, and one that comes before the new thread blocks them must reach the
** program too (luatrap never kicks with them).
**
** A signal handler has no context but what is process-wide: the pipe is one per
** process (set again in a forked child), the only such state in the core.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "emulate_hook.h"

static int outside_signals = -1; /* the pipe's write end */

struct outside_signal { /* what the watcher reads: the receiving thread, the siginfo */
  int32_t tid;
  int32_t pad;
  siginfo_t info;
};

static void on_kick(int sig, siginfo_t *info, void *context) {
  int saved = errno;
  struct outside_signal record;
  (void)sig, (void)context;
  if (!(info->si_code == SI_TKILL && info->si_pid == getpid()) && outside_signals >= 0) {
    memset(&record, 0, sizeof record);
    record.tid = (int32_t)gettid();
    record.info = *info;
    if (write(outside_signals, &record, sizeof record) < 0) {
      /* a full pipe: the signal is lost, as a signal is when one is already pending */
    }
  }
  errno = saved;
}

/* The kernel's struct sigaction (glibc's sigaction fills in the x86_64 restorer). */
struct kernel_sigaction {
  void (*handler)(int, siginfo_t *, void *);
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};

/* glibc refuses its own 32 and 33 to sigaction: the action an earlier install_kick
** gave through glibc (with glibc's restorer) is given to `signo` directly. */
static int install_reserved(int signo) {
  struct kernel_sigaction k;
  if (syscall(SYS_rt_sigaction, SIGRTMAX, NULL, &k, sizeof k.mask) != 0)
    return -1;
  if (k.handler != on_kick) {
    errno = EINVAL;
    return -1;
  }
  return (int)syscall(SYS_rt_sigaction, signo, &k, NULL, sizeof k.mask);
}

/* install_kick(signo, pipe_write_fd): the handler above for signo, no SA_RESTART (a
** kick must end the host call); the pipe receives the signals that were no kick.
** SIGRTMAX first: glibc's own 32 and 33 take its action. */
PyObject *Hook_install_kick(EmulateHookObject *self, PyObject *args) {
  struct sigaction sa;
  int signo, fd;
  (void)self;
  if (!PyArg_ParseTuple(args, "ii", &signo, &fd))
    return NULL;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_kick;
  sa.sa_flags = SA_SIGINFO;
  if (sigfillset(&sa.sa_mask) != 0)
    return PyErr_SetFromErrno(PyExc_OSError);
  if (sigaction(signo, &sa, NULL) != 0 && (errno != EINVAL || install_reserved(signo) != 0))
    return PyErr_SetFromErrno(PyExc_OSError);
  outside_signals = fd;
  Py_RETURN_NONE;
}
