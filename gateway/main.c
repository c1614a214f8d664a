/* main.c: the `sqgate` command line (SPEC 11): dispatches to run, demo,
 * check-config and version. Exit status: 0 success, 1 invalid input or
 * config, 2 usage error or infrastructure failure. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "admin.h"
#include "config.h"
#include "convert_cmd.h"
#include "cli_settings.h"
#include "demo.h"
#include "gen.h"
#include "log.h"
#include "replay_cmd.h"
#include "reset_offsets_cmd.h"
#include "runtime.h"
#include "signals.h"
#include "validate_cmd.h"

extern char **environ;

#ifdef SQ_JEMALLOC
/* jemalloc's settings (CMakeLists.txt links it): two arenas for the few
 * threads that allocate, and freed pages go back to the OS within a second,
 * so the resident size follows the load. Each return is a madvise whose TLB
 * shootdown reaches every core the process runs on, and the pages are then
 * faulted back: at 250 ms that was about a quarter of sqgate's CPU under
 * load (docs/performance.md). MALLOC_CONF overrides them. */
const char *malloc_conf = "narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0";
#endif

static volatile sig_atomic_t sq_stop_requested;

static void sq_on_signal(int sig)
{
    (void)sig;
    sq_stop_requested = 1;
}

static volatile sig_atomic_t sq_hup_requested;

static void sq_on_hup(int sig)
{
    (void)sig;
    sq_hup_requested = 1;
}

static void sq_install_signals(void)
{
    sq_signals_on_stop(sq_on_signal);
}

static void sq_usage(FILE *out)
{
    fprintf(out,
            "usage:\n"
            "  sqgate run [-c sqgate.yaml] [--brokers HOST:PORT,...] [--redis redis://HOST:PORT/DB]\n"
            "             [--group ID] [--admin HOST:PORT] [--set PATH=VALUE]...\n"
            "  sqgate demo [--seconds N] [--rate N]\n"
            "  sqgate gen [--rate N] [--seconds N | --count N] [--customers N] [--seed N]\n"
            "             [--start T] [--shape daily|flat] [--malformed S] [--duplicates S]\n"
            "             [--profiles S] [--tickets S] [--surveys S] [--qa S] [--outages S]\n"
            "             (--brokers B | -o FILE)\n"
            "  sqgate replay [-c FILE] [--flush-timers] IN.ndjson|- [-o OUT.ndjson]\n"
            "  sqgate validate [--schema NAME|PATH] [--map URI=DIR]... FILE.ndjson|-\n"
            "  sqgate convert DATASET FILE|- [-o OUT.ndjson] [--profiles] [--at TIME]\n"
            "  sqgate check-config -c FILE [--print]\n"
            "  sqgate reset-offsets --topic T [--group ID] [-c FILE] [--redis URL]\n"
            "  sqgate version\n"
            "Every option also has an environment variable (SQGATE_BROKERS, SQGATE_REDIS,\n"
            "SQGATE_GROUP, SQGATE_ADMIN, SQGATE_<PATH> with '.' as '__'); see docs/configuration.md.\n");
}

/* Options of `run` that map to config paths. */
static const struct sq_cli_flag sq_run_flags[] = {
    {"--brokers", "brokers", NULL},
    {"--redis", "redis.url", NULL},
    {"--group", "group", NULL},
    {"--admin", "admin.listen", NULL},
};

static int sq_cmd_run(int argc, char **argv)
{
    struct sq_settings st;
    int code;
    if (!sq_cli_settings("run", argc, argv, sq_run_flags,
                         sizeof sq_run_flags / sizeof sq_run_flags[0], sq_usage, &st, &code))
        return code;
    enum sq_log_level lvl;
    if (sq_log_level_parse(st.log_level, &lvl) == 0)
        sq_log_set_level(lvl);
    sq_install_signals();
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_admin *adm = sq_admin_new(st.admin_listen, &err);
    if (!adm) {
        sq_error("admin HTTP on %s (admin.listen): %s", st.admin_listen, err.msg);
        sq_settings_free(&st);
        return 2;
    }
    sq_info("sqgate %s: admin HTTP listening on http://%s/ (metrics at /metrics)", SQ_VERSION,
            sq_admin_address(adm));
    sq_signals_on_hup(sq_on_hup);
    code = sq_runtime_run(&st, &sq_stop_requested, &sq_hup_requested);
    sq_admin_free(adm);
    sq_settings_free(&st);
    return code;
}

static int sq_cmd_check_config(int argc, char **argv)
{
    const char *file = NULL;
    bool print = false;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(argv[i], "--print") == 0) {
            print = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: sqgate check-config -c FILE [--print]\n"
                   "Checks the file with the environment's SQGATE_* overrides; prints FILE: ok\n"
                   "or each error with its line and column (exit 1). --print then lists every\n"
                   "key's effective value (secret kafka.* values hidden).\n");
            return 0;
        } else {
            fprintf(stderr, "sqgate check-config: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "sqgate check-config: -c FILE is required\n");
        return 2;
    }
    struct sq_settings st;
    struct sq_config_errors errs = {0};
    int rc = sq_config_build(&st, file, environ, &errs);
    sq_config_errors_print(&errs, stderr);
    size_t n = errs.n;
    sq_config_errors_fini(&errs);
    if (rc != 0 || n) {
        sq_settings_free(&st);
        fprintf(stderr, "%s: %zu error%s\n", file, n, n == 1 ? "" : "s");
        return 1;
    }
    printf("%s: ok\n", file);
    if (print)
        sq_config_dump_effective(&st, stdout);
    sq_settings_free(&st);
    return 0;
}

static int sq_cmd_version(void)
{
    printf("sqgate %s (librdkafka %s)\n", SQ_VERSION, rd_kafka_version_str());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        sq_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return sq_cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "demo") == 0) {
        sq_install_signals();
        return sq_demo_main(argc - 2, argv + 2, &sq_stop_requested);
    }
    if (strcmp(cmd, "gen") == 0) {
        sq_install_signals();
        return sq_gen_main(argc - 2, argv + 2, &sq_stop_requested);
    }
    if (strcmp(cmd, "replay") == 0)
        return sq_replay_main(argc - 2, argv + 2);
    if (strcmp(cmd, "validate") == 0)
        return sq_validate_main(argc - 2, argv + 2);
    if (strcmp(cmd, "convert") == 0)
        return sq_convert_main(argc - 2, argv + 2);
    if (strcmp(cmd, "reset-offsets") == 0)
        return sq_reset_offsets_main(argc - 2, argv + 2);
    if (strcmp(cmd, "check-config") == 0)
        return sq_cmd_check_config(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return sq_cmd_version();
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        sq_usage(stdout);
        return 0;
    }
    fprintf(stderr, "sqgate: unknown command %s\n", cmd);
    sq_usage(stderr);
    return 2;
}
