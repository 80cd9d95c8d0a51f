/*
** module.c - luatrap._core: the rules runtime as a Python type.
**
** Every method that enters Lua lets go of the GIL first: the runtime's own lock
** orders the threads, and a c_* function that needs Python (write_guard, on_error)
** takes the GIL back while nobody waits for it holding the runtime's lock.
*/
#include "guest_pointers.h"
#include "module.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------------ memory */

static int guarded_write(void *ctx, pid_t tid, uint64_t addr, const void *buf, size_t n) {
  RulesObject *self = ctx;
  PyGILState_STATE gil = PyGILState_Ensure();
  PyObject *ok = PyObject_CallFunction(self->write_guard, "KK", (unsigned long long)addr,
                                       (unsigned long long)n);
  int allowed = ok != NULL && PyObject_IsTrue(ok) == 1;
  Py_XDECREF(ok);
  if (PyErr_Occurred())
    PyErr_WriteUnraisable(self->write_guard);
  PyGILState_Release(gil);
  if (!allowed)
    return -EFAULT;
  return lt_process_memory.write(NULL, tid, addr, buf, n);
}

static int plain_read(void *ctx, pid_t tid, uint64_t addr, void *buf, size_t n) {
  (void)ctx;
  return lt_process_memory.read(NULL, tid, addr, buf, n);
}

static const struct lt_memory_ops guarded_memory = {plain_read, guarded_write};

const struct lt_memory_ops *rules_memory_ops(RulesObject *rules) {
  return rules->write_guard == NULL ? &lt_process_memory : &guarded_memory;
}

/* ------------------------------------------------------------------ errors */

static void error_to_python(void *ud, const char *path, const char *message) {
  RulesObject *self = ud;
  PyGILState_STATE gil = PyGILState_Ensure();
  PyObject *r = PyObject_CallFunction(self->on_error, "ss", path, message);
  if (r == NULL)
    PyErr_WriteUnraisable(self->on_error);
  Py_XDECREF(r);
  PyGILState_Release(gil);
}

/* ------------------------------------------------------------------ Rules */

static int Rules_init(RulesObject *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"budget", "memory_cap", "log_fd", "on_error", "deny_on_error",
                          NULL};
  int budget, log_fd, err, deny_on_error = 0;
  unsigned long long cap;
  PyObject *on_error = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "iKi|Op", names, &budget, &cap, &log_fd,
                                   &on_error, &deny_on_error))
    return -1;
  if (self->ready) {
    PyErr_SetString(PyExc_RuntimeError, "Rules is already initialised");
    return -1;
  }
  if ((err = lt_rules_init(&self->R, budget, (size_t)cap, log_fd)) != 0) {
    errno = -err;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
  }
  self->ready = 1;
  self->R.deny_on_error = deny_on_error;
  if (on_error != Py_None) {
    Py_INCREF(on_error);
    self->on_error = on_error;
    self->R.on_error = error_to_python;
    self->R.on_error_ud = self;
  }
  return 0;
}

static void Rules_dealloc(RulesObject *self) {
  if (self->ready)
    lt_rules_free(&self->R);
  Py_XDECREF(self->on_error);
  Py_XDECREF(self->write_guard);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static int check_ready(RulesObject *self) {
  if (!self->ready)
    PyErr_SetString(PyExc_RuntimeError, "Rules is not initialised");
  return self->ready;
}

static PyObject *Rules_add(RulesObject *self, PyObject *args) {
  int nr, err;
  unsigned sign32, zero32;
  const char *name, *path;
  Py_buffer source;
  if (!check_ready(self) || !PyArg_ParseTuple(args, "issy*II", &nr, &name, &path, &source,
                                              &sign32, &zero32))
    return NULL;
  err = lt_rules_add(&self->R, nr, name, path, source.buf, (size_t)source.len, sign32,
                     zero32);
  PyBuffer_Release(&source);
  if (err != 0) {
    errno = -err;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  Py_RETURN_NONE;
}

static PyObject *Rules_library(RulesObject *self, PyObject *args) {
  const char *name;
  Py_buffer source;
  int err;
  if (!check_ready(self) || !PyArg_ParseTuple(args, "sy*", &name, &source))
    return NULL;
  Py_BEGIN_ALLOW_THREADS
  err = lt_rules_library(&self->R, name, source.buf, (size_t)source.len);
  Py_END_ALLOW_THREADS
  PyBuffer_Release(&source);
  if (err != 0)
    return PyErr_NoMemory();
  Py_RETURN_NONE;
}

static PyObject *Rules_report(RulesObject *self, PyObject *args) {
  int nr;
  const char *message;
  if (!check_ready(self) || !PyArg_ParseTuple(args, "is", &nr, &message))
    return NULL;
  if (!lt_rules_has(&self->R, nr))
    return PyErr_Format(PyExc_ValueError, "no rule for call %d", nr);
  Py_BEGIN_ALLOW_THREADS
  pthread_mutex_lock(&self->R.lock);
  lt_rules_report(&self->R, self->R.by_nr[nr], message);
  pthread_mutex_unlock(&self->R.lock);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

static PyObject *Rules_name(RulesObject *self, PyObject *args) {
  int nr;
  const char *name;
  if (!check_ready(self) || !PyArg_ParseTuple(args, "is", &nr, &name))
    return NULL;
  if (lt_rules_name(&self->R, nr, name) != 0)
    return PyErr_Format(PyExc_ValueError, "cannot name call %d", nr);
  Py_RETURN_NONE;
}

static PyObject *Rules_set_integer(RulesObject *self, PyObject *args) {
  const char *name;
  long long value;
  if (!check_ready(self) || !PyArg_ParseTuple(args, "sL", &name, &value))
    return NULL;
  if (lt_rules_set_integer(&self->R, name, value) != 0)
    return PyErr_NoMemory();
  Py_RETURN_NONE;
}

static PyObject *Rules_uses_run_now(RulesObject *self, PyObject *arg) {
  int nr = (int)PyLong_AsLong(arg);
  if (PyErr_Occurred() || !check_ready(self))
    return NULL;
  return PyBool_FromLong(lt_rules_uses_run_now(&self->R, nr));
}

static PyObject *Rules_load(RulesObject *self, PyObject *arg) {
  int nr = (int)PyLong_AsLong(arg), usable;
  if (PyErr_Occurred() || !check_ready(self))
    return NULL;
  Py_BEGIN_ALLOW_THREADS
  usable = lt_rules_load(&self->R, nr);
  Py_END_ALLOW_THREADS
  return PyBool_FromLong(usable);
}

/* None (run it), an int (skip it, return this), or (nr, args, coroutine). */
static PyObject *decision_object(const struct lt_decision *d) {
  const int64_t *a = d->now_args;
  switch (d->verdict) {
  case LT_RETURN:
    return PyLong_FromLongLong(d->value);
  case LT_RUN_NOW:
    return Py_BuildValue("(i[LLLLLL]i)", d->now_nr, (long long)a[0], (long long)a[1],
                         (long long)a[2], (long long)a[3], (long long)a[4], (long long)a[5],
                         d->coroutine);
  default:
    Py_RETURN_NONE;
  }
}

static PyObject *Rules_decide(RulesObject *self, PyObject *args) {
  struct lt_caller caller = {0};
  struct lt_decision d;
  int64_t a[6];
  int nr, tid, pid;
  long long v[6];
  if (!check_ready(self) || !PyArg_ParseTuple(args, "iii(LLLLLL)", &tid, &pid, &nr, &v[0],
                                              &v[1], &v[2], &v[3], &v[4], &v[5]))
    return NULL;
  memcpy(a, v, sizeof a);
  caller.pid = pid;
  caller.tid = tid;
  caller.memory = rules_memory_ops(self);
  caller.ctx = self;
  Py_BEGIN_ALLOW_THREADS
  lt_rules_decide(&self->R, &caller, nr, a, &d);
  Py_END_ALLOW_THREADS
  return decision_object(&d);
}

static PyObject *Rules_resume(RulesObject *self, PyObject *args) {
  struct lt_caller caller = {0};
  struct lt_decision d;
  int tid, pid, hooked_nr, coroutine;
  long long result;
  if (!check_ready(self) ||
      !PyArg_ParseTuple(args, "iiiiL", &tid, &pid, &hooked_nr, &coroutine, &result))
    return NULL;
  caller.pid = pid;
  caller.tid = tid;
  caller.memory = rules_memory_ops(self);
  caller.ctx = self;
  Py_BEGIN_ALLOW_THREADS
  lt_rules_resume(&self->R, &caller, hooked_nr, coroutine, result, &d);
  Py_END_ALLOW_THREADS
  return decision_object(&d);
}

static PyObject *Rules_drop(RulesObject *self, PyObject *arg) {
  int coroutine = (int)PyLong_AsLong(arg);
  if (PyErr_Occurred() || !check_ready(self))
    return NULL;
  Py_BEGIN_ALLOW_THREADS
  lt_rules_drop(&self->R, coroutine);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

static PyObject *Rules_finish(RulesObject *self, PyObject *unused) {
  (void)unused;
  if (!check_ready(self))
    return NULL;
  Py_BEGIN_ALLOW_THREADS
  pthread_mutex_lock(&self->R.lock);
  lt_rules_finish(&self->R);
  pthread_mutex_unlock(&self->R.lock);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

static PyObject *Rules_after_fork(RulesObject *self, PyObject *unused) {
  (void)unused;
  /* Only the forking thread survives; nobody can hold the lock in the child. */
  if (check_ready(self) && pthread_mutex_init(&self->R.lock, NULL) != 0)
    return PyErr_Format(PyExc_OSError, "cannot reset the rules lock");
  Py_RETURN_NONE;
}

static PyObject *Rules_get_log_fd(RulesObject *self, void *closure) {
  (void)closure;
  return PyLong_FromLong(self->R.log_fd);
}

static int Rules_set_log_fd(RulesObject *self, PyObject *value, void *closure) {
  long fd = value ? PyLong_AsLong(value) : -1;
  (void)closure;
  if (fd < 0 || PyErr_Occurred()) {
    if (!PyErr_Occurred())
      PyErr_SetString(PyExc_ValueError, "log_fd must be a descriptor");
    return -1;
  }
  self->R.log_fd = (int)fd;
  return 0;
}

static PyObject *Rules_get_write_guard(RulesObject *self, void *closure) {
  (void)closure;
  return Py_NewRef(self->write_guard ? self->write_guard : Py_None);
}

static int Rules_set_write_guard(RulesObject *self, PyObject *value, void *closure) {
  (void)closure;
  Py_CLEAR(self->write_guard);
  if (value != NULL && value != Py_None)
    self->write_guard = Py_NewRef(value);
  return 0;
}

static PyMethodDef Rules_methods[] = {
    {"add", (PyCFunction)Rules_add, METH_VARARGS,
     "add(nr, name, path, source, sign32, zero32): a rule file, as read at start"},
    {"library", (PyCFunction)Rules_library, METH_VARARGS,
     "library(name, source): a library file (_name.lua) for require, as read at start"},
    {"report", (PyCFunction)Rules_report, METH_VARARGS,
     "report(nr, message): a [Lua Error] line about nr's rule, once"},
    {"name", (PyCFunction)Rules_name, METH_VARARGS, "name(nr, name): for c_syscall_name"},
    {"set_integer", (PyCFunction)Rules_set_integer, METH_VARARGS,
     "set_integer(name, value): an integer global (errno constants)"},
    {"uses_run_now", (PyCFunction)Rules_uses_run_now, METH_O,
     "uses_run_now(nr): may the rule of nr call c_do_syscall?"},
    {"load", (PyCFunction)Rules_load, METH_O, "load(nr): load a rule now; is it usable?"},
    {"decide", (PyCFunction)Rules_decide, METH_VARARGS,
     "decide(tid, pid, nr, args) -> None | int | (nr, args, coroutine)"},
    {"resume", (PyCFunction)Rules_resume, METH_VARARGS,
     "resume(tid, pid, hooked_nr, coroutine, result) -> as decide"},
    {"drop", (PyCFunction)Rules_drop, METH_O, "drop(coroutine): its thread is gone"},
    {"finish", (PyCFunction)Rules_finish, METH_NOARGS, "say how many errors were held back"},
    {"after_fork", (PyCFunction)Rules_after_fork, METH_NOARGS, "in a forked child"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Rules_getset[] = {
    {"log_fd", (getter)Rules_get_log_fd, (setter)Rules_set_log_fd, "where lines go", NULL},
    {"write_guard", (getter)Rules_get_write_guard, (setter)Rules_set_write_guard,
     "callable(addr, size) -> bool asked before a rule writes memory", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject RulesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "luatrap._core.Rules",
    .tp_basicsize = sizeof(RulesObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A rules folder's scripts in one Lua 5.4 state, decided from C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Rules_init,
    .tp_dealloc = (destructor)Rules_dealloc,
    .tp_methods = Rules_methods,
    .tp_getset = Rules_getset,
};

/* ------------------------------------------------------------------ ForeignCalls */

/* {key: value} into map[key] (-1 elsewhere); each key below `size`, each value an
** x86_64 (or, reversed, a foreign) number below `limit`. */
static int fill_map(short *map, int size, int limit, PyObject *dict, const char *what) {
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
    if (k < 0 || k >= size || v < -1 || v >= limit) {
      PyErr_Format(PyExc_ValueError, "%s: bad entry %ld -> %ld", what, k, v);
      return -1;
    }
    map[k] = (short)v;
  }
  return 0;
}

/* socketcall: {sub-call: (x86_64 number, argument count)} */
static int fill_socketcall(struct lt_foreign_calls *F, PyObject *dict) {
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  int i, nr, count;
  for (i = 0; i < LT_MAX_SOCKETCALL; i++)
    F->socketcall_nr[i] = -1;
  if (!PyDict_Check(dict)) {
    PyErr_SetString(PyExc_TypeError, "socketcall must be a dict");
    return -1;
  }
  while (PyDict_Next(dict, &pos, &key, &value)) {
    long call = PyLong_AsLong(key);
    if (PyErr_Occurred() || !PyArg_ParseTuple(value, "ii", &nr, &count))
      return -1;
    if (call <= 0 || call >= LT_MAX_SOCKETCALL || nr < 0 || nr >= LT_MAX_NR || count < 1 ||
        count > 6) {
      PyErr_Format(PyExc_ValueError, "socketcall: bad entry %ld", call);
      return -1;
    }
    F->socketcall_nr[call] = (short)nr;
    F->socketcall_args[call] = (short)count;
  }
  return 0;
}

static int Foreign_init(ForeignCallsObject *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"i386", "x32", "socketcall", "i386_of", "x32_of", NULL};
  struct lt_foreign_calls *F = &self->F;
  PyObject *i386, *x32, *socketcall, *i386_of, *x32_of;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO", names, &i386, &x32, &socketcall,
                                   &i386_of, &x32_of))
    return -1;
  if (fill_map(F->i386, LT_MAX_FOREIGN, LT_MAX_NR, i386, "i386") < 0 ||
      fill_map(F->x32, LT_MAX_FOREIGN, LT_MAX_NR, x32, "x32") < 0 ||
      fill_socketcall(F, socketcall) < 0 ||
      fill_map(F->i386_of, LT_MAX_NR, LT_MAX_FOREIGN, i386_of, "i386_of") < 0 ||
      fill_map(F->x32_of, LT_MAX_NR, LT_MAX_FOREIGN, x32_of, "x32_of") < 0)
    return -1;
  return 0;
}

PyTypeObject ForeignCallsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "luatrap._core.ForeignCalls",
    .tp_basicsize = sizeof(ForeignCallsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "i386 and x32 call numbers to and from their x86_64 twins "
              "(ForeignCalls(i386, x32, socketcall, i386_of, x32_of)).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Foreign_init,
};

/* The kinds of EmulateHook.set_pointer_checks entries (guest_pointers.h), as
** luatrap._core.POINTER_KINDS: name -> value, for the table built in Python. */
static int add_pointer_kinds(PyObject *m) {
  static const struct {
    const char *name;
    int kind;
  } kinds[] = {{"READ", LT_PTR_READ}, {"WRITE", LT_PTR_WRITE}, {"ANY", LT_PTR_ANY},
               {"STRING", LT_PTR_STRING}, {"IOVEC_READ", LT_PTR_IOVEC_READ},
               {"IOVEC_WRITE", LT_PTR_IOVEC_WRITE}, {"MSGHDR_READ", LT_PTR_MSGHDR_READ},
               {"MSGHDR_WRITE", LT_PTR_MSGHDR_WRITE}, {"MMSGHDR_READ", LT_PTR_MMSGHDR_READ},
               {"MMSGHDR_WRITE", LT_PTR_MMSGHDR_WRITE},
               {"FUTEX_SECOND", LT_PTR_FUTEX_SECOND}, {"FD", LT_FD}};
  PyObject *dict = PyDict_New(), *value;
  size_t i;
  if (dict == NULL)
    return -1;
  for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    value = PyLong_FromLong(kinds[i].kind);
    if (value == NULL || PyDict_SetItemString(dict, kinds[i].name, value) < 0) {
      Py_XDECREF(value);
      Py_DECREF(dict);
      return -1;
    }
    Py_DECREF(value);
  }
  i = PyModule_AddObjectRef(m, "POINTER_KINDS", dict) < 0;
  Py_DECREF(dict);
  return i ? -1 : 0;
}

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "luatrap._core",
    "luatrap's C core: the rules runtime and the engines' per-call hooks.", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void) {
  PyObject *m;
  if (PyType_Ready(&RulesType) < 0 || PyType_Ready(&EmulateHookType) < 0 ||
      PyType_Ready(&NotifyLoopType) < 0 || PyType_Ready(&TracedCallsType) < 0 ||
      PyType_Ready(&ForeignCallsType) < 0)
    return NULL;
  if ((m = PyModule_Create(&module)) == NULL)
    return NULL;
  if (PyModule_AddObjectRef(m, "Rules", (PyObject *)&RulesType) < 0 ||
      PyModule_AddObjectRef(m, "EmulateHook", (PyObject *)&EmulateHookType) < 0 ||
      PyModule_AddObjectRef(m, "NotifyLoop", (PyObject *)&NotifyLoopType) < 0 ||
      PyModule_AddObjectRef(m, "TracedCalls", (PyObject *)&TracedCallsType) < 0 ||
      PyModule_AddObjectRef(m, "ForeignCalls", (PyObject *)&ForeignCallsType) < 0 ||
      PyModule_AddStringConstant(m, "LUA_VERSION", LUA_RELEASE) < 0 ||
      add_pointer_kinds(m) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
