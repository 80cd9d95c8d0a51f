/*
** traced_calls.h - the native engine's calls stopped under ptrace: what the stops
** (traced_calls.c) and the waiting for them (traced_wait.c) share.
*/
#ifndef LUATRAP_TRACED_CALLS_H
#define LUATRAP_TRACED_CALLS_H

#include <sys/types.h>
#include <sys/user.h>

#include "foreign_calls.h"
#include "module.h"

#define MAX_INJECTIONS 256 /* threads inside a c_do_syscall at once */
/* The SECCOMP_RET_DATA of luatrap's own SECCOMP_RET_TRACE verdicts (kernel.py's
** TRACE_MARK): a seccomp stop with other data is the program's own filter asking for a
** tracer, and is answered as the kernel answers it when there is none. */
#define LT_TRACE_MARK 0x4c54

struct injection {
  pid_t tid;                          /* 0: a free slot */
  struct user_regs_struct saved;      /* the thread's registers at its call's entry */
  struct lt_raw_call call;            /* the program's call, in its own ABI */
  int hooked_nr, coroutine;           /* its x86_64 twin; the suspended hook */
  struct lt_decision request;         /* the call the hook is running (x86_64) */
  int at_entry;                       /* the next syscall stop is the entry (1) or exit */
};

struct traced_calls {
  RulesObject *rules;                 /* NULL: no rules folder */
  ForeignCallsObject *foreign;        /* i386 and x32 numbers */
  PyObject *notifications;            /* the NotifyLoop, told which threads to leave */
  PyObject *decide, *resume, *on_result; /* tracing: the session's (else NULL) */
  struct injection injections[MAX_INJECTIONS];
  pid_t *awaiting;                    /* tracing: threads whose call's result we want */
  size_t awaiting_count, awaiting_size;
  pid_t own_tid;                      /* its seccomp stops are luatrap's own execve's */
  unsigned char restartable[LT_MAX_NR]; /* ruled calls that never wait natively */
};

typedef struct {
  PyObject_HEAD
  struct traced_calls t;
} TracedCallsObject;

/* The injection slot of thread `tid` (0: a free one), or NULL. */
struct injection *injection_of(struct traced_calls *t, pid_t tid);
/* Tell the notification loop to leave thread `tid` alone ("hold") or not ("release"). */
int notify(struct traced_calls *t, const char *method, pid_t tid);
/* Tracing: is thread `tid`'s call result awaited (its index), or -1; stop awaiting it. */
int awaiting_index(struct traced_calls *t, pid_t tid);
int stop_awaiting(struct traced_calls *t, pid_t tid);
/* Forget a suspended hook. */
void drop_coroutine(struct traced_calls *t, int coroutine);

/* The stops: a call at its entry (seccomp), a syscall stop, a signal about to be
** delivered. Each resumes the thread; NULL with a Python error if luatrap failed. */
PyObject *seccomp_stop(struct traced_calls *t, pid_t tid, int skip_hooks);
PyObject *syscall_stop(struct traced_calls *t, pid_t tid);
void signal_stop(struct traced_calls *t, pid_t tid, int sig);

#endif
