/* execveat's two forms: fexecve (the program's own file, opened close-on-exec) and a
   name relative to a directory descriptor; the new image says what it was given and
   whether the descriptor survived. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    char *self = argv[0], *slash = strrchr(self, '/');
    if (argc > 1) {
        printf("%s, descriptor 3 %s\n", argv[1], fcntl(3, F_GETFD) < 0 ? "closed" : "open");
        fflush(stdout);
        if (strcmp(argv[1], "by fexecve") != 0)
            return 0;
        int dir = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char *next[] = {self, "by name under a directory descriptor", NULL};
        syscall(SYS_execveat, dir, "no-such-program", next, environ, 0);
        perror("execveat of a missing name");
        syscall(SYS_execveat, dir, slash ? slash + 1 : self, next, environ, 0);
        perror("execveat");
        return 1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - self) : 1, slash ? self : ".");
    int fd = open(self, O_RDONLY | O_CLOEXEC);
    char *next[] = {self, "by fexecve", dir, NULL};
    fexecve(fd, next, environ);
    perror("fexecve");
    return 1;
}
