/* chain_report.h: bench_chain's results and the one Markdown table that
 * shows them, each figure beside its target (docs/performance.md). The
 * measuring is in bench_chain.c; this file only holds and prints. */
#ifndef SQ_CHAIN_REPORT_H
#define SQ_CHAIN_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "chain_metrics.h"
#include "chain_stack.h"

#define SQ_CB_MAIN_PARTITIONS 6
/* Backlog kept in front of a saturated sqgate: the same number of events
 * at every partition count, so that the 1, 6 and 24 partition runs compare
 * the gateway and not the bench's supply (400 a partition gave 24
 * partitions four times the backlog of 6, hence larger turns and a queue
 * of seconds). 2,400 is what 6 partitions had before, so the 6-partition
 * and customer figures stay comparable with earlier runs; it fills a
 * partition of the mock cluster to well under its limit even with one
 * partition (the lag cap of bench_chain's windows still guards it). */
#define SQ_CB_BACKLOG 2400.0
/* The deep backlog of a gateway catching up (after downtime, or a burst):
 * turns then fill to their share of runtime.batch_max_messages. 6
 * partitions hold it at ~1.6 MB each, under the mock cluster's 5 MiB. */
#define SQ_CB_DEEP_BACKLOG 20000.0
#define SQ_CB_LATENCY_RATE 10000.0

/* One measured interval (after its warm-up). */
struct sq_cb_window {
    double secs;
    double produced, consumed;      /* events in the interval */
    double cpu_sqgate, cpu_redis, cpu_self, busy, total; /* CPU-seconds */
    double cpu_sqgate_main, cpu_redis_main; /* of those, their main threads */
    double lag_max, lag_slope;      /* events, events/s */
    bool overflow;                  /* stopped early: the mock cluster would drop */
    struct sq_cb_metrics m0, m1;    /* sqgate's /metrics at its start and end */
};

/* The mean time a turn finished in window w spent in a phase, in ms (0
 * when none finished). */
double sq_cb_turn_ms(const struct sq_cb_window *w, enum sq_cb_turn_phase phase);
/* Microseconds of cpu (CPU-seconds, one of w's) per event consumed in
 * window w; 0 when none was. */
double sq_cb_us(const struct sq_cb_window *w, double cpu);
/* CPU-seconds other processes used in window w: the machine's busy time
 * less sqgate's, redis-server's and the bench's own (0 when sampling
 * makes that negative). */
double sq_cb_other_cpu(const struct sq_cb_window *w);

/* A saturated run: the producer keeps a backlog ahead of sqgate. */
struct sq_cb_saturated {
    double rate;                 /* events/s consumed */
    double sqgate_us, redis_us;  /* CPU microseconds per event */
    double other_cores;          /* other processes' load meanwhile */
    long hwm_kib;                /* sqgate VmHWM at the end */
    long customers;              /* sq:cust hashes in Redis at the end */
    double cache_hit;            /* the profile cache's hit ratio in the window (-1: none) */
    double produced;             /* events, checked consumed by sqgate */
    bool ok;
};

struct sq_cb_latency {
    double rate, achieved;       /* events/s asked, produced */
    double lag_max;              /* events */
    double p50, p99;             /* seconds, from the histogram buckets */
    double inside_p50, inside_p99; /* the same, fetched by sqgate to done */
    bool sustained;              /* lag stayed bounded */
    bool measured;
};

/* Everything measured on the main stack: 6 partitions, 10k customers
 * unless --main-customers. */
struct sq_cb_main {
    uint32_t customers;          /* distinct customers of the main run's events */
    double saturated;            /* events/s, to place the ramp */
    double sustained;            /* events/s of the first held window (0: none held) */
    double ramp_sustained;       /* events/s, the ramp's highest step with lag bounded */
    double ramp_step;            /* events/s asked at that step */
    struct sq_cb_window best;    /* that step */
    char holds[256];             /* "13800 lag grew (stopped after 9 s), 11700 held" */
    struct sq_cb_window hold;    /* the last held window (bench_chain.c: sq_cb_hold) */
    struct sq_cb_window hold_thirds[3]; /* its first, middle and last third */
    double hold_rate;            /* events/s asked there (0: no window held a rate) */
    struct sq_cb_window failed;  /* the first step whose lag grew */
    bool failed_seen;
    bool generator_bound;        /* the producer fell behind before sqgate did */
    char steps[512];             /* "1200 ok, 1400 ok, 1600 lag grew" */
    struct sq_cb_latency lat10k, lat_best, lat_half;
    long rss_rest_kib, hwm_sat_kib, hwm_load_kib;
    long long redis_before, redis_after;
    struct sq_cb_redis_mem mem;
    char redis_commands[640];             /* per event, busiest first */
    char redis_usec[640];                 /* µs in each command per event, longest first */
    double consume, consume_parse;        /* plain consumer events/s */
    double transport_p50, transport_p99;  /* plain consumer at 10,000/s, seconds */
    long consumed_msgs;
    double produced;
    int sqgate_exit;
    bool ok;
};

#define SQ_CB_REPLAY_ROUNDS 3
/* Point 4 over time: a paced window with 1M customers, long enough for
 * what grows with the data (open tickets' timers) to show. */
struct sq_cb_long {
    double rate, secs;           /* events/s asked; the measured window */
    double consumed;             /* events/s */
    bool bounded;                /* lag stayed bounded */
    double timers_armed;         /* sq_timers_armed at the end: timers in memory */
    long long timers_redis;      /* the open tickets' timers in Redis at the end */
    long hwm_kib;                /* sqgate VmHWM at the end */
    double produced;             /* events, checked consumed by sqgate */
    bool ran, ok;
};

struct sq_cb_replay {
    long events;
    double replay_round[SQ_CB_REPLAY_ROUNDS], parse_round[SQ_CB_REPLAY_ROUNDS]; /* events/s */
    int rounds;                  /* rounds that ran */
    bool ok;
};

/* The fresh-stack saturated runs, each repeated in alternation. */
enum sq_cb_config { SQ_CB_P1, SQ_CB_P6, SQ_CB_P24, SQ_CB_P6_1M, SQ_CB_P6_DEEP, SQ_CB__CONFIGS };
struct sq_cb_config_def {
    int partitions;
    unsigned customers;
    double backlog;              /* events kept ahead of sqgate */
};
extern const struct sq_cb_config_def sq_cb_configs[SQ_CB__CONFIGS];

struct sq_cb_results {
    struct sq_cb_replay replay;
    struct sq_cb_main main;
    struct sq_cb_saturated sat[SQ_CB__CONFIGS]; /* best of the rounds */
    struct sq_cb_long long1m;
    int rounds;
    double step_s, warm_s;       /* each window, and its unmeasured start */
    double hold_s;               /* each window holding a rate */
    double sat_produced;         /* events over every saturated run */
    bool sat_ok;                 /* every saturated run passed its checks */
    double secs;                 /* the whole bench */
};

/* Prints the table on stdout. */
void sq_cb_report_print(const struct sq_cb_results *res);

#endif
