/* processor.h: the processor interface and the message/batch the chain works
 * on. A processor is one const struct sq_processor in its own file under
 * processors/; processors/chain.c lists them in SPEC 3 order. */
#ifndef SQ_PROCESSOR_H
#define SQ_PROCESSOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "outcome.h"
#include "settings.h"
#include "sq_common.h"

struct sq_store;

/* One Kafka output a message produces (scored record, DLQ copy, …). */
struct sq_output {
    const char *topic;      /* borrowed from settings */
    char *key;              /* owned; NULL = no key */
    size_t key_len;
    char *value;            /* owned; NULL = empty value */
    size_t value_len;
    const char *schema;     /* sq-schema header, e.g. "scored.v1" (static) */
    /* DLQ only: sq-error and sq-error-detail headers */
    const char *error;      /* static reason name or NULL */
    char *error_detail;     /* owned or NULL */
    bool truncated;         /* sq-truncated: true (DLQ value dropped) */
    char *source;           /* owned sq-source when not the message's (watermark/…) */
    /* delivery state, kept by the gateway */
    int delivered;          /* 0 pending, 1 delivered */
    int err;                /* last rd_kafka_resp_err_t */
    void *owner;            /* the gateway's turn while the output is in flight */
};

/* State changes as a flat argument list both store back ends apply (op
 * codes in store.h). The strings live in chunks the list owns (one
 * allocation for many arguments); argv[i] is NUL-terminated and stays valid
 * until reset or fini. processors/state_ops.c. */
struct sq_ops_chunk;
struct sq_state_ops {
    char **argv;            /* into chunk */
    size_t *argvlen;
    size_t argc, cap;
    struct sq_ops_chunk *chunk; /* newest first */
};
void sq_state_ops_push(struct sq_state_ops *ops, const char *s, size_t len);
void sq_state_ops_push_str(struct sq_state_ops *ops, const char *s);
void sq_state_ops_push_i64(struct sq_state_ops *ops, int64_t v);
void sq_state_ops_pushf(struct sq_state_ops *ops, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Pushes s without copying it: s must stay unchanged while ops is used (a
 * literal, a counter name, a setting, or another list's argument). */
void sq_state_ops_push_borrowed(struct sq_state_ops *ops, const char *s, size_t len);
/* Room for n more arguments, so that pushes after it do not reallocate. */
void sq_state_ops_reserve(struct sq_state_ops *ops, size_t n);
/* Appends every argument of from as pointers into from's chunks: from must
 * stay unchanged while ops is used (a batch's ops borrow its messages'). */
void sq_state_ops_append_borrowed(struct sq_state_ops *ops, const struct sq_state_ops *from);
/* The number of arguments of the op at a[i] of a list of n (a wrapped op's
 * plus one for Y and S), or 0 when it is unknown or cut short. */
size_t sq_op_width(char *const *a, size_t n, size_t i);
/* Where the TTL argument of an op of this code is, counted from the op's
 * code (store.h), or 0 for an op without one. */
size_t sq_op_ttl_offset(char code);
/* Appends "B" and, for the deferred ("Y") K, V and W ops of the lists, one
 * "S" K op per KPI hash (its fields summed, the greatest TTL) and one per
 * window cell (store.h); nothing when the lists defer nothing. Keys, cells
 * and field names point into the lists, which must outlive ops' use. */
void sq_state_ops_append_sums(struct sq_state_ops *ops, const struct sq_state_ops *const *lists,
                              size_t n);
/* The same sums built a list at a time: sq_sums_add adds a list's deferred
 * K, V and W ops; sq_sums_append_to appends the summed K and W ops, marked
 * ("B", then "S" before each) or bare, whose strings point into the sums
 * (own: each copied once, so every list may go right after its add) or
 * into the lists (not own), so those must outlive ops' use; sq_sums_free
 * releases them. */
struct sq_sums;
struct sq_sums *sq_sums_new(bool own);
void sq_sums_add(struct sq_sums *s, const struct sq_state_ops *list);
void sq_sums_append_to(struct sq_sums *s, struct sq_state_ops *ops, bool marked);
/* The sums in order, for writing them out a range at a time (the KPI
 * fold's slices): how many there are, about how many arguments the k-th
 * writes (its fields and counters as they stand), and the arguments
 * sq_sums_append_to appends for those in [from, to) ("B" only when from is
 * 0), each handed to emit in order instead; one with transient true lives
 * only for the call (a number formatted on the stack), the others as long
 * as the sums. For a caller that writes them straight out: a list of a
 * fold's hundreds of thousands of arguments was megabytes of its own. The
 * order is the order each sum was first added in: the same lists added in
 * the same order give the same sums at the same places. */
typedef void (*sq_sums_emit_fn)(void *ctx, const char *v, size_t len, bool transient);
size_t sq_sums_count(const struct sq_sums *s);
size_t sq_sums_args_about(const struct sq_sums *s, size_t k);
void sq_sums_emit_range(struct sq_sums *s, bool marked, size_t from, size_t to,
                        sq_sums_emit_fn emit, void *ctx);
void sq_sums_free(struct sq_sums *s);
void sq_state_ops_reset(struct sq_state_ops *ops);
void sq_state_ops_fini(struct sq_state_ops *ops);

/* One consumed message as the chain sees it. The input bytes are borrowed
 * from the consumer's message, which the gateway keeps until the batch ends. */
struct sq_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key;        /* borrowed, may be NULL */
    size_t key_len;
    const char *value;      /* borrowed, NULL = tombstone */
    size_t value_len;
    json_t *value_parsed;   /* borrowed, may be NULL: what jansson makes of value
                             * (replay's envelopes hold it parsed), which decode
                             * then takes instead of parsing value again */
    const char *default_schema; /* the topic's default schema or NULL */
    char source[160];       /* "topic/partition/offset" */

    /* filled by the processors */
    json_t *event;          /* owned: the decoded event */
    const char *schema;     /* static name of the event's schema */
    const char *customer_id;/* borrowed from event, NULL when none */
    int64_t event_ms;       /* occurred_at in epoch ms */
    int64_t step_event_ms;  /* set by `run` once the chain is done and the trees are
                             * gone: what the partition's step counts as its event
                             * time (sq_msg_event_time of a processed event other than
                             * a profile), -1 none */
    enum sq_verdict verdict;
    enum sq_dlq_reason reason;
    char detail[512];       /* sq-error-detail: "POINTER MESSAGE" */

    struct sq_output *outputs; /* owned array */
    size_t outputs_n;
    struct sq_state_ops ops;   /* this message's state changes (store.h op codes) */
    json_t *breach_records;    /* owned: sq.out.breaches records of this event, or NULL */
    char **breach_texts;       /* owned: breach_records[i] as dumped for Redis, which the
                                * Kafka sink sends as it is */
    size_t breach_texts_n;
    json_t *timer_records;     /* owned: [{source, key, record}] of timer breaches this
                                * message's watermark move fired, or NULL */
    json_t *kpi_records;       /* owned: [{source, key, text}] of the KPI records the
                                * windows this message's watermark move closed, or NULL */
    /* the event's own changes to its customer hash beyond what op C always
     * writes (set by score; the Redis sink writes them in the same C op,
     * processors/sinks.c, so the hash is read and written once an event) */
    struct sq_cust_change {     /* all zero: nothing beyond op C */
        bool has_contacts_30d;     /* a contact: contacts_30d is written */
        int64_t contacts_30d;
        bool has_cx;               /* cx_index from this quality score (store.h) */
        int64_t cx_t_ms;
        double cx_score;
        int64_t cx_half_life_ms;
        int64_t breaches;          /* breaches_total += */
        int64_t last_breach_ms;    /* the latest of them by (time, code) */
        const char *last_breach_code; /* static name; NULL: no breach */
        int64_t open_tickets;      /* open_tickets += */
    } cust_change;
    /* ticket.v1 facts of this event for the KPI counters (set by score) */
    bool ticket_opened_now;    /* first `opened`: tickets_opened, complaints */
    bool ticket_resolved_now;  /* tickets_resolved, once per opening */
    bool ticket_regulator_now; /* regulator_escalations, once per ticket */
};

struct sq_json_arena;

/* The messages of one partition in offset order, run through the chain
 * together. */
struct sq_batch {
    const char *topic;
    int32_t partition;
    struct sq_msg *msgs;
    size_t n;
    struct sq_state_ops ops;   /* the batch's state changes: "M idx" + each message's ops */
    struct sq_store *store;    /* where processors read state (store.h) */
    struct sq_json_arena *json_arena; /* borrowed, or NULL: decode parses the events
                                       * into it (json_arena.h), so the batch's owner
                                       * frees it once no tree of the batch is left */
    /* Whether the state of a partition this batch does not hold may be
     * read now: no other batch in flight holds it (ticket_timers.h). NULL:
     * always (batches run one after another). */
    bool (*part_idle)(void *arg, const char *topic, int32_t partition);
    void *part_idle_arg;
};

/* Marks a message for the DLQ with its reason and "POINTER MESSAGE" detail.
 * Only the first verdict counts. */
void sq_msg_dlq(struct sq_msg *m, enum sq_dlq_reason reason, const char *pointer,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Adds an output, taking ownership of key and value. */
struct sq_output *sq_msg_add_output(struct sq_msg *m, const char *topic, char *key,
                                    size_t key_len, char *value, size_t value_len,
                                    const char *schema);
void sq_msg_fini(struct sq_msg *m);

/* Contract of every callback (one thread, the pipeline thread, calls them
 * all; nothing here is called concurrently):
 *
 * init(settings, &ctx, err): called once at start. settings outlive the
 *   processor. Returns SQ_OK, or an error kind with err filled; ctx is
 *   owned by the processor and released by destroy.
 * process(ctx, batch, err): called once per batch, messages in offset
 *   order. A processor skips messages whose verdict is no longer PENDING,
 *   except the sinks, which see every message. It may set a verdict with
 *   sq_msg_dlq (data errors) or SQ_VERDICT_DUPLICATE; it must not keep
 *   pointers into the batch after returning. Returns SQ_OK, or
 *   SQ_ERR_TRANSIENT (the gateway retries the whole batch later) or
 *   SQ_ERR_FATAL.
 * flush(ctx): the partition's batch is about to be committed or revoked;
 *   may be NULL.
 * abort(ctx): the batch process last saw failed, in this processor or a
 *   later one of the same chain run, and will be run again: undo what
 *   process kept in memory for it (its ops are dropped anyway); may be
 *   NULL.
 * destroy(ctx): releases ctx; accepts NULL. */
struct sq_store_reads;

struct sq_processor {
    const char *name;
    int (*init)(const struct sq_settings *st, void **ctx, struct sq_err *err);
    int (*process)(void *ctx, struct sq_batch *batch, struct sq_err *err);
    /* Optional: adds to reads what process will read for this batch, so
     * that the chain can ask the store for several processors' reads at
     * once (sq_store_prefetch). Reading more is harmless; what it leaves
     * out process reads itself. */
    void (*plan)(void *ctx, const struct sq_batch *batch, struct sq_store_reads *reads);
    void (*flush)(void *ctx);
    void (*destroy)(void *ctx);
    void (*abort)(void *ctx);
};

#endif
