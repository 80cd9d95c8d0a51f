/* Ends as argv[1] says: a number is the exit status; "kill" / "segv" die by signal. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "0";
    printf("ending with %s\n", how);
    fflush(stdout);
    if (strcmp(how, "kill") == 0) kill(getpid(), SIGKILL);
    if (strcmp(how, "segv") == 0) { volatile int *p = NULL; *p = 1; }
    return atoi(how);
}
