/*
** rule_errors.c - a rule's error lines: `[Lua Error] path: message`, each distinct one
** said once (a set of fingerprints), at most ten per rule file (the rest counted and
** told at exit), each written whole with one write(2).
*/
#define _GNU_SOURCE
#include "rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#define MAX_DISTINCT_ERRORS 10 /* shown per rule file; more are counted */
#define MAX_SEEN (1u << 16)    /* distinct errors remembered in all */
#define MESSAGE_MAX 512

void lt_log_line(int fd, const char *prefix, const char *text, size_t len) {
  size_t plen = strlen(prefix), total = plen + len + 1, done = 0;
  char *line = malloc(total);
  if (line == NULL)
    return;
  memcpy(line, prefix, plen);
  memcpy(line + plen, text, len);
  line[total - 1] = '\n';
  while (done < total) { /* one write(2) unless the pipe takes it in parts */
    ssize_t n = write(fd, line + done, total - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* stderr closed or full disk: the program must go on regardless */
    done += (size_t)n;
  }
  free(line);
}

static uint64_t fingerprint(const char *path, const char *message) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  const unsigned char *p;
  for (p = (const unsigned char *)path; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  h = (h ^ 0xff) * 1099511628211ULL;
  for (p = (const unsigned char *)message; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  return h ? h : 1;
}

/* Add to the set; 1 if it was new (or the set is full: then every error counts new). */
static int seen_add(struct lt_seen *S, uint64_t h) {
  size_t i;
  if (S->used * 2 >= S->size) {
    size_t size = S->size ? S->size * 2 : 64, j;
    uint64_t *slots;
    if (S->used >= MAX_SEEN || (slots = calloc(size, sizeof *slots)) == NULL)
      return 1;
    for (j = 0; j < S->size; j++) {
      uint64_t v = S->slots[j];
      if (v == 0)
        continue;
      for (i = v & (size - 1); slots[i] != 0; i = (i + 1) & (size - 1))
        ;
      slots[i] = v;
    }
    free(S->slots);
    S->slots = slots;
    S->size = size;
  }
  for (i = h & (S->size - 1); S->slots[i] != 0; i = (i + 1) & (S->size - 1))
    if (S->slots[i] == h)
      return 0;
  S->slots[i] = h;
  S->used++;
  return 1;
}

static void emit(struct lt_rules *R, const char *path, const char *message) {
  char line[MESSAGE_MAX + 4096];
  int n;
  if (R->on_error != NULL) {
    R->on_error(R->on_error_ud, path, message);
    return;
  }
  n = snprintf(line, sizeof line, "%s: %s", path, message);
  if (n > 0)
    lt_log_line(R->log_fd, "[Lua Error] ", line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void lt_rules_report(struct lt_rules *R, struct lt_rule *rule, const char *message) {
  if (!seen_add(&R->seen, fingerprint(rule->path, message)))
    return;
  if (rule->errors_shown >= MAX_DISTINCT_ERRORS) {
    rule->errors_held++;
    return;
  }
  rule->errors_shown++;
  emit(R, rule->path, message);
  if (rule->errors_shown == MAX_DISTINCT_ERRORS && R->on_error == NULL) {
    char text[128];
    snprintf(text, sizeof text, "%d different errors; further ones are counted, not shown",
             MAX_DISTINCT_ERRORS);
    emit(R, rule->path, text);
  }
}

void lt_rules_finish(struct lt_rules *R) {
  int i;
  for (i = 0; i < R->count; i++) {
    char text[128];
    if (R->rules[i].errors_held == 0)
      continue;
    snprintf(text, sizeof text, "%d more different error(s) not shown", R->rules[i].errors_held);
    emit(R, R->rules[i].path, text);
    R->rules[i].errors_held = 0;
  }
}

/* The first line of a Lua error; `name.lua:3: msg` (the rule's own file) becomes
** `line 3: msg`; a library's `_lib.lua:3: msg` stays as it is. */
static void error_text(lua_State *L, int status, const char *name, char *out,
                       size_t outlen) {
  const char *msg, *end, *colon, *p;
  size_t len, name_len = strlen(name);
  if (status == LUA_ERRMEM) {
    snprintf(out, outlen, "out of memory (the Lua state's memory cap was reached)");
    return;
  }
  if (lua_type(L, -1) != LUA_TSTRING) {
    snprintf(out, outlen, "error object is a %s value", luaL_typename(L, -1));
    return;
  }
  msg = lua_tolstring(L, -1, &len);
  while (len > 0 && (*msg == ' ' || *msg == '\t'))
    msg++, len--;
  end = memchr(msg, '\n', len);
  len = end ? (size_t)(end - msg) : len;
  while (len > 0 && (msg[len - 1] == ' ' || msg[len - 1] == '\t' || msg[len - 1] == '\r'))
    len--;
  if (len == 0) {
    snprintf(out, outlen, "error without a message");
    return;
  }
  colon = memchr(msg, ':', len);
  if (colon != NULL && (size_t)(colon - msg) == name_len + 4 &&
      memcmp(msg, name, name_len) == 0 && memcmp(colon - 4, ".lua", 4) == 0) {
    for (p = colon + 1; p < msg + len && *p >= '0' && *p <= '9'; p++)
      ;
    if (p > colon + 1 && p + 1 < msg + len && p[0] == ':' && p[1] == ' ') {
      snprintf(out, outlen, "line %.*s: %.*s", (int)(p - colon - 1), colon + 1,
               (int)(msg + len - p - 2), p + 2);
      return;
    }
  }
  snprintf(out, outlen, "%.*s", (int)len, msg);
}

void lt_rules_report_lua_error(struct lt_rules *R, lua_State *L, struct lt_rule *rule,
                               int status) {
  char text[MESSAGE_MAX];
  error_text(L, status, rule->name, text, sizeof text);
  lua_pop(L, 1);
  lt_rules_report(R, rule, text);
}

