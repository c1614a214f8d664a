/* cli_settings.c: the settings of a command that loads them as `run` does
 * (see cli_settings.h). */
#include "cli_settings.h"

#include <string.h>

#include "config.h"

extern char **environ;

static bool sq_cli_is_config(const char *a)
{
    return strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0;
}

/* The way out on failure: errs printed when code is 1 (a bad
 * configuration), then both released. */
static bool sq_cli_fail(struct sq_config_errors *errs, struct sq_settings *st, int code,
                        int *exit_status)
{
    if (code == 1)
        sq_config_errors_print(errs, stderr);
    sq_config_errors_fini(errs);
    sq_settings_free(st);
    *exit_status = code;
    return false;
}

static const struct sq_cli_flag *sq_cli_find(const struct sq_cli_flag *flags, size_t n,
                                             const char *a)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(a, flags[k].flag) == 0)
            return &flags[k];
    return NULL;
}

bool sq_cli_settings(const char *cmd, int argc, char **argv, const struct sq_cli_flag *flags,
                     size_t nflags, void (*usage)(FILE *out), struct sq_settings *st,
                     int *exit_status)
{
    /* First pass: --help, and the config file, so the flags override it. */
    const char *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            *exit_status = 0;
            return false;
        }
        if (sq_cli_is_config(argv[i])) {
            if (i + 1 == argc) {
                fprintf(stderr, "sqgate %s: %s wants a FILE\n", cmd, argv[i]);
                *exit_status = 2;
                return false;
            }
            file = argv[++i];
        }
    }
    struct sq_config_errors errs = {0};
    if (sq_config_build(st, file, environ, &errs) != 0)
        return sq_cli_fail(&errs, st, 1, exit_status);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const struct sq_cli_flag *f = sq_cli_find(flags, nflags, a);
        if (sq_cli_is_config(a)) {
            i++;
        } else if (f && i + 1 < argc) {
            if (f->path)
                sq_config_set(st, f->path, argv[++i], &errs);
            else
                *f->value = argv[++i];
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            char *kv = argv[++i];
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "sqgate %s: --set wants PATH=VALUE, got %s\n", cmd, kv);
                return sq_cli_fail(&errs, st, 2, exit_status);
            }
            *eq = '\0';
            sq_config_set(st, kv, eq + 1, &errs);
            *eq = '=';
        } else {
            fprintf(stderr, "sqgate %s: unknown or incomplete option %s\n", cmd, a);
            usage(stderr);
            return sq_cli_fail(&errs, st, 2, exit_status);
        }
    }
    if (errs.n)
        return sq_cli_fail(&errs, st, 1, exit_status);
    sq_config_errors_fini(&errs);
    return true;
}
