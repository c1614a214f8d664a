/* sq_harness.c: the integration-test harness (see sq_harness.h): spawns and
 * always reaps redis-server, sq-mock-kafka, sqgate and kcat; scrapes HTTP
 * and Prometheus text. Reading topics is in sq_harness_topics.c. Used only
 * by tests under tests/. */
#define _GNU_SOURCE /* close_range, pipe2 */
#include "sq_harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sq_common.h"

#ifndef SQ_BUILD_DIR
#error "SQ_BUILD_DIR must be defined (tests/CMakeLists.txt does it)"
#endif

extern char **environ;

/* ---- the registry of children, cleaned up at exit -------------------- */

#define SQ_H_MAX_CHILDREN 128

/* owner: the process that spawned pid. A process forked from a test (which
 * inherits this table and the atexit handler) must not kill its parent's
 * children when it exits. */
static struct {
    pid_t pid;
    pid_t owner;
} sq_h_children[SQ_H_MAX_CHILDREN];
static bool sq_h_atexit_done;
static char sq_h_tmp[64];
static pid_t sq_h_tmp_owner;

static void sq_h_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Removes path and everything below it; errors are ignored. */
static void sq_h_rm_rf_at(int parent, const char *name)
{
    struct stat st;
    int fd;
    DIR *d;
    struct dirent *de;

    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlinkat(parent, name, 0);
        return;
    }
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        sq_h_rm_rf_at(dirfd(d), de->d_name);
    }
    closedir(d);
    unlinkat(parent, name, AT_REMOVEDIR);
}

static void sq_h_atexit(void)
{
    pid_t self = getpid();

    for (int i = 0; i < SQ_H_MAX_CHILDREN; i++) {
        if (sq_h_children[i].pid <= 0 || sq_h_children[i].owner != self)
            continue;
        kill(sq_h_children[i].pid, SIGKILL);
        for (int t = 0; t < 200; t++) {   /* 2 s at most */
            pid_t w = waitpid(sq_h_children[i].pid, NULL, WNOHANG);
            if (w != 0)
                break;
            sq_h_sleep_ms(10);
        }
        sq_h_children[i].pid = 0;
    }
    if (sq_h_tmp[0] != '\0' && sq_h_tmp_owner == self) {
        const char *keep = getenv("SQ_KEEP_TMP");
        if (keep != NULL && *keep != '\0' && strcmp(keep, "0") != 0)
            fprintf(stderr, "sq-harness: kept %s\n", sq_h_tmp);
        else
            sq_h_rm_rf_at(AT_FDCWD, sq_h_tmp);
        sq_h_tmp[0] = '\0';
    }
}

static void sq_h_init_atexit(void)
{
    if (!sq_h_atexit_done) {
        atexit(sq_h_atexit);
        sq_h_atexit_done = true;
    }
}

static void sq_h_register(pid_t pid)
{
    sq_h_init_atexit();
    for (int i = 0; i < SQ_H_MAX_CHILDREN; i++) {
        if (sq_h_children[i].pid <= 0) {
            sq_h_children[i].pid = pid;
            sq_h_children[i].owner = getpid();
            return;
        }
    }
    fprintf(stderr, "sq-harness: more than %d children; pid %d will not be "
                    "cleaned up at exit\n", SQ_H_MAX_CHILDREN, (int)pid);
}

static void sq_h_unregister(pid_t pid)
{
    for (int i = 0; i < SQ_H_MAX_CHILDREN; i++)
        if (sq_h_children[i].pid == pid)
            sq_h_children[i].pid = 0;
}

const char *sq_h_tmpdir(void)
{
    if (sq_h_tmp[0] == '\0') {
        snprintf(sq_h_tmp, sizeof(sq_h_tmp), "/tmp/sq-h-XXXXXX");
        if (mkdtemp(sq_h_tmp) == NULL) {
            fprintf(stderr, "sq-harness: mkdtemp: %s\n", strerror(errno));
            abort();
        }
        sq_h_tmp_owner = getpid();
        sq_h_init_atexit();
    }
    return sq_h_tmp;
}

char *sq_h_tmp_path(const char *name)
{
    return sq_xasprintf("%s/%s", sq_h_tmpdir(), name);
}

/* ---- spawning --------------------------------------------------------- */

/* exe with a '/' as is, else the first executable PATH entry; malloc'd. */
static char *sq_h_which(const char *exe)
{
    const char *path = getenv("PATH");
    const char *p;

    if (strchr(exe, '/') != NULL)
        return sq_xstrdup(exe);
    if (path == NULL || *path == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    p = path;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char *cand = sq_xasprintf("%.*s/%s", (int)n, n ? p : ".", exe);
        if (access(cand, X_OK) == 0)
            return cand;
        free(cand);
        if (colon == NULL)
            return NULL;
        p = colon + 1;
    }
}

/* The child environment: the inherited one minus SQGATE_* and minus the
 * names extra_env sets, plus extra_env. The array is malloc'd; its strings
 * are borrowed. */
static char **sq_h_build_env(const char *const *extra_env)
{
    size_t n = 0, m = 0, k = 0;
    char **envp;

    for (char **e = environ; e != NULL && *e != NULL; e++)
        n++;
    for (; extra_env != NULL && extra_env[m] != NULL; m++)
        ;
    envp = sq_xcalloc(n + m + 1, sizeof(*envp));
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        size_t nlen = eq ? (size_t)(eq - *e) : strlen(*e);
        bool drop = strncmp(*e, "SQGATE_", 7) == 0;

        for (size_t i = 0; !drop && i < m; i++) {
            const char *xeq = strchr(extra_env[i], '=');
            size_t xlen = xeq ? (size_t)(xeq - extra_env[i]) : strlen(extra_env[i]);
            drop = xlen == nlen && strncmp(extra_env[i], *e, nlen) == 0;
        }
        if (!drop)
            envp[k++] = *e;
    }
    for (size_t i = 0; i < m; i++)
        envp[k++] = (char *)extra_env[i];
    envp[k] = NULL;
    return envp;
}

/* Forks and execs path with argv/envp and the given fds as 0, 1, 2. The
 * child dies with this thread (PR_SET_PDEATHSIG) and keeps no other fd.
 * Only async-signal-safe calls happen between fork and exec. */
static pid_t sq_h_fork_exec(const char *path, char *const *argv, char *const *envp,
                            int fd0, int fd1, int fd2)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid < 0) {
        fprintf(stderr, "sq-harness: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        int sigs[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD};

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            signal(sigs[i], SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(fd0, 0) < 0 || dup2(fd1, 1) < 0 || dup2(fd2, 2) < 0)
            _exit(127);
        if (close_range(3, ~0U, 0) != 0) {
            for (int fd = 3; fd < 4096; fd++)
                close(fd);
        }
        execve(path, argv, envp);
        _exit(127);
    }
    sq_h_register(pid);
    return pid;
}

static int sq_h_open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        fprintf(stderr, "sq-harness: open %s: %s\n", path, strerror(errno));
    return fd;
}

/* Fills log (size 256) with log_path or a fresh name under tmpdir. */
static void sq_h_pick_log(char *log, size_t sz, const char *log_path, const char *exe)
{
    static unsigned seq;
    const char *base = strrchr(exe, '/');

    if (log_path != NULL) {
        snprintf(log, sz, "%s", log_path);
        return;
    }
    base = base ? base + 1 : exe;
    snprintf(log, sz, "%s/%s-%u.log", sq_h_tmpdir(), base, ++seq);
}

int sq_h_spawn_exe(struct sq_h_proc *p, const char *exe, const char *const *args,
                   const char *const *extra_env, const char *log_path)
{
    char *path = sq_h_which(exe);
    size_t nargs = 0;
    char **argv, **envp;
    int fd_null, fd_log;

    p->pid = 0;
    if (path == NULL) {
        fprintf(stderr, "sq-harness: %s not found in PATH\n", exe);
        return -1;
    }
    sq_h_pick_log(p->log_path, sizeof(p->log_path), log_path, exe);
    for (; args != NULL && args[nargs] != NULL; nargs++)
        ;
    argv = sq_xcalloc(nargs + 2, sizeof(*argv));
    argv[0] = path;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = (char *)args[i];
    envp = sq_h_build_env(extra_env);

    fd_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fd_log = sq_h_open_log(p->log_path);
    if (fd_null >= 0 && fd_log >= 0)
        p->pid = sq_h_fork_exec(path, argv, envp, fd_null, fd_log, fd_log);
    if (fd_null >= 0)
        close(fd_null);
    if (fd_log >= 0)
        close(fd_log);
    free(envp);
    free(argv);
    free(path);
    if (p->pid <= 0) {
        p->pid = 0;
        return -1;
    }
    return 0;
}

int sq_h_spawn(struct sq_h_proc *p, const char *const *args,
               const char *const *extra_env, const char *log_path)
{
    return sq_h_spawn_exe(p, SQ_BUILD_DIR "/sqgate", args, extra_env, log_path);
}

/* Copies to our stderr, behind label, each line of the file at path that
 * contains one of marks (NULL-terminated) and the lines after it, `lines`
 * in all. */
static void sq_h_echo_marked_lines(const char *path, const char *label,
                                   const char *const *marks, int lines)
{
    char *text = sq_h_read_file(path, NULL);
    char *line, *save = NULL;
    int echo = 0;

    if (text == NULL)
        return;
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        for (const char *const *m = marks; *m != NULL; m++)
            if (strstr(line, *m) != NULL)
                echo = lines;
        if (echo > 0) {
            fprintf(stderr, "sq-harness: %s: %s\n", label, line);
            echo--;
        }
    }
    free(text);
}

/* Copies the sanitizer reports of a finished child's log to our stderr. */
static void sq_h_echo_sanitizer(const char *log_path)
{
    static const char *const marks[] = {"AddressSanitizer", "LeakSanitizer",
                                        "runtime error", NULL};
    /* the report line and some context after it */
    sq_h_echo_marked_lines(log_path, log_path, marks, 40);
}

/* Waits up to timeout_ms for pid; 1 when reaped (status filled), 0 when
 * still running, -1 when it is not our child. */
static int sq_h_reap(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = sq_mono_ms() + timeout_ms;
    int st = 0;

    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            sq_h_unregister(pid);
            if (status != NULL)
                *status = st;
            return 1;
        }
        if (w < 0 && errno != EINTR) {
            sq_h_unregister(pid);
            return -1;
        }
        if (sq_mono_ms() >= deadline)
            return 0;
        sq_h_sleep_ms(10);
    }
}

int sq_h_wait_exit(struct sq_h_proc *p, int timeout_ms, int *status)
{
    int rc;

    if (p->pid <= 0)
        return -1;
    rc = sq_h_reap(p->pid, timeout_ms, status);
    if (rc == 0)
        return -1;
    p->pid = 0;
    sq_h_echo_sanitizer(p->log_path);
    return rc == 1 ? 0 : -1;
}

void sq_h_kill(struct sq_h_proc *p, int sig)
{
    if (p->pid > 0)
        kill(p->pid, sig);
}

int sq_h_proc_stop(struct sq_h_proc *p, int timeout_ms, int *status)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    if (sq_h_wait_exit(p, timeout_ms, status) == 0)
        return 0;
    fprintf(stderr, "sq-harness: pid %d ignored SIGTERM for %d ms: SIGKILL\n",
            (int)p->pid, timeout_ms);
    kill(p->pid, SIGKILL);
    sq_h_wait_exit(p, 5000, NULL);
    return -1;
}

bool sq_h_alive(struct sq_h_proc *p)
{
    if (p->pid <= 0)
        return false;
    return sq_h_wait_exit(p, 0, NULL) != 0;
}

char *sq_h_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct sq_buf b;
    char chunk[65536];
    size_t n;
    char *out;

    if (f == NULL)
        return NULL;
    sq_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sq_buf_append(&b, chunk, n);
    fclose(f);
    out = sq_xmalloc(b.len + 1);
    if (b.len > 0)
        memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    if (len != NULL)
        *len = b.len;
    sq_buf_fini(&b);
    return out;
}

bool sq_h_file_contains(const char *path, const char *needle)
{
    char *text = sq_h_read_file(path, NULL);
    bool found = text != NULL && strstr(text, needle) != NULL;

    free(text);
    return found;
}

static int sq_h_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void sq_h_print_log_lines(const char *prefix, const char *const *needles)
{
    DIR *d = opendir(sq_h_tmpdir());
    if (d == NULL)
        return;
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || len < 4 ||
            strcmp(e->d_name + len - 4, ".log") != 0)
            continue;
        names = sq_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = sq_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, sq_h_name_cmp);
    for (size_t i = 0; i < n; i++) {
        char *path = sq_h_tmp_path(names[i]);
        sq_h_echo_marked_lines(path, names[i], needles, 1);
        free(path);
        free(names[i]);
    }
    free(names);
}

int sq_h_free_port(void)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = -1;

    if (fd < 0)
        return -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &slen) == 0)
        port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

/* ---- redis-server ----------------------------------------------------- */

/* The process id of the redis-server answering PING on port (not while it
 * loads its data), 0 when none does: a free port can be taken by another
 * test's server between the probe and the bind, and a PONG alone would
 * not tell whose answered. */
static pid_t sq_h_redis_server_pid(int port)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    pid_t pid = 0;

    if (c == NULL)
        return 0;
    if (c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK) {
        redisReply *pong = redisCommand(c, "PING");
        bool up = pong != NULL && pong->type == REDIS_REPLY_STATUS &&
                  strcmp(pong->str, "PONG") == 0;
        if (pong != NULL)
            freeReplyObject(pong);
        redisReply *reply = up ? redisCommand(c, "INFO server") : NULL;
        const char *at = reply != NULL && reply->type == REDIS_REPLY_STRING
                             ? strstr(reply->str, "process_id:")
                             : NULL;
        if (at != NULL)
            pid = (pid_t)strtol(at + strlen("process_id:"), NULL, 10);
        if (reply != NULL)
            freeReplyObject(reply);
    }
    redisFree(c);
    return pid;
}

/* One attempt on r->port: 0 when the server started answers PING, -1 when
 * it exited, did not answer in 10 s or another server answers there. */
static int sq_h_redis_launch(struct sq_h_redis *r)
{
    char port[16];
    struct sq_h_proc p;
    int64_t deadline;
    const char *args[24];
    int n = 0;

    snprintf(port, sizeof(port), "%d", r->port);
    args[n++] = "--port";
    args[n++] = port;
    args[n++] = "--bind";
    args[n++] = "127.0.0.1";
    args[n++] = "--daemonize";
    args[n++] = "no";
    args[n++] = "--save";
    args[n++] = "";
    args[n++] = "--dir";
    args[n++] = r->dir;
    args[n++] = "--appendonly";
    args[n++] = r->persist ? "yes" : "no";
    if (r->persist) {
        args[n++] = "--appendfsync";
        args[n++] = "always";
    }
    args[n++] = "--enable-debug-command";   /* DEBUG SLEEP for fault tests */
    args[n++] = "local";
    /* also a unix socket in its dir (sq_h_redis_unix_url) */
    char *sock = sq_xasprintf("%s/redis.sock", r->dir);
    args[n++] = "--unixsocket";
    args[n++] = sock;
    args[n++] = "--unixsocketperm";
    args[n++] = "700";
    args[n] = NULL;

    {
        char *log = sq_xasprintf("%s/redis-%d.log", sq_h_tmpdir(), r->port);
        int rc = sq_h_spawn_exe(&p, "redis-server", args, NULL, log);
        free(log);
        free(sock);
        if (rc != 0)
            return -1;
    }
    r->pid = p.pid;
    deadline = sq_mono_ms() + 10000;
    while (sq_mono_ms() < deadline) {
        pid_t answering = sq_h_redis_server_pid(r->port);
        if (answering == r->pid)
            return 0;
        if (answering > 0) {
            fprintf(stderr, "sq-harness: port %d answers from another redis-server (pid %d), "
                            "not the one started on it\n", r->port, (int)answering);
            kill(r->pid, SIGKILL);
            sq_h_reap(r->pid, 5000, NULL);
            r->pid = 0;
            return -1;
        }
        if (sq_h_reap(r->pid, 0, NULL) != 0) {
            fprintf(stderr, "sq-harness: redis-server on port %d exited (log %s)\n",
                    r->port, p.log_path);
            r->pid = 0;
            return -1;
        }
        sq_h_sleep_ms(20);
    }
    fprintf(stderr, "sq-harness: redis-server on port %d did not answer PING in 10 s\n",
            r->port);
    kill(r->pid, SIGKILL);
    sq_h_reap(r->pid, 5000, NULL);
    r->pid = 0;
    return -1;
}

int sq_h_redis_start(struct sq_h_redis *r, const char *persist_dir)
{
    static unsigned seq;

    memset(r, 0, sizeof(*r));
    r->persist = persist_dir != NULL;
    if (persist_dir != NULL) {
        r->dir = sq_xstrdup(persist_dir);
    } else {
        r->dir = sq_xasprintf("%s/redis-%u", sq_h_tmpdir(), ++seq);
        if (mkdir(r->dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "sq-harness: mkdir %s: %s\n", r->dir, strerror(errno));
            return -1;
        }
    }
    /* A free port can be taken between probe and bind: try a few. */
    for (int attempt = 0; attempt < 3; attempt++) {
        r->port = sq_h_free_port();
        if (r->port > 0 && sq_h_redis_launch(r) == 0)
            return 0;
    }
    free(r->dir);
    r->dir = NULL;
    return -1;
}

int sq_h_redis_stop(struct sq_h_redis *r)
{
    int rc;

    if (r->pid <= 0)
        return 0;
    kill(r->pid, SIGTERM);
    rc = sq_h_reap(r->pid, 5000, NULL);
    if (rc == 0) {
        fprintf(stderr, "sq-harness: redis-server ignored SIGTERM: SIGKILL\n");
        kill(r->pid, SIGKILL);
        sq_h_reap(r->pid, 5000, NULL);
    }
    r->pid = 0;
    return rc == 1 ? 0 : -1;
}

int sq_h_redis_kill(struct sq_h_redis *r)
{
    int rc;

    if (r->pid <= 0)
        return 0;
    kill(r->pid, SIGKILL);
    rc = sq_h_reap(r->pid, 5000, NULL);
    r->pid = 0;
    return rc == 1 ? 0 : -1;
}

int sq_h_redis_restart(struct sq_h_redis *r)
{
    if (r->dir == NULL || r->port <= 0)
        return -1;
    if (sq_h_redis_stop(r) != 0)
        return -1;
    /* The old socket can linger briefly; the launch retries via PING. */
    for (int attempt = 0; attempt < 3; attempt++) {
        if (sq_h_redis_launch(r) == 0)
            return 0;
        sq_h_sleep_ms(200);
    }
    return -1;
}

void sq_h_redis_fini(struct sq_h_redis *r)
{
    sq_h_redis_stop(r);
    free(r->dir);
    r->dir = NULL;
}

redisContext *sq_h_redis_connect(const struct sq_h_redis *r)
{
    struct timeval ctv = {.tv_sec = 2, .tv_usec = 0};
    struct timeval ttv = {.tv_sec = 5, .tv_usec = 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, ctv);

    if (c == NULL)
        return NULL;
    if (c->err != 0 || redisSetTimeout(c, ttv) != REDIS_OK) {
        fprintf(stderr, "sq-harness: redis connect to port %d: %s\n", r->port, c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

char *sq_h_redis_url(const struct sq_h_redis *r)
{
    return sq_xasprintf("redis://127.0.0.1:%d/0", r->port);
}

char *sq_h_redis_unix_url(const struct sq_h_redis *r)
{
    return sq_xasprintf("unix://%s/redis.sock", r->dir);
}

/* ---- sq-mock-kafka ---------------------------------------------------- */

/* Reads one line from an unbuffered stream within timeout_ms; strips the
 * newline. Returns 0, or -1 on EOF, timeout or overlong line. */
static int sq_h_read_line(FILE *f, char *buf, size_t sz, int timeout_ms)
{
    int64_t deadline = sq_mono_ms() + timeout_ms;
    size_t len = 0;

    for (;;) {
        struct pollfd pfd = {.fd = fileno(f), .events = POLLIN};
        int64_t left = deadline - sq_mono_ms();
        int c;

        if (left <= 0)
            return -1;
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;   /* EINTR or timeout: the deadline decides */
        c = fgetc(f);
        if (c == EOF)
            return -1;
        if (c == '\n') {
            buf[len] = '\0';
            return 0;
        }
        if (len + 1 >= sz)
            return -1;
        buf[len++] = (char)c;
    }
}

int sq_h_kafka_start(struct sq_h_kafka *k, int brokers, const char *const *topics)
{
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
    const char *args[520];
    char nbuf[16], line[1100];
    size_t n = 0;
    int fd_log;
    pid_t pid = -1;
    char **envp, *argv[sizeof(args) / sizeof(args[0]) + 1];

    memset(k, 0, sizeof(*k));
    signal(SIGPIPE, SIG_IGN);
    snprintf(nbuf, sizeof(nbuf), "%d", brokers);
    args[n++] = SQ_BUILD_DIR "/sq-mock-kafka";
    args[n++] = "--brokers";
    args[n++] = nbuf;
    for (size_t i = 0; topics != NULL && topics[i] != NULL; i++) {
        if (n + 3 > sizeof(args) / sizeof(args[0])) {
            fprintf(stderr, "sq-harness: too many topics\n");
            return -1;
        }
        args[n++] = "--topic";
        args[n++] = topics[i];
    }
    args[n] = NULL;
    for (size_t i = 0; i <= n; i++)
        argv[i] = (char *)args[i];

    sq_h_pick_log(k->log_path, sizeof(k->log_path), NULL, "sq-mock-kafka");
    fd_log = sq_h_open_log(k->log_path);
    if (fd_log < 0)
        return -1;
    if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "sq-harness: pipe: %s\n", strerror(errno));
        goto fail;
    }
    envp = sq_h_build_env(NULL);
    pid = sq_h_fork_exec(args[0], argv, envp, in_pipe[0], out_pipe[1], fd_log);
    free(envp);
    if (pid < 0)
        goto fail;
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(fd_log);
    k->pid = pid;
    k->in = fdopen(in_pipe[1], "w");
    k->out = fdopen(out_pipe[0], "r");
    if (k->in == NULL || k->out == NULL) {
        fprintf(stderr, "sq-harness: fdopen: %s\n", strerror(errno));
        if (k->in == NULL)
            close(in_pipe[1]);
        if (k->out == NULL)
            close(out_pipe[0]);
        sq_h_kafka_stop(k);
        return -1;
    }
    setvbuf(k->out, NULL, _IONBF, 0);   /* so poll() sees what is unread */

    if (sq_h_read_line(k->out, line, sizeof(line), 10000) != 0 ||
        strncmp(line, "BOOTSTRAP ", 10) != 0 ||
        strlen(line + 10) >= sizeof(k->bootstrap)) {
        fprintf(stderr, "sq-harness: sq-mock-kafka gave no bootstrap line (log %s)\n",
                k->log_path);
        sq_h_kafka_stop(k);
        return -1;
    }
    snprintf(k->bootstrap, sizeof(k->bootstrap), "%s", line + 10);
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        if (in_pipe[i] >= 0)
            close(in_pipe[i]);
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
    }
    close(fd_log);
    return -1;
}

int sq_h_kafka_cmd(struct sq_h_kafka *k, const char *fmt, ...)
{
    char cmd[4096], line[4096];
    va_list ap;
    int n;

    if (k->in == NULL || k->out == NULL)
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(cmd) || strchr(cmd, '\n') != NULL) {
        fprintf(stderr, "sq-harness: bad sq-mock-kafka command\n");
        return -1;
    }
    if (fprintf(k->in, "%s\n", cmd) < 0 || fflush(k->in) != 0) {
        fprintf(stderr, "sq-harness: sq-mock-kafka is gone (%s)\n", strerror(errno));
        return -1;
    }
    if (sq_h_read_line(k->out, line, sizeof(line), 10000) != 0) {
        fprintf(stderr, "sq-harness: no answer from sq-mock-kafka to '%s'\n", cmd);
        return -1;
    }
    if (strcmp(line, "OK") == 0)
        return 0;
    fprintf(stderr, "sq-harness: sq-mock-kafka '%s': %s\n", cmd, line);
    return -1;
}

void sq_h_kafka_stop(struct sq_h_kafka *k)
{
    if (k->in != NULL) {
        fclose(k->in);   /* EOF: the helper destroys the cluster and exits */
        k->in = NULL;
    }
    if (k->pid > 0) {
        if (sq_h_reap(k->pid, 5000, NULL) == 0) {
            fprintf(stderr, "sq-harness: sq-mock-kafka did not exit: SIGKILL\n");
            kill(k->pid, SIGKILL);
            sq_h_reap(k->pid, 5000, NULL);
        }
        sq_h_echo_sanitizer(k->log_path);
        k->pid = 0;
    }
    if (k->out != NULL) {
        fclose(k->out);
        k->out = NULL;
    }
}

const char *const *sq_h_standard_topics(int partitions)
{
    static const char *const names[] = {
        "sq.in.contacts", "sq.in.tickets",   "sq.in.surveys", "sq.in.qa",
        "sq.in.outages",  "sq.in.profiles",  "sq.out.scored", "sq.out.breaches",
        "sq.out.kpi",     "sq.out.alerts",   "sq.out.dlq",
    };
    enum { N = sizeof(names) / sizeof(names[0]) };
    static char bufs[N][64];
    static const char *list[N + 1];

    for (size_t i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "%s:%d", names[i], partitions);
        list[i] = bufs[i];
    }
    list[N] = NULL;
    return list;
}

/* ---- HTTP and metrics ------------------------------------------------- */

/* Decodes a chunked body in place; returns its length or -1. */
static long sq_h_dechunk(char *body, size_t len)
{
    size_t in = 0, out = 0;

    for (;;) {
        char *end = NULL;
        unsigned long sz;
        char *crlf;

        if (in >= len)
            return -1;
        sz = strtoul(body + in, &end, 16);
        crlf = strstr(body + in, "\r\n");
        if (end == body + in || crlf == NULL)
            return -1;
        in = (size_t)(crlf - body) + 2;
        if (sz == 0)
            return (long)out;
        if (sz > len - in)
            return -1;
        memmove(body + out, body + in, sz);
        out += sz;
        in += sz + 2;
    }
}

int sq_h_http_request(int port, const char *method, const char *path,
                      const char *headers, const char *req_body, char **body)
{
    struct sockaddr_in sin;
    struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
    struct sq_buf resp;
    char *req, chunk[16384], *hdr_end, *status_sp;
    size_t off = 0, reqlen;
    int fd, status = -1;
    long blen;

    if (body != NULL)
        *body = NULL;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    if (req_body != NULL)
        req = sq_xasprintf("%s %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                           "%sContent-Length: %zu\r\n\r\n%s",
                           method, path, port, headers ? headers : "", strlen(req_body),
                           req_body);
    else
        req = sq_xasprintf("%s %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                           "%s\r\n",
                           method, path, port, headers ? headers : "");
    reqlen = strlen(req);
    while (off < reqlen) {
        ssize_t w = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(req);
    sq_buf_init(&resp);
    if (off == reqlen) {
        for (;;) {
            ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            sq_buf_append(&resp, chunk, (size_t)r);
        }
    }
    close(fd);
    sq_buf_append(&resp, "", 1);   /* NUL-terminate */

    hdr_end = strstr(resp.data, "\r\n\r\n");
    status_sp = strchr(resp.data, ' ');
    if (strncmp(resp.data, "HTTP/1.", 7) == 0 && hdr_end != NULL && status_sp != NULL &&
        status_sp < hdr_end) {
        char *b = hdr_end + 4;
        size_t hlen = (size_t)(hdr_end - resp.data);
        bool chunked = false;

        status = (int)strtol(status_sp + 1, NULL, 10);
        for (char *h = strstr(resp.data, "\r\n"); h != NULL && h < hdr_end;
             h = strstr(h + 2, "\r\n")) {
            if (strncasecmp(h + 2, "Transfer-Encoding:", 18) == 0 &&
                strstr(h + 2, "chunked") != NULL && strstr(h + 2, "chunked") < hdr_end)
                chunked = true;
        }
        blen = (long)(resp.len - 1 - hlen - 4);
        if (chunked)
            blen = sq_h_dechunk(b, (size_t)blen);
        if (blen < 0) {
            status = -1;
        } else if (body != NULL) {
            *body = sq_xstrndup(b, (size_t)blen);
        }
    }
    sq_buf_fini(&resp);
    return status;
}

int sq_h_http_get(int port, const char *path, char **body)
{
    return sq_h_http_request(port, "GET", path, NULL, NULL, body);
}

/* Finds the samples of name (exact when exact, else name{...} too) and adds
 * their values into *sum; returns how many it found. */
static int sq_h_metric_scan(const char *body, const char *name, bool exact, double *sum)
{
    size_t nlen = strlen(name);
    int found = 0;

    if (body == NULL)
        return 0;
    for (const char *line = body; *line != '\0';) {
        const char *eol = strchr(line, '\n');
        size_t llen = eol ? (size_t)(eol - line) : strlen(line);

        if (line[0] != '#' && llen > nlen && strncmp(line, name, nlen) == 0) {
            const char *v = NULL;
            if (line[nlen] == ' ') {
                v = line + nlen;
            } else if (!exact && line[nlen] == '{') {
                /* skip the labels; a '}' inside a quoted value is escaped
                 * as data, so the last '}' before a space ends them */
                const char *close = NULL;
                for (const char *q = line + nlen; q < line + llen; q++)
                    if (*q == '}' && (q + 1 == line + llen || q[1] == ' '))
                        close = q;
                v = close ? close + 1 : NULL;
            }
            if (v != NULL) {
                char *end = NULL;
                double d = strtod(v, &end);
                if (end != v) {
                    *sum += d;
                    found++;
                }
            }
        }
        line += llen + (eol ? 1 : 0);
    }
    return found;
}

double sq_h_metric(const char *body, const char *name)
{
    double sum = 0;

    return sq_h_metric_scan(body, name, true, &sum) > 0 ? sum : -1;
}

double sq_h_metric_sum(const char *body, const char *family)
{
    double sum = 0;

    return sq_h_metric_scan(body, family, false, &sum) > 0 ? sum : -1;
}

bool sq_h_wait_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
    int64_t deadline = sq_mono_ms() + timeout_ms;

    for (;;) {
        if (cond(arg))
            return true;
        if (sq_mono_ms() >= deadline)
            return false;
        sq_h_sleep_ms(50);
    }
}

/* ---- kcat ------------------------------------------------------------- */

int sq_h_kcat_produce_file(const char *bootstrap, const char *topic, const char *path)
{
    const char *args[] = {"-P", "-b", bootstrap, "-t", topic, "-K", "\\t",
                          "-X", "linger.ms=5", "-l", path, NULL};
    struct sq_h_proc p;
    int status = 0;

    if (sq_h_spawn_exe(&p, "kcat", args, NULL, NULL) != 0)
        return -1;
    if (sq_h_wait_exit(&p, 60000, &status) != 0) {
        fprintf(stderr, "sq-harness: kcat did not finish in 60 s (log %s)\n", p.log_path);
        kill(p.pid, SIGKILL);
        sq_h_wait_exit(&p, 5000, NULL);
        return -1;
    }
    if (!WIFEXITED(status)) {
        fprintf(stderr, "sq-harness: kcat killed by signal %d (log %s)\n",
                WIFSIGNALED(status) ? WTERMSIG(status) : 0, p.log_path);
        return -1;
    }
    if (WEXITSTATUS(status) != 0)
        fprintf(stderr, "sq-harness: kcat exited %d (log %s)\n", WEXITSTATUS(status),
                p.log_path);
    return WEXITSTATUS(status);
}
