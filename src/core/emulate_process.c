/*
** emulate_process.c - what other processes see of an emulated program.
**
** The guest runs inside luatrap's process, whose command line, environment, auxiliary
** vector and executable the kernel shows in /proc/PID to every reader (ps, pgrep, a
** parent reading its child's cmdline). prctl(PR_SET_MM_MAP) points the kernel's
** record of them at the guest's own: its argument and environment strings on its stack
** (so a program that rewrites its argv in place shows that too, as natively) and its
** auxiliary vector. The executable stays Python: the kernel will not change it while
** the old one is mapped (EBUSY), and luatrap runs from it.
** The call also sets the heap bounds, so the current ones are read just before it,
** with nothing in between that could move them.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "emulate_hook.h"

#ifndef PR_SET_MM_MAP
#define PR_SET_MM_MAP 14
#endif

struct mm_map { /* struct prctl_mm_map */
  uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
  uint64_t arg_start, arg_end, env_start, env_end;
  uint64_t auxv;
  uint32_t auxv_size, exe_fd;
};

/* Fields 26-28 and 45-47 of /proc/self/stat: code, stack and data bounds, heap start. */
static int read_bounds(struct mm_map *m) {
  char buf[4096], *at, *end;
  ssize_t got;
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), field;
  if (fd < 0)
    return -errno;
  got = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (got <= 0)
    return -EIO;
  buf[got] = '\0';
  at = strrchr(buf, ')');
  if (at == NULL || at[1] != ' ' || at[2] == '\0')
    return -EIO;
  at += 3; /* past ") " and the state letter: field 4 follows */
  for (field = 4; field <= 47; field++) {
    unsigned long long v = strtoull(at, &end, 10);
    if (end == at)
      return -EIO;
    switch (field) {
    case 26: m->start_code = v; break;
    case 27: m->end_code = v; break;
    case 28: m->start_stack = v; break;
    case 45: m->start_data = v; break;
    case 46: m->end_data = v; break;
    case 47: m->start_brk = v; break;
    }
    at = end;
  }
  return 0;
}

/* show_process(arg_start, arg_end, env_start, env_end, auxv, auxv_size, exe_fd):
** 0, or the -errno of prctl (the executable is left out if it alone is refused). */
PyObject *Hook_show_process(EmulateHookObject *self, PyObject *args) {
  struct mm_map m;
  unsigned long long arg_start, arg_end, env_start, env_end, auxv;
  unsigned int auxv_size;
  int exe_fd, err;
  (void)self;
  if (!PyArg_ParseTuple(args, "KKKKKIi", &arg_start, &arg_end, &env_start, &env_end, &auxv,
                        &auxv_size, &exe_fd))
    return NULL;
  memset(&m, 0, sizeof m);
  if ((err = read_bounds(&m)) != 0)
    return PyLong_FromLong(err);
  m.arg_start = arg_start, m.arg_end = arg_end;
  m.env_start = env_start, m.env_end = env_end;
  m.auxv = auxv, m.auxv_size = auxv_size;
  m.exe_fd = (uint32_t)exe_fd;
  m.brk = (uint64_t)(uintptr_t)sbrk(0);
  err = prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&m, sizeof m, 0) == 0 ? 0 : -errno;
  if (err != 0 && exe_fd >= 0) { /* the executable refused (EPERM: not allowed; EBUSY:
                                    Python's own is still mapped): the rest */
    m.exe_fd = (uint32_t)-1;
    m.brk = (uint64_t)(uintptr_t)sbrk(0);
    err = prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&m, sizeof m, 0) == 0 ? 0 : -errno;
  }
  return PyLong_FromLong(err);
}
