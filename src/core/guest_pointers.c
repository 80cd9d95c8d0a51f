/*
** guest_pointers.c - a forwarded call's pointers, checked against the guest map.
**
** While the hook runs, the calling guest thread holds the CPU: no guest code runs, so
** the iovec and msghdr arrays read here are the ones the kernel will read. (A blocking
** call of another guest thread that the kernel completes into such an array in that
** instant could still change it: see docs/security.md.)
**
** Strings and arrays are copied out with process_vm_readv, never read in place: guest
** memory can be a file mapping beyond the file's end, where a read is a SIGBUS that
** would end luatrap, while the kernel answers the program's call with EFAULT.
*/
#define _GNU_SOURCE
#include "guest_pointers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MAX_STRING 4096 /* PATH_MAX: longer strings fail in the kernel anyway */
#define PAGE 4096
#define MAX_VECTOR 1024 /* UIO_MAXIOV */
#define FUTEX_OP_MASK 0x7f /* without FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME */

/* A malloc'd copy of n items of `size` bytes (NULL for none); -ENOMEM in *err. */
static void *copy_of(const void *items, size_t n, size_t size, int *err) {
  void *copy;
  *err = 0;
  if (n == 0)
    return NULL;
  if ((copy = malloc(n * size)) == NULL)
    *err = -ENOMEM;
  else
    memcpy(copy, items, n * size);
  return copy;
}

int lt_pointer_checks_set(struct lt_pointer_checks *P, const struct lt_pointer_arg *args,
                          uint32_t n) {
  struct lt_pointer_arg *copy;
  uint32_t i, nr;
  int err;
  for (i = 0; i < n; i++)
    if (args[i].nr >= LT_MAX_NR || args[i].arg >= 6 || args[i].kind == 0 ||
        args[i].kind >= LT_PTR_KINDS || args[i].count_arg >= 6 ||
        (i > 0 && args[i].nr < args[i - 1].nr))
      return -EINVAL;
  copy = copy_of(args, n, sizeof *args, &err);
  if (err != 0)
    return err;
  free(P->args);
  P->args = copy;
  for (nr = 0, i = 0; nr <= LT_MAX_NR; nr++) {
    while (i < n && args[i].nr < nr)
      i++;
    P->first[nr] = i;
  }
  return 0;
}

void lt_pointer_checks_free(struct lt_pointer_checks *P) {
  free(P->args);
  free(P->reserved);
  memset(P, 0, sizeof *P);
}

int lt_pointer_checks_reserve(struct lt_pointer_checks *P, const int *fds, size_t count) {
  int err, *copy = copy_of(fds, count, sizeof *fds, &err);
  if (err != 0)
    return err;
  free(P->reserved);
  P->reserved = copy;
  P->reserved_count = count;
  return 0;
}

static int reserved(const struct lt_pointer_checks *P, int64_t fd) {
  size_t i;
  for (i = 0; i < P->reserved_count; i++)
    if (P->reserved[i] == (int)fd)
      return 1;
  return 0;
}

static int need_of(int kind) {
  switch (kind) {
  case LT_PTR_READ: case LT_PTR_STRING: case LT_PTR_IOVEC_READ: case LT_PTR_MSGHDR_READ:
    return PROT_READ;
  case LT_PTR_WRITE: case LT_PTR_IOVEC_WRITE:
    return PROT_WRITE;
  default:
    return 0;
  }
}

/* [p, p+n) is guest memory the kernel may use as `need` says (NULL: the kernel's). */
static int buffer_ok(const struct guest_map *m, uint64_t p, uint64_t n, int need) {
  return p == 0 || n == 0 || guest_map_covers(m, p, n, need);
}

/* Copy what can be read of guest memory [p, p+n) into buf, a page at a time
** (process_vm_readv stops at the first iovec it cannot read whole): how many bytes. */
size_t lt_copy_guest(uint64_t p, void *buf, size_t n) {
  size_t done = 0, piece;
  pid_t self = getpid();
  struct iovec local, remote;
  while (done < n) {
    piece = PAGE - (size_t)((p + done) & (PAGE - 1));
    if (piece > n - done)
      piece = n - done;
    local.iov_base = (char *)buf + done, local.iov_len = piece;
    remote.iov_base = (void *)(uintptr_t)(p + done), remote.iov_len = piece;
    if (process_vm_readv(self, &local, 1, &remote, 1, 0) != (ssize_t)piece)
      break;
    done += piece;
  }
  return done;
}

static int string_ok(const struct guest_map *m, uint64_t p) {
  char page[PAGE];
  uint64_t readable, at = 0;
  size_t piece, got;
  if (p == 0)
    return 1;
  readable = guest_map_readable_from(m, p);
  if (readable > MAX_STRING)
    readable = MAX_STRING;
  while (at < readable) {
    piece = PAGE - (size_t)((p + at) & (PAGE - 1));
    if (piece > readable - at)
      piece = (size_t)(readable - at);
    got = lt_copy_guest(p + at, page, piece);
    if (memchr(page, '\0', got) != NULL)
      return 1;
    if (got < piece)
      return 0;
    at += got;
  }
  return 0;
}

static int iovecs_ok(const struct guest_map *m, uint64_t p, uint64_t count, int need) {
  struct iovec iov[64];
  uint64_t i, at, n;
  if (p == 0 || count == 0)
    return 1;
  if (count > MAX_VECTOR) /* the kernel's EINVAL, before it reads anything */
    return 1;
  if (!guest_map_covers(m, p, count * sizeof *iov, PROT_READ))
    return 0;
  for (at = 0; at < count; at += n) {
    n = count - at < 64 ? count - at : 64;
    if (lt_copy_guest(p + at * sizeof *iov, iov, n * sizeof *iov) != n * sizeof *iov)
      return 0;
    for (i = 0; i < n; i++)
      if (!buffer_ok(m, (uintptr_t)iov[i].iov_base, iov[i].iov_len, need))
        return 0;
  }
  return 1;
}

static int msghdr_ok(const struct guest_map *m, uint64_t p, int receive) {
  struct msghdr msg;
  int need = receive ? PROT_WRITE : PROT_READ;
  if (p == 0)
    return 1;
  if (!guest_map_covers(m, p, sizeof msg, PROT_READ | (receive ? PROT_WRITE : 0)) ||
      lt_copy_guest(p, &msg, sizeof msg) != sizeof msg)
    return 0;
  return buffer_ok(m, (uintptr_t)msg.msg_name, msg.msg_namelen, need) &&
         buffer_ok(m, (uintptr_t)msg.msg_control, msg.msg_controllen, need) &&
         iovecs_ok(m, (uintptr_t)msg.msg_iov, msg.msg_iovlen, need);
}

static int mmsghdrs_ok(const struct guest_map *m, uint64_t p, uint64_t count, int receive) {
  uint64_t i;
  if (p == 0 || count == 0)
    return 1;
  if (count > MAX_VECTOR)
    count = MAX_VECTOR; /* the kernel takes no more */
  if (!guest_map_covers(m, p, count * sizeof(struct mmsghdr), PROT_READ | PROT_WRITE))
    return 0;
  for (i = 0; i < count; i++)
    if (!msghdr_ok(m, p + i * sizeof(struct mmsghdr), receive))
      return 0;
  return 1;
}

static int one_ok(const struct lt_pointer_checks *P, const struct lt_pointer_arg *c,
                  const struct guest_map *m, const int64_t args[6]) {
  uint64_t p = (uint64_t)args[c->arg];
  uint64_t count = c->count_arg >= 0 ? (uint64_t)args[(int)c->count_arg] : 1;
  switch (c->kind) {
  case LT_FD:
    return !reserved(P, args[c->arg]);
  case LT_PTR_STRING:
    return string_ok(m, p);
  case LT_PTR_IOVEC_READ: case LT_PTR_IOVEC_WRITE:
    return iovecs_ok(m, p, count, need_of(c->kind));
  case LT_PTR_MSGHDR_READ: case LT_PTR_MSGHDR_WRITE:
    return msghdr_ok(m, p, c->kind == LT_PTR_MSGHDR_WRITE);
  case LT_PTR_MMSGHDR_READ: case LT_PTR_MMSGHDR_WRITE:
    return mmsghdrs_ok(m, p, count, c->kind == LT_PTR_MMSGHDR_WRITE);
  case LT_PTR_FUTEX_SECOND: /* REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_/CMP_REQUEUE_PI */
    switch (args[1] & FUTEX_OP_MASK) {
    case 3: case 4: case 5: case 11: case 12:
      return buffer_ok(m, p, c->size, 0);
    default:
      return 1;
    }
  default:
    if (c->count_arg >= 0 && count > UINT64_MAX / (c->size ? c->size : 1))
      return 0;
    return buffer_ok(m, p, count * c->size, need_of(c->kind));
  }
}

int lt_check_guest_pointers(const struct lt_pointer_checks *P, const struct guest_map *m,
                            int nr, const int64_t args[6]) {
  uint32_t i;
  if (P->args == NULL || nr < 0 || nr >= LT_MAX_NR)
    return 0;
  for (i = P->first[nr]; i < P->first[nr + 1]; i++)
    if (!one_ok(P, &P->args[i], m, args))
      return P->args[i].kind == LT_FD ? -EBADF : -EFAULT;
  return 0;
}

#define PROC_SUPER_MAGIC 0x9fa0

int64_t lt_keep_opened(int64_t result) {
  struct statfs fs;
  char link[64], target[256];
  ssize_t n;
  if (result < 0 || fstatfs((int)result, &fs) != 0 || fs.f_type != PROC_SUPER_MAGIC)
    return result;
  snprintf(link, sizeof link, "/proc/self/fd/%d", (int)result);
  n = readlink(link, target, sizeof target - 1);
  if (n < 4)
    return result;
  target[n] = '\0';
  if (strcmp(target + n - 4, "/mem") != 0)
    return result;
  close((int)result);
  return -EACCES;
}
