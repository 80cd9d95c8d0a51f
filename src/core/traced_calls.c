/*
** traced_calls.c - the native engine's calls that stop under ptrace: the ones whose
** rule uses c_do_syscall (it must run in the program's own thread, and its result be
** seen), and, when tracing, every call.
**
** The supervisor's thread (the tracer: only it may) waits for the stops in
** traced_wait.c's reap(), which hands each seccomp, syscall and signal-delivery stop
** here (the rest - new tasks, execs, exits - go back to Python). Read top to bottom:
**
**   seccomp_stop     a call stopped at its entry (an i386 or x32 one as the x86_64
**                    call it reaches: foreign_calls.c): the rule decides (C; when
**                    tracing, the session, which writes the trace line). Run it, skip
**                    it with a value, or run the hook's own call in the caller's ABI:
**                    load that call's registers, PTRACE_SYSCALL, and keep what to put
**                    back (struct injection);
**   syscall_stop     the hook's call is at its exit: resume the hook with the result;
**                    it asks for another call (back over the syscall instruction), or
**                    it is done: registers as they were, rax the hook's answer. A call
**                    the kernel would restart after a signal handler is rewound to the
**                    program's own call, whose hook then runs afresh.
**
** While a thread runs a call for its hook, the notification loop asks no rule for it.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>

#include "traced_calls.h"

#define SYSCALL_INSN_LEN 2 /* syscall (0f 05) and int 0x80 (cd 80) alike */

/* ------------------------------------------------------------------ bookkeeping */

struct injection *injection_of(struct traced_calls *t, pid_t tid) {
  int i;
  for (i = 0; i < MAX_INJECTIONS; i++)
    if (t->injections[i].tid == tid)
      return &t->injections[i];
  return NULL;
}

int notify(struct traced_calls *t, const char *method, pid_t tid) {
  PyObject *r;
  if (t->notifications == NULL)
    return 0;
  r = PyObject_CallMethod(t->notifications, method, "i", (int)tid);
  Py_XDECREF(r);
  return r == NULL ? -1 : 0;
}

int awaiting_index(struct traced_calls *t, pid_t tid) {
  size_t i;
  for (i = 0; i < t->awaiting_count; i++)
    if (t->awaiting[i] == tid)
      return (int)i;
  return -1;
}

int await_result(struct traced_calls *t, pid_t tid) {
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

int stop_awaiting(struct traced_calls *t, pid_t tid) {
  int i = awaiting_index(t, tid);
  if (i < 0)
    return 0;
  t->awaiting[i] = t->awaiting[--t->awaiting_count];
  return 1;
}

void drop_coroutine(struct traced_calls *t, int coroutine) {
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

PyObject *seccomp_stop(struct traced_calls *t, pid_t tid, int skip_hooks) {
  struct user_regs_struct regs;
  struct lt_raw_call call;
  struct lt_decision d;
  struct injection *inj;
  int64_t a[6];
  int nr;
  unsigned long data = LT_TRACE_MARK;
  if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0 || stopped_call(tid, &call) != 0 ||
      ptrace(PTRACE_GETEVENTMSG, tid, 0, &data) != 0)
    Py_RETURN_NONE; /* it died meanwhile; its exit follows */
  if (data != LT_TRACE_MARK) { /* the program's filter's verdict: no tracer, ENOSYS */
    regs.orig_rax = (unsigned long long)-1;
    regs.rax = (unsigned long long)-ENOSYS;
    ptrace(PTRACE_SETREGS, tid, 0, &regs);
    ptrace(PTRACE_CONT, tid, 0, 0);
    Py_RETURN_NONE;
  }
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

PyObject *syscall_stop(struct traced_calls *t, pid_t tid) {
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

/* A signal is about to be delivered to `tid`. If it came while a ruled call waited for
** luatrap to even receive its notification, seccomp gave up the wait with
** -ERESTARTSYS, which a handler without SA_RESTART turns into EINTR: a call that natively
** never waits must never fail so; it restarts (and meets its rule) after the handler. */
void signal_stop(struct traced_calls *t, pid_t tid, int sig) {
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
