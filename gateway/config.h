/* config.h: fills struct sq_settings from built-in defaults, the YAML file,
 * SQGATE_* environment variables and command-line values (SPEC 11, 15).
 * One table of keys in config.c is the single source for defaults, loading,
 * validation, environment names and docs/configuration.md. */
#ifndef SQ_CONFIG_H
#define SQ_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "settings.h"

/* Every problem found while configuring, one message each, in the order
 * found: "path: message", or "FILE:LINE:COLUMN: path: message" for the file.
 * Zero-initialise; the strings and the array are owned by the struct. */
struct sq_config_errors {
    char **msgs;
    size_t n;
};

/* Frees every message; the struct is empty afterwards (safe twice). */
void sq_config_errors_fini(struct sq_config_errors *errs);
/* Writes every message, one a line, to out. */
void sq_config_errors_print(const struct sq_config_errors *errs, FILE *out);

/* Overwrites st with the built-in defaults (anything it held is not freed:
 * pass a fresh or freed struct). Strings are owned by st. */
void sq_settings_defaults(struct sq_settings *st);

/* Releases every string st owns and NULLs the pointers; safe twice and on a
 * zeroed struct. */
void sq_settings_free(struct sq_settings *st);

/* Sets one key by its dotted path from its text form ("2000", "true").
 * "kafka.<property>" sets a librdkafka property verbatim (checked against
 * librdkafka's own property table); setting the same property again replaces
 * it. Returns 0, or -1 with "path: message" appended to errs (errs may be
 * NULL) and st unchanged. Used for command-line flags, after
 * sq_config_build, so they take precedence. */
int sq_config_set(struct sq_settings *st, const char *path, const char *value,
                  struct sq_config_errors *errs);

/* Applies a YAML file of nested mappings (a dotted key is a path too:
 * `redis.url: ...` equals `redis: {url: ...}`; under `kafka:` keys are
 * librdkafka property names taken verbatim). Reports every unknown key with
 * its full path, every wrong type or invalid value, every key set twice;
 * a YAML syntax error ends the load with its line and column. Valid keys are
 * applied even when others are in error. Returns 0, or -1 when anything was
 * appended to errs. */
int sq_config_load_file(struct sq_settings *st, const char *file,
                        struct sq_config_errors *errs);

/* Applies the SQGATE_* variables of envp (NULL: the process environment):
 * SQGATE_ + path upper-cased with '.' -> "__" (SQGATE_REDIS__TIMEOUT_MS), the
 * short names SQGATE_BROKERS, SQGATE_GROUP, SQGATE_REDIS, SQGATE_ADMIN,
 * SQGATE_LOG_LEVEL (a full name wins over its short name), and
 * SQGATE_KAFKA__<PROPERTY> with '_' -> '.' in the property
 * (SQGATE_KAFKA__SASL_PASSWORD -> kafka.sasl.password). Other SQGATE_*
 * variables (SQGATE_FAULT, SQGATE_REDIS_PASSWORD, ...) belong to other
 * modules and are ignored. Returns 0, or -1 when anything was appended. */
int sq_config_load_env(struct sq_settings *st, char *const *envp,
                       struct sq_config_errors *errs);

/* Defaults, then the file (when file != NULL), then the environment; every
 * step runs and collects its errors. st is overwritten as by
 * sq_settings_defaults and must be released with sq_settings_free whatever
 * the result. Returns 0, or -1 when errs holds anything. */
int sq_config_build(struct sq_settings *st, const char *file, char *const *envp,
                    struct sq_config_errors *errs);

/* The environment variable name of a path ("redis.url" -> "SQGATE_REDIS__URL"),
 * or NULL when it is not a key. Owned by the caller. */
char *sq_config_env_name_dup(const char *path);

/* Writes the key table as Markdown (key, type, default, environment, help),
 * the source of the table in docs/configuration.md. */
void sq_config_dump_docs(FILE *out);
/* Every key's effective value, "path: value" a line, in the table's order,
 * then the kafka.* passthrough (values of secret-looking properties
 * hidden). */
void sq_config_dump_effective(const struct sq_settings *st, FILE *out);

#endif
