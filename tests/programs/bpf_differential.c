/* luatrap's seccomp filter checker and interpreter (src/core/guest_seccomp.c, linked in)
 * against the kernel's, on random filters: does the kernel accept each one, and for the
 * accepted ones, what happens to a call it judges (its result, or the signal that kills
 * the caller). Each filter is tried in a child of its own.
 *   bpf_differential SEED COUNT   -> "N filters, A accepted, all agree", or the first
 *                                    disagreement, and exit 1 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_seccomp.h"

#define TEST_NR SYS_getppid
#define GUARD 3 /* instructions that let every other call through */
#define MAX_BODY 24

static unsigned long long state;

static uint32_t next(void) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(state >> 33);
}

static uint32_t pick(const uint32_t *from, size_t n) {
    return from[next() % n];
}

static const uint32_t codes[] = {
    BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_W | BPF_ABS,
    BPF_LD | BPF_W | BPF_LEN, BPF_LDX | BPF_W | BPF_LEN, BPF_LD | BPF_IMM, BPF_LDX | BPF_IMM,
    BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM, BPF_ST, BPF_STX, BPF_MISC | BPF_TAX,
    BPF_MISC | BPF_TXA, BPF_ALU | BPF_ADD | BPF_K, BPF_ALU | BPF_SUB | BPF_X,
    BPF_ALU | BPF_MUL | BPF_K, BPF_ALU | BPF_DIV | BPF_K, BPF_ALU | BPF_DIV | BPF_X,
    BPF_ALU | BPF_AND | BPF_K, BPF_ALU | BPF_OR | BPF_X, BPF_ALU | BPF_XOR | BPF_K,
    BPF_ALU | BPF_LSH | BPF_K, BPF_ALU | BPF_RSH | BPF_X, BPF_ALU | BPF_NEG, BPF_JMP | BPF_JA, BPF_JMP | BPF_JEQ | BPF_K,
    BPF_JMP | BPF_JEQ | BPF_X, BPF_JMP | BPF_JGT | BPF_K, BPF_JMP | BPF_JGE | BPF_X,
    BPF_JMP | BPF_JSET | BPF_K, BPF_RET | BPF_K, BPF_RET | BPF_K, BPF_RET | BPF_A};
/* instructions classic BPF has and seccomp refuses, and one that is nothing */
static const uint32_t refused[] = {BPF_ALU | BPF_MOD | BPF_K, BPF_LD | BPF_H | BPF_ABS,
                                   BPF_LD | BPF_W | BPF_IND, BPF_LDX | BPF_B | BPF_MSH, 0xff};
/* seccomp_data's words, but never the instruction pointer (it differs between the
 * kernel's run and ours); 2 and 64 are refused */
static const uint32_t offsets[] = {0, 4, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 2, 64};
static const uint32_t verdicts[] = {
    SECCOMP_RET_ALLOW, SECCOMP_RET_LOG, SECCOMP_RET_ERRNO | 1, SECCOMP_RET_ERRNO | 0,
    SECCOMP_RET_ERRNO | 4096, SECCOMP_RET_ERRNO | 0xffff, SECCOMP_RET_TRACE,
    SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRAP | 3, SECCOMP_RET_KILL_THREAD,
    SECCOMP_RET_KILL_PROCESS, 0x12340000, SECCOMP_RET_ERRNO | 22};
static const uint32_t values[] = {0, 1, 2, 3, 31, 32, 33, TEST_NR, AUDIT_ARCH_X86_64,
                                  0xffffffff, 0x80000000, 7, 15, 16};

static size_t random_filter(struct sock_filter *f) {
    size_t body = 1 + next() % MAX_BODY, len = GUARD + body, i;
    f[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
    f[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_NR, 1, 0);
    f[2] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    for (i = GUARD; i < len; i++) {
        struct sock_filter *g = &f[i];
        size_t room = len - i - 1; /* the farthest a jump may go */
        g->code = (uint16_t)(next() % 32 ? pick(codes, sizeof codes / sizeof codes[0])
                                         : pick(refused, sizeof refused / sizeof refused[0]));
        g->k = next() % 4 ? pick(values, sizeof values / sizeof values[0]) : next();
        g->jt = (uint8_t)(room && next() % 16 ? next() % room : next() % 4);
        g->jf = (uint8_t)(room && next() % 16 ? next() % room : next() % 4);
        if ((g->code & 0xe0) == BPF_ABS)
            g->k = pick(offsets, sizeof offsets / sizeof offsets[0]);
        if (g->code == (BPF_JMP | BPF_JA))
            g->k = room && next() % 16 ? next() % room : next() % 4;
        if ((g->code & 0x07) == BPF_RET && (g->code & 0x18) == BPF_K)
            g->k = pick(verdicts, sizeof verdicts / sizeof verdicts[0]);
    }
    if (next() % 8) /* mostly a proper end */
        f[len - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
                                                  pick(verdicts, sizeof verdicts / sizeof verdicts[0]));
    return len;
}

/* What the caller sees: a call result, or the signal that killed it. */
struct outcome {
    int killed_by;
    long result;
};

static struct outcome expected(uint32_t verdict, pid_t parent) {
    struct outcome o = {0, 0};
    uint32_t data = verdict & SECCOMP_RET_DATA;
    switch (verdict & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_ALLOW: case SECCOMP_RET_LOG: o.result = parent; break;
    case SECCOMP_RET_ERRNO: o.result = -(long)(data > 4095 ? 4095 : data); break;
    case SECCOMP_RET_TRACE: case SECCOMP_RET_USER_NOTIF: o.result = -ENOSYS; break;
    default: o.killed_by = SIGSYS; break; /* trap (no handler), kills, unknown actions */
    }
    return o;
}

static int kernel(struct sock_filter *f, size_t len, const uint64_t args[6],
                  struct outcome *o) {
    int out[2], status;
    if (pipe(out) != 0)
        return -1;
    pid_t p = fork();
    if (p == 0) {
        struct sock_fprog prog = {(unsigned short)len, f};
        long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
        long answer[2] = {r == 0, 0};
        if (r == 0) {
            r = syscall(TEST_NR, args[0], args[1], args[2], args[3], args[4], args[5]);
            answer[1] = r < 0 ? -errno : r;
        }
        if (write(out[1], answer, sizeof answer) != sizeof answer)
            _exit(2);
        _exit(0);
    }
    close(out[1]);
    long answer[2] = {0, 0};
    ssize_t got = read(out[0], answer, sizeof answer);
    close(out[0]);
    waitpid(p, &status, 0);
    o->killed_by = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    o->result = answer[1];
    return got == sizeof answer ? (int)answer[0] : 1; /* killed before answering */
}

int main(int argc, char **argv) {
    struct sock_filter f[GUARD + MAX_BODY];
    struct rlimit no_core = {0, 0};
    size_t len = 0;
    int count, i, accepted = 0;
    if (argc < 3)
        return 2;
    state = strtoull(argv[1], NULL, 10);
    count = atoi(argv[2]);
    signal(SIGSYS, SIG_DFL);
    setrlimit(RLIMIT_CORE, &no_core); /* the kills dump no core */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return 2;
    for (i = 0; i < count; i++) {
        len = random_filter(f);
        uint64_t args[6];
        for (int a = 0; a < 6; a++)
            args[a] = next() % 3 ? next() % 40 : ((uint64_t)next() << 32 | next());
        struct outcome theirs, ours;
        int ours_ok = lt_bpf_check((const struct lt_bpf_insn *)f, len) == 0;
        int kernel_ok = kernel(f, len, args, &theirs);
        if (kernel_ok < 0)
            return 2;
        if (ours_ok != kernel_ok) {
            printf("filter %d: the kernel %s it, luatrap %s it\n", i,
                   kernel_ok ? "accepts" : "refuses", ours_ok ? "accepts" : "refuses");
            goto show;
        }
        if (!ours_ok)
            continue;
        accepted++;
        struct lt_seccomp_data data = {TEST_NR, AUDIT_ARCH_X86_64, 0, {0}};
        memcpy(data.args, args, sizeof args);
        ours = expected(lt_bpf_run((const struct lt_bpf_insn *)f, len, &data), getpid());
        if (ours.killed_by != theirs.killed_by || (!ours.killed_by && ours.result != theirs.result)) {
            printf("filter %d: the kernel gives (signal %d, result %ld), luatrap (signal %d, "
                   "result %ld)\n", i, theirs.killed_by, theirs.result, ours.killed_by, ours.result);
            goto show;
        }
    }
    printf("%d filters, %d accepted, all agree\n", count, accepted);
    return 0;
show:
    for (size_t j = 0; j < len; j++)
        printf("  {0x%04x, %u, %u, 0x%08x}\n", f[j].code, f[j].jt, f[j].jf, f[j].k);
    return 1;
}
