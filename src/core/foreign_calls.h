/*
** foreign_calls.h - the other ways into the x86_64 kernel: `int 0x80` (i386 numbers,
** socketcall's argument array) and the x32 ABI, mapped to the x86_64 call a rule is
** written for, and back to the caller's own ABI when a hook runs a call (c_do_syscall).
*/
#ifndef LUATRAP_FOREIGN_CALLS_H
#define LUATRAP_FOREIGN_CALLS_H

#include <stdint.h>
#include <sys/types.h>

#include "rules.h"

#define LT_AUDIT_ARCH_X86_64 0xC000003Eu
#define LT_AUDIT_ARCH_I386 0x40000003u
#define LT_X32_SYSCALL_BIT 0x40000000u
#define LT_I386_SOCKETCALL 102
#define LT_MAX_FOREIGN 1024 /* i386 and x32 numbers */
#define LT_MAX_SOCKETCALL 21
#define LT_UNREADABLE (-2) /* socketcall's argument array could not be read */

struct lt_foreign_calls {
  short i386[LT_MAX_FOREIGN];        /* i386 number -> x86_64 number, or -1 */
  short x32[LT_MAX_FOREIGN];         /* x32 number (no x32 bit) -> x86_64 number, or -1 */
  short socketcall_nr[LT_MAX_SOCKETCALL], socketcall_args[LT_MAX_SOCKETCALL];
  short i386_of[LT_MAX_NR];          /* x86_64 number -> the i386 call to run, or -1 */
  short x32_of[LT_MAX_NR];           /* x86_64 number -> x32 number (no bit), or -1 */
};

/* A call as the kernel received it: its ABI (audit arch), number and raw arguments. */
struct lt_raw_call {
  uint32_t arch, nr;
  uint64_t args[6];
};

/* Is `call` an i386 or x32 call (not a plain x86_64 one)? */
int lt_is_foreign(const struct lt_raw_call *call);

/* The x86_64 call a foreign `call` of thread `tid` reaches, its arguments in `args`
** (socketcall's are read from the caller's memory): the x86_64 number; -1 if it has
** none (the kernel answers such a call itself); LT_UNREADABLE if socketcall's argument
** array cannot be read (the caller then gets EFAULT, as from the kernel, and the call
** does not run: the array could be mapped again before the kernel reads it). */
int lt_foreign_to_x86_64(const struct lt_foreign_calls *F, const struct lt_raw_call *call,
                         pid_t tid, int64_t args[6]);

/* The number to run, in `call`'s ABI, for x86_64 call `now_nr` asked by the hook of
** `call` (whose x86_64 twin is `hooked_nr`): the caller's own number when it is the same
** call (socketcall aside, whose arguments live in memory), else that ABI's number for
** the call; -1 if that ABI has none. */
long lt_foreign_from_x86_64(const struct lt_foreign_calls *F, const struct lt_raw_call *call,
                            int hooked_nr, int now_nr);

#endif
