/*
** host_api.c - the c_* functions a rule can call.
**
** They act on the thread whose call is being decided (R->caller), through the memory
** operations its engine provides. A failure is a Lua error at the rule's line, named
** after the function ("c_read_string: cannot read address 0x8: Bad address"), which
** pcall can catch as a string.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "resolve.h"
#include "rules.h"

#define MAX_STRING 4096          /* default cap of c_read_string, as PATH_MAX */
#define MAX_LOG_LINE (64 << 10)  /* bytes of one c_log message; the rest is cut */
#define PAGE 4096

static struct lt_rules *rules_of(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(1));
}

/* The caller, or an error: the function was called with no program (luatrap check). */
static const struct lt_caller *caller_of(lua_State *L, const char *fn) {
  struct lt_rules *R = rules_of(L);
  if (R->caller == NULL)
    luaL_error(L, "%s: no program is running", fn);
  R->touched |= R->caller->memory != NULL;
  return R->caller;
}

/* An integer argument: a number with an integer value (not a numeric string). */
static int64_t int_arg(lua_State *L, int idx, const char *fn, const char *what) {
  int ok = 0;
  lua_Integer v = 0;
  if (lua_type(L, idx) == LUA_TNUMBER)
    v = lua_tointegerx(L, idx, &ok);
  if (!ok)
    luaL_error(L, "%s: bad argument: %s must be an integer, got %s", fn, what,
               luaL_typename(L, idx));
  return v;
}

/* "what 0xADDR: strerror" as the rule's error; `what` may hold one %zu for `size`.
** The program chose the address: if the error escapes the hook, the call fails. */
static int fault(lua_State *L, const char *what, size_t size, uint64_t addr, int err) {
  char text[160];
  lt_rules_fault(rules_of(L), -err);
  int n = snprintf(text, sizeof text, what, size);
  if (n < 0 || (size_t)n >= sizeof text)
    n = 0;
  snprintf(text + n, sizeof text - (size_t)n, " 0x%" PRIx64 ": %s", addr, strerror(-err));
  return luaL_error(L, "%s", text);
}

static int c_log(lua_State *L) {
  struct lt_rules *R = rules_of(L);
  int n = lua_gettop(L), i;
  size_t len;
  const char *text;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    if (i > 1)
      luaL_addchar(&b, ' ');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  text = lua_tolstring(L, -1, &len);
  if (len > MAX_LOG_LINE) {
    lua_pushlstring(L, text, MAX_LOG_LINE);
    lua_pushfstring(L, "... (%I bytes cut)", (lua_Integer)(len - MAX_LOG_LINE));
    lua_concat(L, 2);
    text = lua_tolstring(L, -1, &len);
  }
  lt_log_line(R->log_fd, "[Lua Log] ", text, len);
  return 0;
}

static int c_get_timestamp(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushinteger(L, ts.tv_sec);
  lua_pushinteger(L, ts.tv_nsec);
  return 2;
}

static int c_read_string(lua_State *L) {
  int64_t addr = int_arg(L, 1, "c_read_string", "address");
  int64_t limit = lua_isnoneornil(L, 2) ? MAX_STRING : int_arg(L, 2, "c_read_string", "max");
  const struct lt_caller *c;
  uint64_t at = (uint64_t)addr;
  int64_t got = 0;
  luaL_Buffer b;
  if (limit <= 0)
    return luaL_error(L, "c_read_string: max must be positive");
  c = caller_of(L, "c_read_string");
  luaL_buffinit(L, &b);
  while (got < limit) { /* page by page: a read crossing into a hole fails whole */
    size_t chunk = PAGE - (at & (PAGE - 1));
    char *dst;
    const char *nul;
    int err;
    if ((int64_t)chunk > limit - got)
      chunk = (size_t)(limit - got);
    dst = luaL_prepbuffsize(&b, chunk);
    if ((err = c->memory->read(c->ctx, c->tid, at, dst, chunk)) != 0)
      return fault(L, "c_read_string: cannot read address", 0, (uint64_t)addr, err);
    nul = memchr(dst, '\0', chunk);
    if (nul != NULL) {
      luaL_addsize(&b, (size_t)(nul - dst));
      break;
    }
    luaL_addsize(&b, chunk);
    got += (int64_t)chunk;
    at += chunk;
  }
  luaL_pushresult(&b);
  return 1;
}

static int c_read_bytes(lua_State *L) {
  int64_t addr = int_arg(L, 1, "c_read_bytes", "address");
  int64_t size = int_arg(L, 2, "c_read_bytes", "size");
  const struct lt_caller *c;
  char *dst;
  int err;
  luaL_Buffer b;
  if (size < 0)
    return luaL_error(L, "c_read_bytes: negative size");
  c = caller_of(L, "c_read_bytes");
  if (size == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  dst = luaL_buffinitsize(L, &b, (size_t)size);
  if ((err = c->memory->read(c->ctx, c->tid, (uint64_t)addr, dst, (size_t)size)) != 0)
    return fault(L, "c_read_bytes: cannot read %zu bytes at", (size_t)size, (uint64_t)addr,
                 err);
  luaL_pushresultsize(&b, (size_t)size);
  return 1;
}

static int c_write_bytes(lua_State *L) {
  int64_t addr = int_arg(L, 1, "c_write_bytes", "address");
  const struct lt_caller *c;
  const char *data;
  size_t len;
  int err;
  if (lua_type(L, 2) != LUA_TSTRING)
    return luaL_error(L, "c_write_bytes: data must be a string");
  data = lua_tolstring(L, 2, &len);
  c = caller_of(L, "c_write_bytes");
  if (len > 0 && (err = c->memory->write(c->ctx, c->tid, (uint64_t)addr, data, len)) != 0)
    return fault(L, "c_write_bytes: cannot write %zu bytes at", len, (uint64_t)addr, err);
  lua_pushinteger(L, (lua_Integer)len);
  return 1;
}

static int c_syscall_name(lua_State *L) {
  struct lt_rules *R = rules_of(L);
  int64_t nr = int_arg(L, 1, "c_syscall_name", "number");
  if (nr >= 0 && nr < LT_MAX_NR && R->names[nr] != NULL)
    lua_pushstring(L, R->names[nr]);
  else
    lua_pushnil(L);
  return 1;
}

/* The thread group of `tid`, from /proc (the thread itself if that fails). */
static pid_t thread_group(pid_t tid) {
  char path[64], line[128];
  pid_t pid = tid;
  FILE *f;
  snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
  if ((f = fopen(path, "re")) == NULL)
    return tid;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "Tgid: %d", &pid) == 1)
      break;
  fclose(f);
  return pid;
}

static int c_pid(lua_State *L) {
  struct lt_rules *R = rules_of(L);
  const struct lt_caller *c = R->caller;
  if (c == NULL)
    return luaL_error(L, "c_pid: no program is running");
  lua_pushinteger(L, c->pid > 0 ? c->pid : c->pid == 0 ? getpid() : thread_group(c->tid));
  return 1;
}

static int c_tid(lua_State *L) {
  struct lt_rules *R = rules_of(L);
  if (R->caller == NULL)
    return luaL_error(L, "c_tid: no program is running");
  lua_pushinteger(L, R->caller->tid ? R->caller->tid : gettid());
  return 1;
}

/* A link of the caller's /proc entry; what it names is the program's doing (a bad
** descriptor, a directory too deep), so an error that escapes the hook fails the call. */
static int push_link(lua_State *L, const char *fn, const char *path, int is_fd) {
  char target[PATH_MAX + 1];
  ssize_t n = readlink(path, target, sizeof target);
  int err = n < 0 ? errno : (size_t)n >= sizeof target ? ENAMETOOLONG : 0;
  if (err == ENOENT && is_fd)
    err = EBADF; /* no such descriptor: what the kernel would say */
  if (err != 0) {
    lt_rules_fault(rules_of(L), err);
    return luaL_error(L, "%s: %s", fn, strerror(err));
  }
  lua_pushlstring(L, target, (size_t)n);
  return 1;
}

static int c_cwd(lua_State *L) {
  struct lt_rules *R = rules_of(L);
  char path[64];
  if (R->caller == NULL)
    return luaL_error(L, "c_cwd: no program is running");
  if (R->caller->tid == 0)
    snprintf(path, sizeof path, "/proc/thread-self/cwd");
  else
    snprintf(path, sizeof path, "/proc/%d/cwd", (int)R->caller->tid);
  return push_link(L, "c_cwd", path, 0);
}

static int c_fd_path(lua_State *L) {
  struct lt_rules *R = rules_of(L);
  int64_t fd = int_arg(L, 1, "c_fd_path", "fd");
  char path[96];
  if (R->caller == NULL)
    return luaL_error(L, "c_fd_path: no program is running");
  if (R->caller->tid == 0)
    snprintf(path, sizeof path, "/proc/thread-self/fd/%" PRId64, fd);
  else
    snprintf(path, sizeof path, "/proc/%d/fd/%" PRId64, (int)R->caller->tid, fd);
  return push_link(L, "c_fd_path", path, 1);
}

/* c_resolve(path [, dirfd [, follow]]): the object `path` names for the caller. */
static int c_resolve(lua_State *L) {
  struct lt_rules *R = rules_of(L);
  const struct lt_caller *c = R->caller;
  const char *path = luaL_checkstring(L, 1);
  int64_t dirfd = lua_isnoneornil(L, 2) ? LT_AT_FDCWD : int_arg(L, 2, "c_resolve", "dirfd");
  int follow = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
  char out[LT_PATH_MAX];
  pid_t pid;
  int err;
  if (c == NULL)
    return luaL_error(L, "c_resolve: no program is running");
  if (path[0] == '\0') { /* AT_EMPTY_PATH: the descriptor (or directory) itself */
    lua_settop(L, 0);
    lua_pushinteger(L, dirfd);
    return dirfd == LT_AT_FDCWD ? c_cwd(L) : c_fd_path(L);
  }
  pid = c->pid > 0 ? c->pid : c->pid == 0 ? getpid() : thread_group(c->tid);
  if ((err = lt_resolve(pid, c->tid, (int)dirfd, path, follow, out, sizeof out)) != 0) {
    lt_rules_fault(R, -err);
    return luaL_error(L, "c_resolve: %s", strerror(-err));
  }
  lua_pushstring(L, out);
  return 1;
}

/* c_do_syscall(num, a1..a6): yield the request to whoever resumes the hook, which runs
** the call and resumes with its result: the value c_do_syscall returns. */
static int c_do_syscall(lua_State *L) {
  int i;
  if (!lua_isyieldable(L))
    return luaL_error(L, "c_do_syscall is only available inside do_syscall");
  int_arg(L, 1, "c_do_syscall", "number");
  lua_settop(L, 7);
  for (i = 2; i <= 7; i++) {
    if (lua_isnil(L, i)) {
      lua_pushinteger(L, 0);
      lua_replace(L, i);
    } else {
      int_arg(L, i, "c_do_syscall", "argument");
    }
  }
  lua_pushlightuserdata(L, &lt_run_now_token);
  lua_insert(L, 1);
  return lua_yield(L, 8);
}

static const luaL_Reg functions[] = {
    {"c_log", c_log},
    {"c_get_timestamp", c_get_timestamp},
    {"c_read_string", c_read_string},
    {"c_read_bytes", c_read_bytes},
    {"c_write_bytes", c_write_bytes},
    {"c_syscall_name", c_syscall_name},
    {"c_pid", c_pid},
    {"c_tid", c_tid},
    {"c_cwd", c_cwd},
    {"c_fd_path", c_fd_path},
    {"c_resolve", c_resolve},
    {"c_do_syscall", c_do_syscall},
    {NULL, NULL},
};

void lt_host_api_open(lua_State *L, struct lt_rules *R) {
  lua_pushglobaltable(L);
  lua_pushlightuserdata(L, R);
  luaL_setfuncs(L, functions, 1);
  lua_pop(L, 1);
}
