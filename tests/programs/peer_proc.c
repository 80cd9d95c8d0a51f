/* What a process reads in another's /proc/PID: its child (this program exec'd with
 * "child one two" and LUATRAP_PEER=seen) shows its name, command line (rewritten in
 * place by the child, as setproctitle does), environment and auxiliary vector. */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

static ssize_t slurp(pid_t pid, const char *entry, char *buf, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, entry);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t got = 0, n;
    while ((n = read(fd, buf + got, size - (size_t)got)) > 0)
        got += n;
    close(fd);
    return got;
}

int main(int argc, char **argv) {
    int ready[2], done[2];
    if (argc > 3 && strcmp(argv[1], "child") == 0) {
        unsigned long entry = getauxval(AT_ENTRY);
        memcpy(argv[2], "ONE", 3);  /* what ps shows changes with it */
        if (write(atoi(argv[3]), &entry, sizeof entry) != sizeof entry)
            return 1;
        char c;
        return read(0, &c, 1) < 0;
    }
    if (pipe(ready) != 0 || pipe(done) != 0)
        return 1;
    pid_t p = fork();
    if (p == 0) {
        char fd[16];
        snprintf(fd, sizeof fd, "%d", ready[1]);
        dup2(done[0], 0);
        close(done[0]), close(done[1]), close(ready[0]);
        char *env[] = {"LUATRAP_PEER=seen", NULL};
        execve(argv[0], (char *[]){argv[0], "child", "one", fd, NULL}, env);
        _exit(127);
    }
    unsigned long entry = 0;
    if (read(ready[0], &entry, sizeof entry) != sizeof entry)
        return 1;
    char buf[8192];
    ssize_t n = slurp(p, "comm", buf, sizeof buf);
    printf("comm: %.*s", (int)(n > 0 ? n : 0), buf);
    n = slurp(p, "cmdline", buf, sizeof buf);
    printf("cmdline:");
    for (char *at = buf; n > 0 && at < buf + n; at += strlen(at) + 1)
        printf(" [%s]", at == buf ? (strrchr(at, '/') ? strrchr(at, '/') + 1 : at) : at);
    n = slurp(p, "environ", buf, sizeof buf);
    printf("\nenviron: %.*s\n", (int)(n > 0 ? n - 1 : 0), buf);
    n = slurp(p, "auxv", buf, sizeof buf);
    int found = 0;
    for (Elf64_auxv_t *a = (Elf64_auxv_t *)buf; (char *)(a + 1) <= buf + n && a->a_type; a++)
        if (a->a_type == AT_ENTRY)
            found = a->a_un.a_val == entry;
    printf("auxv: AT_ENTRY %s\n", found ? "the child's" : "another");
    close(done[1]);
    waitpid(p, NULL, 0);
    return 0;
}
