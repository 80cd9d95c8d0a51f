/* open(2) returns the lowest free descriptor, and programs count on it (close(0) then
 * open("/dev/null") to make it stdin): a tool that opens files of its own in the same
 * descriptor table, even for a moment, takes numbers from under the program. Opens and
 * closes argv[1] times, counting the opens that did not get the lowest number. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000, other = 0;
    int lowest = open("/dev/null", O_RDONLY);
    close(lowest);
    for (long i = 0; i < n; i++) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd != lowest)
            other++;
        close(fd);
    }
    printf("opens that did not get the lowest free descriptor: %ld\n", other);
    return 0;
}
