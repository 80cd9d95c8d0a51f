/*
** foreign_calls.c - i386 and x32 calls to and from their x86_64 twins; the tables are
** filled from luatrap/syscalls/compat.py (module.c), which derives them from the
** generated system call table.
*/
#include "foreign_calls.h"

int lt_is_foreign(const struct lt_raw_call *call) {
  return call->arch != LT_AUDIT_ARCH_X86_64 || (call->nr & LT_X32_SYSCALL_BIT) != 0;
}

int lt_foreign_to_x86_64(const struct lt_foreign_calls *F, const struct lt_raw_call *call,
                         pid_t tid, int64_t args[6]) {
  uint32_t nr = call->nr, words[6];
  int i, sub, count;
  for (i = 0; i < 6; i++)
    args[i] = (int64_t)call->args[i];
  if (call->arch == LT_AUDIT_ARCH_X86_64) {
    nr &= ~LT_X32_SYSCALL_BIT;
    return nr < LT_MAX_FOREIGN ? F->x32[nr] : -1;
  }
  for (i = 0; i < 6; i++)
    args[i] &= 0xFFFFFFFF;
  if (nr != LT_I386_SOCKETCALL)
    return nr < LT_MAX_FOREIGN ? F->i386[nr] : -1;
  sub = (int)args[0];
  if (sub <= 0 || sub >= LT_MAX_SOCKETCALL || F->socketcall_nr[sub] < 0)
    return -1;
  count = F->socketcall_args[sub];
  if (lt_process_memory.read(NULL, tid, (uint64_t)args[1], words,
                             sizeof(uint32_t) * (size_t)count) != 0)
    return LT_UNREADABLE;
  for (i = 0; i < 6; i++)
    args[i] = i < count ? words[i] : 0;
  return F->socketcall_nr[sub];
}

long lt_foreign_from_x86_64(const struct lt_foreign_calls *F, const struct lt_raw_call *call,
                            int hooked_nr, int now_nr) {
  int x32 = call->arch == LT_AUDIT_ARCH_X86_64;
  int nr;
  if (now_nr == hooked_nr && !(!x32 && call->nr == LT_I386_SOCKETCALL))
    return call->nr;
  if (now_nr < 0 || now_nr >= LT_MAX_NR)
    return -1;
  nr = x32 ? F->x32_of[now_nr] : F->i386_of[now_nr];
  if (nr < 0)
    return -1;
  return x32 ? (long)((uint32_t)nr | LT_X32_SYSCALL_BIT) : nr;
}
