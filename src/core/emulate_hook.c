/*
** emulate_hook.c - the emulate engine's per-call path: Unicorn's syscall hook, in C.
**
** Every system call instruction of the guest (x86_64 `syscall`, aarch64 `svc #0`) lands
** in on_syscall, inside Unicorn's CPU loop, on the host thread of the guest thread that
** made it. The guest's architecture is described once (struct guest_abi: where the
** number, arguments and result live); the path is the same for both. Read top to bottom:
**
**   1. the call number is the guest kernel's (x86_64: the low 32 bits of rax; aarch64:
**      x8), and host_nr maps it to the host's (the identity for x86_64 guests);
**   2. its route, set once by the Linux layer: answered in Python (the calls it
**      emulates, waits with a signal mask, x32, paths under /proc/: the guest's
**      /proc/self is luatrap's), or forwarded to the host kernel;
**   3. anything unusual sends the call to Python whole: tracing, a signal that may be
**      pending, a call that may block while other guest threads wait for the CPU;
**   4. a rule decides in C (Lua, no Python): skip the call with a value, or let it run;
**   5. the call is made from C, on this host thread, with the guest's registers, once
**      every pointer it carries is known to be the guest's (guest_pointers.c);
**   6. an interrupted or signalling result (EINTR, EPIPE, EFBIG) goes to Python, which
**      owns signals; the result goes to the result register; a signal that came
**      meanwhile stops the CPU.
**
** Guest memory is host memory at the same addresses, so a forwarded call needs no
** translation (calls whose structures differ between guest and host go to Python). A
** rule whose hook uses c_do_syscall is routed to Python, which steps its coroutine
** through the same runtime. Every other interrupt (a fault, x86's int 0x80) goes to
** Python too.
**
** The hook also fills Unicorn's TLB from the engine's guest map (emulate_memory.c), in
** Unicorn's "virtual TLB" mode: an identity mapping with each range's own permissions.
** Its default x86 MMU marks every page executable, and Unicorn then never lets a store
** to such a page take its fast path: gzip ran 3x slower for it.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "emulate_hook.h"

enum route {
  ROUTE_PYTHON = 0,      /* emulated by the Linux layer, or needs it */
  ROUTE_HOST = 1,        /* forwarded; may block, so only while no other thread waits */
  ROUTE_HOST_NEVER_BLOCKS = 2
};

#define NO_PATH 0xFF /* path_arg[nr]: the call names no /proc path Python answers */
#define AARCH64_EXCP_SWI 2 /* the interrupt number Unicorn gives an aarch64 `svc` */

#define AUDIT_ARCH_X86_64 0xc000003eU
#define AUDIT_ARCH_AARCH64 0xc00000b7U

static const struct guest_abi guest_abis[] = {
    {"x86_64",
     {UC_X86_REG_RAX, UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX, UC_X86_REG_R10,
      UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_RIP},
     UC_X86_REG_RAX, -1, 2 /* the hook runs at `syscall` */,
     AUDIT_ARCH_X86_64, emu_x86_64_enter_handler, emu_x86_64_sigreturn},
    {"aarch64",
     {UC_ARM64_REG_X8, UC_ARM64_REG_X0, UC_ARM64_REG_X0 + 1, UC_ARM64_REG_X0 + 2,
      UC_ARM64_REG_X0 + 3, UC_ARM64_REG_X0 + 4, UC_ARM64_REG_X0 + 5, UC_ARM64_REG_PC},
     UC_ARM64_REG_X0, AARCH64_EXCP_SWI, 0 /* past the `svc` already */,
     AUDIT_ARCH_AARCH64, emu_aarch64_enter_handler, emu_aarch64_sigreturn},
};

static int flag(const int *f) {
  return __atomic_load_n(f, __ATOMIC_SEQ_CST);
}

static void set_result(struct emu_hook *h, int64_t value) {
  h->api.reg_write(h->uc, h->abi->result, &value);
}

/* Python's path: the whole call, or the end of one made here. */
static void to_python(struct emu_hook *h, PyObject *fn, uint32_t nr, const int64_t a[6],
                      const int64_t *result) {
  PyGILState_STATE gil = PyGILState_Ensure();
  PyObject *args[8] = {NULL};
  PyObject *r = NULL;
  size_t n = result ? 8 : 7, i;
  args[0] = PyLong_FromUnsignedLong(nr);
  for (i = 0; i < 6; i++)
    args[i + 1] = PyLong_FromLongLong(a[i]);
  if (result)
    args[7] = PyLong_FromLongLong(*result);
  for (i = 0; i < n && args[i] != NULL; i++)
    ;
  if (i == n)
    r = PyObject_Vectorcall(fn, args, n, NULL);
  for (i = 0; i < n; i++)
    Py_XDECREF(args[i]);
  if (r == NULL) { /* Python's own guard reports luatrap's failures; this is a last resort */
    PyErr_WriteUnraisable(fn);
    h->api.emu_stop(h->uc);
  } else if (PyLong_Check(r)) {
    int64_t value = PyLong_AsLongLong(r);
    if (PyErr_Occurred())
      PyErr_WriteUnraisable(fn);
    else
      set_result(h, value);
  }
  Py_XDECREF(r);
  PyGILState_Release(gil);
}

/* Does call `nr` name a path under /proc/, which the Linux layer may answer for the
** guest (its /proc/self is luatrap's)? */
static int names_proc(const struct emu_hook *h, uint32_t nr, const int64_t args[6]) {
  static const char proc[] = "/proc/";
  char start[sizeof proc - 1];
  if (nr >= LT_MAX_NR || h->path_arg[nr] == NO_PATH)
    return 0;
  return emu_read_guest(h, (uint64_t)args[h->path_arg[nr]], start, sizeof start) == 0 &&
         memcmp(start, proc, sizeof start) == 0;
}

/* A call from the vDSO (a clock read), made as natively the kernel's vDSO would answer
** it: no rule, trace or filter sees it. Only from the vDSO's own code: elsewhere the
** number is no call (ENOSYS). */
static int vdso_call(struct emu_hook *h, uint32_t nr, const int64_t args[6], uint64_t pc) {
  int64_t result;
  int host_nr;
  nr &= ~(uint32_t)LT_VDSO_CALL;
  if (nr >= LT_MAX_NR || !h->vdso_nr[nr] || (host_nr = h->host_nr[nr]) < 0 ||
      pc < h->vdso_start || pc >= h->vdso_end)
    return 0;
  if ((result = lt_check_guest_pointers(&h->pointers, &h->map, host_nr, args)) == 0) {
    result = syscall((long)host_nr, args[0], args[1], args[2], args[3], args[4], args[5]);
    if (result == -1)
      result = -errno;
  }
  set_result(h, result);
  return 1;
}

static void on_syscall(uc_engine *uc, void *data) {
  struct emu_hook *h = data;
  int64_t v[8], result;
  void *const ptrs[8] = {&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]};
  const int64_t *args = v + 1;
  uint32_t nr;
  int route, host_nr;
  (void)uc;

  h->api.reg_read_batch(h->uc, h->abi->regs, ptrs, 8);
  nr = (uint32_t)v[0];
  if ((nr & LT_VDSO_CALL) && vdso_call(h, nr, args, (uint64_t)v[7]))
    return;
  if (h->seccomp != NULL && emu_seccomp_answers(h, nr, args, (uint64_t)v[7]))
    return;
  route = nr < LT_MAX_NR ? h->route[nr] : ROUTE_PYTHON;
  host_nr = nr < LT_MAX_NR ? h->host_nr[nr] : -1;
  if (host_nr < 0)
    route = ROUTE_PYTHON;
  if (route == ROUTE_PYTHON || flag(&h->slow) || flag(&h->signal_pending) ||
      (route == ROUTE_HOST && flag(&h->multi_threaded)) || names_proc(h, nr, args)) {
    to_python(h, h->on_syscall, nr, args, NULL);
    return;
  }
  if (h->rules != NULL && lt_rules_has(&h->rules->R, (int)nr)) {
    struct lt_caller caller = {0, 0, rules_memory_ops(h->rules), h->rules};
    struct lt_decision d;
    lt_rules_decide(&h->rules->R, &caller, (int)nr, args, &d);
    if (d.verdict == LT_RETURN) {
      set_result(h, d.value);
      return;
    }
    if (d.verdict == LT_RUN_NOW) /* not routed here; never leave a coroutine behind */
      lt_rules_drop(&h->rules->R, d.coroutine);
  }
  if ((result = lt_check_guest_pointers(&h->pointers, &h->map, host_nr, args)) != 0) {
    set_result(h, result); /* it would reach luatrap's own memory */
    return;
  }
  __atomic_store_n(&h->in_host_call, 1, __ATOMIC_SEQ_CST);
  result = syscall((long)host_nr, args[0], args[1], args[2], args[3], args[4], args[5]);
  if (result == -1)
    result = -errno;
  __atomic_store_n(&h->in_host_call, 0, __ATOMIC_SEQ_CST);
  if (host_nr == SYS_open || host_nr == SYS_openat || host_nr == SYS_openat2 ||
      host_nr == SYS_open_by_handle_at)
    result = lt_keep_opened(result);
  if (result == -EINTR || result == -EPIPE || result == -EFBIG) {
    to_python(h, h->after_host_call, nr, args, &result);
  } else {
    set_result(h, result);
  }
  if (flag(&h->signal_pending))
    h->api.emu_stop(h->uc);
}

/* Every interrupt: an aarch64 `svc` is a system call; the rest (faults, x86's int 0x80)
** are Python's. */
static void on_interrupt(uc_engine *uc, uint32_t intno, void *data) {
  struct emu_hook *h = data;
  PyGILState_STATE gil;
  PyObject *r;
  if ((int)intno == h->abi->interrupt) {
    on_syscall(uc, data);
    return;
  }
  gil = PyGILState_Ensure();
  r = PyObject_CallFunction(h->on_interrupt, "I", (unsigned int)intno);
  if (r == NULL) { /* Python's own guard reports luatrap's failures; a last resort */
    PyErr_WriteUnraisable(h->on_interrupt);
    h->api.emu_stop(h->uc);
  }
  Py_XDECREF(r);
  PyGILState_Release(gil);
}

/* ------------------------------------------------------------------ loading Unicorn */

int unicorn_api_load(struct unicorn_api *api, const char *path, const char **why) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (lib == NULL) {
    *why = "libunicorn is not loaded";
    return -1;
  }
  *(void **)&api->reg_read_batch = dlsym(lib, "uc_reg_read_batch");
  *(void **)&api->reg_write = dlsym(lib, "uc_reg_write");
  *(void **)&api->reg_write_batch = dlsym(lib, "uc_reg_write_batch");
  *(void **)&api->emu_start = dlsym(lib, "uc_emu_start");
  *(void **)&api->emu_stop = dlsym(lib, "uc_emu_stop");
  *(void **)&api->hook_add = dlsym(lib, "uc_hook_add");
  *(void **)&api->hook_del = dlsym(lib, "uc_hook_del");
  *(void **)&api->strerror = dlsym(lib, "uc_strerror");
  *(void **)&api->ctl = dlsym(lib, "uc_ctl");
  *(void **)&api->mem_map_ptr = dlsym(lib, "uc_mem_map_ptr");
  *(void **)&api->mem_unmap = dlsym(lib, "uc_mem_unmap");
  dlclose(lib); /* the Python side keeps it loaded for as long as the CPU lives */
  if (!api->reg_read_batch || !api->reg_write || !api->reg_write_batch || !api->emu_start || !api->emu_stop ||
      !api->hook_add ||
      !api->hook_del || !api->strerror || !api->ctl || !api->mem_map_ptr || !api->mem_unmap) {
    *why = "libunicorn lacks a function luatrap needs";
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ EmulateHook */

static int Hook_init(EmulateHookObject *self, PyObject *args, PyObject *kw) {
  static char *names[] = {"library", "uc", "on_syscall", "after_host_call", "on_interrupt",
                          "rules", "arch", NULL};
  struct emu_hook *h = &self->h;
  const char *library, *why = NULL, *arch = "x86_64";
  unsigned long long uc;
  PyObject *on_syscall, *after, *interrupt, *rules = Py_None;
  size_t i;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "sKOOO|Os", names, &library, &uc, &on_syscall,
                                   &after, &interrupt, &rules, &arch))
    return -1;
  if (h->uc != NULL) {
    PyErr_SetString(PyExc_RuntimeError, "EmulateHook is already initialised");
    return -1;
  }
  if (rules != Py_None && !PyObject_TypeCheck(rules, &RulesType)) {
    PyErr_SetString(PyExc_TypeError, "rules must be a luatrap._core.Rules or None");
    return -1;
  }
  if (unicorn_api_load(&h->api, library, &why) != 0) {
    PyErr_Format(PyExc_OSError, "%s: %s", library, why);
    return -1;
  }
  for (i = 0; i < sizeof guest_abis / sizeof guest_abis[0]; i++)
    if (strcmp(guest_abis[i].name, arch) == 0)
      h->abi = &guest_abis[i];
  if (h->abi == NULL) {
    PyErr_Format(PyExc_ValueError, "no guest architecture %s", arch);
    return -1;
  }
  h->uc = (uc_engine *)(uintptr_t)uc;
  memset(h->path_arg, NO_PATH, sizeof h->path_arg);
  for (i = 0; i < LT_MAX_NR; i++)
    h->host_nr[i] = (int16_t)i;
  h->on_syscall = Py_NewRef(on_syscall);
  h->after_host_call = Py_NewRef(after);
  h->on_interrupt = Py_NewRef(interrupt);
  h->rules = rules != Py_None ? (RulesObject *)Py_NewRef(rules) : NULL;
  return 0;
}

static void Hook_dealloc(EmulateHookObject *self) {
  struct emu_hook *h = &self->h;
  if (h->installed)
    h->api.hook_del(h->uc, h->intr_handle);
  if (h->installed > 1 && h->abi->interrupt < 0)
    h->api.hook_del(h->uc, h->handle);
  if (h->installed > 2)
    h->api.hook_del(h->uc, h->tlb_handle);
  guest_map_free(&h->map);
  lt_pointer_checks_free(&h->pointers);
  Py_XDECREF(h->on_syscall);
  Py_XDECREF(h->after_host_call);
  Py_XDECREF(h->on_interrupt);
  Py_XDECREF((PyObject *)h->rules);
  Py_XDECREF(h->seccomp);
  Py_XDECREF(h->on_seccomp);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Hook_install(EmulateHookObject *self, PyObject *unused) {
  struct emu_hook *h = &self->h;
  int err;
  (void)unused;
  if (h->uc == NULL || h->installed)
    return PyErr_Format(PyExc_RuntimeError, "EmulateHook cannot be installed now");
  err = h->api.hook_add(h->uc, &h->intr_handle, UC_HOOK_INTR, (void *)on_interrupt, h,
                        (uint64_t)1, (uint64_t)0);
  if (err != 0)
    return PyErr_Format(PyExc_OSError, "unicorn hook: %s", h->api.strerror(err));
  h->installed = 1;
  if (h->abi->interrupt < 0) {
    err = h->api.hook_add(h->uc, &h->handle, UC_HOOK_INSN, (void *)on_syscall, h,
                          (uint64_t)1, (uint64_t)0, UC_X86_INS_SYSCALL);
    if (err != 0)
      return PyErr_Format(PyExc_OSError, "unicorn hook: %s", h->api.strerror(err));
  }
  h->installed = 2;
  /* No exit address: uc_emu_start's `until` would be looked up as code, through the
  ** fill, which refuses it (it is no guest memory). The CPU stops when a hook says. */
  err = h->api.ctl(h->uc, UC_CTL_WRITE(UC_CTL_UC_USE_EXITS, 1), 1);
  if (err == 0)
    err = h->api.ctl(h->uc, UC_CTL_WRITE(UC_CTL_TLB_TYPE, 1), UC_TLB_VIRTUAL);
  if (err == 0)
    err = h->api.hook_add(h->uc, &h->tlb_handle, UC_HOOK_TLB_FILL, (void *)emu_fill_tlb, h,
                          (uint64_t)1, (uint64_t)0);
  if (err != 0)
    return PyErr_Format(PyExc_OSError, "unicorn TLB: %s", h->api.strerror(err));
  h->installed = 3;
  Py_RETURN_NONE;
}

/* resume(): run the guest from its pc until a hook stops the CPU or it faults; Unicorn's
** error code. (No exit address: see install.) */
static PyObject *Hook_resume(EmulateHookObject *self, PyObject *unused) {
  struct emu_hook *h = &self->h;
  uint64_t pc;
  void *pc_ptr = &pc;
  int err;
  (void)unused;
  if (h->api.reg_read_batch(h->uc, &h->abi->regs[7], &pc_ptr, 1) != 0)
    return PyErr_Format(PyExc_OSError, "unicorn: cannot read the pc");
  Py_BEGIN_ALLOW_THREADS
  err = h->api.emu_start(h->uc, pc, UINT64_MAX, 0, 0);
  Py_END_ALLOW_THREADS
  return PyLong_FromLong(err);
}

static PyObject *Hook_set_path_arg(EmulateHookObject *self, PyObject *args) {
  int nr, arg;
  if (!PyArg_ParseTuple(args, "ii", &nr, &arg))
    return NULL;
  if (nr < 0 || nr >= LT_MAX_NR || arg < -1 || arg > 5)
    return PyErr_Format(PyExc_ValueError, "bad path argument %d for call %d", arg, nr);
  self->h.path_arg[nr] = arg < 0 ? NO_PATH : (unsigned char)arg;
  Py_RETURN_NONE;
}

static PyObject *Hook_set_host_nr(EmulateHookObject *self, PyObject *args) {
  int nr, host_nr;
  if (!PyArg_ParseTuple(args, "ii", &nr, &host_nr))
    return NULL;
  if (nr < 0 || nr >= LT_MAX_NR || host_nr < -1 || host_nr >= LT_MAX_NR)
    return PyErr_Format(PyExc_ValueError, "bad host number %d for call %d", host_nr, nr);
  self->h.host_nr[nr] = (int16_t)host_nr;
  Py_RETURN_NONE;
}

static PyObject *Hook_set_route(EmulateHookObject *self, PyObject *args) {
  int nr, route;
  if (!PyArg_ParseTuple(args, "ii", &nr, &route))
    return NULL;
  if (nr < 0 || nr >= LT_MAX_NR || route < ROUTE_PYTHON || route > ROUTE_HOST_NEVER_BLOCKS)
    return PyErr_Format(PyExc_ValueError, "bad route %d for call %d", route, nr);
  self->h.route[nr] = (unsigned char)route;
  Py_RETURN_NONE;
}

static PyObject *Hook_set_vdso(EmulateHookObject *self, PyObject *args) {
  unsigned long long start, end;
  PyObject *numbers, *item;
  Py_ssize_t i;
  long nr;
  if (!PyArg_ParseTuple(args, "KKO!", &start, &end, &PyTuple_Type, &numbers))
    return NULL;
  memset(self->h.vdso_nr, 0, sizeof self->h.vdso_nr);
  for (i = 0; i < PyTuple_GET_SIZE(numbers); i++) {
    item = PyTuple_GET_ITEM(numbers, i);
    nr = PyLong_AsLong(item);
    if (nr < 0 || nr >= LT_MAX_NR)
      return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "no call %ld", nr);
    self->h.vdso_nr[nr] = 1;
  }
  self->h.vdso_start = start, self->h.vdso_end = end;
  Py_RETURN_NONE;
}

static PyObject *Hook_set_pointer_checks(EmulateHookObject *self, PyObject *list) {
  struct lt_pointer_arg *checks;
  Py_ssize_t n, i;
  int err, nr, arg, kind, count_arg;
  unsigned int size;
  if (!PyList_Check(list))
    return PyErr_Format(PyExc_TypeError, "set_pointer_checks takes a list");
  n = PyList_GET_SIZE(list);
  if ((checks = PyMem_Calloc((size_t)n + 1, sizeof *checks)) == NULL)
    return PyErr_NoMemory();
  for (i = 0; i < n; i++) {
    if (!PyArg_ParseTuple(PyList_GET_ITEM(list, i), "iiiiI", &nr, &arg, &kind, &count_arg,
                          &size) ||
        nr < 0 || nr >= LT_MAX_NR || arg < 0 || arg > 5 || kind <= 0 ||
        kind >= LT_PTR_KINDS || count_arg < -1 || count_arg > 5) {
      PyMem_Free(checks);
      if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "bad pointer check at %zd", i);
      return NULL;
    }
    checks[i] = (struct lt_pointer_arg){(uint16_t)nr, (uint8_t)arg, (uint8_t)kind,
                                        (int8_t)count_arg, size};
  }
  err = lt_pointer_checks_set(&self->h.pointers, checks, (uint32_t)n);
  PyMem_Free(checks);
  if (err == -ENOMEM)
    return PyErr_NoMemory();
  if (err != 0)
    return PyErr_Format(PyExc_ValueError, "pointer checks must be sorted by number");
  Py_RETURN_NONE;
}

static PyObject *Hook_reserve_fds(EmulateHookObject *self, PyObject *list) {
  Py_ssize_t n, i;
  int *fds, err;
  if (!PyList_Check(list))
    return PyErr_Format(PyExc_TypeError, "reserve_fds takes a list");
  n = PyList_GET_SIZE(list);
  if ((fds = PyMem_Calloc((size_t)n + 1, sizeof *fds)) == NULL)
    return PyErr_NoMemory();
  for (i = 0; i < n; i++)
    fds[i] = (int)PyLong_AsLong(PyList_GET_ITEM(list, i));
  if (PyErr_Occurred()) {
    PyMem_Free(fds);
    return NULL;
  }
  err = lt_pointer_checks_reserve(&self->h.pointers, fds, (size_t)n);
  PyMem_Free(fds);
  if (err != 0)
    return PyErr_NoMemory();
  Py_RETURN_NONE;
}

static PyObject *Hook_keep_opened(EmulateHookObject *self, PyObject *arg) {
  long long result = PyLong_AsLongLong(arg);
  (void)self;
  if (result == -1 && PyErr_Occurred())
    return NULL;
  return PyLong_FromLongLong(lt_keep_opened(result));
}

static PyObject *Hook_check_pointers(EmulateHookObject *self, PyObject *args) {
  long long a[6] = {0};
  int64_t v[6];
  int nr, i;
  if (!PyArg_ParseTuple(args, "i(LLLLLL)", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]))
    return NULL;
  for (i = 0; i < 6; i++)
    v[i] = a[i];
  return PyLong_FromLong(lt_check_guest_pointers(&self->h.pointers, &self->h.map, nr, v));
}

#define FLAG_PROPERTY(name)                                                             \
  static PyObject *Hook_get_##name(EmulateHookObject *self, void *c) {                 \
    (void)c;                                                                            \
    return PyLong_FromLong(flag(&self->h.name));                                        \
  }                                                                                     \
  static int Hook_set_##name(EmulateHookObject *self, PyObject *value, void *c) {      \
    int v = value ? PyObject_IsTrue(value) : 0;                                         \
    (void)c;                                                                            \
    if (v < 0)                                                                          \
      return -1;                                                                        \
    __atomic_store_n(&self->h.name, v, __ATOMIC_SEQ_CST);                               \
    return 0;                                                                           \
  }

FLAG_PROPERTY(slow)
FLAG_PROPERTY(signal_pending)
FLAG_PROPERTY(multi_threaded)

static PyObject *Hook_get_in_host_call(EmulateHookObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(flag(&self->h.in_host_call));
}

static PyMethodDef Hook_methods[] = {
    {"install", (PyCFunction)Hook_install, METH_NOARGS,
     "add the hooks (system calls, interrupts, TLB fills) to the CPU"},
    {"map", (PyCFunction)Hook_map, METH_VARARGS,
     "map(start, end, prot): show host pages [start, end) to the guest with PROT_* prot"},
    {"unmap", (PyCFunction)Hook_unmap, METH_VARARGS,
     "unmap(start, end): [start, end) is no longer guest memory"},
    {"map_cpu_only", (PyCFunction)Hook_map_cpu_only, METH_VARARGS,
     "map_cpu_only(start, end, prot): luatrap's pages the CPU itself reads (descriptor "
     "tables) or runs (a far jump's code) with PROT_* prot; the guest's calls cannot"},
    {"forget_code", (PyCFunction)Hook_forget_code, METH_VARARGS,
     "forget_code(start, end): drop translated code of [start, end)"},
    {"set_pointer_checks", (PyCFunction)Hook_set_pointer_checks, METH_O,
     "set_pointer_checks([(nr, arg, kind, count_arg, size), ...]): what forwarded calls "
     "may point at (guest_pointers.h), sorted by nr"},
    {"reserve_fds", (PyCFunction)Hook_reserve_fds, METH_O,
     "reserve_fds([fd, ...]): luatrap's own descriptors, which forwarded calls may not use"},
    {"keep_opened", (PyCFunction)Hook_keep_opened, METH_O,
     "keep_opened(result): an open's result, or -EACCES if it opened a /proc/PID/mem"},
    {"check_pointers", (PyCFunction)Hook_check_pointers, METH_VARARGS,
     "check_pointers(nr, args): 0 if the call may be forwarded, else -EFAULT or -EBADF"},
    {"run_to", (PyCFunction)Hook_run_to, METH_VARARGS,
     "run_to(pc, stops): run from pc, stopping before an instruction that begins at one "
     "of the addresses in the tuple stops (it is not fetched); the unicorn error code"},
    {"use_own_tlb", (PyCFunction)Hook_use_own_tlb, METH_O,
     "use_own_tlb(yes): fill Unicorn's TLB from the guest map, or let its MMU"},
    {"take_fault", (PyCFunction)Hook_take_fault, METH_NOARGS,
     "the access the TLB refused last, as (address, mapped, fetch), and forget it; or None"},
    {"set_path_arg", (PyCFunction)Hook_set_path_arg, METH_VARARGS,
     "set_path_arg(nr, arg): argument `arg` of call nr names a path; one under /proc/ "
     "goes to Python (-1: none)"},
    {"set_host_nr", (PyCFunction)Hook_set_host_nr, METH_VARARGS,
     "set_host_nr(nr, host_nr): the host's number of guest call nr (-1: the host has "
     "none, or its arguments differ: the call goes to Python)"},
    {"set_seccomp", (PyCFunction)Hook_set_seccomp, METH_VARARGS,
     "set_seccomp(filters, on_verdict): the running thread's seccomp filters (bytes: "
     "newest first, each a 32-bit count and its sock_filter instructions) or None; "
     "on_verdict(nr, a1..a6, verdict) is called for a trap or a kill"},
    {"install_kick", (PyCFunction)Hook_install_kick, METH_VARARGS,
     "install_kick(signo, fd): signo interrupts host calls; one that luatrap did not "
     "send is written to fd as (tid, pad, siginfo) for the watcher (emulate_kick.c)"},
    {"set_vdso", (PyCFunction)Hook_set_vdso, METH_VARARGS,
     "set_vdso(start, end, (nr, ...)): where the vDSO is, and the calls it makes"},
    {"show_process", (PyCFunction)Hook_show_process, METH_VARARGS,
     "show_process(arg_start, arg_end, env_start, env_end, auxv, auxv_size, exe_fd): "
     "the kernel's /proc/PID shows these (prctl PR_SET_MM_MAP); 0 or -errno"},
    {"check_filter", (PyCFunction)Hook_check_filter, METH_O,
     "check_filter(instructions): would the kernel accept this seccomp filter?"},
    {"seccomp_decide", (PyCFunction)Hook_seccomp_decide, METH_VARARGS,
     "seccomp_decide(nr, arch, ip, (a1..a6)): the filters' verdict (SECCOMP_RET_*)"},
    {"set_route", (PyCFunction)Hook_set_route, METH_VARARGS,
     "set_route(nr, route): 0 Python, 1 host (may block), 2 host (never blocks)"},
    {"resume", (PyCFunction)Hook_resume, METH_NOARGS,
     "resume(): run the guest from its pc until stopped or a fault; unicorn's error code"},
    {"read", (PyCFunction)Hook_read, METH_VARARGS,
     "read(addr, size): guest memory as bytes, or None unless all of it is readable"},
    {"write", (PyCFunction)Hook_write, METH_VARARGS,
     "write(addr, data): store in guest memory; False unless all of it is writable"},
    {"enter_handler", (PyCFunction)Hook_enter_handler, METH_VARARGS,
     "enter_handler(signo, handler, return_to, sa_flags, old_mask, altstack, info): "
     "the signal frame (emulate_frames.c); False if the stack cannot take it"},
    {"sigreturn", (PyCFunction)Hook_sigreturn, METH_O,
     "sigreturn(in_hook): restore the registers of the frame at the stack pointer; "
     "its saved mask, or None if the frame cannot be read"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Hook_getset[] = {
    {"slow", (getter)Hook_get_slow, (setter)Hook_set_slow, "every call to Python", NULL},
    {"signal_pending", (getter)Hook_get_signal_pending, (setter)Hook_set_signal_pending,
     "a guest signal may be pending", NULL},
    {"multi_threaded", (getter)Hook_get_multi_threaded, (setter)Hook_set_multi_threaded,
     "other guest threads exist", NULL},
    {"in_host_call", (getter)Hook_get_in_host_call, NULL,
     "the thread holding the CPU waits in a call forwarded from C", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject EmulateHookType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "luatrap._core.EmulateHook",
    .tp_basicsize = sizeof(EmulateHookObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The emulate engine's syscall hook: rules and forwarding in C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Hook_init,
    .tp_dealloc = (destructor)Hook_dealloc,
    .tp_methods = Hook_methods,
    .tp_getset = Hook_getset,
};
