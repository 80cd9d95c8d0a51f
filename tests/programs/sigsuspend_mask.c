/* sigsuspend with SIGCHLD blocked around fork: the handler runs once, and the mask from
 * before sigsuspend (SIGCHLD blocked) is back afterwards. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
static volatile int got;
static void h(int s) { (void)s; got++; }
int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = h;
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t block, old, none;
    sigemptyset(&block); sigaddset(&block, SIGCHLD); sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block, &old);
    if (fork() == 0) _exit(0);
    sigsuspend(&none);
    sigset_t now; sigprocmask(SIG_BLOCK, NULL, &now);
    printf("handler ran %d, SIGCHLD blocked again after sigsuspend: %d\n", got, sigismember(&now, SIGCHLD));
    return 0;
}
