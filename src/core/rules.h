/*
** rules.h - the rules runtime: one Lua 5.4 state, a rules folder's scripts loaded on
** their call's first use, and the decision for a stopped system call.
**
** The runtime knows nothing of how a program is stopped. An engine hands it a call
** (number, six arguments) and a caller (ids and a way into the caller's memory) and
** gets back a decision: run the call, skip it with a value, or run another call now
** and resume the hook with its result (c_do_syscall).
*/
#ifndef LUATRAP_RULES_H
#define LUATRAP_RULES_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <lua.h>

#define LT_MAX_NR 1024 /* call numbers a rule can name (x86_64 and aarch64 tables) */

/* How a rules runtime reaches the memory of the thread whose call it decides. */
struct lt_memory_ops {
  /* Copy n bytes at addr into buf: 0, or -errno (nothing partial counts). */
  int (*read)(void *ctx, pid_t tid, uint64_t addr, void *buf, size_t n);
  /* Store n bytes of buf at addr: 0, or -errno. */
  int (*write)(void *ctx, pid_t tid, uint64_t addr, const void *buf, size_t n);
};

/* The thread a decision is for; tid 0 is the calling thread itself (the emulate engine,
** where a guest thread runs on a host thread of luatrap's own), pid 0 its process, pid
** -1 a process to look up when a rule asks (c_pid). */
struct lt_caller {
  pid_t pid, tid;
  const struct lt_memory_ops *memory;
  void *ctx;
};

/* The memory of another process (or this one), by thread id: process_vm_readv/writev. */
extern const struct lt_memory_ops lt_process_memory;

enum lt_verdict {
  LT_RUN,     /* let the real call run */
  LT_RETURN,  /* skip it: the program sees `value` */
  LT_RUN_NOW  /* run `now_nr(now_args)`, then lt_rules_resume(..., its result) */
};

struct lt_decision {
  enum lt_verdict verdict;
  int64_t value;
  int now_nr;
  int64_t now_args[6];
  int coroutine; /* registry reference of the suspended hook (LT_RUN_NOW) */
  int touched;   /* the hook read or wrote the caller's memory */
};

/* Where error lines go: a descriptor, or a function (luatrap check collects them). */
typedef void (*lt_error_sink)(void *ud, const char *path, const char *message);

struct lt_rule {
  char *name;   /* "getpid" */
  char *path;   /* as shown in messages: "rules/getpid.lua" */
  char *source; /* the file as it was at start (the snapshot) */
  size_t size;
  int nr;
  int state;    /* LT_UNLOADED, LT_UNUSABLE or LT_READY */
  int hook;     /* registry reference of its do_syscall */
  int uses_run_now;
  int deny_on_error; /* -1: the runtime's default; else the file's own on_rule_error */
  unsigned sign32, zero32; /* argument positions held in 32 bits: the rule sees them
                              sign-extended (int, fd) or masked (unsigned int) */
  int errors_shown, errors_held;
};

struct lt_seen { /* a set of error fingerprints, to say each distinct error once */
  uint64_t *slots;
  size_t used, size;
};

struct lt_rules {
  lua_State *L;
  pthread_mutex_t lock;
  size_t memory_used, memory_cap;
  int budget; /* Lua instructions per hook call */
  struct lt_rule *rules;
  int count;
  struct lt_rule *by_nr[LT_MAX_NR];
  int log_fd;
  lt_error_sink on_error;
  void *on_error_ud;
  struct lt_seen seen;
  const struct lt_caller *caller; /* the call being decided, for the c_* functions */
  char *names[LT_MAX_NR];         /* call number -> name, for c_syscall_name */
  int touched;
  int deny_on_error; /* a hook's error fails its call with EPERM (else the call runs) */
  int fault;         /* errno of a c_* function failing on what the program controls */
};

/* Create a runtime with its Lua state and c_* functions; 0 or -ENOMEM. */
int lt_rules_init(struct lt_rules *R, int budget, size_t memory_cap, int log_fd);
/* Name call number `nr` (for c_syscall_name); 0 or -errno. */
int lt_rules_name(struct lt_rules *R, int nr, const char *name);
/* Set an integer global, such as an errno constant; 0 or -ENOMEM. */
int lt_rules_set_integer(struct lt_rules *R, const char *name, int64_t value);
/* Add one rule from its snapshot (copied), with the masks of its call's 32-bit
** arguments (bit i: argument i+1); 0 or -errno. */
int lt_rules_add(struct lt_rules *R, int nr, const char *name, const char *path,
                 const char *source, size_t size, unsigned sign32, unsigned zero32);
/* A library of the rules folder (`_name.lua`), from its snapshot: `require("_name")`
** runs it, once, at its first require; 0 or -ENOMEM. */
int lt_rules_library(struct lt_rules *R, const char *name, const char *source, size_t size);
void lt_rules_free(struct lt_rules *R);

/* Is there a rule for `nr`? Does its hook use c_do_syscall? */
int lt_rules_has(const struct lt_rules *R, int nr);
int lt_rules_uses_run_now(const struct lt_rules *R, int nr);
/* Load a rule now, as its first call would: 1 if usable. */
int lt_rules_load(struct lt_rules *R, int nr);

/* Decide call `nr(args)` of `caller`. */
void lt_rules_decide(struct lt_rules *R, const struct lt_caller *caller, int nr,
                     const int64_t args[6], struct lt_decision *out);
/* Continue a hook that asked for a call to run now, with that call's result. */
void lt_rules_resume(struct lt_rules *R, const struct lt_caller *caller, int hooked_nr,
                     int coroutine, int64_t result, struct lt_decision *out);
/* Forget a suspended hook whose thread is gone. */
void lt_rules_drop(struct lt_rules *R, int coroutine);

/* A c_* function failed on something the program controls (its memory, its working
** directory, a descriptor): if the hook's error escapes, the call fails with -err and
** does not run, whatever on_rule_error says. */
void lt_rules_fault(struct lt_rules *R, int err);

/* Print `[Lua Error] path: message` once per distinct error (held back past ten). */
void lt_rules_report(struct lt_rules *R, struct lt_rule *rule, const char *message);
/* The run is over: say how many errors were held back. */
void lt_rules_finish(struct lt_rules *R);
/* Report the Lua error on top of L's stack (popped): its first line, `line N: ...`. */
void lt_rules_report_lua_error(struct lt_rules *R, lua_State *L, struct lt_rule *rule,
                               int status);
/* A whole line to the log, with one write(2). */
void lt_log_line(int fd, const char *prefix, const char *text, size_t len);

/* The token c_do_syscall yields first, so a resume can tell its yields apart. */
extern char lt_run_now_token;

/* host_api.c: install the c_* functions into the state's globals. */
void lt_host_api_open(lua_State *L, struct lt_rules *R);

#endif
