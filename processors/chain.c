/* chain.c: the chain order (SPEC 3) and the runner. Processors set verdicts;
 * only this file turns them into counted outcomes. */
#include "chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "decode.h"
#include "dedupe.h"
#include "enrich.h"
#include "score_stage.h"
#include "sinks.h"
#include "store.h"
#include "validate.h"

/* SPEC 3: decode → validate → dedupe → enrich → score → aggregate / timers →
 * alert → sinks. Later stages plug in here, in this order. */
static const struct sq_processor *const sq_chain_order[] = {
    &sq_proc_decode,
    &sq_proc_validate,
    &sq_proc_dedupe,
    &sq_proc_enrich,
    &sq_proc_score,
    &sq_proc_aggregate,
    &sq_proc_sink_kafka,
    &sq_proc_sink_redis,
};
#define SQ_CHAIN_LEN (sizeof sq_chain_order / sizeof sq_chain_order[0])

struct sq_chain {
    void *ctx[SQ_CHAIN_LEN];
    struct sq_chain_stats stats;
    sq_chain_yield_fn yield;
    void *yield_arg;
};

struct sq_chain *sq_chain_new(const struct sq_settings *st, struct sq_err *err)
{
    struct sq_chain *chain = sq_xcalloc(1, sizeof *chain);
    for (size_t i = 0; i < SQ_CHAIN_LEN; i++) {
        const struct sq_processor *p = sq_chain_order[i];
        if (p->init && p->init(st, &chain->ctx[i], err) != SQ_OK) {
            char msg[sizeof err->msg];
            memcpy(msg, err->msg, sizeof msg);
            msg[sizeof msg - 64] = '\0'; /* room for the prefix */
            snprintf(err->msg, sizeof err->msg, "processor %.40s: %.440s", p->name, msg);
            sq_chain_free(chain);
            return NULL;
        }
    }
    return chain;
}

void sq_chain_free(struct sq_chain *chain)
{
    if (!chain)
        return;
    for (size_t i = 0; i < SQ_CHAIN_LEN; i++)
        if (sq_chain_order[i]->destroy)
            sq_chain_order[i]->destroy(chain->ctx[i]);
    free(chain);
}

void sq_chain_set_yield(struct sq_chain *chain, sq_chain_yield_fn fn, void *arg)
{
    chain->yield = fn;
    chain->yield_arg = arg;
}

/* The index of the first processor that plans its reads when the store
 * prefetches, else SQ_CHAIN_LEN: where sq_chain_begin stops. */
static size_t sq_chain_read_point(const struct sq_batch *batch)
{
    if (!batch->store || !sq_store_can_prefetch(batch->store))
        return SQ_CHAIN_LEN;
    for (size_t i = 0; i < SQ_CHAIN_LEN; i++)
        if (sq_chain_order[i]->plan)
            return i;
    return SQ_CHAIN_LEN;
}

/* Runs processors [from, to) over the batch, yielding after each. */
static int sq_chain_run_range(struct sq_chain *chain, struct sq_batch *batch, size_t from,
                              size_t to, struct sq_err *err)
{
    int rc = SQ_OK;
    /* The sinks see final verdicts: everything still pending when they run
     * is processed. */
    for (size_t i = from; i < to && rc == SQ_OK; i++) {
        const struct sq_processor *p = sq_chain_order[i];
        if (p == &sq_proc_sink_kafka) {
            for (size_t j = 0; j < batch->n; j++)
                if (batch->msgs[j].verdict == SQ_VERDICT_PENDING)
                    batch->msgs[j].verdict = SQ_VERDICT_PROCESSED;
        }
        rc = p->process(chain->ctx[i], batch, err);
        if (rc == SQ_OK && chain->yield)
            chain->yield(chain->yield_arg);
        if (rc != SQ_OK) /* the batch runs again: what processed it lets go */
            for (size_t k = from; k <= i; k++)
                if (sq_chain_order[k]->abort)
                    sq_chain_order[k]->abort(chain->ctx[k]);
    }
    return rc;
}

int sq_chain_begin(struct sq_chain *chain, struct sq_batch *batch, struct sq_store_reads *reads,
                   size_t *resume, struct sq_err *err)
{
    size_t at = sq_chain_read_point(batch);
    int rc = sq_chain_run_range(chain, batch, 0, at, err);
    if (rc != SQ_OK)
        return rc;
    /* what every planning processor will read, asked of the store in one
     * round trip */
    for (size_t i = at; i < SQ_CHAIN_LEN; i++)
        if (sq_chain_order[i]->plan)
            sq_chain_order[i]->plan(chain->ctx[i], batch, reads);
    *resume = at;
    return SQ_OK;
}

int sq_chain_finish(struct sq_chain *chain, struct sq_batch *batch, size_t resume,
                    struct sq_err *err)
{
    return sq_chain_run_range(chain, batch, resume, SQ_CHAIN_LEN, err);
}

int sq_chain_process(struct sq_chain *chain, struct sq_batch *batch, struct sq_err *err)
{
    struct sq_store_reads reads = {0};
    size_t resume = 0;
    int rc = sq_chain_begin(chain, batch, &reads, &resume, err);
    bool prefetched = rc == SQ_OK && resume < SQ_CHAIN_LEN;
    if (prefetched && reads.n)
        rc = sq_store_prefetch(batch->store, &reads, err);
    sq_store_reads_fini(&reads);
    if (rc == SQ_OK)
        rc = sq_chain_finish(chain, batch, resume, err);
    if (prefetched) {
        struct sq_err ignored; /* forgetting cannot fail */
        sq_store_prefetch(batch->store, NULL, &ignored);
    }
    return rc;
}

int sq_chain_run(struct sq_chain *chain, struct sq_batch *batch, struct sq_err *err)
{
    int rc = sq_chain_process(chain, batch, err);
    if (rc == SQ_OK)
        sq_batch_assemble_ops(batch);
    return rc;
}

/* Whether m's own ops go to the store: only a processed message's. */
static bool sq_msg_ops_apply(const struct sq_msg *m)
{
    return m->ops.argc && m->verdict == SQ_VERDICT_PROCESSED;
}

static void sq_batch_assemble(struct sq_batch *batch, bool sums)
{
    sq_state_ops_reset(&batch->ops);
    size_t argc = 0;
    for (size_t i = 0; i < batch->n; i++)
        if (sq_msg_ops_apply(&batch->msgs[i]))
            argc += 2 + batch->msgs[i].ops.argc;
    sq_state_ops_reserve(&batch->ops, argc);
    for (size_t i = 0; i < batch->n; i++) {
        const struct sq_msg *m = &batch->msgs[i];
        if (!sq_msg_ops_apply(m))
            continue;
        sq_op_message(&batch->ops, i);
        sq_state_ops_append_borrowed(&batch->ops, &m->ops);
    }
    /* KPI increments and window touches once per batch (store.h: Y, B, S) */
    if (sums)
        sq_batches_sum_ops(&batch, 1, &batch->ops);
}

void sq_batches_sum_ops(struct sq_batch *const *batches, size_t n, struct sq_state_ops *sums)
{
    size_t total = 0, nl = 0;
    for (size_t b = 0; b < n; b++)
        total += batches[b]->n;
    const struct sq_state_ops **lists = sq_xcalloc(total ? total : 1, sizeof *lists);
    for (size_t b = 0; b < n; b++)
        for (size_t i = 0; i < batches[b]->n; i++)
            if (sq_msg_ops_apply(&batches[b]->msgs[i]))
                lists[nl++] = &batches[b]->msgs[i].ops;
    sq_state_ops_append_sums(sums, lists, nl);
    free(lists);
}

void sq_batch_assemble_ops(struct sq_batch *batch)
{
    sq_batch_assemble(batch, true);
}

void sq_batch_assemble_message_ops(struct sq_batch *batch)
{
    sq_batch_assemble(batch, false);
}

void sq_batch_mark_duplicates(struct sq_batch *batch, const size_t *idx, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (idx[k] >= batch->n)
            continue;
        struct sq_msg *m = &batch->msgs[idx[k]];
        m->verdict = SQ_VERDICT_DUPLICATE;
        /* its ops are dropped, but their text stays: the batch's ops may
         * still point into it (sq_state_ops_append_borrowed) */
        m->ops.argc = 0;
    }
}

static void *sq_chain_ctx_of(struct sq_chain *chain, const struct sq_processor *p)
{
    for (size_t i = 0; i < SQ_CHAIN_LEN; i++)
        if (sq_chain_order[i] == p)
            return chain->ctx[i];
    return NULL;
}

void sq_chain_reject_output(struct sq_chain *chain, struct sq_batch *batch, size_t idx,
                            const char *why)
{
    struct sq_msg *m = &batch->msgs[idx];
    for (size_t i = 0; i < m->outputs_n; i++) {
        free(m->outputs[i].key);
        free(m->outputs[i].value);
        free(m->outputs[i].error_detail);
        free(m->outputs[i].source);
    }
    free(m->outputs);
    m->outputs = NULL;
    m->outputs_n = 0;
    m->verdict = SQ_VERDICT_PENDING;
    sq_msg_dlq(m, SQ_DLQ_OUTPUT_REJECTED, "", "%s", why);
    sq_dlq_output_add(m, sq_sink_kafka_settings(sq_chain_ctx_of(chain, &sq_proc_sink_kafka)));
    m->ops.argc = 0; /* as sq_batch_mark_duplicates: the text stays until the batch is rebuilt */
    sq_batch_assemble_ops(batch);
}

void sq_chain_account(struct sq_chain *chain, const struct sq_batch *batch,
                      struct sq_chain_stats *delta)
{
    struct sq_chain_stats d;
    memset(&d, 0, sizeof d);
    for (size_t i = 0; i < batch->n; i++) {
        const struct sq_msg *m = &batch->msgs[i];
        switch (m->verdict) {
        case SQ_VERDICT_PROCESSED: d.processed++; break;
        case SQ_VERDICT_DUPLICATE: d.duplicates++; break;
        case SQ_VERDICT_DLQ: d.dlq[m->reason]++; break;
        case SQ_VERDICT_SKIPPED: continue; /* finished before: not counted again */
        case SQ_VERDICT_PENDING:
            fprintf(stderr, "sqgate: BUG: %s left the chain without a verdict\n", m->source);
            abort();
        }
        d.consumed++;
    }
    chain->stats.consumed += d.consumed;
    chain->stats.processed += d.processed;
    chain->stats.duplicates += d.duplicates;
    uint64_t dlq_sum = 0;
    for (int r = 0; r < SQ_DLQ__COUNT; r++) {
        chain->stats.dlq[r] += d.dlq[r];
        dlq_sum += chain->stats.dlq[r];
    }
    if (chain->stats.consumed != chain->stats.processed + chain->stats.duplicates + dlq_sum) {
        fprintf(stderr, "sqgate: BUG: outcome counters do not add up\n");
        abort();
    }
    if (delta)
        *delta = d;
}

const struct sq_chain_stats *sq_chain_stats(const struct sq_chain *chain)
{
    return &chain->stats;
}

void sq_msg_dlq(struct sq_msg *m, enum sq_dlq_reason reason, const char *pointer,
                const char *fmt, ...)
{
    if (m->verdict != SQ_VERDICT_PENDING)
        return;
    m->verdict = SQ_VERDICT_DLQ;
    m->reason = reason;
    int n = snprintf(m->detail, sizeof m->detail, "%s ", (pointer && *pointer) ? pointer : "\"\"");
    if (n < 0 || (size_t)n >= sizeof m->detail)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->detail + n, sizeof m->detail - (size_t)n, fmt, ap);
    va_end(ap);
}

struct sq_output *sq_msg_add_output(struct sq_msg *m, const char *topic, char *key,
                                    size_t key_len, char *value, size_t value_len,
                                    const char *schema)
{
    m->outputs = sq_xrealloc(m->outputs, (m->outputs_n + 1) * sizeof *m->outputs);
    struct sq_output *o = &m->outputs[m->outputs_n++];
    memset(o, 0, sizeof *o);
    o->topic = topic;
    o->key = key;
    o->key_len = key_len;
    o->value = value;
    o->value_len = value_len;
    o->schema = schema;
    return o;
}

void sq_msg_fini(struct sq_msg *m)
{
    json_decref(m->event);
    m->event = NULL;
    for (size_t i = 0; i < m->outputs_n; i++) {
        free(m->outputs[i].key);
        free(m->outputs[i].value);
        free(m->outputs[i].error_detail);
        free(m->outputs[i].source);
    }
    free(m->outputs);
    m->outputs = NULL;
    m->outputs_n = 0;
    sq_state_ops_fini(&m->ops);
    json_decref(m->breach_records);
    m->breach_records = NULL;
    for (size_t i = 0; i < m->breach_texts_n; i++)
        free(m->breach_texts[i]);
    free(m->breach_texts);
    m->breach_texts = NULL;
    m->breach_texts_n = 0;
    json_decref(m->timer_records);
    m->timer_records = NULL;
    json_decref(m->kpi_records);
    m->kpi_records = NULL;
    m->ticket_opened_now = m->ticket_resolved_now = m->ticket_regulator_now = false;
    m->schema = NULL;
    m->customer_id = NULL;
    m->event_ms = 0;
    m->verdict = SQ_VERDICT_PENDING;
    m->reason = SQ_DLQ_NONE;
    m->detail[0] = '\0';
}

void sq_batch_reset(struct sq_batch *batch)
{
    for (size_t i = 0; i < batch->n; i++)
        if (batch->msgs[i].verdict != SQ_VERDICT_SKIPPED)
            sq_msg_fini(&batch->msgs[i]);
    sq_state_ops_reset(&batch->ops);
}

void sq_batch_fini(struct sq_batch *batch)
{
    for (size_t i = 0; i < batch->n; i++)
        sq_msg_fini(&batch->msgs[i]);
    free(batch->msgs);
    batch->msgs = NULL;
    batch->n = 0;
    sq_state_ops_fini(&batch->ops);
}

int sq_chain_flush_timers(struct sq_chain *chain, struct sq_store *store, bool all,
                          struct sq_msg *carrier, struct sq_err *err)
{
    return sq_score_stage_flush_timers(sq_chain_ctx_of(chain, &sq_proc_score), store, all, carrier,
                                       err);
}

int sq_chain_flush_windows(struct sq_chain *chain, struct sq_store *store, struct sq_msg *carrier,
                           struct sq_err *err)
{
    return sq_aggregate_flush(sq_chain_ctx_of(chain, &sq_proc_aggregate), store, carrier, err);
}

int64_t sq_msg_event_time(const struct sq_msg *m)
{
    int64_t t = m->event_ms;
    if (m->schema && strcmp(m->schema, "contact.v1") == 0) {
        const char *a = json_string_value(json_object_get(m->event, "arrived_at"));
        if (a)
            sq_time_parse(a, &t);
    }
    return t;
}

void sq_chain_set_watermark(struct sq_chain *chain, int64_t wm_ms)
{
    sq_aggregate_set_watermark(sq_chain_ctx_of(chain, &sq_proc_aggregate), wm_ms);
}

uint64_t sq_chain_too_late_total(struct sq_chain *chain)
{
    return sq_aggregate_too_late_total(sq_chain_ctx_of(chain, &sq_proc_aggregate));
}

void sq_chain_profile_cache_counts(struct sq_chain *chain, uint64_t *lookups, uint64_t *misses)
{
    sq_enrich_cache_counts(sq_chain_ctx_of(chain, &sq_proc_enrich), lookups, misses);
}

size_t sq_chain_timers_armed(struct sq_chain *chain)
{
    return sq_score_stage_timers_armed(sq_chain_ctx_of(chain, &sq_proc_score));
}

int sq_chain_partition_assigned(struct sq_chain *chain, struct sq_store *store, const char *topic,
                                int32_t partition, struct sq_err *err)
{
    return sq_score_stage_partition_assigned(sq_chain_ctx_of(chain, &sq_proc_score), store, topic,
                                             partition, err);
}

int sq_chain_timers_resync(struct sq_chain *chain, struct sq_store *store, struct sq_err *err)
{
    return sq_score_stage_timers_resync(sq_chain_ctx_of(chain, &sq_proc_score), store, err);
}

void sq_chain_partition_revoked(struct sq_chain *chain, const char *topic, int32_t partition)
{
    sq_score_stage_partition_revoked(sq_chain_ctx_of(chain, &sq_proc_score), topic, partition);
}
