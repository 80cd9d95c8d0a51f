/*
** module.h - what the Python bindings of the C core share between their files.
*/
#ifndef LUATRAP_MODULE_H
#define LUATRAP_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "foreign_calls.h"
#include "rules.h"

/* luatrap._core.Rules: one rules runtime. */
typedef struct {
  PyObject_HEAD
  struct lt_rules R;
  int ready;
  PyObject *on_error;    /* callable(path, message), or NULL: error lines to log_fd */
  PyObject *write_guard; /* callable(addr, size) -> bool, or NULL: may a rule write there? */
} RulesObject;

/* luatrap._core.ForeignCalls: the i386 and x32 numbers of the ruled calls. */
typedef struct {
  PyObject_HEAD
  struct lt_foreign_calls F;
} ForeignCallsObject;

extern PyTypeObject RulesType;
extern PyTypeObject ForeignCallsType;
extern PyTypeObject EmulateHookType;
extern PyTypeObject NotifyLoopType;
extern PyTypeObject TracedCallsType;

/* The memory operations of a call decided for `rules` (a write asks write_guard). */
const struct lt_memory_ops *rules_memory_ops(RulesObject *rules);

#endif
