/*
** notify_loop.c - the native engine's per-call path: seccomp user notifications,
** received, decided and answered by a thread of its own that never holds the GIL.
**
** A ruled call of the program waits in the kernel until the loop answers. Read top to
** bottom, serve() is the whole path:
**
**   1. receive the notification (a zeroed struct seccomp_notif);
**   2. a 32-bit (int 0x80) or x32 call becomes the x86_64 call it reaches (socketcall's
**      argument array is read from the caller), so a rule cannot be walked around;
**   3. no rule is asked for luatrap's own execve (the program has not started yet) or
**      for a call a hook is running for itself (c_do_syscall, under ptrace);
**   4. the rule decides in C; when tracing, Python decides (it writes the trace line);
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

#define AUDIT_ARCH_X86_64 0xC000003Eu
#define X32_SYSCALL_BIT 0x40000000u
#define I386_SOCKETCALL 102
#define MAX_FOREIGN 1024 /* i386 and x32 numbers */
#define MAX_SOCKETCALL 21
#define MAX_HELD 64      /* threads running a call for their hook at once */
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
  PyObject *decide;              /* tracing: Python decides (tid, nr, args) -> None | int */
  short i386[MAX_FOREIGN];       /* i386 number -> x86_64 number, or -1 */
  short x32[MAX_FOREIGN];        /* x32 number (no x32 bit) -> x86_64 number, or -1 */
  short socketcall_nr[MAX_SOCKETCALL], socketcall_args[MAX_SOCKETCALL];
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

/* The x86_64 call a foreign one reaches (-1: none), with its arguments. */
static int to_x86_64(struct notify_loop *n, const struct seccomp_notif *req, int64_t args[6]) {
  uint32_t nr = (uint32_t)req->data.nr, words[6];
  int i, call, count;
  for (i = 0; i < 6; i++)
    args[i] = (int64_t)req->data.args[i];
  if (req->data.arch == AUDIT_ARCH_X86_64)
    return (nr & ~X32_SYSCALL_BIT) < MAX_FOREIGN ? n->x32[nr & ~X32_SYSCALL_BIT] : -1;
  for (i = 0; i < 6; i++)
    args[i] &= 0xFFFFFFFF;
  if (nr != I386_SOCKETCALL)
    return nr < MAX_FOREIGN ? n->i386[nr] : -1;
  call = (int)args[0];
  if (call <= 0 || call >= MAX_SOCKETCALL || n->socketcall_nr[call] < 0)
    return -1;
  count = n->socketcall_args[call];
  if (lt_process_memory.read(NULL, (pid_t)req->pid, (uint64_t)args[1], words,
                             sizeof(uint32_t) * (size_t)count) != 0)
    return -1;
  for (i = 0; i < 6; i++)
    args[i] = i < count ? words[i] : 0;
  return n->socketcall_nr[call];
}

/* Tracing: the session decides and writes the trace line. */
static void python_decides(struct notify_loop *n, int tid, int nr, const int64_t a[6],
                           struct lt_decision *d) {
  PyGILState_STATE gil = PyGILState_Ensure();
  PyObject *r = PyObject_CallFunction(n->decide, "ii(LLLLLL)", tid, nr, (long long)a[0],
                                      (long long)a[1], (long long)a[2], (long long)a[3],
                                      (long long)a[4], (long long)a[5]);
  d->verdict = LT_RUN;
  d->touched = 1;
  if (r == NULL) {
    PyErr_WriteUnraisable(n->decide);
  } else if (PyLong_Check(r)) {
    d->value = PyLong_AsLongLong(r);
    d->verdict = PyErr_Occurred() ? LT_RUN : LT_RETURN;
    PyErr_Clear();
  }
  Py_XDECREF(r);
  PyGILState_Release(gil);
}

static void serve(struct notify_loop *n, struct seccomp_notif *req,
                  struct seccomp_notif_resp *resp) {
  struct lt_decision d = {LT_RUN};
  int64_t args[6];
  int nr, tid;
  uint64_t id;

  memset(req, 0, sizeof *req);
  if (ioctl(n->listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0)
    return; /* stopping (EINTR), or the caller died meanwhile (ENOENT) */
  tid = (int)req->pid;
  if (req->data.arch == AUDIT_ARCH_X86_64 && !((uint32_t)req->data.nr & X32_SYSCALL_BIT)) {
    nr = req->data.nr;
    memcpy(args, req->data.args, sizeof args);
  } else {
    nr = to_x86_64(n, req, args);
  }
  if (nr >= 0 && !(tid == n->main_pid && __atomic_load_n(&n->starting, __ATOMIC_SEQ_CST)) &&
      !is_held(n, tid)) {
    if (n->decide != NULL) {
      python_decides(n, tid, nr, args, &d);
    } else if (n->rules != NULL) {
      struct lt_caller caller = {-1, tid, &lt_process_memory, NULL};
      lt_rules_decide(&n->rules->R, &caller, nr, args, &d);
      if (d.verdict == LT_RUN_NOW) { /* only ptrace can run it: x86_64 calls stop there */
        lt_rules_drop(&n->rules->R, d.coroutine);
        pthread_mutex_lock(&n->rules->R.lock);
        lt_rules_report(&n->rules->R, n->rules->R.by_nr[nr],
                        "c_do_syscall is not available for a 32-bit or x32 call");
        pthread_mutex_unlock(&n->rules->R.lock);
        d.verdict = LT_RUN;
      }
    }
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

static int fill_map(short *map, int size, PyObject *dict, const char *what) {
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  int i;
  for (i = 0; i < size; i++)
    map[i] = -1;
  if (!PyDict_Check(dict)) {
    PyErr_Format(PyExc_TypeError, "%s must be a dict", what);
    return -1;
  }
  while (PyDict_Next(dict, &pos, &key, &value)) {
    long k = PyLong_AsLong(key), v = PyLong_AsLong(value);
    if (PyErr_Occurred())
      return -1;
    if (k < 0 || k >= size || v < -1 || v >= LT_MAX_NR) {
      PyErr_Format(PyExc_ValueError, "%s: bad entry %ld -> %ld", what, k, v);
      return -1;
    }
    map[k] = (short)v;
  }
  return 0;
}

/* socketcall: {sub-call: (x86_64 number, argument count)} */
static int fill_socketcall(struct notify_loop *n, PyObject *dict) {
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  int i, nr, count;
  for (i = 0; i < MAX_SOCKETCALL; i++)
    n->socketcall_nr[i] = -1;
  if (!PyDict_Check(dict)) {
    PyErr_SetString(PyExc_TypeError, "socketcall must be a dict");
    return -1;
  }
  while (PyDict_Next(dict, &pos, &key, &value)) {
    long call = PyLong_AsLong(key);
    if (PyErr_Occurred() || !PyArg_ParseTuple(value, "ii", &nr, &count))
      return -1;
    if (call <= 0 || call >= MAX_SOCKETCALL || nr < 0 || nr >= LT_MAX_NR || count < 1 ||
        count > 6) {
      PyErr_Format(PyExc_ValueError, "socketcall: bad entry %ld", call);
      return -1;
    }
    n->socketcall_nr[call] = (short)nr;
    n->socketcall_args[call] = (short)count;
  }
  return 0;
}

static int Loop_init(NotifyLoopObject *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"listener", "main_pid", "rules", "i386", "x32", "socketcall",
                          "decide", NULL};
  struct notify_loop *n = &self->n;
  PyObject *rules, *i386, *x32, *socketcall, *decide = Py_None;
  int err;
  if (self->ready) {
    PyErr_SetString(PyExc_RuntimeError, "NotifyLoop is already initialised");
    return -1;
  }
  if (!PyArg_ParseTupleAndKeywords(args, kw, "iiOOOO|O", names, &n->listener, &n->main_pid,
                                   &rules, &i386, &x32, &socketcall, &decide))
    return -1;
  if (rules != Py_None && !PyObject_TypeCheck(rules, &RulesType)) {
    PyErr_SetString(PyExc_TypeError, "rules must be a luatrap._core.Rules or None");
    return -1;
  }
  if (fill_map(n->i386, MAX_FOREIGN, i386, "i386") < 0 ||
      fill_map(n->x32, MAX_FOREIGN, x32, "x32") < 0 || fill_socketcall(n, socketcall) < 0)
    return -1;
  if ((err = pthread_mutex_init(&n->held_lock, NULL)) != 0) {
    errno = err;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
  }
  n->starting = 1;
  n->rules = rules != Py_None ? (RulesObject *)Py_NewRef(rules) : NULL;
  n->decide = decide != Py_None ? Py_NewRef(decide) : NULL;
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
    Py_XDECREF(self->n.decide);
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
    Py_BEGIN_ALLOW_THREADS /* a traced decision may wait for the GIL */
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
