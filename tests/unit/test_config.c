/* test_config.c: unit tests of gateway/config.c: defaults, the YAML file,
 * the kafka passthrough, error reporting, SQGATE_* variables, precedence and
 * validation of addresses. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "settings.h"
#include "sq_common.h"

/* Writes text to a new file under /tmp; returns its path (free + unlink). */
static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/sqgate-test-config-XXXXXX");
    cr_assert_not_null(path);
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void drop_tmp(char *path)
{
    unlink(path);
    free(path);
}

/* Loads text as a config file over the defaults. */
static int load_text(struct sq_settings *st, const char *text, struct sq_config_errors *errs,
                     char **path_out)
{
    char *path = write_tmp(text);
    sq_settings_defaults(st);
    int rc = sq_config_load_file(st, path, errs);
    if (path_out)
        *path_out = path;
    else
        drop_tmp(path);
    return rc;
}

/* Index of the first message containing every given fragment, or -1. */
static int find_msg(const struct sq_config_errors *errs, const char *a, const char *b)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->msgs[i], a) && (!b || strstr(errs->msgs[i], b)))
            return (int)i;
    return -1;
}

static void dump_errs(const struct sq_config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        cr_log_info("config error: %s", errs->msgs[i]);
}

static const char *kafka_prop(const struct sq_settings *st, const char *name)
{
    for (size_t i = 0; i < st->kafka_props_n; i++)
        if (strcmp(st->kafka_props[i].name, name) == 0)
            return st->kafka_props[i].value;
    return NULL;
}

Test(config, defaults)
{
    struct sq_settings st;
    sq_settings_defaults(&st);
    cr_assert_str_eq(st.brokers, "127.0.0.1:9092");
    cr_assert_str_eq(st.group_id, "sqgate");
    cr_assert_eq(st.kafka_props_n, 0);
    static const char *const names[] = {"sq.in.contacts", "sq.in.tickets", "sq.in.surveys",
                                        "sq.in.qa",       "sq.in.outages", "sq.in.profiles"};
    static const char *const schemas[] = {"contact.v1",   "ticket.v1", "survey.v1",
                                          "qa_review.v1", "outage.v1", "profile.v1"};
    cr_assert_eq(st.inputs_n, 6);
    for (size_t i = 0; i < 6; i++) {
        cr_assert_str_eq(st.inputs[i].name, names[i]);
        cr_assert_str_eq(st.inputs[i].schema, schemas[i]);
    }
    cr_assert_str_eq(st.topic_scored, "sq.out.scored");
    cr_assert_str_eq(st.topic_breaches, "sq.out.breaches");
    cr_assert_str_eq(st.topic_kpi, "sq.out.kpi");
    cr_assert_str_eq(st.topic_alerts, "sq.out.alerts");
    cr_assert_str_eq(st.topic_dlq, "sq.out.dlq");
    cr_assert_str_eq(st.redis_url, "redis://127.0.0.1:6379/0");
    cr_assert_str_eq(st.redis_prefix, "sq:");
    cr_assert_eq(st.redis_timeout_ms, 2000);
    cr_assert_eq(st.max_message_bytes, 65536);
    cr_assert_eq(st.max_depth, 64);
    cr_assert_eq(st.max_future_s, 300);
    cr_assert_eq(st.batch_max_messages, 1000);
    cr_assert_eq(st.batch_max_ms, 50);
    cr_assert_eq(st.batch_linger_ms, 10);
    cr_assert_eq(st.commit_interval_ms, 1000);
    cr_assert_eq(st.backoff_max_ms, 5000);
    cr_assert_eq(st.shutdown_timeout_s, 30);
    cr_assert_str_eq(st.admin_listen, "127.0.0.1:9464");
    cr_assert_eq(st.retention_customer_days, 400);
    cr_assert_str_eq(st.log_level, "info");
    sq_settings_free(&st);
}

Test(config, yaml_nested_mappings_set_values)
{
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    int rc = load_text(&st,
                       "# a comment\n"
                       "brokers: k1:9092,k2:9092\n"
                       "redis:\n"
                       "  url: unix:///run/redis/redis.sock\n"
                       "  prefix: \"t1:\"\n"
                       "  timeout_ms: 750\n"
                       "limits: {max_depth: 32, max_message_bytes: 1024}\n"
                       "runtime.batch_max_ms: 20\n"
                       "topics:\n"
                       "  contacts: my.contacts\n"
                       "  profiles: \"\"\n"
                       "  dlq: my.dlq\n"
                       "log:\n"
                       "  level: debug\n",
                       &errs, NULL);
    dump_errs(&errs);
    cr_assert_eq(rc, 0);
    cr_assert_eq(errs.n, 0);
    cr_assert_str_eq(st.brokers, "k1:9092,k2:9092");
    cr_assert_str_eq(st.redis_url, "unix:///run/redis/redis.sock");
    cr_assert_str_eq(st.redis_prefix, "t1:");
    cr_assert_eq(st.redis_timeout_ms, 750);
    cr_assert_eq(st.max_depth, 32);
    cr_assert_eq(st.max_message_bytes, 1024);
    cr_assert_eq(st.batch_max_ms, 20);
    cr_assert_eq(st.batch_max_messages, 1000, "untouched keys keep their default");
    cr_assert_str_eq(st.topic_dlq, "my.dlq");
    cr_assert_str_eq(st.log_level, "debug");
    /* profiles disabled, the others in their fixed order */
    cr_assert_eq(st.inputs_n, 5);
    cr_assert_str_eq(st.inputs[0].name, "my.contacts");
    cr_assert_str_eq(st.inputs[0].schema, "contact.v1");
    cr_assert_str_eq(st.inputs[4].name, "sq.in.outages");
    cr_assert_str_eq(st.inputs[4].schema, "outage.v1");
    cr_assert_null(st.inputs[5].name);
    for (size_t i = 0; i < st.inputs_n; i++)
        cr_assert_str_neq(st.inputs[i].schema, "profile.v1");
    /* re-enabling puts it back at its place */
    cr_assert_eq(sq_config_set(&st, "topics.profiles", "p2", &errs), 0);
    cr_assert_eq(st.inputs_n, 6);
    cr_assert_str_eq(st.inputs[5].name, "p2");
    cr_assert_str_eq(st.inputs[5].schema, "profile.v1");
    cr_assert_eq(sq_config_set(&st, "topics.contacts", "", &errs), 0);
    cr_assert_eq(st.inputs_n, 5);
    cr_assert_str_eq(st.inputs[0].schema, "ticket.v1");
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, kafka_passthrough_dotted_keys)
{
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    int rc = load_text(&st,
                       "kafka:\n"
                       "  session.timeout.ms: 6000\n"
                       "  fetch.wait.max.ms: 20\n"
                       "  isolation.level: read_uncommitted\n"
                       "kafka.reconnect.backoff.ms: 50\n",
                       &errs, NULL);
    dump_errs(&errs);
    cr_assert_eq(rc, 0);
    cr_assert_eq(st.kafka_props_n, 4);
    cr_assert_str_eq(st.kafka_props[0].name, "session.timeout.ms");
    cr_assert_str_eq(st.kafka_props[0].value, "6000");
    cr_assert_str_eq(kafka_prop(&st, "fetch.wait.max.ms"), "20");
    cr_assert_str_eq(kafka_prop(&st, "isolation.level"), "read_uncommitted");
    cr_assert_str_eq(kafka_prop(&st, "reconnect.backoff.ms"), "50");
    /* a later set of the same property replaces it */
    cr_assert_eq(sq_config_set(&st, "kafka.session.timeout.ms", "7000", &errs), 0);
    cr_assert_eq(st.kafka_props_n, 4);
    cr_assert_str_eq(kafka_prop(&st, "session.timeout.ms"), "7000");
    /* librdkafka's own table judges names and values */
    cr_assert_eq(sq_config_set(&st, "kafka.no.such.property", "1", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "kafka.session.timeout.ms", "soon", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "kafka.bootstrap.servers", "x:1", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "kafka.enable.auto.commit", "true", &errs), -1);
    /* where a new group starts and end-of-partition events are sqgate's */
    cr_assert_eq(sq_config_set(&st, "kafka.auto.offset.reset", "latest", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "kafka.enable.partition.eof", "false", &errs), -1);
    cr_assert_eq(errs.n, 6);
    cr_assert_geq(find_msg(&errs, "kafka.auto.offset.reset: sqgate reads a partition", NULL), 0);
    cr_assert_geq(find_msg(&errs, "kafka.enable.partition.eof: sqgate uses end-of-partition",
                           NULL), 0);
    cr_assert_geq(find_msg(&errs, "kafka.enable.auto.commit: sqgate commits offsets itself", NULL),
                  0);
    cr_assert_geq(find_msg(&errs, "kafka.no.such.property: ", "librdkafka"), 0);
    cr_assert_geq(find_msg(&errs, "kafka.session.timeout.ms: ", NULL), 0);
    cr_assert_geq(find_msg(&errs, "kafka.bootstrap.servers: ", "brokers"), 0);
    cr_assert_str_eq(kafka_prop(&st, "session.timeout.ms"), "7000");
    cr_assert_eq(st.kafka_props_n, 4);
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, kafka_map_rejects_nested_values)
{
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    int rc = load_text(&st, "kafka:\n  ssl: {ca.location: /x}\n", &errs, NULL);
    dump_errs(&errs);
    cr_assert_eq(rc, -1);
    cr_assert_eq(errs.n, 1);
    cr_assert_geq(find_msg(&errs, "kafka.ssl: expected a scalar value, got a mapping", NULL), 0);
    cr_assert_eq(st.kafka_props_n, 0);
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, unknown_key_reported_with_full_path)
{
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    char *path;
    int rc = load_text(&st, "redis:\n  urll: redis://h:1\n", &errs, &path);
    dump_errs(&errs);
    cr_assert_eq(rc, -1);
    cr_assert_eq(errs.n, 1);
    char *want = sq_xasprintf("%s:2:3: redis.urll: unknown key (did you mean redis.url?)", path);
    cr_assert_str_eq(errs.msgs[0], want);
    free(want);
    cr_assert_str_eq(st.redis_url, "redis://127.0.0.1:6379/0");
    drop_tmp(path);
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, every_error_in_a_file_is_reported)
{
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    int rc = load_text(&st,
                       "limits:\n"
                       "  max_depth: abc\n"
                       "  max_future_s: 10\n"
                       "bogus:\n"
                       "  deeper: 1\n"
                       "admin: {listen: nowhere}\n"
                       "group: g\n"
                       "group: h\n",
                       &errs, NULL);
    dump_errs(&errs);
    cr_assert_eq(rc, -1);
    cr_assert_eq(errs.n, 4);
    cr_assert_geq(find_msg(&errs, ":2:14: limits.max_depth: expected an integer", NULL), 0);
    cr_assert_geq(find_msg(&errs, ":4:1: bogus: unknown key", NULL), 0);
    cr_assert_geq(find_msg(&errs, "admin.listen: ", "port"), 0);
    cr_assert_geq(find_msg(&errs, ":8:1: group: set twice (first at line 7)", NULL), 0);
    /* the valid keys around the errors still apply */
    cr_assert_eq(st.max_future_s, 10);
    cr_assert_eq(st.max_depth, 64);
    cr_assert_str_eq(st.group_id, "g");
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, wrong_types)
{
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    int rc = load_text(&st,
                       "redis: 5\n"
                       "limits:\n"
                       "  max_depth: [1, 2]\n"
                       "  max_message_bytes: 0\n"
                       "  max_future_s: 1.5\n"
                       "brokers:\n"
                       "log: {level: loud}\n"
                       "shutdown: {timeout_s: 99999999999999999999}\n",
                       &errs, NULL);
    dump_errs(&errs);
    cr_assert_eq(rc, -1);
    cr_assert_eq(errs.n, 7);
    cr_assert_geq(find_msg(&errs, "redis: expected a mapping", NULL), 0);
    cr_assert_geq(find_msg(&errs, "limits.max_depth: expected an integer, got a list", NULL), 0);
    cr_assert_geq(find_msg(&errs, "limits.max_message_bytes: must be between 1 and", NULL), 0);
    cr_assert_geq(find_msg(&errs, "limits.max_future_s: expected an integer, got \"1.5\"", NULL),
                  0);
    cr_assert_geq(find_msg(&errs, "brokers: expected a string, got null", NULL), 0);
    cr_assert_geq(find_msg(&errs, "log.level: must be one of error|warn|info|debug", NULL), 0);
    cr_assert_geq(find_msg(&errs, "shutdown.timeout_s: must be between", NULL), 0);
    cr_assert_eq(st.max_message_bytes, 65536);
    cr_assert_str_eq(st.log_level, "info");
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, yaml_syntax_error_has_line_and_column)
{
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    char *path;
    int rc = load_text(&st, "redis:\n  url: redis://h:1\n  prefix: [unclosed\nlog: x\n", &errs,
                       &path);
    dump_errs(&errs);
    cr_assert_eq(rc, -1);
    cr_assert_eq(errs.n, 1);
    cr_assert_eq(strncmp(errs.msgs[0], path, strlen(path)), 0);
    cr_assert_not_null(strstr(errs.msgs[0], "YAML syntax error"));
    /* libyaml notices at line 4 that the flow sequence of line 3 is unclosed */
    cr_assert_not_null(strstr(errs.msgs[0], ":4:4: YAML syntax error: "), "%s", errs.msgs[0]);
    cr_assert_not_null(strstr(errs.msgs[0], "at line 3)"), "%s", errs.msgs[0]);
    drop_tmp(path);
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, file_must_be_one_mapping_document)
{
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    cr_assert_eq(load_text(&st, "- a\n- b\n", &errs, NULL), -1);
    cr_assert_geq(find_msg(&errs, "(top level): expected a mapping", NULL), 0);
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);

    cr_assert_eq(load_text(&st, "group: a\n---\ngroup: b\n", &errs, NULL), -1);
    cr_assert_geq(find_msg(&errs, "only one YAML document", NULL), 0);
    cr_assert_str_eq(st.group_id, "a");
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);

    /* an empty file is all defaults */
    cr_assert_eq(load_text(&st, "# nothing\n", &errs, NULL), 0);
    cr_assert_eq(errs.n, 0);
    sq_settings_free(&st);

    sq_settings_defaults(&st);
    cr_assert_eq(sq_config_load_file(&st, "/tmp/sqgate-no-such-dir/x.yaml", &errs), -1);
    cr_assert_geq(find_msg(&errs, "/tmp/sqgate-no-such-dir/x.yaml: cannot open", NULL), 0);
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, env_names_and_short_names)
{
    char *envp[] = {
        "PATH=/usr/bin",
        "SQGATE_REDIS__TIMEOUT_MS=1500",
        "SQGATE_LIMITS__MAX_DEPTH=12",
        "SQGATE_TOPICS__SURVEYS=",
        "SQGATE_BROKERS=k1:9092,k2:9092",
        "SQGATE_REDIS=redis://r.example:6380/2",
        "SQGATE_GROUP=g2",
        "SQGATE_ADMIN=0.0.0.0:0",
        "SQGATE_LOG_LEVEL=debug",
        "SQGATE_KAFKA__SASL_USERNAME=alice",
        "SQGATE_KAFKA__SESSION_TIMEOUT_MS=6000",
        "SQGATE_FAULT=after_commit",
        "SQGATE_REDIS_PASSWORD=secret",
        "SQGATE_SOMETHING_ELSE=1",
        NULL,
    };
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    sq_settings_defaults(&st);
    int rc = sq_config_load_env(&st, envp, &errs);
    dump_errs(&errs);
    cr_assert_eq(rc, 0);
    cr_assert_eq(errs.n, 0);
    cr_assert_eq(st.redis_timeout_ms, 1500);
    cr_assert_eq(st.max_depth, 12);
    cr_assert_eq(st.inputs_n, 5);
    cr_assert_str_eq(st.inputs[2].schema, "qa_review.v1");
    cr_assert_str_eq(st.brokers, "k1:9092,k2:9092");
    cr_assert_str_eq(st.redis_url, "redis://r.example:6380/2");
    cr_assert_str_eq(st.group_id, "g2");
    cr_assert_str_eq(st.admin_listen, "0.0.0.0:0");
    cr_assert_str_eq(st.log_level, "debug");
    cr_assert_eq(st.kafka_props_n, 2);
    cr_assert_str_eq(kafka_prop(&st, "sasl.username"), "alice");
    cr_assert_str_eq(kafka_prop(&st, "session.timeout.ms"), "6000");
    sq_settings_free(&st);

    char *name = sq_config_env_name_dup("redis.timeout_ms");
    cr_assert_str_eq(name, "SQGATE_REDIS__TIMEOUT_MS");
    free(name);
    cr_assert_null(sq_config_env_name_dup("redis.nope"));
}

Test(config, env_full_name_wins_over_short_name)
{
    char *a[] = {"SQGATE_REDIS__URL=redis://full:1", "SQGATE_REDIS=redis://short:1", NULL};
    char *b[] = {"SQGATE_REDIS=redis://short:1", "SQGATE_REDIS__URL=redis://full:1", NULL};
    char **orders[] = {a, b};
    for (size_t i = 0; i < 2; i++) {
        struct sq_settings st;
        sq_settings_defaults(&st);
        cr_assert_eq(sq_config_load_env(&st, orders[i], NULL), 0);
        cr_assert_str_eq(st.redis_url, "redis://full:1");
        sq_settings_free(&st);
    }
}

Test(config, env_errors_name_the_variable)
{
    char *envp[] = {"SQGATE_LIMITS__MAX_DEPTH=deep", "SQGATE_REDIS=http://x", "SQGATE_KAFKA__=1",
                    NULL};
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    sq_settings_defaults(&st);
    cr_assert_eq(sq_config_load_env(&st, envp, &errs), -1);
    dump_errs(&errs);
    cr_assert_eq(errs.n, 3);
    cr_assert_geq(find_msg(&errs, "limits.max_depth: expected an integer",
                           "(from SQGATE_LIMITS__MAX_DEPTH)"),
                  0);
    cr_assert_geq(find_msg(&errs, "redis.url: ", "(from SQGATE_REDIS)"), 0);
    cr_assert_geq(find_msg(&errs, "kafka.: empty", NULL), 0);
    cr_assert_eq(st.max_depth, 64);
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, precedence_file_env_set)
{
    char *path = write_tmp("brokers: file:9092\n"
                           "group: file-group\n"
                           "redis: {timeout_ms: 100, prefix: \"f:\"}\n"
                           "kafka: {session.timeout.ms: 6000, socket.timeout.ms: 10000}\n");
    char *envp[] = {"SQGATE_BROKERS=env:9092", "SQGATE_GROUP=env-group",
                    "SQGATE_REDIS__TIMEOUT_MS=200", "SQGATE_KAFKA__SESSION_TIMEOUT_MS=7000",
                    NULL};
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    int rc = sq_config_build(&st, path, envp, &errs);
    dump_errs(&errs);
    cr_assert_eq(rc, 0);
    /* command line, applied after the build */
    cr_assert_eq(sq_config_set(&st, "brokers", "cli:9092", &errs), 0);
    cr_assert_str_eq(st.brokers, "cli:9092");        /* set > env > file */
    cr_assert_str_eq(st.group_id, "env-group");      /* env > file */
    cr_assert_eq(st.redis_timeout_ms, 200);          /* env > file */
    cr_assert_str_eq(st.redis_prefix, "f:");         /* file > defaults */
    cr_assert_eq(st.max_depth, 64);                  /* defaults */
    cr_assert_str_eq(kafka_prop(&st, "session.timeout.ms"), "7000");
    cr_assert_str_eq(kafka_prop(&st, "socket.timeout.ms"), "10000");
    cr_assert_eq(st.kafka_props_n, 2);
    sq_settings_free(&st);

    /* errors of the file and of the environment are both collected */
    char *bad_env[] = {"SQGATE_RUNTIME__BATCH_MAX_MS=0", NULL};
    char *bad_path = write_tmp("runtime: {batch_max_messages: -1}\n");
    cr_assert_eq(sq_config_build(&st, bad_path, bad_env, &errs), -1);
    cr_assert_eq(errs.n, 2);
    cr_assert_geq(find_msg(&errs, "runtime.batch_max_messages: must be between 1", NULL), 0);
    cr_assert_geq(find_msg(&errs, "runtime.batch_max_ms: must be between 1", NULL), 0);
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);

    /* without a file: defaults and environment */
    cr_assert_eq(sq_config_build(&st, NULL, envp, &errs), 0);
    cr_assert_str_eq(st.brokers, "env:9092");
    cr_assert_str_eq(st.redis_prefix, "sq:");
    sq_settings_free(&st);
    drop_tmp(path);
    drop_tmp(bad_path);
}

Test(config, redis_url_validation)
{
    static const char *const good[] = {
        "redis://127.0.0.1:6379/0", "redis://redis:6379", "redis://10.0.0.7:6380/15",
        "redis://redis-0.redis.svc.cluster.local:6379/3", "unix:///run/redis/redis.sock",
    };
    static const char *const bad[] = {
        "127.0.0.1:6379",      "http://h:1/0",        "redis://",
        "redis://h",           "redis://h:0",         "redis://h:70000",
        "redis://h:port",      "redis://:6379",       "redis://h:6379/x",
        "redis://h:6379/",     "redis://u:p@h:6379",  "rediss://h:6379",
        "unix://relative.sock", "unix:///",           "redis://h h:1",
        "redis://::1:6379",    "redis://[::1]:6379",  "redis://h:6379/1001",
    };
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    sq_settings_defaults(&st);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cr_assert_eq(sq_config_set(&st, "redis.url", good[i], &errs), 0, "%s rejected", good[i]);
        cr_assert_str_eq(st.redis_url, good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sq_config_set(&st, "redis.url", bad[i], &errs), -1, "%s accepted", bad[i]);
        cr_assert_eq(errs.n, i + 1);
        cr_assert_eq(strncmp(errs.msgs[i], "redis.url: ", 11), 0);
        cr_assert_str_eq(st.redis_url, good[4], "a rejected value must not stick");
    }
    cr_assert_geq(find_msg(&errs, "credentials", "SQGATE_REDIS_PASSWORD"), 0);
    cr_assert_eq(strstr(errs.msgs[10], "u:p"), NULL, "the message must not echo a password");
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, admin_listen_validation)
{
    static const char *const good[] = {"0.0.0.0:0", "localhost:65535", "127.0.0.1:9464",
                                       "admin-0.svc:80"};
    static const char *const bad[] = {"9464",        "127.0.0.1",  ":9464",  "h:65536",
                                      "h:-1",        "::1:9464",   "[::1]:1", "[zz]:1",
                                      "h:",          "h:1x",       "",       "a/b:1"};
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    sq_settings_defaults(&st);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert_eq(sq_config_set(&st, "admin.listen", good[i], &errs), 0, "%s rejected",
                     good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sq_config_set(&st, "admin.listen", bad[i], &errs), -1, "%s accepted",
                     bad[i]);
        cr_assert_eq(strncmp(errs.msgs[errs.n - 1], "admin.listen: ", 14), 0);
    }
    cr_assert_str_eq(st.admin_listen, "admin-0.svc:80", "a rejected value must not stick");
    cr_assert_geq(find_msg(&errs, "admin.listen: IPv6 addresses are not supported", NULL), 0);
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
}

Test(config, set_checks_paths_and_values)
{
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    sq_settings_defaults(&st);
    cr_assert_eq(sq_config_set(&st, "limits.max_depht", "3", &errs), -1);
    cr_assert_str_eq(errs.msgs[0],
                     "limits.max_depht: unknown key (did you mean limits.max_depth?)");
    cr_assert_eq(sq_config_set(&st, "redis", "x", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "topics.dlq", "", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "topics.scored", "bad topic", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "group", "", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "brokers", "a:1,,b:2", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "redis.timeout_ms", " 5", &errs), -1);
    cr_assert_eq(sq_config_set(&st, "runtime.commit_interval_ms", "0", &errs), 0);
    cr_assert_eq(st.commit_interval_ms, 0);
    cr_assert_eq(sq_config_set(&st, "limits.max_future_s", "0", NULL), 0);
    cr_assert_eq(st.max_future_s, 0);
    cr_assert_eq(errs.n, 7);
    cr_assert_str_eq(st.topic_dlq, "sq.out.dlq");
    cr_assert_str_eq(st.topic_scored, "sq.out.scored");
    sq_settings_free(&st);
    sq_config_errors_fini(&errs);
    sq_config_errors_fini(&errs);
    cr_assert_eq(errs.n, 0);
}

Test(config, settings_free_twice)
{
    struct sq_settings st;
    sq_settings_defaults(&st);
    cr_assert_eq(sq_config_set(&st, "kafka.client.id", "x", NULL), 0);
    sq_settings_free(&st);
    cr_assert_null(st.brokers);
    cr_assert_null(st.log_level);
    cr_assert_null(st.kafka_props);
    cr_assert_eq(st.kafka_props_n, 0);
    cr_assert_eq(st.inputs_n, 0);
    cr_assert_null(st.inputs[0].name);
    sq_settings_free(&st);
    sq_settings_free(NULL);
    struct sq_settings zero;
    memset(&zero, 0, sizeof zero);
    sq_settings_free(&zero);
}

Test(config, docs_table_lists_every_key)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    sq_config_dump_docs(f);
    fclose(f);
    /* docs/configuration.md carries every row the code prints: the docs
     * cannot drift from the key table. */
    FILE *docs = fopen(SQ_SOURCE_DIR "/docs/configuration.md", "r");
    cr_assert_not_null(docs);
    char *doc_text = NULL;
    size_t doc_len = 0;
    FILE *dm = open_memstream(&doc_text, &doc_len);
    int ch;
    while ((ch = fgetc(docs)) != EOF)
        fputc(ch, dm);
    fclose(docs);
    fclose(dm);
    size_t rows = 0;
    for (const char *p = text; (p = strstr(p, "\n| `")) != NULL; p++) {
        const char *end = strchr(p + 1, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char *row = strndup(p, n);
        cr_assert_not_null(strstr(doc_text, row), "docs/configuration.md lacks the row:%s", row);
        free(row);
        rows++;
    }
    free(doc_text);
    cr_assert_gt(rows, 20, "every key has a row, got %zu", rows);
    cr_assert_not_null(strstr(text, "| `redis.url` | string | `redis://127.0.0.1:6379/0` | "
                                    "`SQGATE_REDIS__URL`, `SQGATE_REDIS` |"));
    cr_assert_not_null(strstr(text, "| `runtime.commit_interval_ms` | int, 0..3600000 | `1000` |"));
    cr_assert_not_null(strstr(text, "`error\\|warn\\|info\\|debug`"));
    free(text);
}

/* check-config --print: every key once with its effective value (the
 * environment applied, an input topic disabled shown empty), then the
 * kafka.* passthrough with secret-looking values hidden. */
Test(config, effective_values_are_printed_with_secrets_hidden)
{
    struct sq_settings st;
    sq_settings_defaults(&st);
    char *envp[] = {"SQGATE_GROUP=grp-print", "SQGATE_TOPICS__QA=",
                    "SQGATE_KAFKA__SASL_PASSWORD=hunter2", "SQGATE_KAFKA__CLIENT_ID=me",
                    "SQGATE_LIMITS__MAX_FUTURE_S=120", NULL};
    struct sq_config_errors errs = {0};
    cr_assert_eq(sq_config_load_env(&st, envp, &errs), 0);
    cr_assert_eq(errs.n, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sq_config_dump_effective(&st, f);
    fclose(f);
    cr_assert(strstr(text, "group: grp-print\n"), "%s", text);
    cr_assert(strstr(text, "\ntopics.qa: \n"), "%s", text);
    cr_assert(strstr(text, "\ntopics.contacts: sq.in.contacts\n"), "%s", text);
    cr_assert(strstr(text, "\nlimits.max_future_s: 120\n"), "%s", text);
    cr_assert(strstr(text, "\nprivacy.keep_comments: false\n"), "%s", text);
    cr_assert(strstr(text, "\nkafka.client.id: me\n"), "%s", text);
    cr_assert(strstr(text, "\nkafka.sasl.password: (set, not shown)\n"), "%s", text);
    cr_assert_null(strstr(text, "hunter2"), "a secret printed");
    /* one line a key of the docs table, plus the two kafka properties */
    char *docs = NULL;
    size_t dlen = 0;
    FILE *d = open_memstream(&docs, &dlen);
    sq_config_dump_docs(d);
    fclose(d);
    size_t keys = 0, lines = 0;
    for (const char *p = docs; (p = strstr(p, "\n| `")) != NULL; p++)
        keys++;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, keys - 1 + 2, "%zu lines for %zu keys (kafka.<property> row aside)",
                 lines, keys - 1);
    free(docs);
    free(text);
    sq_settings_free(&st);
}
