/*
** memory.c - a thread's memory, read and written safely by thread id.
**
** process_vm_readv/writev take the whole range or fail: a partial transfer counts as a
** fault. A read-only page (a string literal passed to write(), say) refuses
** process_vm_writev; /proc/TID/mem writes it as a debugger's poke does.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rules.h"

/* Thread 0 is this process: process_vm_* want a real id. */
static pid_t target(pid_t tid) {
  return tid != 0 ? tid : getpid();
}

static int transfer_result(ssize_t done, size_t n) {
  if (done < 0)
    return -errno;
  return (size_t)done == n ? 0 : -EFAULT;
}

static int read_memory(void *ctx, pid_t tid, uint64_t addr, void *buf, size_t n) {
  struct iovec local = {buf, n}, remote = {(void *)(uintptr_t)addr, n};
  (void)ctx;
  if (n == 0)
    return 0;
  return transfer_result(process_vm_readv(target(tid), &local, 1, &remote, 1, 0), n);
}

static int poke(pid_t tid, uint64_t addr, const void *buf, size_t n) {
  char path[64];
  ssize_t done;
  int fd;
  if (tid == 0)
    snprintf(path, sizeof path, "/proc/self/mem");
  else
    snprintf(path, sizeof path, "/proc/%d/mem", (int)tid);
  if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
    return -EFAULT;
  done = addr > (uint64_t)INT64_MAX ? -1 : pwrite(fd, buf, n, (off_t)addr);
  close(fd);
  return done == (ssize_t)n ? 0 : -EFAULT;
}

static int write_memory(void *ctx, pid_t tid, uint64_t addr, const void *buf, size_t n) {
  struct iovec local = {(void *)buf, n}, remote = {(void *)(uintptr_t)addr, n};
  int err;
  (void)ctx;
  if (n == 0)
    return 0;
  err = transfer_result(process_vm_writev(target(tid), &local, 1, &remote, 1, 0), n);
  return err == -EFAULT ? poke(tid, addr, buf, n) : err;
}

const struct lt_memory_ops lt_process_memory = {read_memory, write_memory};
