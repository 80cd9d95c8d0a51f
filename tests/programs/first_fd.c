/* The descriptor a program's first open gets (3, where nothing else is open). */
#include <fcntl.h>
#include <stdio.h>

int main(void) {
    printf("first open: %d\n", open("/dev/null", O_RDONLY));
    return 0;
}
