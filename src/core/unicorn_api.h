/*
** unicorn_api.h - the few libunicorn 2.1 functions the C core calls, declared by hand.
**
** The unicorn wheel ships libunicorn.so.2 without headers, and Debian's libunicorn-dev
** is 2.0.1 (older than the library the wheel ships). So the core does not link against
** Unicorn at all: it takes the functions from the library the Python side has already
** loaded (dlopen with RTLD_NOLOAD, then dlsym), with prototypes that match
** include/unicorn/unicorn.h of 2.1. Register ids are those of include/unicorn/x86.h and arm64.h;
** tests/test_core.py checks them against the unicorn package's own constants.
*/
#ifndef LUATRAP_UNICORN_API_H
#define LUATRAP_UNICORN_API_H

#include <stddef.h>
#include <stdint.h>

typedef struct uc_struct uc_engine;
typedef size_t uc_hook;

#define UC_HOOK_INTR 1
#define UC_HOOK_INSN 2
#define UC_HOOK_TLB_FILL (1 << 17)
#define UC_CTL_UC_USE_EXITS 4
#define UC_CTL_UC_EXITS 6
#define UC_CTL_TB_REMOVE_CACHE 9
#define UC_CTL_TLB_FLUSH 11
#define UC_CTL_TLB_TYPE 12
#define UC_CTL_WRITE(type, nr) ((type) | ((nr) << 26) | (1 << 30))
#define UC_TLB_CPU 0
#define UC_TLB_VIRTUAL 1
#define UC_MEM_READ 16 /* uc_mem_type: READ, WRITE, FETCH follow */
#define UC_MEM_WRITE 17
#define UC_MEM_FETCH 18
#define UC_PROT_READ 1 /* uc_prot: the same bits as PROT_* */
#define UC_PROT_WRITE 2
#define UC_PROT_EXEC 4
#define UC_X86_INS_SYSCALL 699
#define UC_X86_REG_RAX 35
#define UC_X86_REG_RDI 39
#define UC_X86_REG_RDX 40
#define UC_X86_REG_RSI 43
#define UC_X86_REG_R8 106
#define UC_X86_REG_R9 107
#define UC_X86_REG_R10 108
#define UC_X86_REG_RIP 41
#define UC_X86_REG_RBP 36
#define UC_X86_REG_RBX 37
#define UC_X86_REG_RCX 38
#define UC_X86_REG_RSP 44
#define UC_X86_REG_R11 109
#define UC_X86_REG_R12 110
#define UC_X86_REG_R13 111
#define UC_X86_REG_R14 112
#define UC_X86_REG_R15 113
#define UC_X86_REG_EFLAGS 25
#define UC_X86_REG_CS 11
#define UC_X86_REG_MXCSR 249
#define UC_X86_REG_XMM0 122 /* XMM1..XMM15 follow */
#define UC_ARM64_REG_X0 199 /* X1..X28 follow; include/unicorn/arm64.h */
#define UC_ARM64_REG_X8 207
#define UC_ARM64_REG_PC 260
#define UC_ARM64_REG_X29 1
#define UC_ARM64_REG_X30 2
#define UC_ARM64_REG_SP 4
#define UC_ARM64_REG_NZCV 3
#define UC_ARM64_REG_FPCR 291
#define UC_ARM64_REG_FPSR 292
#define UC_ARM64_REG_Q0 104 /* Q1..Q31 follow */

struct uc_tlb_entry { /* UC_HOOK_TLB_FILL's answer */
  uint64_t paddr;
  int perms; /* uc_prot */
};

struct unicorn_api {
  int (*reg_read_batch)(uc_engine *uc, const int *regs, void *const *vals, int count);
  int (*reg_write)(uc_engine *uc, int regid, const void *value);
  int (*reg_write_batch)(uc_engine *uc, const int *regs, void *const *vals, int count);
  int (*emu_start)(uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout,
                   size_t count);
  int (*emu_stop)(uc_engine *uc);
  int (*hook_add)(uc_engine *uc, uc_hook *hh, int type, void *callback, void *user_data,
                  uint64_t begin, uint64_t end, ...);
  int (*hook_del)(uc_engine *uc, uc_hook hh);
  const char *(*strerror)(int code);
  int (*ctl)(uc_engine *uc, int control, ...);
  int (*mem_map_ptr)(uc_engine *uc, uint64_t address, size_t size, uint32_t perms, void *ptr);
  int (*mem_unmap)(uc_engine *uc, uint64_t address, size_t size);
};

/* Fill `api` from the already loaded library at `path`: 0, or -1 with `why` set. */
int unicorn_api_load(struct unicorn_api *api, const char *path, const char **why);

#endif
