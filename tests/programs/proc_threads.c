/* What a program reads about its own threads and signals in /proc: the entries of
 * /proc/self/task (one per thread: a tool's own threads are no business of the
 * program's), and the Threads and signal lines of /proc/self/status and of a thread's
 * own status file (SigQ aside: it counts every process of the user). */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int stop;

static void on_usr2(int sig) { (void)sig; }

static void *idle(void *arg) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    *(volatile pid_t *)arg = gettid();
    while (!stop)
        usleep(1000);
    return NULL;
}

static void print_status(const char *path, const char *label) {
    char line[256];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Threads:", 8) == 0 || strncmp(line, "ShdPnd:", 7) == 0 ||
            (strncmp(line, "Sig", 3) == 0 && strncmp(line, "SigQ:", 5) != 0))
            printf("%s %s", label, line);
    fclose(f);
}

int main(void) {
    pthread_t threads[2];
    volatile pid_t tids[2] = {0, 0};
    sigset_t set;
    struct dirent *entry;
    int listed = 0, found = 0;
    char path[64];

    signal(SIGUSR2, on_usr2);
    signal(SIGHUP, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1); /* pending on the main thread, blocked */
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, idle, (void *)&tids[i]);
    while (!tids[0] || !tids[1])
        usleep(1000);
    DIR *task = opendir("/proc/self/task");
    while ((entry = readdir(task)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        listed++;
        found += atoi(entry->d_name) == getpid() || atoi(entry->d_name) == tids[0] ||
                 atoi(entry->d_name) == tids[1];
    }
    closedir(task);
    printf("threads listed in /proc/self/task: %d, all of them the program's: %s\n", listed,
           found == listed ? "yes" : "no");
    print_status("/proc/self/status", "process:");
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tids[0]);
    print_status(path, "thread:");
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    return 0;
}
