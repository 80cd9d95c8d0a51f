#include <stdio.h>
#include <unistd.h>
#include <sys/types.h>

int main() {
    pid_t pid;

    printf("Starting test program...\n");

    // Test getpid (will be intercepted)
    pid = getpid();
    printf("My PID is: %d\n", pid);

    // Test write (will be logged)
    write(1, "Hello from write!\n", 18);

    // Test multiple getpid calls
    for (int i = 0; i < 3; i++) {
        pid = getpid();
        printf("PID call %d: %d\n", i + 1, pid);
    }

    return 0;
}
