/*
** traced_wait.c - waiting for the native engine's ptrace stops, and the Python type
** (luatrap._core.TracedCalls) the supervisor drives them with. The stops themselves are
** served in traced_calls.c.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "traced_calls.h"

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
