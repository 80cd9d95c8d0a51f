/* cat through the 32-bit ABI: opens, reads and writes its file with `int 0x80` calls
   (i386 open = 5, read = 3, write = 4). Build with -static -no-pie: its buffers are
   static data, below 4 GiB, where 32-bit pointers reach. */
#include <string.h>

static char path[4096], data[4096];

static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

int main(int argc, char **argv) {
    long fd, n;
    if (argc < 2 || strlen(argv[1]) >= sizeof path)
        return 2;
    strcpy(path, argv[1]);
    fd = int80(5, (long)path, 0, 0);
    if (fd < 0) {
        int80(4, 2, (long)"int80_cat: cannot open\n", 23);
        return 1;
    }
    while ((n = int80(3, fd, (long)data, sizeof data)) > 0)
        int80(4, 1, (long)data, n);
    return 0;
}
