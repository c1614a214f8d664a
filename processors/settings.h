/* settings.h: the typed configuration every module reads. gateway/config.c
 * fills it from built-in defaults, the YAML file, the environment and the
 * command line (SPEC 11); processors only read it. */
#ifndef SQ_SETTINGS_H
#define SQ_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define SQ_MAX_INPUT_TOPICS 8

/* One input topic and the schema its messages default to. */
struct sq_input_topic {
    char *name;     /* e.g. "sq.in.contacts" */
    const char *schema; /* e.g. "contact.v1" (static string) */
};

/* A librdkafka property passed verbatim (the `kafka:` mapping). */
struct sq_kafka_prop {
    char *name;
    char *value;
};

struct sq_settings {
    /* kafka */
    char *brokers;          /* bootstrap.servers */
    char *group_id;
    struct sq_kafka_prop *kafka_props;
    size_t kafka_props_n;

    /* topics */
    struct sq_input_topic inputs[SQ_MAX_INPUT_TOPICS];
    size_t inputs_n;
    char *topic_scored;
    char *topic_breaches;
    char *topic_kpi;
    char *topic_alerts;
    char *topic_dlq;

    /* redis */
    char *redis_url;        /* redis://host:port/db or unix:///path */
    char *redis_prefix;     /* "sq:" */
    int64_t redis_timeout_ms;

    /* limits */
    int64_t max_message_bytes;
    int64_t max_depth;
    int64_t max_future_s;

    /* runtime */
    int64_t batch_max_messages;   /* messages per turn */
    int64_t batch_max_ms;         /* how long a turn waits to fill a batch */
    int64_t batch_linger_ms;      /* how long a turn waits for its share while others run */
    int64_t commit_interval_ms;   /* 0: commit after every batch */
    int64_t backoff_max_ms;       /* retry backoff ceiling */
    int64_t stall_s;              /* runtime.stall_s: restart a stalled fetch, 0 = off */
    int64_t shutdown_timeout_s;

    /* admin */
    char *admin_listen;     /* "127.0.0.1:9464" */

    /* sla */
    int64_t sla_short_abandon_s;  /* sla.short_abandon_s, 5 */
    int64_t dedupe_ttl_s;         /* dedupe.ttl_s, 86400 */
    int64_t dedupe_shards;        /* dedupe.shards, 4096 */
    int64_t dedupe_check_s;       /* dedupe.check_s, 60 (0: off) */
    int64_t enrich_cache_entries; /* enrich.cache_entries, 100000 */
    int64_t enrich_cache_ttl_s;   /* enrich.cache_ttl_s, 60 */

    /* scoring thresholds (SPEC 4, 5). [ch] is enum sq_channel of score.h:
     * voice, chat, app, email, sms, store, social; [dim] is enum sq_dim of
     * breach.h: reliability, responsiveness, assurance, empathy, tangibles */
    int64_t sla_answer_s[7];      /* sla.answer_s.{ch}: 20 30 30 86400 3600 900 60 */
    int64_t sla_answer_s_vip[7];  /* sla.answer_s_vip.{ch}: voice 10, others as above */
    int64_t sla_max_transfers;    /* sla.max_transfers, 2 */
    int64_t fcr_window_h;         /* fcr.window_h, 72 */
    int64_t qa_min_score;         /* qa.min_score, 60 */
    double score_weights[5];      /* score.weights.{dim}: 0.32 0.22 0.19 0.16 0.11 */
    double cx_half_life_days;     /* cx.half_life_days, 30 */

    /* tickets: [kind] is enum sq_ticket_kind (complaint 0, fault 1, inquiry 2),
     * [sev] is severity - 1 */
    int64_t tickets_ack_h[3];        /* tickets.ack_h.{kind}: 24, 4, 24 */
    int64_t tickets_resolve_h[3][4]; /* tickets.resolve_h.{kind}.sev{1..4} */

    /* windows and KPIs (SPEC 6) */
    int64_t windows_grace_s;      /* windows.grace_s, 1800 */
    char *windows_sizes;          /* windows.sizes, "15m,1h" (kpi.h parses it) */
    int64_t windows_max_lateness_s; /* windows.max_lateness_s, 604800 */
    int64_t windows_idle_s;       /* windows.idle_s, 30 */
    int64_t windows_reemit_s;     /* windows.reemit_s, 5 */
    bool kpi_enabled;             /* kpi.enabled, true */
    bool kpi_journal;             /* kpi.journal, true */
    int64_t kpi_fold_interval_s;  /* kpi.fold_interval_s, 3 */
    char *kpi_service_level_mode; /* kpi.service_level_mode, abandons_against */
    int64_t kpi_ttl_s;            /* kpi.ttl_s, 691200 */
    /* Not a config key: set by `sqgate replay` before sq_chain_new. Windows
     * close in process (aggregate emits KPI records) only then; in `run` the
     * closer lease holder closes them (gateway/closer.c) from the watermark
     * shared through Redis, and aggregate only marks the cells it touches. */
    bool replay_mode;

    /* retention */
    int64_t retention_customer_days;
    /* privacy */
    bool keep_comments; /* privacy.keep_comments, false */

    /* log */
    char *log_level;        /* error, warn, info, debug */
};

#endif
