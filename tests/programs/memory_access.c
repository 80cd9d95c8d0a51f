/* Hands rules interesting memory through openat's path argument (the call fails with
   ENOENT unless a rule says otherwise), then prints what a rule may have written. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    /* "across/the/page" split over two pages, the second followed by an unmapped one */
    char *two = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    munmap(two + 2 * page, page);
    char *s = two + page - 7;
    strcpy(s, "across/the/page");
    printf("page: %d\n", openat(AT_FDCWD, s, O_RDONLY));
    /* a string running into the unmapped page: no NUL before the fault */
    memset(two + page, 'x', page);
    printf("unterminated: %d\n", openat(AT_FDCWD, two + page, O_RDONLY));
    /* binary data: NUL bytes and bytes that are not UTF-8 */
    static char bin[16] = {'b', 0, (char)0xff, (char)0xfe, 'z', 0};
    printf("binary: %d\n", openat(AT_FDCWD, bin, O_RDONLY));
    printf("bin now: %02x %02x %02x %02x\n", bin[0] & 0xff, bin[1] & 0xff, bin[2] & 0xff,
           bin[3] & 0xff);
    /* an address nothing is mapped at */
    printf("bad address: %d\n", openat(AT_FDCWD, (char *)8, O_RDONLY));
    /* a read-only string literal a rule may still overwrite */
    const char *ro = "read-only-path";
    printf("read-only: %d\n", openat(AT_FDCWD, ro, O_RDONLY));
    printf("ro now: %s\n", ro);
    return 0;
}
