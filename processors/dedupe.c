/* dedupe.c: the `dedupe` processor. An event whose (schema, event_id) was
 * already applied within dedupe.ttl_s is a duplicate. Marks are written in
 * the message's own state ops, so they become visible atomically with the
 * message's other effects and the partition's applied offset: a crash
 * replay of an unapplied message meets no mark, and a message at or below
 * the applied offset never reaches the chain. One store read per batch. */
#include "dedupe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "strmap.h"

/* Marks of one time slice are spread over dedupe.shards sets (4096 by
 * default). Redis keeps a set of up to 512 integers (set-max-intset-entries)
 * as an intset, a sorted array of 8-byte integers searched by bisection:
 * about 8-9 bytes a mark, and SADD and SMISMEMBER cost little whatever its
 * size. Beyond 512 a set becomes a hash table at ~64 bytes a mark
 * (docs/operations.md says how to size dedupe.shards). Changing the count
 * forgets the marks written before. */

static int sq_dedupe_init(const struct sq_settings *st, void **ctx, struct sq_err *err)
{
    (void)err;
    *ctx = (void *)st;
    return SQ_OK;
}

void sq_dedupe_mark_dup(const struct sq_settings *st, const char *schema, const char *event_id,
                        int64_t event_ms, char **key, char **member)
{
    struct sq_buf b; /* "schema|event_id" */
    sq_buf_init(&b);
    sq_buf_append_str(&b, schema);
    sq_buf_append(&b, "|", 1);
    sq_buf_append_str(&b, event_id);
    unsigned char md[32];
    sq_xsha256(b.data, b.len, md);
    sq_buf_fini(&b);
    /* the shard from the first 8 bytes, the member from the next 8 */
    uint64_t h = 0, v = 0;
    for (int i = 0; i < 8; i++) {
        h = h << 8 | md[i];
        v = v << 8 | md[8 + i];
    }
    /* v as int64 in decimal, the form Redis keeps as an integer (two's
     * complement without relying on the conversion's implementation) */
    int64_t mark = v > (uint64_t)INT64_MAX ? -(int64_t)(~v) - 1 : (int64_t)v;
    sq_buf_init(&b);
    sq_buf_append_i64(&b, mark);
    *member = b.data;
    uint64_t shards = st->dedupe_shards > 0 ? (uint64_t)st->dedupe_shards : 1;
    *key = sq_dedupe_set_key_dup(st, sq_dedupe_slice(st, event_ms), (int64_t)(h % shards));
}

int64_t sq_dedupe_slice(const struct sq_settings *st, int64_t event_ms)
{
    int64_t ttl_ms = st->dedupe_ttl_s * 1000;
    return event_ms >= 0 ? event_ms / ttl_ms : -1 - (-event_ms - 1) / ttl_ms;
}

char *sq_dedupe_set_key_dup(const struct sq_settings *st, int64_t slice, int64_t shard)
{
    struct sq_buf b; /* "{prefix}dm:{slice}:{shard}" */
    sq_buf_init(&b);
    sq_buf_append_str(&b, st->redis_prefix);
    sq_buf_append(&b, "dm:", 3);
    sq_buf_append_i64(&b, slice);
    sq_buf_append(&b, ":", 1);
    sq_buf_append_i64(&b, shard);
    return b.data;
}

/* Adds the read of m's mark; its index, or SIZE_MAX when m has none. */
static size_t sq_dedupe_add_read(const struct sq_settings *st, const struct sq_msg *m,
                                 struct sq_store_reads *reads)
{
    if (m->verdict != SQ_VERDICT_PENDING || !m->event)
        return SIZE_MAX; /* tombstones are never duplicates */
    const char *eid = json_string_value(json_object_get(m->event, "event_id"));
    if (!eid)
        return SIZE_MAX;
    char *key, *member;
    sq_dedupe_mark_dup(st, m->schema, eid, m->event_ms, &key, &member);
    size_t at = sq_store_reads_add_member(reads, key, member);
    free(key);
    free(member);
    return at;
}

static void sq_dedupe_plan(void *ctx, const struct sq_batch *batch, struct sq_store_reads *reads)
{
    for (size_t i = 0; i < batch->n; i++)
        sq_dedupe_add_read(ctx, &batch->msgs[i], reads);
}

static int sq_dedupe_process(void *ctx, struct sq_batch *batch, struct sq_err *err)
{
    const struct sq_settings *st = ctx;
    struct sq_store_reads reads = {0};
    size_t *read_of = sq_xcalloc(batch->n ? batch->n : 1, sizeof *read_of);
    for (size_t i = 0; i < batch->n; i++)
        read_of[i] = sq_dedupe_add_read(st, &batch->msgs[i], &reads);
    int rc = SQ_OK;
    if (reads.n)
        rc = sq_store_read(batch->store, &reads, err);
    if (rc == SQ_OK) {
        /* Marks of this batch are not in the store yet: remember them. */
        struct sq_strmap seen;
        sq_strmap_init(&seen);
        for (size_t i = 0; i < batch->n; i++) {
            if (read_of[i] == SIZE_MAX)
                continue;
            struct sq_msg *m = &batch->msgs[i];
            struct sq_store_read *r = &reads.v[read_of[i]];
            if (r->value || sq_strmap_get(&seen, r->field)) {
                m->verdict = SQ_VERDICT_DUPLICATE;
                continue;
            }
            sq_strmap_put(&seen, r->field, m);
            sq_op_dedupe(&m->ops, r->key, r->field, st->dedupe_ttl_s * 2);
        }
        sq_strmap_fini(&seen);
    }
    free(read_of);
    sq_store_reads_fini(&reads);
    return rc;
}

static void sq_dedupe_destroy(void *ctx)
{
    (void)ctx;
}

const struct sq_processor sq_proc_dedupe = {
    .name = "dedupe",
    .init = sq_dedupe_init,
    .process = sq_dedupe_process,
    .plan = sq_dedupe_plan,
    .flush = NULL,
    .destroy = sq_dedupe_destroy,
};
