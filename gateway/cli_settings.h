/* cli_settings.h: the settings of a command that loads them as `run` does
 * (run, reset-offsets): -c FILE and the environment, then, in order, flags
 * that name config paths and --set PATH=VALUE. */
#ifndef SQ_CLI_SETTINGS_H
#define SQ_CLI_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "settings.h"

/* One option taking a value: it sets the config path `path`, or, when path
 * is NULL, stores its value (an argv string) in *value. */
struct sq_cli_flag {
    const char *flag;
    const char *path;
    const char **value;
};

/* Builds *st from argv. true: *st is ready (sq_settings_free it). false:
 * *st is freed, the reason printed (prefixed "sqgate CMD: "), and
 * *exit_status is 0 after --help (usage(stdout)), 1 for a bad
 * configuration, 2 for a usage error (then usage(stderr) for an unknown
 * option). */
bool sq_cli_settings(const char *cmd, int argc, char **argv, const struct sq_cli_flag *flags,
                     size_t nflags, void (*usage)(FILE *out), struct sq_settings *st,
                     int *exit_status);

#endif
