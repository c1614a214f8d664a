/* sq_jsonschema_suite.c: runs JSON-Schema-Test-Suite files (Debian
 * libtest-json-schema-acceptance-perl) through processors/jsonschema.h and
 * prints "FILE: N/M passed" per file and "total: N of M passed"; exit 1 on
 * any failure. $refs to http://localhost:1234/ load from the suite's remotes/
 * (ctest jsonschema.suite, jsonschema.suite_format). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonschema.h"

struct suite {
    struct sq_jsv_registry *reg;
    struct sq_jsv_opts opts;
    bool verbose;
    size_t passed, total, files_failed;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_file(struct suite *s, const char *path)
{
    json_error_t jerr;
    json_t *groups = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!json_is_array(groups)) {
        printf("%s: cannot load: line %d: %s\n", path, jerr.line,
               groups ? "not an array" : jerr.text);
        json_decref(groups);
        s->files_failed++;
        return;
    }
    size_t passed = 0, total = 0;
    for (size_t g = 0; g < json_array_size(groups); g++) {
        json_t *group = json_array_get(groups, g);
        const char *gdesc = json_string_value(json_object_get(group, "description"));
        json_t *tests = json_object_get(group, "tests");
        struct sq_err err;
        struct sq_jsv *v =
            sq_jsv_compile(s->reg, json_object_get(group, "schema"), NULL, &s->opts, &err);
        if (!v)
            printf("  %s: [%s] schema not compiled: %s %s\n", path, gdesc ? gdesc : "?",
                   err.pointer, err.msg);
        for (size_t t = 0; t < json_array_size(tests); t++) {
            json_t *test = json_array_get(tests, t);
            const char *tdesc = json_string_value(json_object_get(test, "description"));
            bool expect = json_is_true(json_object_get(test, "valid"));
            struct sq_jsv_error e;
            total++;
            if (!v)
                continue;
            bool got = sq_jsv_validate(v, json_object_get(test, "data"), &e);
            if (got == expect) {
                passed++;
                if (s->verbose && !got)
                    printf("    ok [%s] %s: %s at \"%s\" (%s)\n", gdesc ? gdesc : "?",
                           tdesc ? tdesc : "?", e.msg, e.instance, e.keyword);
                continue;
            }
            printf("  %s: FAIL [%s] %s: expected %s", path, gdesc ? gdesc : "?",
                   tdesc ? tdesc : "?", expect ? "valid" : "invalid");
            if (!got)
                printf(", got: %s at \"%s\" (%s)", e.msg, e.instance, e.keyword);
            printf("\n");
        }
        sq_jsv_free(v);
    }
    json_decref(groups);
    printf("%s: %zu/%zu passed\n", path, passed, total);
    s->passed += passed;
    s->total += total;
    if (passed != total)
        s->files_failed++;
}

static void run_path(struct suite *s, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("%s: not found\n", path);
        s->files_failed++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(s, path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        printf("%s: cannot open\n", path);
        s->files_failed++;
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        names = sq_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = sq_xasprintf("%s/%s", path, de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            run_file(s, names[i]);
        free(names[i]);
    }
    free(names);
}

/* <suite>/remotes from a path under <suite>/tests/<draft>/. */
static char *guess_remotes(const char *path)
{
    char *p = sq_xstrdup(path);
    for (int up = 0; up < 5; up++) {
        char *slash = strrchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        char *cand = sq_xasprintf("%s/remotes", p);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode)) {
            free(p);
            return cand;
        }
        free(cand);
    }
    free(p);
    return NULL;
}

int main(int argc, char **argv)
{
    struct suite s = {0};
    const char *remotes = NULL;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "--assert-format") == 0) {
            s.opts.assert_format = true;
        } else if (strcmp(argv[first], "--verbose") == 0 || strcmp(argv[first], "-v") == 0) {
            s.verbose = true;
        } else if (strcmp(argv[first], "--remotes") == 0 && first + 1 < argc) {
            remotes = argv[++first];
        } else {
            fprintf(stderr, "unknown option %s\n", argv[first]);
            first = argc;
            break;
        }
    }
    if (first >= argc) {
        fprintf(stderr,
                "usage: %s [--assert-format] [--remotes DIR] [--verbose] SUITE_DIR|FILE.json...\n"
                "  runs JSON-Schema-Test-Suite draft 2020-12 files; remote $refs to\n"
                "  http://localhost:1234/ load from DIR (default: the suite's remotes/)\n",
                argv[0]);
        return 2;
    }
    char *guessed = remotes ? NULL : guess_remotes(argv[first]);
    s.reg = sq_jsv_registry_new();
    if (remotes || guessed)
        sq_jsv_registry_map(s.reg, "http://localhost:1234/", remotes ? remotes : guessed);
    free(guessed);
    for (int i = first; i < argc; i++)
        run_path(&s, argv[i]);
    sq_jsv_registry_free(s.reg);
    printf("total: %zu of %zu passed%s\n", s.passed, s.total,
           s.files_failed ? " (some files failed)" : "");
    return s.files_failed || s.passed != s.total ? 1 : 0;
}
