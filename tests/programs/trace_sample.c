/* A known sequence of calls between two marker writes, for comparing traces. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct stat st;
    char buf[64];
    write(2, "BEGIN\n", 6);
    int fd = openat(AT_FDCWD, argv[1], O_RDONLY | O_CLOEXEC);
    long n = read(fd, buf, sizeof buf);
    fstat(fd, &st);
    write(1, buf, n);
    void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(p, 8192);
    close(fd);
    for (int i = 0; i < 5; i++) getpid();
    openat(AT_FDCWD, "/nonexistent/file", O_RDONLY);
    rmdir("/nonexistent/dir");
    write(2, "END\n", 4);
    return 0;
}
