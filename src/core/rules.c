/*
** rules.c - the rules runtime: the Lua state, lazy loading, decisions (its error lines:
** rule_errors.c).
**
** Every function that enters Lua holds R->lock: the threads of an engine (a C
** notification loop, Python's ptrace handler, guest threads) share one state. Whatever
** can allocate runs inside a protected call, so the memory cap becomes a Lua error of
** the rule, never a panic.
*/
#define _GNU_SOURCE
#include "rules.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#define MESSAGE_MAX 512

enum { LT_UNLOADED, LT_UNUSABLE, LT_READY };

char lt_run_now_token;

/* ------------------------------------------------------------------ the state */

static void *lt_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct lt_rules *R = ud;
  size_t old = ptr ? osize : 0;
  void *p;
  if (nsize == 0) {
    free(ptr);
    R->memory_used -= old;
    return NULL;
  }
  if (nsize > old && R->memory_used + (nsize - old) > R->memory_cap)
    return NULL; /* Lua raises "not enough memory" in the rule */
  p = realloc(ptr, nsize);
  if (p != NULL)
    R->memory_used = R->memory_used - old + nsize;
  return p;
}

static void over_budget(lua_State *L, lua_Debug *ar) {
  struct lt_rules *R = *(struct lt_rules **)lua_getextraspace(L);
  (void)ar;
  luaL_error(L, "instruction budget exceeded (%d Lua instructions per call)", R->budget);
}

static void start_budget(struct lt_rules *R, lua_State *L) {
  lua_sethook(L, over_budget, LUA_MASKCOUNT, R->budget);
}

static int no_os_exit(lua_State *L) {
  return luaL_error(L, "os.exit is not available to rules: return 1, value to fail a call");
}

static int p_open(lua_State *L) {
  struct lt_rules *R = lua_touserdata(L, 1);
  luaL_openlibs(L);
  lt_host_api_open(L, R);
  lua_getglobal(L, "os");
  lua_pushcfunction(L, no_os_exit);
  lua_setfield(L, -2, "exit");
  return 0;
}

int lt_rules_init(struct lt_rules *R, int budget, size_t memory_cap, int log_fd) {
  int err;
  memset(R, 0, sizeof *R);
  R->budget = budget > 0 ? budget : 1;
  R->memory_cap = memory_cap;
  R->log_fd = log_fd;
  if ((err = pthread_mutex_init(&R->lock, NULL)) != 0)
    return -err;
  R->L = lua_newstate(lt_alloc, R);
  if (R->L == NULL)
    return -ENOMEM;
  *(struct lt_rules **)lua_getextraspace(R->L) = R; /* coroutines inherit it */
  lua_pushcfunction(R->L, p_open);
  lua_pushlightuserdata(R->L, R);
  if (lua_pcall(R->L, 1, 0, 0) != LUA_OK) {
    lua_close(R->L);
    R->L = NULL;
    return -ENOMEM;
  }
  return 0;
}

static int p_set_integer(lua_State *L) {
  lua_setglobal(L, lua_tostring(L, 1)); /* the value is on top */
  return 0;
}

int lt_rules_set_integer(struct lt_rules *R, const char *name, int64_t value) {
  int status;
  pthread_mutex_lock(&R->lock);
  lua_pushcfunction(R->L, p_set_integer);
  lua_pushstring(R->L, name); /* may fail: runs below inside the protected call */
  lua_pushinteger(R->L, value);
  status = lua_pcall(R->L, 2, 0, 0);
  if (status != LUA_OK)
    lua_pop(R->L, 1);
  pthread_mutex_unlock(&R->lock);
  return status == LUA_OK ? 0 : -ENOMEM;
}

int lt_rules_name(struct lt_rules *R, int nr, const char *name) {
  char *copy;
  if (nr < 0 || nr >= LT_MAX_NR)
    return -EINVAL;
  if ((copy = strdup(name)) == NULL)
    return -ENOMEM;
  free(R->names[nr]);
  R->names[nr] = copy;
  return 0;
}

int lt_rules_add(struct lt_rules *R, int nr, const char *name, const char *path,
                 const char *source, size_t size, unsigned sign32, unsigned zero32) {
  struct lt_rule *grown, *rule;
  if (nr < 0 || nr >= LT_MAX_NR || R->by_nr[nr] != NULL)
    return -EINVAL;
  grown = realloc(R->rules, (size_t)(R->count + 1) * sizeof *grown);
  if (grown == NULL)
    return -ENOMEM;
  if (grown != R->rules) { /* the table points into the array: point it again */
    int i;
    for (i = 0; i < R->count; i++)
      R->by_nr[grown[i].nr] = &grown[i];
  }
  R->rules = grown;
  rule = &R->rules[R->count];
  memset(rule, 0, sizeof *rule);
  rule->nr = nr;
  rule->hook = LUA_NOREF;
  rule->deny_on_error = -1;
  rule->name = strdup(name);
  rule->path = strdup(path);
  rule->source = malloc(size ? size : 1);
  if (rule->name == NULL || rule->path == NULL || rule->source == NULL) {
    free(rule->name);
    free(rule->path);
    free(rule->source);
    return -ENOMEM;
  }
  memcpy(rule->source, source, size);
  rule->size = size;
  rule->uses_run_now = memmem(source, size, "c_do_syscall", 12) != NULL;
  rule->sign32 = sign32;
  rule->zero32 = zero32;
  R->by_nr[nr] = rule;
  R->count++;
  return 0;
}

void lt_rules_free(struct lt_rules *R) {
  int i;
  if (R->L != NULL)
    lua_close(R->L);
  R->L = NULL;
  for (i = 0; i < R->count; i++) {
    free(R->rules[i].name);
    free(R->rules[i].path);
    free(R->rules[i].source);
  }
  for (i = 0; i < LT_MAX_NR; i++)
    free(R->names[i]);
  free(R->rules);
  free(R->seen.slots);
  pthread_mutex_destroy(&R->lock);
  memset(R, 0, sizeof *R);
}

int lt_rules_has(const struct lt_rules *R, int nr) {
  return nr >= 0 && nr < LT_MAX_NR && R->by_nr[nr] != NULL;
}

int lt_rules_uses_run_now(const struct lt_rules *R, int nr) {
  return lt_rules_has(R, nr) && R->by_nr[nr]->uses_run_now;
}

/* ------------------------------------------------------------------ libraries */

/* package.preload's loader of a library: its snapshot, compiled at its first require. */
static int load_library(lua_State *L) {
  size_t size;
  const char *source = lua_tolstring(L, lua_upvalueindex(1), &size);
  const char *chunkname = lua_tostring(L, lua_upvalueindex(2));
  if (luaL_loadbufferx(L, source, size, chunkname, "t") != LUA_OK)
    return lua_error(L);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

struct library {
  const char *name, *source;
  size_t size;
};

static int p_library(lua_State *L) {
  const struct library *lib = lua_touserdata(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushlstring(L, lib->source, lib->size);
  lua_pushfstring(L, "=%s.lua", lib->name);
  lua_pushcclosure(L, load_library, 2);
  lua_setfield(L, -2, lib->name);
  return 0;
}

int lt_rules_library(struct lt_rules *R, const char *name, const char *source, size_t size) {
  struct library lib = {name, source, size};
  int status;
  pthread_mutex_lock(&R->lock);
  lua_pushcfunction(R->L, p_library);
  lua_pushlightuserdata(R->L, &lib);
  status = lua_pcall(R->L, 1, 0, 0);
  if (status != LUA_OK)
    lua_pop(R->L, 1);
  pthread_mutex_unlock(&R->lock);
  return status == LUA_OK ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------ loading */

/* Run a rule's file with do_syscall cleared; leave what it defined on the stack. */
static int p_load(lua_State *L) {
  struct lt_rule *rule = lua_touserdata(L, 1);
  char chunkname[256];
  snprintf(chunkname, sizeof chunkname, "=%s.lua", rule->name);
  lua_pushnil(L);
  lua_setglobal(L, "do_syscall");
  lua_pushnil(L);
  lua_setglobal(L, "on_rule_error");
  if (luaL_loadbufferx(L, rule->source, rule->size, chunkname, "t") != LUA_OK)
    return lua_error(L);
  lua_call(L, 0, 0);
  lua_getglobal(L, "on_rule_error");
  if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "deny") == 0)
    rule->deny_on_error = 1;
  else if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "allow") == 0)
    rule->deny_on_error = 0;
  else if (!lua_isnil(L, -1)) { /* a misspelt "deny" must not let calls through */
    rule->deny_on_error = 1;
    return luaL_error(L, "on_rule_error must be \"allow\" or \"deny\"");
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_setglobal(L, "on_rule_error");
  lua_getglobal(L, "do_syscall");
  if (lua_type(L, -1) != LUA_TFUNCTION)
    return 0;
  rule->hook = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

static void load(struct lt_rules *R, struct lt_rule *rule) {
  lua_State *L = R->L;
  int status;
  lua_getglobal(L, "do_syscall"); /* another rule's, or the user's own global */
  lua_pushcfunction(L, p_load);
  lua_pushlightuserdata(L, rule);
  start_budget(R, L);
  status = lua_pcall(L, 1, 0, 0);
  if (status != LUA_OK)
    lt_rules_report_lua_error(R, L, rule, status);
  else if (rule->hook == LUA_NOREF)
    lt_rules_report(R, rule, "no function do_syscall defined");
  lua_setglobal(L, "do_syscall"); /* put the previous one back */
  rule->state = rule->hook != LUA_NOREF ? LT_READY : LT_UNUSABLE;
}

int lt_rules_load(struct lt_rules *R, int nr) {
  struct lt_rule *rule;
  int ready;
  if (!lt_rules_has(R, nr))
    return 0;
  rule = R->by_nr[nr];
  pthread_mutex_lock(&R->lock);
  if (rule->state == LT_UNLOADED)
    load(R, rule);
  ready = rule->state == LT_READY;
  pthread_mutex_unlock(&R->lock);
  return ready;
}

/* ------------------------------------------------------------------ deciding */

static void show(lua_State *L, int idx, char *out, size_t outlen) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL: snprintf(out, outlen, "nil"); break;
  case LUA_TBOOLEAN: snprintf(out, outlen, lua_toboolean(L, idx) ? "true" : "false"); break;
  case LUA_TSTRING: snprintf(out, outlen, "'%.60s'", lua_tostring(L, idx)); break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx))
      snprintf(out, outlen, "%lld", (long long)lua_tointeger(L, idx));
    else
      snprintf(out, outlen, "%.17g", (double)lua_tonumber(L, idx));
    break;
  default: snprintf(out, outlen, "a %s", luaL_typename(L, idx)); break;
  }
}

void lt_rules_fault(struct lt_rules *R, int err) {
  R->fault = err;
}

/* The hook went wrong (its error is reported): a fault on what the program controls
** fails the call with that error; otherwise on_rule_error decides: the call runs
** (allow, the default) or fails with EPERM (deny). */
static void failed(struct lt_rules *R, struct lt_rule *rule, struct lt_decision *out) {
  int deny = rule->deny_on_error >= 0 ? rule->deny_on_error : R->deny_on_error;
  out->verdict = LT_RUN;
  if (R->fault != 0) {
    out->verdict = LT_RETURN;
    out->value = -R->fault;
  } else if (deny) {
    out->verdict = LT_RETURN;
    out->value = -EPERM;
  }
}

/* (intercepted, retval) at idx, idx+1 -> the decision, reporting anything odd. */
static void verdict_of(struct lt_rules *R, lua_State *L, int idx, struct lt_rule *rule,
                       struct lt_decision *out) {
  char shown[128], text[MESSAGE_MAX];
  int type = lua_type(L, idx), isnum;
  lua_Integer value;
  out->verdict = LT_RUN;
  if (type == LUA_TNIL || (type == LUA_TBOOLEAN && !lua_toboolean(L, idx)) ||
      (type == LUA_TNUMBER && lua_tonumber(L, idx) == 0))
    return;
  if (!((type == LUA_TBOOLEAN) || (type == LUA_TNUMBER && lua_tonumber(L, idx) == 1))) {
    show(L, idx, shown, sizeof shown);
    snprintf(text, sizeof text, "do_syscall returned %s as intercepted; "
             "expected 1/true or 0/false", shown);
    lt_rules_report(R, rule, text);
    failed(R, rule, out);
    return;
  }
  value = lua_type(L, idx + 1) == LUA_TNUMBER ? lua_tointegerx(L, idx + 1, &isnum) : 0;
  if (lua_type(L, idx + 1) != LUA_TNUMBER || !isnum) {
    show(L, idx + 1, shown, sizeof shown);
    snprintf(text, sizeof text, "do_syscall returned 1 with retval %s; "
             "expected an integer", shown);
    lt_rules_report(R, rule, text);
    failed(R, rule, out);
    return;
  }
  out->verdict = LT_RETURN;
  out->value = value;
}

static int p_new_coroutine(lua_State *L) {
  lua_State *co = lua_newthread(L);
  (void)co;
  lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
  return 1;
}

static void end_coroutine(struct lt_rules *R, int ref) {
  lua_State *L = R->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  if (lua_type(L, -1) == LUA_TTHREAD)
    lua_resetthread(lua_tothread(L, -1));
  lua_pop(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, ref);
}

/* Step a hook's coroutine that holds `nargs` values to pass; fill `out`. */
static void step(struct lt_rules *R, lua_State *co, int ref, int nargs,
                 struct lt_rule *rule, struct lt_decision *out) {
  int nres = 0, status, i, base;
  start_budget(R, co);
  status = lua_resume(co, R->L, nargs, &nres);
  out->verdict = LT_RUN;
  if (status == LUA_YIELD && nres == 8 && lua_touserdata(co, -8) == &lt_run_now_token) {
    base = lua_gettop(co) - 6; /* the number; its six arguments follow */
    out->verdict = LT_RUN_NOW;
    out->now_nr = (int)lua_tointeger(co, base);
    for (i = 0; i < 6; i++)
      out->now_args[i] = lua_tointeger(co, base + 1 + i);
    out->coroutine = ref;
    lua_pop(co, nres);
    return;
  }
  if (status == LUA_OK || status == LUA_YIELD) {
    lua_settop(co, lua_gettop(co) - nres + 2); /* the first two results, nil-padded */
    verdict_of(R, co, -2, rule, out);
  } else {
    lt_rules_report_lua_error(R, co, rule, status);
    failed(R, rule, out);
  }
  end_coroutine(R, ref);
}

/* do_syscall(num, arg1..arg6, 0, 0) on the stack of S, ready to call or resume. */
static void push_call(lua_State *S, int hook, int nr, const int64_t args[6]) {
  int i;
  lua_rawgeti(S, LUA_REGISTRYINDEX, hook);
  lua_pushinteger(S, nr);
  for (i = 0; i < 6; i++)
    lua_pushinteger(S, args[i]);
  lua_pushinteger(S, 0); /* arg7, arg8: the seed's signature */
  lua_pushinteger(S, 0);
}

static void call_hook(struct lt_rules *R, struct lt_rule *rule, int nr,
                      const int64_t raw[6], struct lt_decision *out) {
  lua_State *L = R->L, *co;
  int64_t args[6];
  int i, status, ref;
  for (i = 0; i < 6; i++) {
    args[i] = raw[i];
    if (rule->sign32 & (1u << i))
      args[i] = (int32_t)(uint32_t)raw[i];
    else if (rule->zero32 & (1u << i))
      args[i] = (uint32_t)raw[i];
  }
  if (rule->uses_run_now) {
    lua_pushcfunction(L, p_new_coroutine);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
      lt_rules_report_lua_error(R, L, rule, LUA_ERRMEM);
      failed(R, rule, out);
      return;
    }
    ref = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    co = lua_tothread(L, -1);
    lua_pop(L, 1);
    push_call(co, rule->hook, nr, args);
    step(R, co, ref, 9, rule, out);
    return;
  }
  push_call(L, rule->hook, nr, args);
  start_budget(R, L);
  status = lua_pcall(L, 9, 2, 0);
  if (status != LUA_OK) {
    lt_rules_report_lua_error(R, L, rule, status);
    failed(R, rule, out);
    return;
  }
  verdict_of(R, L, -2, rule, out);
  lua_pop(L, 2);
}

void lt_rules_decide(struct lt_rules *R, const struct lt_caller *caller, int nr,
                     const int64_t args[6], struct lt_decision *out) {
  struct lt_rule *rule;
  out->verdict = LT_RUN;
  out->touched = 0;
  if (!lt_rules_has(R, nr))
    return;
  rule = R->by_nr[nr];
  pthread_mutex_lock(&R->lock);
  R->caller = caller;
  R->touched = 0;
  R->fault = 0;
  if (rule->state == LT_UNLOADED)
    load(R, rule);
  if (rule->state == LT_READY)
    call_hook(R, rule, nr, args, out);
  else
    failed(R, rule, out); /* a rule that cannot load, at every call */
  out->touched = R->touched;
  R->caller = NULL;
  pthread_mutex_unlock(&R->lock);
}

void lt_rules_resume(struct lt_rules *R, const struct lt_caller *caller, int hooked_nr,
                     int coroutine, int64_t result, struct lt_decision *out) {
  lua_State *co;
  out->verdict = LT_RUN;
  out->touched = 0;
  if (!lt_rules_has(R, hooked_nr))
    return;
  pthread_mutex_lock(&R->lock);
  R->caller = caller;
  R->touched = 0;
  R->fault = 0;
  lua_rawgeti(R->L, LUA_REGISTRYINDEX, coroutine);
  co = lua_type(R->L, -1) == LUA_TTHREAD ? lua_tothread(R->L, -1) : NULL;
  lua_pop(R->L, 1);
  if (co != NULL && lua_status(co) == LUA_YIELD) {
    lua_pushinteger(co, result);
    step(R, co, coroutine, 1, R->by_nr[hooked_nr], out);
  }
  out->touched = R->touched;
  R->caller = NULL;
  pthread_mutex_unlock(&R->lock);
}

void lt_rules_drop(struct lt_rules *R, int coroutine) {
  pthread_mutex_lock(&R->lock);
  end_coroutine(R, coroutine);
  pthread_mutex_unlock(&R->lock);
}
