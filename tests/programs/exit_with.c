/* Ends as argv[1] says: a number is the exit status; "kill" / "segv" / "abort" die by
 * a signal ("abort" through raise(), i.e. tgkill of its own thread). */
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
    if (strcmp(how, "abort") == 0) abort();
    return atoi(how);
}
