/*
** guest_seccomp.c - checking and running a guest's seccomp filters (see the header).
*/
#include <errno.h>
#include <string.h>

#include "guest_seccomp.h"

/* Classic BPF's instruction fields (linux/bpf_common.h). */
#define BPF_CLASS(code) ((code) & 0x07)
#define BPF_LD 0x00
#define BPF_LDX 0x01
#define BPF_ST 0x02
#define BPF_STX 0x03
#define BPF_ALU 0x04
#define BPF_JMP 0x05
#define BPF_RET 0x06
#define BPF_MISC 0x07
#define BPF_W 0x00
#define BPF_IMM 0x00
#define BPF_ABS 0x20
#define BPF_MEM 0x60
#define BPF_LEN 0x80
#define BPF_ADD 0x00
#define BPF_SUB 0x10
#define BPF_MUL 0x20
#define BPF_DIV 0x30
#define BPF_OR 0x40
#define BPF_AND 0x50
#define BPF_LSH 0x60
#define BPF_RSH 0x70
#define BPF_NEG 0x80
#define BPF_XOR 0xa0
#define BPF_JA 0x00
#define BPF_JEQ 0x10
#define BPF_JGT 0x20
#define BPF_JGE 0x30
#define BPF_JSET 0x40
#define BPF_K 0x00
#define BPF_X 0x08
#define BPF_A 0x10
#define BPF_TAX 0x00
#define BPF_TXA 0x80

#define BPF_MAXINSNS 4096
#define BPF_MEMWORDS 16

/* The instructions a seccomp filter may use (the kernel's seccomp_check_filter), and
** what an operand must be. */
static int allowed(const struct lt_bpf_insn *f) {
  uint16_t code = f->code;
  switch (code) {
  case BPF_LD | BPF_W | BPF_ABS:
    return f->k < sizeof(struct lt_seccomp_data) && (f->k & 3) == 0;
  case BPF_LD | BPF_W | BPF_LEN: case BPF_LDX | BPF_W | BPF_LEN:
  case BPF_RET | BPF_K: case BPF_RET | BPF_A:
  case BPF_ALU | BPF_NEG: case BPF_LD | BPF_IMM: case BPF_LDX | BPF_IMM:
  case BPF_MISC | BPF_TAX: case BPF_MISC | BPF_TXA: case BPF_JMP | BPF_JA:
    return 1;
  case BPF_LD | BPF_MEM: case BPF_LDX | BPF_MEM: case BPF_ST: case BPF_STX:
    return f->k < BPF_MEMWORDS;
  case BPF_ALU | BPF_DIV | BPF_K:
    return f->k != 0;
  case BPF_ALU | BPF_LSH | BPF_K: case BPF_ALU | BPF_RSH | BPF_K:
    return f->k < 32;
  }
  switch (code & ~BPF_X) {
  case BPF_ALU | BPF_ADD: case BPF_ALU | BPF_SUB: case BPF_ALU | BPF_MUL:
  case BPF_ALU | BPF_DIV: case BPF_ALU | BPF_AND: case BPF_ALU | BPF_OR:
  case BPF_ALU | BPF_XOR: case BPF_ALU | BPF_LSH: case BPF_ALU | BPF_RSH:
  case BPF_JMP | BPF_JEQ: case BPF_JMP | BPF_JGE: case BPF_JMP | BPF_JGT:
  case BPF_JMP | BPF_JSET:
    return 1;
  }
  return 0;
}

static int is_conditional_jump(uint16_t code) {
  return BPF_CLASS(code) == BPF_JMP && (code & 0xf0) != BPF_JA;
}

int lt_bpf_check(const struct lt_bpf_insn *prog, size_t len) {
  uint16_t valid_at[BPF_MAXINSNS], memvalid = 0;
  size_t pc;
  if (len == 0 || len > BPF_MAXINSNS)
    return -EINVAL;
  for (pc = 0; pc < len; pc++) {
    const struct lt_bpf_insn *f = &prog[pc];
    if (!allowed(f))
      return -EINVAL;
    if (f->code == (BPF_JMP | BPF_JA) && f->k >= len - pc - 1)
      return -EINVAL;
    if (is_conditional_jump(f->code) && (pc + f->jt + 1 >= len || pc + f->jf + 1 >= len))
      return -EINVAL;
  }
  if (BPF_CLASS(prog[len - 1].code) != BPF_RET)
    return -EINVAL;
  /* No scratch word read before every path to the read has written it. Jumps only go
  ** forward, so one pass carries what is known to be written along each edge. */
  memset(valid_at, 0xff, sizeof valid_at);
  for (pc = 0; pc < len; pc++) {
    const struct lt_bpf_insn *f = &prog[pc];
    memvalid &= valid_at[pc];
    if (f->code == BPF_ST || f->code == BPF_STX) {
      memvalid |= (uint16_t)(1U << f->k);
    } else if (f->code == (BPF_LD | BPF_MEM) || f->code == (BPF_LDX | BPF_MEM)) {
      if (!(memvalid & (1U << f->k)))
        return -EINVAL;
    } else if (f->code == (BPF_JMP | BPF_JA)) {
      valid_at[pc + 1 + f->k] &= memvalid;
      memvalid = 0xffff;
    } else if (is_conditional_jump(f->code)) {
      valid_at[pc + 1 + f->jt] &= memvalid;
      valid_at[pc + 1 + f->jf] &= memvalid;
      memvalid = 0xffff;
    }
  }
  return 0;
}

static uint32_t load_word(const struct lt_seccomp_data *data, uint32_t offset) {
  uint32_t word;
  memcpy(&word, (const unsigned char *)data + offset, sizeof word);
  return word;
}

uint32_t lt_bpf_run(const struct lt_bpf_insn *prog, size_t len,
                    const struct lt_seccomp_data *data) {
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
  size_t pc;
  for (pc = 0; pc < len; pc++) {
    const struct lt_bpf_insn *f = &prog[pc];
    uint32_t operand = (f->code & BPF_X) ? x : f->k;
    switch (BPF_CLASS(f->code)) {
    case BPF_LD:
      switch (f->code & 0xe0) {
      case BPF_ABS: a = load_word(data, f->k); break;
      case BPF_LEN: a = sizeof *data; break;
      case BPF_MEM: a = mem[f->k]; break;
      default: a = f->k; break;
      }
      break;
    case BPF_LDX:
      x = (f->code & 0xe0) == BPF_MEM ? mem[f->k]
          : (f->code & 0xe0) == BPF_LEN ? (uint32_t)sizeof *data : f->k;
      break;
    case BPF_ST: mem[f->k] = a; break;
    case BPF_STX: mem[f->k] = x; break;
    case BPF_ALU:
      switch (f->code & 0xf0) {
      case BPF_ADD: a += operand; break;
      case BPF_SUB: a -= operand; break;
      case BPF_MUL: a *= operand; break;
      case BPF_DIV:
        if (operand == 0)
          return 0; /* the kernel's answer to a division by a zero X */
        a /= operand;
        break;
      case BPF_OR: a |= operand; break;
      case BPF_AND: a &= operand; break;
      case BPF_XOR: a ^= operand; break;
      case BPF_LSH: a <<= operand & 31; break;
      case BPF_RSH: a >>= operand & 31; break;
      case BPF_NEG: a = -a; break;
      }
      break;
    case BPF_JMP:
      switch (f->code & 0xf0) {
      case BPF_JA: pc += f->k; break;
      case BPF_JEQ: pc += a == operand ? f->jt : f->jf; break;
      case BPF_JGT: pc += a > operand ? f->jt : f->jf; break;
      case BPF_JGE: pc += a >= operand ? f->jt : f->jf; break;
      case BPF_JSET: pc += (a & operand) ? f->jt : f->jf; break;
      }
      break;
    case BPF_RET:
      return (f->code & BPF_A) ? a : f->k;
    case BPF_MISC:
      if (f->code & BPF_TXA)
        a = x;
      else
        x = a;
      break;
    }
  }
  return 0; /* not reached: a checked program ends with a return */
}

uint32_t lt_seccomp_decide(const unsigned char *chain, size_t size,
                           const struct lt_seccomp_data *data) {
  uint32_t verdict = LT_SECCOMP_RET_ALLOW;
  size_t at = 0;
  while (at + 4 <= size) {
    uint32_t len, ret;
    memcpy(&len, chain + at, sizeof len);
    at += 4;
    if (len > (size - at) / sizeof(struct lt_bpf_insn))
      break;
    ret = lt_bpf_run((const struct lt_bpf_insn *)(const void *)(chain + at), len, data);
    /* a lower action, as a signed number, takes precedence (KILL_PROCESS first) */
    if ((int32_t)(ret & LT_SECCOMP_RET_ACTION_FULL) <
        (int32_t)(verdict & LT_SECCOMP_RET_ACTION_FULL))
      verdict = ret;
    at += (size_t)len * sizeof(struct lt_bpf_insn);
  }
  return verdict;
}
