/*
** notify_loop.c - the native engine's per-call path: seccomp user notifications,
** received, decided and answered by a thread of its own that never holds the GIL.
**
** A ruled call of the program waits in the kernel until the loop answers. Read top to
** bottom, serve() is the whole path:
**
**   1. receive the notification (a zeroed struct seccomp_notif);
**   2. a 32-bit (int 0x80) or x32 call becomes the x86_64 call it reaches (socketcall's
**      argument array is read from the caller: EFAULT if it cannot be), so a rule
**      cannot be walked around (foreign_calls.c);
**   3. no rule is asked for luatrap's own execve (the program has not started yet) or
**      for a call a hook is running for itself (c_do_syscall, under ptrace);
**   4. the rule decides, in C. (Calls whose hook uses c_do_syscall, and every call
**      when tracing, stop under ptrace instead: traced_calls.c.)
**   5. if the hook looked at the caller's memory, the notification must still be
**      pending (else the thread is gone and the memory may be another's): no answer;
**   6. the answer: CONTINUE (the call runs), or skip it with a value or an error.
**
** Python's ptrace thread follows tasks, execs and the calls that stop under ptrace.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "module.h"

#define MAX_HELD 64 /* threads running a call for their hook at once */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#endif

/* Wakes the loop's thread from its wait in SECCOMP_IOCTL_NOTIF_RECV, which neither a
** closed descriptor nor the end of the program ends: a signal without SA_RESTART does.
** (Waiting in poll() instead costs a system call and a wake-up more per call.) */
#define STOP_SIGNAL (SIGRTMAX - 1)

struct notify_loop {
  int listener, main_pid;
  int stopping;
  int starting;                  /* the main task has not reached its execve yet */
  RulesObject *rules;
  ForeignCallsObject *foreign;   /* i386 and x32 numbers */
  pthread_mutex_t held_lock;
  int held[MAX_HELD];            /* tids whose calls are their own hook's: no rule */
  pthread_t thread;
  int running;
};

typedef struct {
  PyObject_HEAD
  struct notify_loop n;
  int ready;
} NotifyLoopObject;

/* ------------------------------------------------------------------ the path */

static int is_held(struct notify_loop *n, int tid) {
  int i, found = 0;
  pthread_mutex_lock(&n->held_lock);
  for (i = 0; i < MAX_HELD && !found; i++)
    found = n->held[i] == tid;
  pthread_mutex_unlock(&n->held_lock);
  return found;
}

static void serve(struct notify_loop *n, struct seccomp_notif *req,
                  struct seccomp_notif_resp *resp) {
  struct lt_decision d = {LT_RUN};
  struct lt_raw_call call;
  int64_t args[6];
  int nr, tid;
  uint64_t id;

  memset(req, 0, sizeof *req);
  if (ioctl(n->listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0)
    return; /* stopping (EINTR), or the caller died meanwhile (ENOENT) */
  tid = (int)req->pid;
  call.arch = req->data.arch;
  call.nr = (uint32_t)req->data.nr;
  memcpy(call.args, req->data.args, sizeof call.args);
  if (!lt_is_foreign(&call)) {
    nr = (int)call.nr;
    memcpy(args, call.args, sizeof args);
  } else if ((nr = lt_foreign_to_x86_64(&n->foreign->F, &call, tid, args)) == LT_UNREADABLE) {
    d.verdict = LT_RETURN, d.value = -EFAULT; /* as the kernel would fail it */
    d.touched = 1;
  }
  if (nr >= 0 && !(tid == n->main_pid && __atomic_load_n(&n->starting, __ATOMIC_SEQ_CST)) &&
      !is_held(n, tid) && n->rules != NULL) {
    struct lt_caller caller = {-1, tid, &lt_process_memory, NULL};
    lt_rules_decide(&n->rules->R, &caller, nr, args, &d);
    if (d.verdict == LT_RUN_NOW) { /* the filter sends such calls to ptrace: cannot be */
      lt_rules_drop(&n->rules->R, d.coroutine);
      d.verdict = LT_RETURN, d.value = -ENOSYS;
    }
  }
  if (d.touched) {
    id = req->id;
    if (d.touched && ioctl(n->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0)
      return; /* the caller is gone: what the hook read may be another's memory */
  }
  memset(resp, 0, sizeof *resp);
  resp->id = req->id;
  if (d.verdict == LT_RUN)
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  else if (d.value >= -4095 && d.value < 0)
    resp->error = (int32_t)d.value;
  else
    resp->val = d.value;
  ioctl(n->listener, SECCOMP_IOCTL_NOTIF_SEND, resp); /* ENOENT: the caller is gone */
}

static void *run(void *arg) {
  struct notify_loop *n = arg;
  struct seccomp_notif req;
  struct seccomp_notif_resp resp;
  uint64_t sync_wake_up = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, STOP_SIGNAL);
  pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
  /* answer on the caller's CPU (Linux 6.6); without it, the default */
  (void)ioctl(n->listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, sync_wake_up);
  while (!__atomic_load_n(&n->stopping, __ATOMIC_SEQ_CST))
    serve(n, &req, &resp);
  return NULL;
}

static void on_stop_signal(int sig) {
  (void)sig; /* only there to interrupt the wait */
}

/* ------------------------------------------------------------------ NotifyLoop */

static int Loop_init(NotifyLoopObject *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"listener", "main_pid", "rules", "foreign", NULL};
  struct notify_loop *n = &self->n;
  PyObject *rules, *foreign;
  int err;
  if (self->ready) {
    PyErr_SetString(PyExc_RuntimeError, "NotifyLoop is already initialised");
    return -1;
  }
  if (!PyArg_ParseTupleAndKeywords(args, kw, "iiOO!", names, &n->listener, &n->main_pid,
                                   &rules, &ForeignCallsType, &foreign))
    return -1;
  if (rules != Py_None && !PyObject_TypeCheck(rules, &RulesType)) {
    PyErr_SetString(PyExc_TypeError, "rules must be a luatrap._core.Rules or None");
    return -1;
  }
  if ((err = pthread_mutex_init(&n->held_lock, NULL)) != 0) {
    errno = err;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
  }
  n->starting = 1;
  n->rules = rules != Py_None ? (RulesObject *)Py_NewRef(rules) : NULL;
  n->foreign = (ForeignCallsObject *)Py_NewRef(foreign);
  self->ready = 1;
  return 0;
}

static PyObject *Loop_stop(NotifyLoopObject *self, PyObject *unused);

static void Loop_dealloc(NotifyLoopObject *self) {
  if (self->ready) {
    PyObject *r = Loop_stop(self, NULL);
    Py_XDECREF(r);
    pthread_mutex_destroy(&self->n.held_lock);
    Py_XDECREF((PyObject *)self->n.rules);
    Py_XDECREF((PyObject *)self->n.foreign);
  }
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Loop_start(NotifyLoopObject *self, PyObject *unused) {
  struct sigaction sa;
  int err;
  (void)unused;
  if (!self->ready || self->n.running)
    return PyErr_Format(PyExc_RuntimeError, "NotifyLoop cannot start now");
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal; /* no SA_RESTART: the wait ends with EINTR */
  if (sigemptyset(&sa.sa_mask) != 0 || sigaction(STOP_SIGNAL, &sa, NULL) != 0)
    return PyErr_SetFromErrno(PyExc_OSError);
  __atomic_store_n(&self->n.stopping, 0, __ATOMIC_SEQ_CST);
  if ((err = pthread_create(&self->n.thread, NULL, run, &self->n)) != 0) {
    errno = err;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  self->n.running = 1;
  Py_RETURN_NONE;
}

/* Signal the thread until it has ended: a signal that lands between its check of
** `stopping` and its next wait is taken and lost, so one may not be enough. */
static void stop_thread(struct notify_loop *n) {
  struct timespec deadline;
  __atomic_store_n(&n->stopping, 1, __ATOMIC_SEQ_CST);
  for (;;) {
    if (pthread_kill(n->thread, STOP_SIGNAL) != 0 ||
        clock_gettime(CLOCK_REALTIME, &deadline) != 0) {
      pthread_join(n->thread, NULL); /* cannot happen; and it ends at the next call */
      return;
    }
    deadline.tv_nsec += 5 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000L)
      deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
    if (pthread_timedjoin_np(n->thread, NULL, &deadline) != ETIMEDOUT)
      return;
  }
}

static PyObject *Loop_stop(NotifyLoopObject *self, PyObject *unused) {
  (void)unused;
  if (self->ready && self->n.running) {
    Py_BEGIN_ALLOW_THREADS /* a rule's error may be on its way to Python */
    stop_thread(&self->n);
    Py_END_ALLOW_THREADS
    self->n.running = 0;
  }
  Py_RETURN_NONE;
}

static PyObject *Loop_hold(NotifyLoopObject *self, PyObject *arg) {
  int tid = (int)PyLong_AsLong(arg), i, done = 0;
  if (PyErr_Occurred())
    return NULL;
  pthread_mutex_lock(&self->n.held_lock);
  for (i = 0; i < MAX_HELD && !done; i++)
    if (self->n.held[i] == 0 || self->n.held[i] == tid)
      self->n.held[i] = tid, done = 1;
  pthread_mutex_unlock(&self->n.held_lock);
  if (!done)
    return PyErr_Format(PyExc_OverflowError, "more than %d threads in c_do_syscall", MAX_HELD);
  Py_RETURN_NONE;
}

static PyObject *Loop_release(NotifyLoopObject *self, PyObject *arg) {
  int tid = (int)PyLong_AsLong(arg), i;
  if (PyErr_Occurred())
    return NULL;
  pthread_mutex_lock(&self->n.held_lock);
  for (i = 0; i < MAX_HELD; i++)
    if (self->n.held[i] == tid)
      self->n.held[i] = 0;
  pthread_mutex_unlock(&self->n.held_lock);
  Py_RETURN_NONE;
}

static PyObject *Loop_get_starting(NotifyLoopObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(__atomic_load_n(&self->n.starting, __ATOMIC_SEQ_CST));
}

static int Loop_set_starting(NotifyLoopObject *self, PyObject *value, void *c) {
  int v = value ? PyObject_IsTrue(value) : 0;
  (void)c;
  if (v < 0)
    return -1;
  __atomic_store_n(&self->n.starting, v, __ATOMIC_SEQ_CST);
  return 0;
}

static PyMethodDef Loop_methods[] = {
    {"start", (PyCFunction)Loop_start, METH_NOARGS, "serve notifications on a new thread"},
    {"stop", (PyCFunction)Loop_stop, METH_NOARGS, "stop serving and wait for the thread"},
    {"hold", (PyCFunction)Loop_hold, METH_O,
     "hold(tid): the thread runs a call for its own hook; ask no rule"},
    {"release", (PyCFunction)Loop_release, METH_O, "release(tid): rules apply again"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Loop_getset[] = {
    {"starting", (getter)Loop_get_starting, (setter)Loop_set_starting,
     "the main task has not exec'd the program yet (its calls are luatrap's)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject NotifyLoopType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "luatrap._core.NotifyLoop",
    .tp_basicsize = sizeof(NotifyLoopObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The native engine's seccomp notification loop, on a C thread.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Loop_init,
    .tp_dealloc = (destructor)Loop_dealloc,
    .tp_methods = Loop_methods,
    .tp_getset = Loop_getset,
};
