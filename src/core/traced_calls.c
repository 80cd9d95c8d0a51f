/*
** traced_calls.c - the native engine's calls that stop under ptrace: the ones whose
** rule uses c_do_syscall (it must run in the program's own thread, and its result be
** seen), and, when tracing, every call.
**
** The supervisor's thread (the tracer: only it may) calls reap(), which takes the
** waiting stops: seccomp and syscall stops are served here, the rest (new tasks, execs,
** signals, exits) go back to Python.
** Read top to bottom:
**
**   on_seccomp_stop  a call stopped at its entry (an i386 or x32 one as the x86_64
**                    call it reaches: foreign_calls.c): the rule decides (C; when
**                    tracing, the session, which writes the trace line). Run it, skip
**                    it with a value, or run the hook's own call in the caller's ABI:
**                    load that call's registers, PTRACE_SYSCALL, and keep what to put
**                    back (struct injection);
**   on_syscall_stop  the hook's call is at its exit: resume the hook with the result;
**                    it asks for another call (back over the syscall instruction), or
**                    it is done: registers as they were, rax the hook's answer. A call
**                    the kernel would restart after a signal handler is rewound to the
**                    program's own call, whose hook then runs afresh.
**
** While a thread runs a call for its hook, the notification loop asks no rule for it.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "foreign_calls.h"
#include "module.h"

#define MAX_INJECTIONS 256 /* threads inside a c_do_syscall at once */
#define SYSCALL_INSN_LEN 2 /* syscall (0f 05) and int 0x80 (cd 80) alike */

struct injection {
  pid_t tid;                          /* 0: a free slot */
  struct user_regs_struct saved;      /* the thread's registers at its call's entry */
  struct lt_raw_call call;            /* the program's call, in its own ABI */
  int hooked_nr, coroutine;           /* its x86_64 twin; the suspended hook */
  struct lt_decision request;         /* the call the hook is running (x86_64) */
  int at_entry;                       /* the next syscall stop is the entry (1) or exit */
};

struct traced_calls {
  RulesObject *rules;                 /* NULL: no rules folder */
  ForeignCallsObject *foreign;        /* i386 and x32 numbers */
  PyObject *notifications;            /* the NotifyLoop, told which threads to leave */
  PyObject *decide, *resume, *on_result; /* tracing: the session's (else NULL) */
  struct injection injections[MAX_INJECTIONS];
  pid_t *awaiting;                    /* tracing: threads whose call's result we want */
  size_t awaiting_count, awaiting_size;
  pid_t own_tid;                      /* its seccomp stops are luatrap's own execve's */
  unsigned char restartable[LT_MAX_NR]; /* ruled calls that never wait natively */
};

typedef struct {
  PyObject_HEAD
  struct traced_calls t;
} TracedCallsObject;

/* ------------------------------------------------------------------ bookkeeping */

static struct injection *injection_of(struct traced_calls *t, pid_t tid) {
  int i;
  for (i = 0; i < MAX_INJECTIONS; i++)
    if (t->injections[i].tid == tid)
      return &t->injections[i];
  return NULL;
}

static int notify(struct traced_calls *t, const char *method, pid_t tid) {
  PyObject *r;
  if (t->notifications == NULL)
    return 0;
  r = PyObject_CallMethod(t->notifications, method, "i", (int)tid);
  Py_XDECREF(r);
  return r == NULL ? -1 : 0;
}

static int awaiting_index(struct traced_calls *t, pid_t tid) {
  size_t i;
  for (i = 0; i < t->awaiting_count; i++)
    if (t->awaiting[i] == tid)
      return (int)i;
  return -1;
}

static int await_result(struct traced_calls *t, pid_t tid) {
  if (awaiting_index(t, tid) >= 0)
    return 0;
  if (t->awaiting_count == t->awaiting_size) {
    size_t size = t->awaiting_size ? t->awaiting_size * 2 : 16;
    pid_t *grown = realloc(t->awaiting, size * sizeof *grown);
    if (grown == NULL)
      return -1;
    t->awaiting = grown;
    t->awaiting_size = size;
  }
  t->awaiting[t->awaiting_count++] = tid;
  return 0;
}

static int stop_awaiting(struct traced_calls *t, pid_t tid) {
  int i = awaiting_index(t, tid);
  if (i < 0)
    return 0;
  t->awaiting[i] = t->awaiting[--t->awaiting_count];
  return 1;
}

static void drop_coroutine(struct traced_calls *t, int coroutine) {
  if (t->rules != NULL) {
    Py_BEGIN_ALLOW_THREADS
    lt_rules_drop(&t->rules->R, coroutine);
    Py_END_ALLOW_THREADS
  }
}

/* ------------------------------------------------------------------ decisions */

/* A decision from the session (tracing): None, an int, or (nr, [args], coroutine). */
static int from_python(PyObject *r, struct lt_decision *d) {
  PyObject *args;
  int i;
  memset(d, 0, sizeof *d);
  d->verdict = LT_RUN;
  if (r == NULL)
    return -1;
  if (PyLong_Check(r)) {
    d->verdict = LT_RETURN;
    d->value = PyLong_AsLongLong(r);
  } else if (PyTuple_Check(r)) {
    if (!PyArg_ParseTuple(r, "iOi", &d->now_nr, &args, &d->coroutine))
      return -1;
    for (i = 0; i < 6; i++) {
      PyObject *a = PySequence_GetItem(args, i);
      d->now_args[i] = a ? PyLong_AsLongLong(a) : 0;
      Py_XDECREF(a);
    }
    d->verdict = LT_RUN_NOW;
  }
  return PyErr_Occurred() ? -1 : 0;
}

static int decide(struct traced_calls *t, pid_t tid, int nr, const int64_t args[6],
                  struct lt_decision *d) {
  struct lt_caller caller = {-1, tid, &lt_process_memory, NULL};
  int err;
  if (t->decide != NULL) {
    PyObject *r = PyObject_CallFunction(t->decide, "ii(LLLLLL)", (int)tid, nr,
                                        (long long)args[0], (long long)args[1],
                                        (long long)args[2], (long long)args[3],
                                        (long long)args[4], (long long)args[5]);
    err = from_python(r, d);
    Py_XDECREF(r);
    return err;
  }
  d->verdict = LT_RUN;
  if (t->rules != NULL) {
    Py_BEGIN_ALLOW_THREADS
    lt_rules_decide(&t->rules->R, &caller, nr, args, d);
    Py_END_ALLOW_THREADS
  }
  return 0;
}

static int resume(struct traced_calls *t, pid_t tid, struct injection *inj, int64_t result,
                  const struct lt_decision *request, struct lt_decision *d) {
  struct lt_caller caller = {-1, tid, &lt_process_memory, NULL};
  const int64_t *a = request->now_args;
  int err;
  if (t->resume != NULL) {
    PyObject *r = PyObject_CallFunction(t->resume, "iii(i(LLLLLL))L", (int)tid,
                                        inj->hooked_nr, inj->coroutine, request->now_nr,
                                        (long long)a[0], (long long)a[1], (long long)a[2],
                                        (long long)a[3], (long long)a[4], (long long)a[5],
                                        (long long)result);
    err = from_python(r, d);
    Py_XDECREF(r);
    return err;
  }
  d->verdict = LT_RUN;
  if (t->rules != NULL) {
    Py_BEGIN_ALLOW_THREADS
    lt_rules_resume(&t->rules->R, &caller, inj->hooked_nr, inj->coroutine, result, d);
    Py_END_ALLOW_THREADS
  }
  return 0;
}

/* ------------------------------------------------------------------ registers */

/* Load call `nr(a)` into the registers, in the ABI of `call`. */
static void set_call(struct user_regs_struct *r, const struct lt_raw_call *call, long nr,
                     const int64_t a[6]) {
  r->orig_rax = r->rax = (unsigned long long)nr;
  if (call->arch == LT_AUDIT_ARCH_I386) {
    r->rbx = (uint32_t)a[0], r->rcx = (uint32_t)a[1], r->rdx = (uint32_t)a[2];
    r->rsi = (uint32_t)a[3], r->rdi = (uint32_t)a[4], r->rbp = (uint32_t)a[5];
    return;
  }
  r->rdi = (unsigned long long)a[0];
  r->rsi = (unsigned long long)a[1];
  r->rdx = (unsigned long long)a[2];
  r->r10 = (unsigned long long)a[3];
  r->r8 = (unsigned long long)a[4];
  r->r9 = (unsigned long long)a[5];
}

/* The call a thread stopped at: its ABI, number and raw arguments. */
static int stopped_call(pid_t tid, struct lt_raw_call *call) {
  struct __ptrace_syscall_info info;
  long got = ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info);
  if (got < (long)offsetof(struct __ptrace_syscall_info, seccomp.ret_data) ||
      info.op != PTRACE_SYSCALL_INFO_SECCOMP)
    return -1;
  call->arch = info.arch;
  call->nr = (uint32_t)info.seccomp.nr; /* the kernel reads the number as 32 bits */
  memcpy(call->args, info.seccomp.args, sizeof call->args);
  return 0;
}

/* Run the hook's call `d` in thread `tid`, in the program's ABI: at its entry stop
** (`regs` as stopped), or from its exit stop (back over the syscall instruction).
** 1: started; 0: that ABI has no such call, the hook gets ENOSYS in `result`. */
static int start_call(struct traced_calls *t, pid_t tid, struct injection *inj,
                      struct user_regs_struct *regs, const struct lt_decision *d,
                      int from_exit) {
  long nr = d->now_nr;
  if (lt_is_foreign(&inj->call) &&
      (nr = lt_foreign_from_x86_64(&t->foreign->F, &inj->call, inj->hooked_nr,
                                   d->now_nr)) < 0)
    return 0;
  set_call(regs, &inj->call, nr, d->now_args);
  regs->rip = inj->saved.rip - (from_exit ? SYSCALL_INSN_LEN : 0);
  inj->tid = tid;
  inj->coroutine = d->coroutine;
  inj->request = *d;
  inj->at_entry = from_exit;
  ptrace(PTRACE_SETREGS, tid, 0, regs);
  ptrace(PTRACE_SYSCALL, tid, 0, 0);
  return 1;
}

/* Put the thread back as the kernel left it, with `rax` as its call's result. */
static void finish(pid_t tid, struct user_regs_struct *regs, const struct injection *inj,
                   long long rax) {
  const struct user_regs_struct *s = &inj->saved;
  regs->rdi = s->rdi, regs->rsi = s->rsi, regs->rdx = s->rdx;
  regs->r10 = s->r10, regs->r8 = s->r8, regs->r9 = s->r9;
  regs->rbx = s->rbx, regs->rcx = s->rcx, regs->rbp = s->rbp;
  regs->rip = s->rip;
  regs->orig_rax = s->orig_rax;
  regs->rax = (unsigned long long)rax;
  ptrace(PTRACE_SETREGS, tid, 0, regs);
  ptrace(PTRACE_CONT, tid, 0, 0);
}

/* ------------------------------------------------------------------ the stops */

/* The thread gets `value` as its call's result: skipped at the entry stop, or, at the
** exit of the hook's own call, with the registers put back as they were. */
static void answer(pid_t tid, struct user_regs_struct *regs, const struct injection *inj,
                   long long value, int at_exit) {
  if (at_exit) {
    finish(tid, regs, inj, value);
    return;
  }
  *regs = inj->saved;
  regs->orig_rax = (unsigned long long)-1; /* skip the call ... */
  regs->rax = (unsigned long long)value;   /* ... and this is its result */
  ptrace(PTRACE_SETREGS, tid, 0, regs);
  ptrace(PTRACE_CONT, tid, 0, 0);
}

/* The thread's calls meet their rules again. Before it is resumed: else a call it makes
** at once would find it still held, and run unruled. (The slot stays readable until the
** next stop is served, on this same thread.) */
static void release(struct traced_calls *t, struct injection *inj) {
  pid_t tid = inj->tid;
  inj->tid = 0;
  if (notify(t, "release", tid) < 0)
    PyErr_WriteUnraisable(t->notifications);
}

/* Carry out the hook's decision `d`: run the call it asks for (in the program's ABI;
** one that ABI lacks gives the hook ENOSYS), or let the thread go on with its answer
** (if the hook `ran` a call, the result of its last one, `last`, stands). */
static PyObject *carry_out(struct traced_calls *t, pid_t tid, struct injection *inj,
                           struct user_regs_struct *regs, struct lt_decision d,
                           int at_exit, int ran, long long last) {
  struct lt_decision next;
  while (d.verdict == LT_RUN_NOW) {
    if (start_call(t, tid, inj, regs, &d, at_exit))
      return Py_NewRef(Py_None);
    inj->coroutine = d.coroutine;
    inj->request = d;
    ran = 1, last = -ENOSYS;
    if (resume(t, tid, inj, last, &d, &next) < 0) {
      release(t, inj);
      answer(tid, regs, inj, -ENOSYS, at_exit);
      return NULL;
    }
    d = next;
  }
  release(t, inj);
  if (d.verdict == LT_RETURN)
    answer(tid, regs, inj, d.value, at_exit);
  else if (at_exit || ran)
    answer(tid, regs, inj, last, at_exit);
  else /* the hook let the program's own call run after all */
    ptrace(PTRACE_CONT, tid, 0, 0);
  Py_RETURN_NONE;
}

static PyObject *seccomp_stop(struct traced_calls *t, pid_t tid, int skip_hooks) {
  struct user_regs_struct regs;
  struct lt_raw_call call;
  struct lt_decision d;
  struct injection *inj;
  int64_t a[6];
  int nr;
  if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0 || stopped_call(tid, &call) != 0)
    Py_RETURN_NONE; /* it died meanwhile; its exit follows */
  if (injection_of(t, tid) != NULL) { /* the hook's own call: run it */
    ptrace(PTRACE_SYSCALL, tid, 0, 0);
    Py_RETURN_NONE;
  }
  if (skip_hooks) { /* luatrap's own execve of the program */
    ptrace(PTRACE_CONT, tid, 0, 0);
    Py_RETURN_NONE;
  }
  if (!lt_is_foreign(&call)) {
    nr = (int)call.nr;
    memcpy(a, call.args, sizeof a);
  } else if ((nr = lt_foreign_to_x86_64(&t->foreign->F, &call, tid, a)) == LT_UNREADABLE) {
    d.verdict = LT_RETURN, d.value = -EFAULT; /* as the kernel would fail it */
    nr = -1;
  } else if (nr < 0) { /* no x86_64 twin, no rule: the kernel answers */
    ptrace(PTRACE_CONT, tid, 0, 0);
    Py_RETURN_NONE;
  }
  if (nr >= 0 && decide(t, tid, nr, a, &d) < 0)
    return NULL;
  switch (d.verdict) {
  case LT_RETURN:
    regs.orig_rax = (unsigned long long)-1; /* skip the call ... */
    regs.rax = (unsigned long long)d.value; /* ... and this is its result */
    ptrace(PTRACE_SETREGS, tid, 0, &regs);
    ptrace(PTRACE_CONT, tid, 0, 0);
    Py_RETURN_NONE;
  case LT_RUN_NOW:
    if ((inj = injection_of(t, 0)) == NULL) {
      drop_coroutine(t, d.coroutine);
      return PyErr_Format(PyExc_OverflowError, "more than %d threads in c_do_syscall",
                          MAX_INJECTIONS);
    }
    inj->saved = regs;
    inj->call = call;
    inj->hooked_nr = nr;
    inj->tid = tid;
    if (notify(t, "hold", tid) < 0) {
      inj->tid = 0;
      drop_coroutine(t, d.coroutine);
      ptrace(PTRACE_CONT, tid, 0, 0);
      return NULL;
    }
    return carry_out(t, tid, inj, &regs, d, 0, 0, 0);
  default:
    if (t->decide != NULL && await_result(t, tid) == 0) {
      ptrace(PTRACE_SYSCALL, tid, 0, 0); /* tracing: see its result at the exit */
      Py_RETURN_NONE;
    }
    ptrace(PTRACE_CONT, tid, 0, 0);
    Py_RETURN_NONE;
  }
}

static int restarts(long long result) { /* the kernel's "restart me" results */
  return result == -512 || result == -513 || result == -514 || result == -516;
}

static PyObject *syscall_stop(struct traced_calls *t, pid_t tid) {
  struct user_regs_struct regs;
  struct lt_decision d;
  struct injection *inj;
  long long result;
  inj = injection_of(t, tid);
  if (inj == NULL) {
    if (stop_awaiting(t, tid) && ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0) {
      PyObject *r = PyObject_CallFunction(t->on_result, "iL", tid, (long long)regs.rax);
      Py_XDECREF(r);
      if (r == NULL) {
        ptrace(PTRACE_CONT, tid, 0, 0);
        return NULL;
      }
    }
    ptrace(PTRACE_CONT, tid, 0, 0);
    Py_RETURN_NONE;
  }
  if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0)
    Py_RETURN_NONE;
  if (inj->at_entry) {
    inj->at_entry = 0;
    ptrace(PTRACE_SYSCALL, tid, 0, 0);
    Py_RETURN_NONE;
  }
  result = (long long)regs.rax;
  if (restarts(result)) {
    /* Interrupted by a signal: the kernel restarts (or fails with EINTR) the program's
    ** own call, as it would have done natively; its hook runs afresh. */
    drop_coroutine(t, inj->coroutine);
    release(t, inj);
    finish(tid, &regs, inj, result);
    Py_RETURN_NONE;
  }
  if (resume(t, tid, inj, result, &inj->request, &d) < 0) {
    release(t, inj);
    finish(tid, &regs, inj, result);
    return NULL;
  }
  if (d.verdict == LT_RUN && t->on_result != NULL) {
    PyObject *r = PyObject_CallFunction(t->on_result, "iL", tid, result);
    Py_XDECREF(r);
    if (r == NULL)
      PyErr_WriteUnraisable(t->on_result);
  }
  return carry_out(t, tid, inj, &regs, d, 1, 1, result);
}

static PyObject *on_seccomp_stop(TracedCallsObject *self, PyObject *args) {
  int tid, skip_hooks;
  if (!PyArg_ParseTuple(args, "ip", &tid, &skip_hooks))
    return NULL;
  return seccomp_stop(&self->t, tid, skip_hooks);
}

static PyObject *on_syscall_stop(TracedCallsObject *self, PyObject *args) {
  int tid;
  if (!PyArg_ParseTuple(args, "i", &tid))
    return NULL;
  return syscall_stop(&self->t, tid);
}

/* A signal is about to be delivered to `tid`. If it came while a ruled call waited for
** luatrap to even receive its notification, seccomp gave up the wait with
** -ERESTARTSYS, which a handler without SA_RESTART turns into EINTR: a call that natively
** never waits must never fail so; it restarts (and meets its rule) after the handler. */
static void signal_stop(struct traced_calls *t, pid_t tid, int sig) {
  struct user_regs_struct regs;
  int resume = PTRACE_CONT;
  if (ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0 && (long long)regs.rax == -512 &&
      regs.orig_rax < LT_MAX_NR && t->restartable[regs.orig_rax]) {
    regs.rax = (unsigned long long)-513; /* -ERESTARTNOINTR */
    ptrace(PTRACE_SETREGS, tid, 0, &regs);
  }
  if (injection_of(t, tid) != NULL || awaiting_index(t, tid) >= 0)
    resume = PTRACE_SYSCALL;
  ptrace(resume, tid, 0, sig);
}

/* ------------------------------------------------------------------ waiting */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for task state changes and serve the seccomp, syscall and signal-delivery stops
** here; return when Python has something to do: another event (new tasks, execs, exits,
** group stops), a signal luatrap itself received (to pass on), or no task left. A
** thread resumed from a stop often stops again within microseconds (the exit of its
** hook's call, its next traced call), and sleeping costs two cross-CPU wake-ups, so
** after each stop this keeps asking waitpid for `spin` seconds (never longer than
** `total` in a row) before it sleeps in poll() on luatrap's signalfd (SIGCHLD).
** Returns ([(tid, status), ...], [(signo, code), ...], alive). */
static PyObject *reap(TracedCallsObject *self, PyObject *args) {
  struct traced_calls *t = &self->t;
  PyObject *events, *signals, *r;
  struct signalfd_siginfo info[16];
  struct pollfd waiting;
  double spin, total, spin_until, give_up, at;
  int status, alive = 1, err, signal_fd, i;
  ssize_t got;
  pid_t tid;
  if (!PyArg_ParseTuple(args, "ddi", &spin, &total, &signal_fd))
    return NULL;
  if ((events = PyList_New(0)) == NULL || (signals = PyList_New(0)) == NULL) {
    Py_XDECREF(events);
    return NULL;
  }
  at = now();
  spin_until = at + spin, give_up = at + total;
  while (PyList_GET_SIZE(events) == 0 && PyList_GET_SIZE(signals) == 0) {
    Py_BEGIN_ALLOW_THREADS
    do {
      tid = waitpid(-1, &status, __WALL | WNOHANG);
      err = errno;
    } while (tid == 0 && (at = now()) < spin_until && at < give_up);
    if (tid == 0) { /* nothing for a while: sleep until a signal (SIGCHLD) comes */
      waiting.fd = signal_fd, waiting.events = POLLIN, waiting.revents = 0;
      while (poll(&waiting, 1, -1) < 0 && errno == EINTR)
        ;
      while ((got = read(signal_fd, info, sizeof info)) > 0)
        for (i = 0; i < (int)(got / (ssize_t)sizeof info[0]); i++)
          if (info[i].ssi_signo != SIGCHLD) {
            Py_BLOCK_THREADS
            r = Py_BuildValue("(ii)", (int)info[i].ssi_signo, info[i].ssi_code);
            if (r == NULL || PyList_Append(signals, r) < 0)
              PyErr_Clear(); /* cannot pass it on; the program goes on without it */
            Py_XDECREF(r);
            Py_UNBLOCK_THREADS
          }
      at = now();
      spin_until = at + spin, give_up = at + total;
    }
    Py_END_ALLOW_THREADS
    if (tid == 0)
      continue;
    if (tid < 0) {
      alive = err != ECHILD;
      break;
    }
    if (WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80)) {
      r = syscall_stop(t, tid);
    } else if (WIFSTOPPED(status) && status >> 16 == PTRACE_EVENT_SECCOMP) {
      r = seccomp_stop(t, tid, tid == t->own_tid);
    } else if (WIFSTOPPED(status) && status >> 16 == 0) {
      signal_stop(t, tid, WSTOPSIG(status));
      r = Py_NewRef(Py_None);
    } else {
      r = Py_BuildValue("(ii)", (int)tid, status);
      if (r != NULL && PyList_Append(events, r) < 0)
        Py_CLEAR(r);
    }
    if (r == NULL) {
      Py_DECREF(events);
      Py_DECREF(signals);
      return NULL;
    }
    Py_DECREF(r);
    spin_until = now() + spin;
  }
  return Py_BuildValue("(NNi)", events, signals, alive);
}

static PyObject *set_restartable(TracedCallsObject *self, PyObject *numbers) {
  PyObject *iter = PyObject_GetIter(numbers), *item;
  long nr;
  if (iter == NULL)
    return NULL;
  memset(self->t.restartable, 0, sizeof self->t.restartable);
  while ((item = PyIter_Next(iter)) != NULL) {
    nr = PyLong_AsLong(item);
    Py_DECREF(item);
    if (nr < 0 || nr >= LT_MAX_NR) {
      Py_DECREF(iter);
      if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "no call number %ld", nr);
      return NULL;
    }
    self->t.restartable[nr] = 1;
  }
  Py_DECREF(iter);
  if (PyErr_Occurred())
    return NULL;
  Py_RETURN_NONE;
}

static PyObject *forget(TracedCallsObject *self, PyObject *arg) {
  struct traced_calls *t = &self->t;
  struct injection *inj;
  int tid = (int)PyLong_AsLong(arg);
  if (PyErr_Occurred())
    return NULL;
  stop_awaiting(t, tid);
  if ((inj = injection_of(t, tid)) != NULL && tid != 0) {
    drop_coroutine(t, inj->coroutine);
    inj->tid = 0;
    if (notify(t, "release", tid) < 0)
      return NULL;
  }
  Py_RETURN_NONE;
}

static PyObject *restart_request(TracedCallsObject *self, PyObject *arg) {
  struct traced_calls *t = &self->t;
  int tid = (int)PyLong_AsLong(arg);
  if (PyErr_Occurred())
    return NULL;
  if ((tid != 0 && injection_of(t, tid) != NULL) || awaiting_index(t, tid) >= 0)
    return PyLong_FromLong(PTRACE_SYSCALL);
  return PyLong_FromLong(PTRACE_CONT);
}

/* ------------------------------------------------------------------ the type */

static int Traced_init(TracedCallsObject *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"rules", "foreign", "notifications", "decide", "resume",
                          "on_result", NULL};
  struct traced_calls *t = &self->t;
  PyObject *rules, *foreign, *loop = Py_None, *dec = Py_None, *res = Py_None,
           *result = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OO!|OOOO", names, &rules, &ForeignCallsType,
                                   &foreign, &loop, &dec, &res, &result))
    return -1;
  if (rules != Py_None && !PyObject_TypeCheck(rules, &RulesType)) {
    PyErr_SetString(PyExc_TypeError, "rules must be a luatrap._core.Rules or None");
    return -1;
  }
  if ((dec == Py_None) != (res == Py_None) || (dec == Py_None) != (result == Py_None)) {
    PyErr_SetString(PyExc_TypeError, "decide, resume and on_result go together (tracing)");
    return -1;
  }
  Py_CLEAR(t->rules);
  Py_CLEAR(t->foreign);
  Py_CLEAR(t->notifications);
  Py_CLEAR(t->decide);
  Py_CLEAR(t->resume);
  Py_CLEAR(t->on_result);
  t->rules = rules != Py_None ? (RulesObject *)Py_NewRef(rules) : NULL;
  t->foreign = (ForeignCallsObject *)Py_NewRef(foreign);
  t->notifications = loop != Py_None ? Py_NewRef(loop) : NULL;
  t->decide = dec != Py_None ? Py_NewRef(dec) : NULL;
  t->resume = res != Py_None ? Py_NewRef(res) : NULL;
  t->on_result = result != Py_None ? Py_NewRef(result) : NULL;
  return 0;
}

static void Traced_dealloc(TracedCallsObject *self) {
  struct traced_calls *t = &self->t;
  Py_XDECREF((PyObject *)t->rules);
  Py_XDECREF((PyObject *)t->foreign);
  Py_XDECREF(t->notifications);
  Py_XDECREF(t->decide);
  Py_XDECREF(t->resume);
  Py_XDECREF(t->on_result);
  free(t->awaiting);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Traced_methods[] = {
    {"on_seccomp_stop", (PyCFunction)on_seccomp_stop, METH_VARARGS,
     "on_seccomp_stop(tid, skip_hooks): a ruled call stopped at its entry"},
    {"on_syscall_stop", (PyCFunction)on_syscall_stop, METH_VARARGS,
     "on_syscall_stop(tid): a syscall-entry or -exit stop"},
    {"reap", (PyCFunction)reap, METH_VARARGS,
     "reap(spin, total, signalfd): serve stops until Python has work: "
     "([(tid, status)], [(signo, code)], alive)"},
    {"set_restartable", (PyCFunction)set_restartable, METH_O,
     "set_restartable(numbers): ruled calls that never wait natively (never EINTR)"},
    {"forget", (PyCFunction)forget, METH_O, "forget(tid): the thread is gone"},
    {"restart_request", (PyCFunction)restart_request, METH_O,
     "restart_request(tid): how to resume tid after an unrelated stop"},
    {NULL, NULL, 0, NULL},
};

static PyObject *Traced_get_own_tid(TracedCallsObject *self, void *c) {
  (void)c;
  return PyLong_FromLong(self->t.own_tid);
}

static int Traced_set_own_tid(TracedCallsObject *self, PyObject *value, void *c) {
  long tid = value ? PyLong_AsLong(value) : 0;
  (void)c;
  if (tid == -1 && PyErr_Occurred())
    return -1;
  self->t.own_tid = (pid_t)tid;
  return 0;
}

static PyGetSetDef Traced_getset[] = {
    {"own_tid", (getter)Traced_get_own_tid, (setter)Traced_set_own_tid,
     "the task whose seccomp stops are luatrap's own (before the program's execve), or 0",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject TracedCallsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "luatrap._core.TracedCalls",
    .tp_basicsize = sizeof(TracedCallsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The native engine's calls that stop under ptrace, decided in C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Traced_init,
    .tp_dealloc = (destructor)Traced_dealloc,
    .tp_methods = Traced_methods,
    .tp_getset = Traced_getset,
};
