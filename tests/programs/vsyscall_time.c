/* Calls through the x86_64 vsyscall page, as old static programs do: time() and
 * gettimeofday() there, against the real calls. */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#define VSYSCALL_PAGE 0xffffffffff600000UL

int main(void) {
    time_t (*vtime)(time_t *) = (time_t (*)(time_t *))(VSYSCALL_PAGE + 0x400);
    int (*vgettimeofday)(struct timeval *, void *) =
        (int (*)(struct timeval *, void *))VSYSCALL_PAGE;
    struct timeval tv;
    time_t t = vtime(NULL);
    int r = vgettimeofday(&tv, NULL);
    long now = (long)time(NULL);
    printf("vsyscall time: %ld\n", (long)t);
    printf("close to the real time: %d %d\n", now - t < 3 && t - now < 3,
           r == 0 && now - tv.tv_sec < 3 && tv.tv_sec - now < 3);
    return 0;
}
