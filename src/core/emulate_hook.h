/*
** emulate_hook.h - the emulate engine's hook object, shared by its files:
** emulate_hook.c (the per-call path, the object's life and routes),
** emulate_memory.c (guest memory as Unicorn sees it: TLB fills, maps, faults) and
** emulate_seccomp.c (the guest's own seccomp filters, run before the call is decided),
** emulate_frames.c (a signal handler's frame, per architecture) and emulate_process.c
** (the process as other processes see it in /proc).
*/
#ifndef LUATRAP_EMULATE_HOOK_H
#define LUATRAP_EMULATE_HOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_map.h"
#include "guest_pointers.h"
#include "module.h"
#include "unicorn_api.h"

struct emu_hook;

/* What entering a guest signal handler needs (the Linux layer decides it). */
struct handler_entry {
  int signo;
  uint64_t handler, return_to; /* where the handler starts, where its `ret` goes */
  uint64_t sa_flags, old_mask; /* the mask the frame keeps, for rt_sigreturn */
  uint64_t alt_base, alt_size; /* the thread's alternate signal stack */
  int alt_flags;
  unsigned char info[128]; /* siginfo_t */
};

/* Where a guest architecture keeps a system call's number, arguments and result, how
** Unicorn reports the call, and how a signal handler's frame looks. */
struct guest_abi {
  const char *name;
  int regs[8];   /* the number, arguments 1..6, the pc: read in one batch */
  int result;
  int interrupt; /* -1: an instruction hook on `syscall`; else this interrupt number */
  int pc_after_call; /* what to add to the hook's pc for the address after the call */
  uint32_t audit_arch; /* seccomp_data's arch (AUDIT_ARCH_*) */
  /* emulate_frames.c: 0, or -1 if guest memory refused the frame (nothing changed);
  ** sigreturn's pc_bias is taken off the restored pc (Unicorn adds it after a hook) */
  int (*enter_handler)(struct emu_hook *h, const struct handler_entry *e);
  int (*sigreturn)(struct emu_hook *h, uint64_t *mask, uint64_t *selector,
                   uint64_t pc_bias);
};

/* A call the vDSO makes carries this bit in its number (vdso.py): it is the vDSO's,
** not the program's, as natively (no rule, trace or seccomp filter sees it). */
#define LT_VDSO_CALL 0x8000

/* Host pages [start, end) the emulated CPU may reach with `perms` (UC_PROT_*). */
struct cpu_region {
  uint64_t start, end;
  int perms;
};

struct emu_hook {
  struct unicorn_api api;
  const struct guest_abi *abi;
  uc_engine *uc;
  uc_hook handle, intr_handle, tlb_handle;
  int installed;
  struct guest_map map;      /* the guest's memory, as the Linux layer mapped it */
  struct lt_pointer_checks pointers; /* what a forwarded call may point at */
  uint64_t fault_addr;       /* the last access fill_tlb refused */
  int fault_kind;            /* 0: none, 1: not guest memory, 2: not permitted */
  int fault_fetch;           /* ... when fetching an instruction */
  int changing_map;          /* Unicorn looks pages up as code while it maps: let it */
  RulesObject *rules;        /* NULL: no rules folder */
  PyObject *on_syscall;      /* Python's path: (nr, a1..a6) -> result or None */
  PyObject *after_host_call; /* (nr, a1..a6, result) -> result, for EINTR/EPIPE/EFBIG */
  PyObject *on_interrupt;    /* (intno) -> None: an interrupt that is no system call */
  unsigned char route[LT_MAX_NR];
  int16_t host_nr[LT_MAX_NR]; /* the host's number of each guest call; -1: none */
  unsigned char path_arg[LT_MAX_NR]; /* the argument naming a path the Linux layer may
                                        answer itself (/proc/self/...), or NO_PATH */
  int slow;                  /* every call to Python (tracing) */
  int signal_pending;        /* a guest signal may be pending: Python delivers it */
  int multi_threaded;        /* other guest threads may wait for the CPU */
  int in_host_call;          /* the CPU's thread waits in a call forwarded from here */
  uint64_t vdso_start, vdso_end; /* where the vDSO is */
  struct cpu_region cpu_only[2]; /* luatrap's pages the CPU itself uses (descriptor
                                    tables, a far jump's code): no guest memory */
  int n_cpu_only;
  unsigned char vdso_nr[LT_MAX_NR]; /* the calls the vDSO makes */
  PyObject *seccomp;         /* the running guest thread's filters (bytes), or NULL */
  PyObject *on_seccomp;      /* (nr, a1..a6, verdict) -> None: a trap or a kill */
};

typedef struct {
  PyObject_HEAD
  struct emu_hook h;
} EmulateHookObject;

/* emulate_frames.c */
int emu_x86_64_enter_handler(struct emu_hook *h, const struct handler_entry *e);
int emu_x86_64_sigreturn(struct emu_hook *h, uint64_t *mask, uint64_t *selector,
                         uint64_t pc_bias);
int emu_aarch64_enter_handler(struct emu_hook *h, const struct handler_entry *e);
int emu_aarch64_sigreturn(struct emu_hook *h, uint64_t *mask, uint64_t *selector,
                          uint64_t pc_bias);
PyObject *Hook_enter_handler(EmulateHookObject *self, PyObject *args);
PyObject *Hook_sigreturn(EmulateHookObject *self, PyObject *in_hook);

/* emulate_memory.c */
/* Copy to or from guest memory: 0, or -1 unless all of it is guest memory the host lets
** this process read (write); luatrap's own memory is never touched. */
int emu_read_guest(const struct emu_hook *h, uint64_t addr, void *buf, size_t n);
int emu_write_guest(const struct emu_hook *h, uint64_t addr, const void *buf, size_t n);
PyObject *Hook_read(EmulateHookObject *self, PyObject *args);
PyObject *Hook_write(EmulateHookObject *self, PyObject *args);
bool emu_fill_tlb(uc_engine *uc, uint64_t vaddr, int type, struct uc_tlb_entry *e,
                  void *data);
PyObject *Hook_map(EmulateHookObject *self, PyObject *args);
PyObject *Hook_unmap(EmulateHookObject *self, PyObject *args);
PyObject *Hook_map_cpu_only(EmulateHookObject *self, PyObject *args);
PyObject *Hook_forget_code(EmulateHookObject *self, PyObject *args);
PyObject *Hook_run_to(EmulateHookObject *self, PyObject *args);
PyObject *Hook_use_own_tlb(EmulateHookObject *self, PyObject *arg);
PyObject *Hook_take_fault(EmulateHookObject *self, PyObject *unused);

/* emulate_kick.c */
PyObject *Hook_install_kick(EmulateHookObject *self, PyObject *args);

/* emulate_process.c */
PyObject *Hook_show_process(EmulateHookObject *self, PyObject *args);

/* emulate_seccomp.c */
int emu_seccomp_answers(struct emu_hook *h, uint32_t nr, const int64_t args[6], uint64_t pc);
PyObject *Hook_set_seccomp(EmulateHookObject *self, PyObject *args);
PyObject *Hook_seccomp_decide(EmulateHookObject *self, PyObject *args);
PyObject *Hook_check_filter(EmulateHookObject *self, PyObject *program);

#endif
