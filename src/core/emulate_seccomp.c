/*
** emulate_seccomp.c - the guest's seccomp filters in the emulate engine's syscall hook.
**
** When the running guest thread has filters (the Linux layer sets them at every switch
** of thread), every call is first shown to them, as the kernel does on entry:
** an errno or "no tracer / no supervisor" verdict is answered here; a trap (SIGSYS) or
** a kill goes to Python, which owns signals and exits; allow and log go on to the rest
** of the hook (rules, forwarding).
*/
#include <errno.h>

#include "emulate_hook.h"
#include "guest_seccomp.h"

#define MAX_ERRNO 4095

static void seccomp_data_of(struct emu_hook *h, uint32_t nr, const int64_t args[6],
                            uint64_t pc, struct lt_seccomp_data *data) {
  int i;
  data->nr = (int32_t)nr;
  data->arch = h->abi->audit_arch;
  data->instruction_pointer = pc + (uint64_t)h->abi->pc_after_call;
  for (i = 0; i < 6; i++)
    data->args[i] = (uint64_t)args[i];
}

/* Did the filters answer call `nr` (its result written, or Python told)? */
int emu_seccomp_answers(struct emu_hook *h, uint32_t nr, const int64_t args[6], uint64_t pc) {
  struct lt_seccomp_data data;
  uint32_t verdict, action, errno_value;
  int64_t value;
  seccomp_data_of(h, nr, args, pc, &data);
  verdict = lt_seccomp_decide((const unsigned char *)PyBytes_AS_STRING(h->seccomp),
                              (size_t)PyBytes_GET_SIZE(h->seccomp), &data);
  action = verdict & LT_SECCOMP_RET_ACTION_FULL;
  switch (action) {
  case LT_SECCOMP_RET_ALLOW:
  case LT_SECCOMP_RET_LOG:
    return 0;
  case LT_SECCOMP_RET_ERRNO:
    errno_value = verdict & LT_SECCOMP_RET_DATA;
    value = -(int64_t)(errno_value > MAX_ERRNO ? MAX_ERRNO : errno_value);
    h->api.reg_write(h->uc, h->abi->result, &value);
    return 1;
  case LT_SECCOMP_RET_TRACE:      /* no tracer: the kernel fails the call */
  case LT_SECCOMP_RET_USER_NOTIF: /* no supervisor (no listener was made) */
    value = -ENOSYS;
    h->api.reg_write(h->uc, h->abi->result, &value);
    return 1;
  default: { /* a trap, a kill, or an unknown action (the kernel kills for those) */
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *r = PyObject_CallFunction(h->on_seccomp, "ILLLLLLI", (unsigned int)nr,
                                        (long long)args[0], (long long)args[1],
                                        (long long)args[2], (long long)args[3],
                                        (long long)args[4], (long long)args[5],
                                        (unsigned int)verdict);
    if (r == NULL) { /* Python's own guard reports luatrap's failures; a last resort */
      PyErr_WriteUnraisable(h->on_seccomp);
      h->api.emu_stop(h->uc);
    }
    Py_XDECREF(r);
    PyGILState_Release(gil);
    return 1;
  }
  }
}

PyObject *Hook_set_seccomp(EmulateHookObject *self, PyObject *args) {
  struct emu_hook *h = &self->h;
  PyObject *filters, *on_verdict;
  if (!PyArg_ParseTuple(args, "OO", &filters, &on_verdict))
    return NULL;
  if (filters != Py_None && !PyBytes_Check(filters))
    return PyErr_Format(PyExc_TypeError, "filters must be bytes or None");
  Py_XSETREF(h->on_seccomp, Py_NewRef(on_verdict));
  Py_XSETREF(h->seccomp, filters == Py_None ? NULL : Py_NewRef(filters));
  Py_RETURN_NONE;
}

PyObject *Hook_seccomp_decide(EmulateHookObject *self, PyObject *args) {
  struct lt_seccomp_data data;
  PyObject *filters = self->h.seccomp;
  unsigned int nr, arch;
  unsigned long long ip, a[6];
  int i;
  if (!PyArg_ParseTuple(args, "IIK(KKKKKK)", &nr, &arch, &ip, &a[0], &a[1], &a[2], &a[3],
                        &a[4], &a[5]))
    return NULL;
  if (filters == NULL)
    return PyLong_FromUnsignedLong(LT_SECCOMP_RET_ALLOW);
  data.nr = (int32_t)nr;
  data.arch = arch;
  data.instruction_pointer = ip;
  for (i = 0; i < 6; i++)
    data.args[i] = a[i];
  return PyLong_FromUnsignedLong(lt_seccomp_decide(
      (const unsigned char *)PyBytes_AS_STRING(filters), (size_t)PyBytes_GET_SIZE(filters),
      &data));
}

/* check_filter(bytes) -> bool: would the kernel take this filter? */
PyObject *Hook_check_filter(EmulateHookObject *self, PyObject *program) {
  Py_buffer view;
  int ok;
  (void)self;
  if (PyObject_GetBuffer(program, &view, PyBUF_SIMPLE) != 0)
    return NULL;
  ok = view.len % (Py_ssize_t)sizeof(struct lt_bpf_insn) == 0 &&
       lt_bpf_check((const struct lt_bpf_insn *)view.buf,
                    (size_t)view.len / sizeof(struct lt_bpf_insn)) == 0;
  PyBuffer_Release(&view);
  return PyBool_FromLong(ok);
}
