/* chain_proc.c: child processes and /proc readings for bench_chain (see
 * chain_proc.h). The live children sit in one small table so the exit
 * handlers can kill whatever is still running. */
#include "chain_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"

#define SQ_CB_MAX_CHILDREN 16

/* Live children; written by the main thread only, read by the handlers. */
static volatile pid_t sq_cb_children[SQ_CB_MAX_CHILDREN];

static void sq_cb_child_add(pid_t pid)
{
    for (int i = 0; i < SQ_CB_MAX_CHILDREN; i++)
        if (sq_cb_children[i] == 0) {
            sq_cb_children[i] = pid;
            return;
        }
}

static void sq_cb_child_remove(pid_t pid)
{
    for (int i = 0; i < SQ_CB_MAX_CHILDREN; i++)
        if (sq_cb_children[i] == pid)
            sq_cb_children[i] = 0;
}

/* kill() is async-signal-safe: the signal handler may call this. */
static void sq_cb_kill_children(void)
{
    for (int i = 0; i < SQ_CB_MAX_CHILDREN; i++)
        if (sq_cb_children[i] > 0)
            kill(sq_cb_children[i], SIGKILL);
}

static void sq_cb_at_exit(void)
{
    for (int i = 0; i < SQ_CB_MAX_CHILDREN; i++) {
        pid_t pid = sq_cb_children[i];
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            sq_cb_children[i] = 0;
        }
    }
}

static void sq_cb_on_signal(int sig)
{
    sq_cb_kill_children();
    signal(sig, SIG_DFL);
    raise(sig);
}

void sq_cb_proc_setup(void)
{
    atexit(sq_cb_at_exit);
    sq_signals_on_stop(sq_cb_on_signal);
    sq_signals_on_hup(sq_cb_on_signal);
}

pid_t sq_cb_spawn(char *const argv[], const char *log)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) {
        if (pid > 0)
            sq_cb_child_add(pid);
        return pid;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127); /* the bench died before the death signal was set */
    int in = open("/dev/null", O_RDONLY);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in >= 0)
        dup2(in, STDIN_FILENO);
    if (out >= 0) {
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
    }
    execvp(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int sq_cb_status_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int sq_cb_wait(pid_t pid, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    double deadline = sq_cb_now() + timeout_ms / 1000.0;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            sq_cb_child_remove(pid);
            return sq_cb_status_code(status);
        }
        if (r < 0 && errno != EINTR) {
            sq_cb_child_remove(pid);
            return -1;
        }
        if (sq_cb_now() >= deadline)
            return -2;
        sq_cb_sleep(0.02);
    }
}

int sq_cb_stop(pid_t pid, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    int code = sq_cb_wait(pid, timeout_ms);
    if (code != -2)
        return code;
    kill(pid, SIGKILL);
    return sq_cb_wait(pid, 10000);
}

/* The text after the command name of /proc/PID/stat, whose name may hold
 * spaces and parentheses: fields from the 3rd (state) on. */
static int sq_cb_read_stat_path(const char *path, char *buf, size_t sz, const char **fields)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sz - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *close = strrchr(buf, ')');
    if (!close)
        return -1;
    *fields = close + 2;
    return 0;
}

static int sq_cb_read_stat(pid_t pid, char *buf, size_t sz, const char **fields)
{
    char path[64];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/stat");
    return sq_cb_read_stat_path(path, buf, sz, fields);
}

static double sq_cb_stat_cpu(const char *p)
{
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime: utime is the 12th field from state. */
    unsigned long long utime, stime;
    if (sscanf(p, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double sq_cb_cpu_seconds(pid_t pid)
{
    char buf[1024];
    const char *p;
    if (sq_cb_read_stat(pid, buf, sizeof buf, &p) != 0)
        return -1;
    return sq_cb_stat_cpu(p);
}

double sq_cb_main_thread_cpu_seconds(pid_t pid)
{
    if (pid <= 0)
        return -1;
    char buf[1024], path[64];
    const char *p;
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)pid);
    if (sq_cb_read_stat_path(path, buf, sizeof buf, &p) != 0)
        return -1;
    return sq_cb_stat_cpu(p);
}

int sq_cb_machine_read(struct sq_cb_machine *m)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[10] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 8)
        return -1;
    /* user nice system idle iowait irq softirq steal (guest is in user). */
    unsigned long long total = 0;
    for (int i = 0; i < 8; i++)
        total += v[i];
    double hz = (double)sysconf(_SC_CLK_TCK);
    m->total = (double)total / hz;
    m->busy = (double)(total - v[3] - v[4]) / hz;
    return 0;
}

long sq_cb_status_kib(pid_t pid, const char *field)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    size_t flen = strlen(field);
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            v = strtol(line + flen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

double sq_cb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sq_cb_sleep(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void sq_cb_log_tail(const char *log, size_t bytes)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char *buf = malloc(bytes + 1);
    if (buf) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size > (long)bytes ? size - (long)bytes : 0, SEEK_SET);
        size_t n = fread(buf, 1, bytes, f);
        buf[n] = '\0';
        fprintf(stderr, "--- %s (end) ---\n%s\n---\n", log, buf);
        free(buf);
    }
    fclose(f);
}
