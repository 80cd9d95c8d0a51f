/*
** emulate_frames.c - a guest signal handler's frame: built on entry, read back by
** rt_sigreturn.
**
** The kernel enters a handler by saving the interrupted registers in a frame on the
** thread's stack (struct rt_sigframe) and pointing the registers at the handler; the
** handler returns through rt_sigreturn, which restores the registers from the frame,
** as the handler may have changed them. The Linux layer (delivery.py) decides which
** handler runs, where it returns to and which masks apply; this file does the rest, for
** each guest architecture: read the registers in one batch, write the frame in one
** process_vm_writev, set the handler's registers in one batch, and the reverse. A frame
** is only ever written to or read from guest memory: a stack that cannot take it
** changes nothing, and the Linux layer sends the kernel's SIGSEGV.
*/
#define _GNU_SOURCE
#include <string.h>

#include "emulate_hook.h"

#define SA_ONSTACK 0x08000000u
#define SS_ONSTACK 1
#define SS_DISABLE 2
#define SIGINFO_SIZE 128

struct stack_choice {
  uint64_t sp;   /* where the frame goes below */
  int ss_flags;  /* what the frame's uc_stack reports */
};

/* The alternate stack if the handler asks for it and the thread is not on it already;
** else below the interrupted stack pointer, less what the ABI keeps free below it. */
static struct stack_choice choose_stack(const struct handler_entry *e, uint64_t sp,
                                        uint64_t red_zone) {
  struct stack_choice c;
  int on_alt = e->alt_base <= sp && sp - e->alt_base < e->alt_size;
  c.sp = sp - red_zone;
  if ((e->sa_flags & SA_ONSTACK) && !(e->alt_flags & SS_DISABLE) && !on_alt)
    c.sp = e->alt_base + e->alt_size;
  c.ss_flags = (on_alt ? SS_ONSTACK : 0) | (e->alt_flags & SS_DISABLE);
  return c;
}

/* ------------------------------------------------------------------------- x86_64 */

#define X86_FIX_EFLAGS 0x50dd5u /* what rt_sigreturn takes back: AC RF OF DF TF SF ZF AF PF CF */
#define X86_FXSAVE_SIZE 512
#define X86_FX_MXCSR 24
#define X86_FX_XMM 160

struct x86_sigcontext {
  uint64_t gregs[18]; /* r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags */
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2, fpstate;
  uint64_t reserved[8];
};

struct x86_ucontext {
  uint64_t flags, link;
  uint64_t ss_sp;
  int32_t ss_flags, ss_pad;
  uint64_t ss_size;
  struct x86_sigcontext mcontext;
  uint64_t sigmask;
};

struct x86_rt_sigframe {
  uint64_t pretcode; /* the handler's return address: its `ret` pops it */
  struct x86_ucontext uc;
  unsigned char info[SIGINFO_SIZE];
};

_Static_assert(sizeof(struct x86_ucontext) == 304, "the kernel's x86_64 ucontext");
_Static_assert(sizeof(struct x86_rt_sigframe) == 440, "the kernel's x86_64 rt_sigframe");

enum { X86_EFLAGS = 17, X86_RSP = 15, X86_RIP = 16, X86_MXCSR = 18, X86_XMM = 19 };

struct x86_registers { /* the sigcontext's general registers, MXCSR, xmm0-15 */
  uint64_t gregs[X86_MXCSR];
  uint64_t mxcsr;
  unsigned char xmm[16][16];
};

#define X86_BATCH (X86_XMM + 16)

/* Unicorn's ids for struct x86_registers, and where each value goes: one batch. */
static void x86_batch(struct x86_registers *r, int *ids, void **ptrs) {
  static const int gregs[X86_MXCSR] = {
      UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12,
      UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15, UC_X86_REG_RDI, UC_X86_REG_RSI,
      UC_X86_REG_RBP, UC_X86_REG_RBX, UC_X86_REG_RDX, UC_X86_REG_RAX, UC_X86_REG_RCX,
      UC_X86_REG_RSP, UC_X86_REG_RIP, UC_X86_REG_EFLAGS};
  int i;
  for (i = 0; i < X86_MXCSR; i++)
    ids[i] = gregs[i], ptrs[i] = &r->gregs[i];
  ids[X86_MXCSR] = UC_X86_REG_MXCSR, ptrs[X86_MXCSR] = &r->mxcsr;
  for (i = 0; i < 16; i++)
    ids[X86_XMM + i] = UC_X86_REG_XMM0 + i, ptrs[X86_XMM + i] = r->xmm[i];
}

int emu_x86_64_enter_handler(struct emu_hook *h, const struct handler_entry *e) {
  struct x86_registers r;
  int ids[X86_BATCH];
  void *ptrs[X86_BATCH];
  unsigned char buf[sizeof(struct x86_rt_sigframe) + 15 + 8 + X86_FXSAVE_SIZE];
  struct x86_rt_sigframe *f = (struct x86_rt_sigframe *)(void *)buf;
  struct stack_choice stack;
  uint64_t fx, frame, mxcsr32, selector = 0;
  void *selector_ptr = &selector;
  static const int cs_reg = UC_X86_REG_CS;
  static const int handler_regs[7] = {UC_X86_REG_RSP, UC_X86_REG_RIP, UC_X86_REG_RDI,
                                      UC_X86_REG_RSI, UC_X86_REG_RDX, UC_X86_REG_RAX,
                                      UC_X86_REG_EFLAGS};
  uint64_t values[7];
  void *value_ptrs[7] = {&values[0], &values[1], &values[2], &values[3],
                         &values[4], &values[5], &values[6]};
  size_t size;

  memset(&r, 0, sizeof r);
  x86_batch(&r, ids, ptrs);
  if (h->api.reg_read_batch(h->uc, ids, ptrs, X86_BATCH) != 0 ||
      h->api.reg_read_batch(h->uc, &cs_reg, &selector_ptr, 1) != 0)
    return -1;
  stack = choose_stack(e, r.gregs[X86_RSP], 128);
  fx = (stack.sp - X86_FXSAVE_SIZE) & ~(uint64_t)63;
  frame = ((fx - sizeof *f) & ~(uint64_t)15) - 8; /* as after a `call`: rsp+8 aligned */
  size = (size_t)(fx - frame) + X86_FXSAVE_SIZE;
  memset(buf, 0, sizeof buf);
  f->pretcode = e->return_to;
  f->uc.ss_sp = e->alt_base;
  f->uc.ss_flags = stack.ss_flags;
  f->uc.ss_size = e->alt_size;
  memcpy(f->uc.mcontext.gregs, r.gregs, sizeof f->uc.mcontext.gregs);
  f->uc.mcontext.cs = (uint16_t)selector; /* 0x23 in 32-bit code: Python then switches */
  f->uc.mcontext.ss = 0x2b;
  f->uc.mcontext.oldmask = e->old_mask;
  f->uc.mcontext.fpstate = fx;
  f->uc.sigmask = e->old_mask;
  memcpy(f->info, e->info, SIGINFO_SIZE);
  mxcsr32 = r.mxcsr & 0xffffffffu;
  memcpy(buf + (fx - frame) + X86_FX_MXCSR, &mxcsr32, 4);
  memcpy(buf + (fx - frame) + X86_FX_XMM, r.xmm, sizeof r.xmm);
  if (emu_write_guest(h, frame, buf, size) != 0)
    return -1;
  values[0] = frame;
  values[1] = e->handler;
  values[2] = (uint64_t)e->signo;
  values[3] = frame + offsetof(struct x86_rt_sigframe, info);
  values[4] = frame + offsetof(struct x86_rt_sigframe, uc);
  values[5] = 0;
  values[6] = r.gregs[X86_EFLAGS] & ~(uint64_t)0x500; /* DF and TF clear */
  return h->api.reg_write_batch(h->uc, handler_regs, value_ptrs, 7) == 0 ? 0 : -1;
}

int emu_x86_64_sigreturn(struct emu_hook *h, uint64_t *mask, uint64_t *selector,
                         uint64_t pc_bias) {
  struct x86_registers r;
  struct x86_ucontext uc;
  unsigned char fxsave[X86_FXSAVE_SIZE];
  int ids[X86_BATCH];
  void *ptrs[X86_BATCH];
  uint64_t now[3] = {0, 0, 0}; /* rsp, eflags, cs */
  void *now_ptrs[3] = {&now[0], &now[1], &now[2]};
  static const int now_regs[3] = {UC_X86_REG_RSP, UC_X86_REG_EFLAGS, UC_X86_REG_CS};
  int n = X86_MXCSR;

  memset(&r, 0, sizeof r);
  x86_batch(&r, ids, ptrs);
  if (h->api.reg_read_batch(h->uc, now_regs, now_ptrs, 3) != 0)
    return -1;
  /* the handler's `ret` popped pretcode: rsp is at the ucontext */
  if (emu_read_guest(h, now[0], &uc, sizeof uc) != 0)
    return -1;
  if (uc.mcontext.fpstate != 0) {
    if (emu_read_guest(h, uc.mcontext.fpstate, fxsave, sizeof fxsave) != 0)
      return -1;
    memcpy(&r.mxcsr, fxsave + X86_FX_MXCSR, 4);
    memcpy(r.xmm, fxsave + X86_FX_XMM, sizeof r.xmm);
    n = X86_BATCH;
  }
  memcpy(r.gregs, uc.mcontext.gregs, X86_EFLAGS * sizeof r.gregs[0]);
  r.gregs[X86_RIP] -= pc_bias;
  r.gregs[X86_EFLAGS] = (now[1] & ~(uint64_t)X86_FIX_EFLAGS) |
                        (uc.mcontext.gregs[X86_EFLAGS] & X86_FIX_EFLAGS);
  *mask = uc.sigmask;
  /* as the kernel: a user selector, checked by iret; 0 if the CPU's already */
  *selector = (uc.mcontext.cs | 3u) == (now[2] & 0xffffu) ? 0 : uc.mcontext.cs | 3u;
  return h->api.reg_write_batch(h->uc, ids, ptrs, n) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------ aarch64 */

#define A64_FPSIMD_MAGIC 0x46508001u
#define A64_NZCV_MASK 0xf0000000u

struct a64_fpsimd_context {
  uint32_t magic, size;
  uint32_t fpsr, fpcr;
  unsigned char vregs[32][16];
};

struct a64_sigcontext {
  uint64_t fault_address;
  uint64_t regs[31];
  uint64_t sp, pc, pstate;
  uint64_t pad; /* __reserved is 16-byte aligned */
  union { /* __reserved: records, the first the FP/SIMD state, a zero header ending them */
    struct a64_fpsimd_context fpsimd;
    unsigned char bytes[4096];
  } reserved;
};

struct a64_ucontext {
  uint64_t flags, link;
  uint64_t ss_sp;
  int32_t ss_flags, ss_pad;
  uint64_t ss_size;
  uint64_t sigmask;
  unsigned char sigmask_rest[120]; /* the kernel's sigset_t has room for 1024 signals */
  uint64_t pad;
  struct a64_sigcontext mcontext;
};

struct a64_rt_sigframe {
  unsigned char info[SIGINFO_SIZE];
  struct a64_ucontext uc;
};

_Static_assert(offsetof(struct a64_ucontext, mcontext) == 176, "the kernel's layout");
_Static_assert(sizeof(struct a64_rt_sigframe) == 4688, "the kernel's aarch64 rt_sigframe");

enum { A64_X29 = 29, A64_X30 = 30, A64_SP = 31, A64_PC = 32, A64_NZCV = 33, A64_FPSR = 34,
       A64_FPCR = 35, A64_Q = 36 };

struct a64_registers { /* x0-x30, sp, pc, nzcv, fpsr, fpcr, q0-q31 */
  uint64_t x[A64_Q];
  unsigned char q[32][16];
};

#define A64_BATCH (A64_Q + 32)

/* Unicorn's ids for struct a64_registers, and where each value goes: one batch. */
static void a64_batch(struct a64_registers *r, int *ids, void **ptrs) {
  static const int named[A64_Q - A64_X29] = {UC_ARM64_REG_X29, UC_ARM64_REG_X30,
                                             UC_ARM64_REG_SP, UC_ARM64_REG_PC,
                                             UC_ARM64_REG_NZCV, UC_ARM64_REG_FPSR,
                                             UC_ARM64_REG_FPCR};
  int i;
  for (i = 0; i < A64_Q; i++)
    ids[i] = i < A64_X29 ? UC_ARM64_REG_X0 + i : named[i - A64_X29], ptrs[i] = &r->x[i];
  for (i = 0; i < 32; i++)
    ids[A64_Q + i] = UC_ARM64_REG_Q0 + i, ptrs[A64_Q + i] = r->q[i];
}

int emu_aarch64_enter_handler(struct emu_hook *h, const struct handler_entry *e) {
  unsigned char buf[sizeof(struct a64_rt_sigframe) + 15 + 16];
  struct a64_rt_sigframe *f = (struct a64_rt_sigframe *)(void *)buf;
  struct a64_fpsimd_context *fp = &f->uc.mcontext.reserved.fpsimd;
  struct a64_registers r;
  int ids[A64_BATCH];
  void *ptrs[A64_BATCH];
  struct stack_choice stack;
  uint64_t record, frame, pair[2];
  uint32_t fpsr, fpcr;
  static const int handler_regs[7] = {UC_ARM64_REG_X0, UC_ARM64_REG_X0 + 1,
                                      UC_ARM64_REG_X0 + 2, UC_ARM64_REG_X29,
                                      UC_ARM64_REG_X30, UC_ARM64_REG_SP, UC_ARM64_REG_PC};
  uint64_t values[7];
  void *value_ptrs[7] = {&values[0], &values[1], &values[2], &values[3],
                         &values[4], &values[5], &values[6]};

  memset(&r, 0, sizeof r);
  a64_batch(&r, ids, ptrs);
  if (h->api.reg_read_batch(h->uc, ids, ptrs, A64_BATCH) != 0)
    return -1;
  stack = choose_stack(e, r.x[A64_SP], 0);
  record = (stack.sp - 16) & ~(uint64_t)15; /* struct frame_record {fp, lr} */
  frame = (record - sizeof *f) & ~(uint64_t)15;
  memset(buf, 0, sizeof buf);
  memcpy(f->info, e->info, SIGINFO_SIZE);
  f->uc.ss_sp = e->alt_base;
  f->uc.ss_flags = stack.ss_flags;
  f->uc.ss_size = e->alt_size;
  f->uc.sigmask = e->old_mask;
  memcpy(f->uc.mcontext.regs, r.x, sizeof f->uc.mcontext.regs);
  f->uc.mcontext.sp = r.x[A64_SP];
  f->uc.mcontext.pc = r.x[A64_PC];
  f->uc.mcontext.pstate = r.x[A64_NZCV] & A64_NZCV_MASK;
  fpsr = (uint32_t)r.x[A64_FPSR], fpcr = (uint32_t)r.x[A64_FPCR];
  fp->magic = A64_FPSIMD_MAGIC;
  fp->size = sizeof *fp;
  fp->fpsr = fpsr, fp->fpcr = fpcr;
  memcpy(fp->vregs, r.q, sizeof fp->vregs);
  pair[0] = r.x[A64_X29], pair[1] = r.x[A64_X30];
  memcpy(buf + (record - frame), pair, sizeof pair);
  if (emu_write_guest(h, frame, buf, (size_t)(record - frame) + sizeof pair) != 0)
    return -1;
  values[0] = (uint64_t)e->signo;
  values[1] = frame;
  values[2] = frame + offsetof(struct a64_rt_sigframe, uc);
  values[3] = record;
  values[4] = e->return_to;
  values[5] = frame;
  values[6] = e->handler;
  return h->api.reg_write_batch(h->uc, handler_regs, value_ptrs, 7) == 0 ? 0 : -1;
}

int emu_aarch64_sigreturn(struct emu_hook *h, uint64_t *mask, uint64_t *selector,
                          uint64_t pc_bias) {
  struct a64_ucontext uc;
  struct a64_registers r;
  int ids[A64_BATCH];
  void *ptrs[A64_BATCH];
  const struct a64_fpsimd_context *fp = &uc.mcontext.reserved.fpsimd;
  uint64_t sp;
  void *sp_ptr = &sp;
  static const int sp_reg[1] = {UC_ARM64_REG_SP};
  size_t reading = offsetof(struct a64_ucontext, mcontext.reserved) + sizeof *fp;
  int n = A64_FPSR;
  (void)selector; /* no code selector on aarch64 */

  if (h->api.reg_read_batch(h->uc, sp_reg, &sp_ptr, 1) != 0)
    return -1;
  /* the frame is at sp, where entering the handler left it */
  if (emu_read_guest(h, sp + offsetof(struct a64_rt_sigframe, uc), &uc, reading) != 0)
    return -1;
  memset(&r, 0, sizeof r);
  a64_batch(&r, ids, ptrs);
  memcpy(r.x, uc.mcontext.regs, sizeof uc.mcontext.regs);
  r.x[A64_SP] = uc.mcontext.sp;
  r.x[A64_PC] = uc.mcontext.pc - pc_bias;
  r.x[A64_NZCV] = uc.mcontext.pstate & A64_NZCV_MASK;
  if (fp->magic == A64_FPSIMD_MAGIC) {
    r.x[A64_FPSR] = fp->fpsr, r.x[A64_FPCR] = fp->fpcr;
    memcpy(r.q, fp->vregs, sizeof r.q);
    n = A64_BATCH;
  }
  *mask = uc.sigmask;
  return h->api.reg_write_batch(h->uc, ids, ptrs, n) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------- Python */

/* enter_handler(signo, handler, return_to, sa_flags, old_mask, (alt_sp, alt_size,
** alt_flags), info): the thread runs `handler` next, with its frame on the stack;
** False if the stack cannot take the frame (nothing changed). */
PyObject *Hook_enter_handler(EmulateHookObject *self, PyObject *args) {
  struct emu_hook *h = &self->h;
  struct handler_entry e;
  Py_buffer info;
  int err;
  memset(&e, 0, sizeof e);
  if (!PyArg_ParseTuple(args, "iKKKK(KKi)y*", &e.signo, &e.handler, &e.return_to,
                        &e.sa_flags, &e.old_mask, &e.alt_base, &e.alt_size, &e.alt_flags,
                        &info))
    return NULL;
  memcpy(e.info, info.buf, (size_t)(info.len < SIGINFO_SIZE ? info.len : SIGINFO_SIZE));
  PyBuffer_Release(&info);
  err = h->abi->enter_handler(h, &e);
  return PyBool_FromLong(err == 0);
}

/* sigreturn(in_hook): the registers the frame at the stack pointer holds; returns the
** mask it saved and the x86 code selector Python must make the CPU's (a mode switch),
** 0 if none (aarch64 never); None if the frame cannot be read (nothing changed). `in_hook`: called from the system call hook, after which Unicorn still
** moves the pc past the call. */
PyObject *Hook_sigreturn(EmulateHookObject *self, PyObject *in_hook) {
  struct emu_hook *h = &self->h;
  uint64_t mask, selector = 0;
  int bias = PyObject_IsTrue(in_hook);
  if (bias < 0)
    return NULL;
  if (h->abi->sigreturn(h, &mask, &selector, bias ? (uint64_t)h->abi->pc_after_call : 0))
    Py_RETURN_NONE;
  return Py_BuildValue("KK", (unsigned long long)mask, (unsigned long long)selector);
}
