/* What a vfork child writes is its parent's memory: a global, the parent's stack, a
 * page the parent never touched, heap; before _exit, before exec, and before a failed
 * exec. posix_spawn reports the child's exec error through that memory. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static volatile int global;
static volatile char untouched[1 << 16];

static void report(const char *how, pid_t child, volatile int *on_stack, volatile char *heap,
                   volatile char *mapped) {
    int status;
    waitpid(child, &status, 0);
    printf("%s: global %d, stack %d, untouched page %d, heap %s, mmap %d, status %d\n",
           how, global, *on_stack, untouched[40000], heap, mapped[5000], WEXITSTATUS(status));
}

int main(int argc, char **argv) {
    if (argc > 1)
        return 0;  /* the exec'd copy */
    volatile int on_stack = 1;
    volatile char *heap = malloc(64);
    strcpy((char *)heap, "parent");
    volatile char *mapped = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED)
        return 1;
    mapped[5000] = 1;

    pid_t p = vfork();
    if (p == 0) {
        global = 11, on_stack = 12, untouched[40000] = 13, mapped[5000] = 14;
        strcpy((char *)heap, "child1");
        _exit(3);
    }
    report("after _exit", p, &on_stack, heap, mapped);

    p = vfork();
    if (p == 0) {
        global = 21, on_stack = 22, mapped[5000] = 24;
        strcpy((char *)heap, "child2");
        execl(argv[0], argv[0], "exec", (char *)NULL);
        _exit(127);
    }
    report("before exec", p, &on_stack, heap, mapped);

    p = vfork();
    if (p == 0) {
        global = 31;
        execl("/nonexistent/program", "x", (char *)NULL);
        on_stack = errno;  /* ENOENT, seen by the parent */
        _exit(127);
    }
    report("failed exec", p, &on_stack, heap, mapped);

    char *args[] = {"missing", NULL};
    int err = posix_spawn(&p, "/nonexistent/program", NULL, NULL, args, environ);
    printf("posix_spawn of a missing program: %s\n", strerror(err));
    err = posix_spawn(&p, argv[0], NULL, NULL, (char *[]){argv[0], "x", NULL}, environ);
    waitpid(p, NULL, 0);
    printf("posix_spawn of itself: %s\n", strerror(err));
    return 0;
}
