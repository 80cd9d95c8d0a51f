/*
** guest_pointers.h - the emulate engine's check of a forwarded call's pointers.
**
** Guest memory is host memory at the same addresses, and luatrap's own memory is there
** too: a call forwarded to the host kernel with a pointer the guest chose could make
** the kernel read or write luatrap. Before a call is forwarded, every pointer it
** carries (its arguments, and the iovec and msghdr arrays they point to) must lie in
** the guest's memory, with the permissions the kernel needs; else the call fails with
** EFAULT, as qemu-user's lock_user does. The checks per call are derived from the
** system call table (luatrap/engines/emulate/guest_pointers.py).
*/
#ifndef LUATRAP_GUEST_POINTERS_H
#define LUATRAP_GUEST_POINTERS_H

#include <stdint.h>

#include "guest_map.h"
#include "rules.h"

enum lt_pointer_kind {
  LT_PTR_READ = 1,    /* the kernel reads [p, p+n) */
  LT_PTR_WRITE,       /* the kernel writes [p, p+n) */
  LT_PTR_ANY,         /* the kernel may do either: [p, p+n) must be guest memory */
  LT_PTR_STRING,      /* a NUL-terminated string the kernel reads */
  LT_PTR_IOVEC_READ,  /* n struct iovec at p, whose buffers the kernel reads */
  LT_PTR_IOVEC_WRITE, /* ... or writes */
  LT_PTR_MSGHDR_READ, /* a struct msghdr (sendmsg) */
  LT_PTR_MSGHDR_WRITE, /* (recvmsg) */
  LT_PTR_MMSGHDR_READ, /* n struct mmsghdr (sendmmsg) */
  LT_PTR_MMSGHDR_WRITE, /* (recvmmsg) */
  LT_PTR_FUTEX_SECOND, /* futex's uaddr2, for the operations that use it */
  LT_FD,              /* not a pointer: a descriptor, which must not be luatrap's own */
  LT_PTR_KINDS
};

/* Argument `arg` is a pointer of `kind` to `size` bytes, or, when `count_arg` >= 0, to
** args[count_arg] elements of `size` bytes (or iovecs, messages). */
struct lt_pointer_arg {
  uint16_t nr;
  uint8_t arg, kind;
  int8_t count_arg;
  uint32_t size;
};

struct lt_pointer_checks {
  struct lt_pointer_arg *args; /* sorted by call number */
  uint32_t first[LT_MAX_NR + 1]; /* the checks of call nr: args[first[nr] .. first[nr+1]) */
  int *reserved;               /* luatrap's own descriptors in the guest's table */
  size_t reserved_count;
};

/* Replace the checks with `n` entries (copied); 0 or -ENOMEM / -EINVAL. */
int lt_pointer_checks_set(struct lt_pointer_checks *P, const struct lt_pointer_arg *args,
                          uint32_t n);
void lt_pointer_checks_free(struct lt_pointer_checks *P);
/* luatrap's own descriptors, which no forwarded call may use (EBADF); 0 or -ENOMEM. */
int lt_pointer_checks_reserve(struct lt_pointer_checks *P, const int *fds, size_t count);

/* Copy what can be read of guest memory [p, p+n) into buf: how many bytes, up to the
** first page that cannot be read (a read in place there could be a SIGBUS). */
size_t lt_copy_guest(uint64_t p, void *buf, size_t n);

/* 0 if call `nr(args)` may be forwarded as it is, else -EFAULT (or -EBADF: it names
** one of luatrap's own descriptors). */
int lt_check_guest_pointers(const struct lt_pointer_checks *P, const struct guest_map *m,
                            int nr, const int64_t args[6]);

/* The result of an open that the guest may keep: `result`, or -EACCES (the descriptor
** closed) if it is a process's memory file, /proc/PID/mem: the guest's own is
** luatrap's, and another process's may be another luatrap's. */
int64_t lt_keep_opened(int64_t result);

#endif
