/*
** resolve.c - the object a path names, as the kernel would find it for the calling
** thread: from its root, working directory or a directory descriptor, following
** symbolic links (the last one if asked), with "." and ".." folded, and /proc/self,
** /proc/thread-self (and so /dev/fd, /dev/stdin) meaning the caller, not luatrap.
**
** luatrap walks the path itself, component by component, through the caller's /proc
** entries. The answer can go stale if the program changes the tree meanwhile; a rule
** that opens a file itself (c_do_syscall) can check the descriptor afterwards instead.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolve.h"

#define MAX_LINKS 40 /* the kernel's limit: ELOOP after */

struct walk {
  char done[LT_PATH_MAX];  /* resolved so far: "" is the caller's root */
  char todo[2 * LT_PATH_MAX]; /* components left, '/'-separated */
  char root[LT_PATH_MAX];  /* the caller's root, as luatrap sees it */
  pid_t pid, tid;
};

static int read_link(const char *path, char *out, size_t outlen) {
  ssize_t n = readlink(path, out, outlen - 1);
  if (n < 0)
    return -errno;
  if ((size_t)n >= outlen - 1)
    return -ENAMETOOLONG;
  out[n] = '\0';
  return 0;
}

/* The caller's /proc entry `what` (root, cwd, fd/N) read as a path. */
static int caller_link(const struct walk *w, const char *what, char *out, size_t outlen) {
  char path[96];
  if (w->tid == 0)
    snprintf(path, sizeof path, "/proc/thread-self/%s", what);
  else
    snprintf(path, sizeof path, "/proc/%d/%s", (int)w->tid, what);
  return read_link(path, out, outlen);
}

/* todo = `front` + "/" + todo */
static int push_front(struct walk *w, const char *front) {
  size_t f = strlen(front), t = strlen(w->todo);
  if (f + 1 + t + 1 > sizeof w->todo)
    return -ENAMETOOLONG;
  memmove(w->todo + f + 1, w->todo, t + 1);
  memcpy(w->todo, front, f);
  w->todo[f] = '/';
  return 0;
}

/* The next component of todo into `comp`; 0 when none is left. */
static int next_component(struct walk *w, char *comp, size_t complen, int *last) {
  char *p = w->todo, *slash;
  size_t n;
  while (*p == '/')
    p++;
  if (*p == '\0')
    return 0;
  slash = strchr(p, '/');
  n = slash ? (size_t)(slash - p) : strlen(p);
  if (n >= complen)
    return -ENAMETOOLONG;
  memcpy(comp, p, n);
  comp[n] = '\0';
  p += n;
  while (*p == '/')
    p++;
  *last = *p == '\0';
  memmove(w->todo, p, strlen(p) + 1);
  return 1;
}

static void go_up(struct walk *w) {
  char *slash = strrchr(w->done, '/');
  if (slash != NULL)
    *slash = '\0'; /* never above the root: "" stays "" */
}

/* luatrap's name for the caller's `done`: its root in front; 0 or -ENAMETOOLONG. */
static int full_name(const struct walk *w, char *out, size_t outlen) {
  const char *root = strcmp(w->root, "/") == 0 ? "" : w->root;
  size_t r = strlen(root), d = strlen(w->done);
  if (r + d + 1 > outlen)
    return -ENAMETOOLONG;
  memcpy(out, root, r);
  memcpy(out + r, w->done, d + 1);
  return 0;
}

/* "self" and "thread-self" right under /proc are the caller's. */
static const char *proc_self(const struct walk *w, const char *comp, char *buf, size_t len) {
  if (strcmp(w->done, "/proc") != 0)
    return comp;
  if (strcmp(comp, "self") == 0)
    snprintf(buf, len, "%d", (int)w->pid);
  else if (strcmp(comp, "thread-self") == 0)
    snprintf(buf, len, "%d/task/%d", (int)w->pid, (int)(w->tid ? w->tid : gettid()));
  else
    return comp;
  return buf;
}

int lt_resolve(pid_t pid, pid_t tid, int dirfd, const char *path, int follow_last, char *out,
               size_t outlen) {
  struct walk w;
  char comp[256], self[64], name[2 * LT_PATH_MAX], target[LT_PATH_MAX];
  const char *c;
  struct stat st;
  int links = 0, last, err, more;
  memset(&w, 0, sizeof w);
  w.pid = pid ? pid : getpid(), w.tid = tid;
  if ((err = caller_link(&w, "root", w.root, sizeof w.root)) != 0)
    return err;
  if (strlen(path) >= LT_PATH_MAX)
    return -ENAMETOOLONG;
  if ((err = push_front(&w, path)) != 0)
    return err;
  if (path[0] != '/') { /* relative: from the working directory or dirfd */
    char what[32], base[LT_PATH_MAX];
    if (dirfd == LT_AT_FDCWD)
      snprintf(what, sizeof what, "cwd");
    else
      snprintf(what, sizeof what, "fd/%d", dirfd);
    if ((err = caller_link(&w, what, base, sizeof base)) != 0)
      return err == -ENOENT ? -EBADF : err;
    if (base[0] != '/')
      return -ENOTDIR; /* a pipe, a socket: no directory */
    if ((err = push_front(&w, base)) != 0)
      return err;
  }
  while ((more = next_component(&w, comp, sizeof comp, &last)) > 0) {
    if (strcmp(comp, ".") == 0)
      continue;
    if (strcmp(comp, "..") == 0) {
      go_up(&w);
      continue;
    }
    c = proc_self(&w, comp, self, sizeof self);
    if (strlen(w.done) + 1 + strlen(c) >= sizeof w.done)
      return -ENAMETOOLONG;
    strcat(w.done, "/");
    strcat(w.done, c);
    if (last && !follow_last)
      break;
    if ((err = full_name(&w, name, sizeof name)) != 0)
      return err;
    if (lstat(name, &st) != 0 || !S_ISLNK(st.st_mode))
      continue; /* a file, a directory, or nothing yet (the kernel's ENOENT) */
    if (++links > MAX_LINKS)
      return -ELOOP;
    if ((err = read_link(name, target, sizeof target)) != 0)
      return err;
    go_up(&w);
    if (target[0] == '/' && strncmp(target, w.root, strlen(w.root)) == 0 &&
        strcmp(w.root, "/") != 0)
      memmove(target, target + strlen(w.root), strlen(target + strlen(w.root)) + 1);
    if (target[0] == '/')
      w.done[0] = '\0'; /* an absolute link starts again from the caller's root */
    if ((err = push_front(&w, target)) != 0)
      return err;
  }
  if (more < 0)
    return more;
  snprintf(out, outlen, "%s", w.done[0] ? w.done : "/");
  return 0;
}
