/* chain_proc.h: child processes and /proc readings for bench_chain. Starts
 * programs with their output in a log file, stops them (SIGTERM, then
 * SIGKILL), and reads CPU time and memory of one process or of the whole
 * machine. Every child started here is killed when the bench exits, however
 * it exits (normal exit, SIGINT/SIGTERM/SIGHUP, or the bench being killed:
 * the children carry PR_SET_PDEATHSIG). */
#ifndef SQ_CHAIN_PROC_H
#define SQ_CHAIN_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Installs the handlers that kill every live child at exit and on
 * SIGINT/SIGTERM/SIGHUP. Call once, from the main thread, before any
 * sq_cb_spawn. */
void sq_cb_proc_setup(void);

/* Starts argv[0] (a path, or a name looked up on PATH) with stdin from
 * /dev/null and stdout and stderr appended to log. Call from the main
 * thread (the death signal follows the thread that forked). Returns the
 * pid, or -1 when fork failed. */
pid_t sq_cb_spawn(char *const argv[], const char *log);

/* SIGTERM, waits up to timeout_ms, then SIGKILL; always reaps. Returns the
 * exit code, 128 + the signal that ended it, or -1 when pid <= 0. */
int sq_cb_stop(pid_t pid, int timeout_ms);

/* Waits up to timeout_ms for pid to exit by itself; returns its status as
 * sq_cb_stop does, or -2 when it is still running. */
int sq_cb_wait(pid_t pid, int timeout_ms);

/* utime + stime of a process (all its threads) in seconds; pid 0 is this
 * process. -1 when unreadable. */
double sq_cb_cpu_seconds(pid_t pid);

/* The same for the process's main thread alone (sqgate's chain and turn
 * loop; redis-server's command thread); -1 when unreadable. */
double sq_cb_main_thread_cpu_seconds(pid_t pid);

/* The whole machine since boot, from /proc/stat, in CPU-seconds summed over
 * every core: busy (everything but idle and iowait) and total. */
struct sq_cb_machine {
    double busy;
    double total;
};
int sq_cb_machine_read(struct sq_cb_machine *m);

/* A /proc/PID/status field in KiB ("VmRSS", "VmHWM"); -1 when unreadable. */
long sq_cb_status_kib(pid_t pid, const char *field);

/* Monotonic seconds, and a sleep that survives signals. */
double sq_cb_now(void);
void sq_cb_sleep(double seconds);

/* Copies the last `bytes` bytes of a log file to stderr (failure reports). */
void sq_cb_log_tail(const char *log, size_t bytes);

#endif
