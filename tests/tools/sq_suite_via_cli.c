/* sq_suite_via_cli.c: runs the official JSON-Schema-Test-Suite (draft
 * 2020-12, the required files) through the real `sqgate validate`, one test
 * group at a time: the group's schema goes to a temp file, its instances to
 * an NDJSON file, and each output line's ok/invalid must equal the test's
 * `valid`. ctest jsonschema.suite_cli runs it (tests/CMakeLists.txt).
 *
 *   sq-suite-via-cli SQGATE SUITE_DIR REMOTES_DIR
 *
 * Exit 0 when every test agrees, 1 when any does not, 2 on a setup error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "sq_common.h"

#define SQ_SUITE_GROUP_TIMEOUT_MS 30000
#define SQ_SUITE_OUT_MAX (4u * 1024 * 1024)

struct sq_suite {
    const char *sqgate;
    const char *remotes_map; /* "http://localhost:1234/=REMOTES_DIR" */
    char schema_path[256];
    char tests_path[256];
    unsigned groups, tests, failed_tests, failed_groups;
};

static int sq_suite_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json files directly in dir (not optional/), sorted; NULL-terminated,
 * owned by the caller. */
static char **sq_suite_files(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **v = NULL;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        v = sq_xrealloc(v, (*n + 2) * sizeof *v);
        v[(*n)++] = sq_xasprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, sq_suite_cmp);
    if (v)
        v[*n] = NULL;
    return v;
}

/* Runs sqgate validate on the group's files; its stdout into *out (owned),
 * exit status into *status. 0, or -1 when it could not run or timed out. */
static int sq_suite_run(struct sq_suite *su, char **out, int *status)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(su->sqgate, su->sqgate, "validate", "--schema", su->schema_path, "--map",
              su->remotes_map, su->tests_path, (char *)NULL);
        fprintf(stderr, "sq-suite-via-cli: exec %s: %s\n", su->sqgate, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    struct sq_buf b;
    sq_buf_init(&b);
    int64_t deadline = sq_mono_ms() + SQ_SUITE_GROUP_TIMEOUT_MS;
    bool timed_out = false;
    for (;;) {
        int64_t left = deadline - sq_mono_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        char chunk[4096];
        ssize_t n = read(pfd[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (b.len + (size_t)n <= SQ_SUITE_OUT_MAX)
            sq_buf_append(&b, chunk, (size_t)n);
    }
    close(pfd[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    sq_buf_append(&b, "", 1);
    *out = b.data;
    return timed_out ? -1 : 0;
}

static bool sq_suite_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* One group: returns how many of its tests disagreed (its test count when
 * sqgate did not give one verdict per test). */
static unsigned sq_suite_group(struct sq_suite *su, const char *file, json_t *group)
{
    const char *gdesc = json_string_value(json_object_get(group, "description"));
    json_t *tests = json_object_get(group, "tests");
    size_t nt = json_array_size(tests);
    char *schema = json_dumps(json_object_get(group, "schema"), JSON_ENCODE_ANY | JSON_INDENT(1));
    struct sq_buf lines;
    sq_buf_init(&lines);
    for (size_t i = 0; i < nt; i++) {
        char *inst = json_dumps(json_object_get(json_array_get(tests, i), "data"),
                                JSON_ENCODE_ANY | JSON_COMPACT);
        sq_buf_appendf(&lines, "%s\n", inst ? inst : "null");
        free(inst);
    }
    sq_buf_append(&lines, "", 1);
    if (!schema || !sq_suite_write(su->schema_path, schema) ||
        !sq_suite_write(su->tests_path, lines.data)) {
        fprintf(stderr, "sq-suite-via-cli: cannot write the group's files: %s\n", strerror(errno));
        exit(2);
    }
    free(schema);
    sq_buf_fini(&lines);

    char *out = NULL;
    int status = 0;
    unsigned bad = 0;
    if (sq_suite_run(su, &out, &status) != 0) {
        printf("FAIL %s: \"%s\": sqgate validate did not finish\n", file, gdesc);
        free(out);
        return (unsigned)nt;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    bool any_invalid = false;
    size_t seen = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "summary: ", 9) == 0)
            continue;
        char *end;
        unsigned long n = strtoul(line, &end, 10);
        if (n != seen + 1 || n > nt || *end != ' ') {
            printf("FAIL %s: \"%s\": unexpected output line: %s\n", file, gdesc, line);
            bad++;
            continue;
        }
        seen = n;
        json_t *t = json_array_get(tests, n - 1);
        bool want = json_is_true(json_object_get(t, "valid"));
        bool got = strcmp(end + 1, "ok") == 0;
        any_invalid |= !got;
        if (want != got) {
            printf("FAIL %s: \"%s\" / \"%s\": expected %s, sqgate said: %s\n", file, gdesc,
                   json_string_value(json_object_get(t, "description")),
                   want ? "valid" : "invalid", end + 1);
            bad++;
        }
    }
    free(out);
    if (seen != nt) {
        printf("FAIL %s: \"%s\": %zu verdicts for %zu tests (exit status %d)\n", file, gdesc,
               seen, nt, code);
        return (unsigned)nt;
    }
    if (code != (any_invalid ? 1 : 0)) {
        printf("FAIL %s: \"%s\": exit status %d\n", file, gdesc, code);
        bad += bad ? 0 : 1;
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sq-suite-via-cli SQGATE SUITE_DIR REMOTES_DIR\n");
        return 2;
    }
    struct sq_suite su;
    memset(&su, 0, sizeof su);
    su.sqgate = argv[1];
    char *map = sq_xasprintf("http://localhost:1234/=%s", argv[3]);
    su.remotes_map = map;
    char tmp[] = "/tmp/sq-suite-XXXXXX";
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "sq-suite-via-cli: mkdtemp: %s\n", strerror(errno));
        return 2;
    }
    snprintf(su.schema_path, sizeof su.schema_path, "%s/schema.json", tmp);
    snprintf(su.tests_path, sizeof su.tests_path, "%s/tests.ndjson", tmp);

    size_t nf = 0;
    char **files = sq_suite_files(argv[2], &nf);
    if (!files || nf == 0) {
        fprintf(stderr, "sq-suite-via-cli: no *.json in %s\n", argv[2]);
        rmdir(tmp);
        return 2;
    }
    for (size_t f = 0; f < nf; f++) {
        json_error_t jerr;
        json_t *groups = json_load_file(files[f], JSON_ALLOW_NUL, &jerr);
        const char *base = strrchr(files[f], '/') + 1;
        if (!json_is_array(groups)) {
            fprintf(stderr, "sq-suite-via-cli: %s: %s\n", files[f], jerr.text);
            return 2;
        }
        unsigned file_bad = 0;
        size_t gi;
        json_t *g;
        json_array_foreach(groups, gi, g) {
            unsigned bad = sq_suite_group(&su, base, g);
            su.groups++;
            su.tests += (unsigned)json_array_size(json_object_get(g, "tests"));
            su.failed_tests += bad;
            su.failed_groups += bad != 0;
            file_bad += bad;
        }
        printf("%-32s %3zu groups %s\n", base, json_array_size(groups),
               file_bad ? "FAILED" : "ok");
        json_decref(groups);
        free(files[f]);
    }
    free(files);
    unlink(su.schema_path);
    unlink(su.tests_path);
    rmdir(tmp);
    free(map);
    printf("%u groups, %u tests: %u failed tests in %u groups\n", su.groups, su.tests,
           su.failed_tests, su.failed_groups);
    return su.failed_tests ? 1 : 0;
}
