/*
** emulate_memory.c - the emulate engine's guest memory as Unicorn sees it.
**
** Unicorn runs in its "virtual TLB" mode: every TLB miss comes to emu_fill_tlb, which
** answers from the guest map (an identity mapping, each range with its permissions), so
** the guest reaches guest memory only, and stores take Unicorn's fast path. Python's
** memory calls go through the map/unmap/forget_code methods here, its fault path
** through take_fault and run_to.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "emulate_hook.h"

/* Unicorn's TLB misses: the identity mapping, with the range's permissions; a refused
** access stops the CPU (UC_ERR_EXCEPTION), and Python reads why with take_fault. */
bool emu_fill_tlb(uc_engine *uc, uint64_t vaddr, int type, struct uc_tlb_entry *e,
                     void *data) {
  struct emu_hook *h = data;
  int perms = guest_map_perms(&h->map, vaddr), need, i;
  (void)uc;
  if (h->changing_map) { /* any page, for a moment; the TLB is flushed after */
    e->paddr = vaddr;
    e->perms = UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC;
    return true;
  }
  for (i = 0; perms < 0 && i < h->n_cpu_only; i++)
    if (vaddr - h->cpu_only[i].start < h->cpu_only[i].end - h->cpu_only[i].start)
      perms = h->cpu_only[i].perms; /* a descriptor table, a far jump's code */
  need = type == UC_MEM_WRITE ? UC_PROT_WRITE : type == UC_MEM_FETCH ? UC_PROT_EXEC
                                                                      : UC_PROT_READ;
  if (perms < 0 || !(perms & need)) {
    h->fault_addr = vaddr;
    h->fault_kind = perms < 0 ? 1 : 2;
    h->fault_fetch = type == UC_MEM_FETCH;
    return false;
  }
  e->paddr = vaddr;
  e->perms = perms;
  return true;
}

int emu_read_guest(const struct emu_hook *h, uint64_t addr, void *buf, size_t n) {
  if (!guest_map_covers(&h->map, addr, n, 0))
    return -1;
  return lt_copy_guest(addr, buf, n) == n ? 0 : -1;
}

int emu_write_guest(const struct emu_hook *h, uint64_t addr, const void *buf, size_t n) {
  struct iovec local = {(void *)buf, n}, remote = {(void *)(uintptr_t)addr, n};
  if (n == 0)
    return 0;
  if (!guest_map_covers(&h->map, addr, n, 0))
    return -1;
  return process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -1;
}

/* read(addr, size): bytes, or None unless all of it is readable guest memory (the
** kernel's copy_from_user: a bad pointer is an error, never luatrap's crash). */
PyObject *Hook_read(EmulateHookObject *self, PyObject *args) {
  unsigned long long addr;
  Py_ssize_t size;
  PyObject *out;
  if (!PyArg_ParseTuple(args, "Kn", &addr, &size))
    return NULL;
  if (size < 0)
    return PyErr_Format(PyExc_ValueError, "negative size");
  if ((out = PyBytes_FromStringAndSize(NULL, size)) == NULL)
    return NULL;
  if (emu_read_guest(&self->h, addr, PyBytes_AS_STRING(out), (size_t)size) != 0) {
    Py_DECREF(out);
    Py_RETURN_NONE;
  }
  return out;
}

/* write(addr, data): True, or False unless all of it is writable guest memory. */
PyObject *Hook_write(EmulateHookObject *self, PyObject *args) {
  unsigned long long addr;
  Py_buffer data;
  int err;
  if (!PyArg_ParseTuple(args, "Ky*", &addr, &data))
    return NULL;
  err = emu_write_guest(&self->h, addr, data.buf, (size_t)data.len);
  PyBuffer_Release(&data);
  return PyBool_FromLong(err == 0);
}

/* Unicorn looks a range up as an instruction fetch whenever it unmaps memory or drops
** translated code (to find the code to drop); the fill would refuse that for pages that
** are data, or gone, and a refusal leaves an error for the next uc_emu_start. So the
** fill answers anything while the map changes, and the TLB is flushed after. */
static PyObject *changed(struct emu_hook *h, int err, const char *what) {
  h->changing_map = 0;
  if (err == 0)
    err = h->api.ctl(h->uc, UC_CTL_WRITE(UC_CTL_TLB_FLUSH, 0));
  if (err != 0)
    return PyErr_Format(PyExc_OSError, "unicorn %s: %s", what, h->api.strerror(err));
  Py_RETURN_NONE;
}

PyObject *Hook_map(EmulateHookObject *self, PyObject *args) {
  struct emu_hook *h = &self->h;
  unsigned long long start, end;
  int prot, err;
  if (!PyArg_ParseTuple(args, "KKi", &start, &end, &prot))
    return NULL;
  if (guest_map_set(&h->map, start, end, prot & 7) != 0)
    return PyErr_NoMemory();
  h->changing_map = 1;
  err = h->api.mem_map_ptr(h->uc, start, (size_t)(end - start), (uint32_t)(prot & 7),
                           (void *)(uintptr_t)start);
  if (err != 0) /* Unicorn refused: the guest map must not say otherwise */
    (void)guest_map_clear(&h->map, start, end);
  return changed(h, err, "map");
}

PyObject *Hook_unmap(EmulateHookObject *self, PyObject *args) {
  struct emu_hook *h = &self->h;
  unsigned long long start, end;
  int err;
  if (!PyArg_ParseTuple(args, "KK", &start, &end))
    return NULL;
  if (guest_map_clear(&h->map, start, end) != 0)
    return PyErr_NoMemory();
  h->changing_map = 1;
  err = h->api.mem_unmap(h->uc, start, (size_t)(end - start));
  return changed(h, err, "unmap");
}

/* map_cpu_only(start, end, prot): luatrap's pages [start, end) are for the CPU itself
** (a descriptor table it reads, code it runs to change mode), with PROT_* `prot`; they
** are no guest memory, so the guest's calls cannot reach them. */
PyObject *Hook_map_cpu_only(EmulateHookObject *self, PyObject *args) {
  struct emu_hook *h = &self->h;
  unsigned long long start, end;
  int prot, err;
  if (!PyArg_ParseTuple(args, "KKi", &start, &end, &prot))
    return NULL;
  if (h->n_cpu_only == (int)(sizeof h->cpu_only / sizeof h->cpu_only[0]))
    return PyErr_Format(PyExc_ValueError, "no room for another CPU-only region");
  h->changing_map = 1;
  err = h->api.mem_map_ptr(h->uc, start, (size_t)(end - start), (uint32_t)(prot & 7),
                           (void *)(uintptr_t)start);
  if (err == 0) {
    h->cpu_only[h->n_cpu_only].start = start;
    h->cpu_only[h->n_cpu_only].end = end;
    h->cpu_only[h->n_cpu_only].perms = prot & 7;
    h->n_cpu_only++;
  }
  return changed(h, err, "map luatrap's pages for the CPU");
}

PyObject *Hook_forget_code(EmulateHookObject *self, PyObject *args) {
  struct emu_hook *h = &self->h;
  unsigned long long start, end;
  if (!PyArg_ParseTuple(args, "KK", &start, &end))
    return NULL;
  h->changing_map = 1;
  return changed(h, h->api.ctl(h->uc, UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2),
                               (uint64_t)start, (uint64_t)end), "forget code");
}

/* Run from `pc` and stop before the first instruction that begins at one of `stops`
** (Unicorn's exit addresses end a block before them, unfetched); the blocks translated
** meanwhile, which end in those stops, are dropped after. Python's fault path uses it
** to reach an instruction fetch fault exactly, when the block holding it began on an
** executable page. */
PyObject *Hook_run_to(EmulateHookObject *self, PyObject *args) {
  struct emu_hook *h = &self->h;
  unsigned long long pc, low, high;
  uint64_t exits[64];
  PyObject *stops, *item;
  Py_ssize_t n, i;
  int err, cleared;
  if (!PyArg_ParseTuple(args, "KO!", &pc, &PyTuple_Type, &stops))
    return NULL;
  n = PyTuple_GET_SIZE(stops);
  if (n < 1 || n > (Py_ssize_t)(sizeof exits / sizeof exits[0]))
    return PyErr_Format(PyExc_ValueError, "run_to takes 1 to 64 stops");
  low = high = pc;
  for (i = 0; i < n; i++) {
    item = PyTuple_GET_ITEM(stops, i);
    exits[i] = PyLong_AsUnsignedLongLong(item);
    if (PyErr_Occurred())
      return NULL;
    low = exits[i] < low ? exits[i] : low;
    high = exits[i] > high ? exits[i] : high;
  }
  err = h->api.ctl(h->uc, UC_CTL_WRITE(UC_CTL_UC_EXITS, 2), exits, (size_t)n);
  if (err == 0) {
    Py_BEGIN_ALLOW_THREADS
    err = h->api.emu_start(h->uc, pc, 0, 0, 0);
    Py_END_ALLOW_THREADS
  }
  cleared = h->api.ctl(h->uc, UC_CTL_WRITE(UC_CTL_UC_EXITS, 2), exits, (size_t)0);
  h->changing_map = 1;
  item = changed(h, h->api.ctl(h->uc, UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2),
                               (uint64_t)low, (uint64_t)high + 1), "forget code");
  if (item == NULL)
    return NULL;
  Py_DECREF(item);
  if (cleared != 0)
    return PyErr_Format(PyExc_OSError, "unicorn exits: %s", h->api.strerror(cleared));
  return PyLong_FromLong(err);
}

/* Unicorn's own x86 MMU (False) or the guest map (True) fills the TLB. */
PyObject *Hook_use_own_tlb(EmulateHookObject *self, PyObject *arg) {
  struct emu_hook *h = &self->h;
  int own = PyObject_IsTrue(arg), err;
  if (own < 0)
    return NULL;
  err = h->api.ctl(h->uc, UC_CTL_WRITE(UC_CTL_TLB_TYPE, 1), own ? UC_TLB_VIRTUAL : UC_TLB_CPU);
  if (err == 0)
    err = h->api.ctl(h->uc, UC_CTL_WRITE(UC_CTL_TLB_FLUSH, 0));
  if (err != 0)
    return PyErr_Format(PyExc_OSError, "unicorn TLB: %s", h->api.strerror(err));
  Py_RETURN_NONE;
}

PyObject *Hook_take_fault(EmulateHookObject *self, PyObject *unused) {
  struct emu_hook *h = &self->h;
  int kind = h->fault_kind;
  (void)unused;
  h->fault_kind = 0;
  if (kind == 0)
    Py_RETURN_NONE;
  return Py_BuildValue("(KOO)", (unsigned long long)h->fault_addr,
                       kind == 1 ? Py_False : Py_True, h->fault_fetch ? Py_True : Py_False);
}
