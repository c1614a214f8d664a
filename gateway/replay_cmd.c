/* replay_cmd.c: `sqgate replay` (SPEC 11): the whole chain offline over
 * NDJSON input, in file order, with the in-process state store and no
 * Kafka. Each line is one message (an event, or an envelope {"topic",
 * "key", "value"}); every output record becomes one output line. The same
 * input always gives byte-identical output. */
#include "replay_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "config.h"
#include "decode.h"
#include "json_arena.h"
#include "json_in.h"
#include "json_out.h"
#include "log.h"
#include "sinks.h"
#include "store.h"

extern char **environ;

struct sq_replay {
    struct sq_settings st;
    struct sq_chain *chain;
    struct sq_store_mem *store;
    FILE *out;
    struct sq_buf line_out;
    uint64_t lines;
    struct sq_json_arena *json_arena; /* each line's trees (json_arena.h) */
};

/* The input topic whose default schema is `schema`, else the first one. */
static const char *sq_replay_topic_for(const struct sq_settings *st, const char *schema)
{
    for (size_t i = 0; schema && i < st->inputs_n; i++)
        if (strcmp(st->inputs[i].schema, schema) == 0)
            return st->inputs[i].name;
    return st->inputs_n ? st->inputs[0].name : "sq.in.contacts";
}

static const char *sq_replay_default_schema(const struct sq_settings *st, const char *topic)
{
    for (size_t i = 0; i < st->inputs_n; i++)
        if (strcmp(st->inputs[i].name, topic) == 0)
            return st->inputs[i].schema;
    return NULL;
}

/* The n bytes at p in base64, appended to out. */
static void sq_replay_base64(struct sq_buf *out, const char *p, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)p[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)p[i + 2];
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
                     i + 1 < n ? b64[(v >> 6) & 63] : '=', i + 2 < n ? b64[v & 63] : '='};
        sq_buf_append(out, q, 4);
    }
}

/* Bytes as a JSON value: a string, or {"base64": …} when they are not
 * valid UTF-8 (no JSON string can hold them). */
static void sq_replay_put_bytes(struct sq_buf *b, const char *p, size_t n)
{
    if (sq_json_put_string(b, p, n) == 0)
        return;
    sq_buf_append_str(b, "{\"base64\":\"");
    sq_replay_base64(b, p, n);
    sq_buf_append(b, "\"}", 2);
}

/* A member's name, after a comma unless it is the object's first. */
static void sq_replay_put_name(struct sq_buf *b, bool *first, const char *name)
{
    if (!*first)
        sq_buf_append(b, ",", 1);
    *first = false;
    sq_json_put_string(b, name, strlen(name));
    sq_buf_append(b, ":", 1);
}

/* A string member; none when text is NULL or not UTF-8 (json_string would
 * give NULL, which jansson does not set). */
static void sq_replay_put_text(struct sq_buf *b, bool *first, const char *name, const char *text)
{
    size_t len0 = b->len;
    bool first0 = *first;
    if (!text)
        return;
    sq_replay_put_name(b, first, name);
    if (sq_json_put_string(b, text, strlen(text)) != 0) {
        b->len = len0;
        b->data[len0] = '\0';
        *first = first0;
    }
}

/* A non-DLQ value that is not an object (not expected: every record is
 * one): as JSON when it parses, else as bytes. */
static void sq_replay_put_record(struct sq_buf *b, const char *p, size_t n)
{
    json_error_t jerr;
    json_t *v = json_loadb(p, n, JSON_DECODE_ANY, &jerr);
    if (!v || sq_json_dump_buf(b, v, JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY) != 0)
        sq_replay_put_bytes(b, p, n);
    json_decref(v);
}

/* Writes one output record as a replay line: {"topic","key","headers",
 * "value"}, the members jansson would dump in that order. A record's value
 * is compact JSON already (sinks dump it with the same flags), so it is
 * copied as it is; anything else is a string or {"base64"}. */
static void sq_replay_emit(struct sq_replay *rp, const struct sq_msg *m, const struct sq_output *o)
{
    struct sq_buf *b = &rp->line_out;
    bool first = true, hfirst = true;
    sq_buf_reset(b);
    sq_buf_append(b, "{", 1);
    sq_replay_put_text(b, &first, "topic", o->topic);
    sq_replay_put_name(b, &first, "key");
    if (o->key)
        sq_replay_put_bytes(b, o->key, o->key_len);
    else
        sq_buf_append(b, "null", 4);
    sq_replay_put_name(b, &first, "headers");
    sq_buf_append(b, "{", 1);
    sq_replay_put_text(b, &hfirst, "sq-schema", o->schema);
    sq_replay_put_text(b, &hfirst, "sq-source", o->source ? o->source : m->source);
    if (o->error) {
        sq_replay_put_text(b, &hfirst, "sq-error", o->error);
        sq_replay_put_name(b, &hfirst, "sq-error-detail");
        sq_replay_put_bytes(b, o->error_detail ? o->error_detail : "",
                            o->error_detail ? strlen(o->error_detail) : 0);
    }
    sq_buf_append(b, "}", 1);
    sq_replay_put_name(b, &first, "value");
    if (!o->error && o->value && o->value_len && o->value[0] == '{')
        sq_buf_append(b, o->value, o->value_len);
    else if (!o->value)
        sq_buf_append(b, "null", 4);
    else if (o->error)
        sq_replay_put_bytes(b, o->value, o->value_len);
    else
        sq_replay_put_record(b, o->value, o->value_len);
    sq_buf_append(b, "}\n", 2);
    fwrite(b->data, 1, b->len, rp->out);
}

/* Runs one input line through the chain as its own batch (partition 0,
 * offset = line number) and applies its state changes. */
static int sq_replay_line(struct sq_replay *rp, const char *line, size_t len, uint64_t lineno,
                          struct sq_err *err)
{
    const char *topic = NULL, *key = NULL, *value = line;
    size_t key_len = 0, value_len = len;
    char *owned_value = NULL;
    json_t *parsed = NULL;
    json_error_t jerr;
    /* the line's tree in the replay's arena, let go at the end of the line */
    struct sq_json_arena *prev = sq_json_arena_use(rp->json_arena);
    json_t *j = sq_json_loadb(line, len, 0, &jerr);
    sq_json_arena_use(prev);
    json_t *jv;
    if (json_is_object(j) && json_is_string(json_object_get(j, "topic")) &&
        (jv = json_object_get(j, "value")) != NULL && !json_object_get(j, "event_id")) {
        /* an envelope */
        topic = json_string_value(json_object_get(j, "topic"));
        json_t *jk = json_object_get(j, "key");
        if (json_is_string(jk)) {
            key = json_string_value(jk);
            key_len = json_string_length(jk);
        }
        if (json_is_null(jv)) {
            value = NULL;
            value_len = 0;
        } else if (json_is_string(jv)) {
            value = json_string_value(jv);
            value_len = json_string_length(jv);
        } else {
            owned_value = sq_json_dumps(jv, JSON_COMPACT | JSON_REAL_PRECISION(17), &value_len);
            value = owned_value;
            /* parsing those bytes again gives jv: the dump is compact, its
             * keys unique, its reals exact at 17 digits */
            parsed = jv;
        }
    } else {
        const char *schema = json_is_object(j) ? json_string_value(json_object_get(j, "schema")) : NULL;
        topic = sq_replay_topic_for(&rp->st, schema);
        json_t *cid = json_is_object(j) ? json_object_get(j, "customer_id") : NULL;
        if (json_is_string(cid)) {
            key = json_string_value(cid);
            key_len = json_string_length(cid);
        }
    }
    struct sq_batch batch;
    memset(&batch, 0, sizeof batch);
    batch.topic = topic;
    batch.partition = 0;
    batch.store = sq_store_mem_base(rp->store);
    batch.json_arena = rp->json_arena;
    batch.n = 1;
    batch.msgs = sq_xcalloc(1, sizeof *batch.msgs);
    struct sq_msg *m = &batch.msgs[0];
    m->topic = topic;
    m->partition = 0;
    m->offset = (int64_t)lineno;
    m->key = key;
    m->key_len = key_len;
    m->value = value;
    m->value_len = value_len;
    m->value_parsed = parsed;
    m->default_schema = sq_replay_default_schema(&rp->st, topic);
    snprintf(m->source, sizeof m->source, "%s/0/%llu", topic, (unsigned long long)lineno);
    int rc = sq_chain_run(rp->chain, &batch, err);
    if (rc == SQ_OK) {
        size_t *dups = NULL, nd = 0;
        rc = sq_store_mem_apply(rp->store, &batch.ops, &dups, &nd, err);
        sq_batch_mark_duplicates(&batch, dups, nd);
        free(dups);
    }
    if (rc == SQ_OK) {
        for (size_t i = 0; i < m->outputs_n; i++)
            sq_replay_emit(rp, m, &m->outputs[i]);
        sq_chain_account(rp->chain, &batch, NULL);
    }
    sq_batch_fini(&batch);
    free(owned_value);
    json_decref(j);
    sq_json_arena_reset(rp->json_arena);
    return rc;
}

/* End of input: the timers due by the greatest event time fire (all of
 * them with --flush-timers), then every window closes (SPEC 15: timers
 * before windows); their breaches and KPI records are the last lines. */
static int sq_replay_end(struct sq_replay *rp, bool all, struct sq_err *err)
{
    struct sq_msg carrier;
    memset(&carrier, 0, sizeof carrier);
    int rc = sq_chain_flush_timers(rp->chain, sq_store_mem_base(rp->store), all, &carrier, err);
    if (rc == SQ_OK)
        rc = sq_chain_flush_windows(rp->chain, sq_store_mem_base(rp->store), &carrier, err);
    if (rc == SQ_OK && carrier.ops.argc) {
        size_t *dups = NULL, nd = 0;
        rc = sq_store_mem_apply(rp->store, &carrier.ops, &dups, &nd, err);
        free(dups);
    }
    if (rc == SQ_OK) {
        sq_timer_outputs_add(&carrier, &rp->st);
        sq_kpi_outputs_add(&carrier, &rp->st);
        for (size_t i = 0; i < carrier.outputs_n; i++)
            sq_replay_emit(rp, &carrier, &carrier.outputs[i]);
    }
    sq_msg_fini(&carrier);
    return rc;
}

static void sq_replay_summary(struct sq_replay *rp)
{
    const struct sq_chain_stats *cs = sq_chain_stats(rp->chain);
    fprintf(stderr, "replay: consumed %llu, processed %llu, duplicates %llu",
            (unsigned long long)cs->consumed, (unsigned long long)cs->processed,
            (unsigned long long)cs->duplicates);
    uint64_t dlq = 0;
    for (int r = 0; r < SQ_DLQ__COUNT; r++)
        dlq += cs->dlq[r];
    fprintf(stderr, ", dlq %llu", (unsigned long long)dlq);
    const char *sep = " (";
    for (int r = 1; r < SQ_DLQ__COUNT; r++) {
        if (!cs->dlq[r])
            continue;
        fprintf(stderr, "%s%s %llu", sep, sq_dlq_reason_name((enum sq_dlq_reason)r),
                (unsigned long long)cs->dlq[r]);
        sep = ", ";
    }
    fprintf(stderr, "%s\n", dlq ? ")" : "");
}

static void sq_replay_usage(FILE *f)
{
    fprintf(f, "usage: sqgate replay [-c FILE] [--flush-timers] IN.ndjson|- [-o OUT.ndjson]\n");
}

int sq_replay_main(int argc, char **argv)
{
    const char *cfg = NULL, *in_path = NULL, *out_path = NULL;
    bool flush_all = false;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            cfg = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else if (strcmp(argv[i], "--flush-timers") == 0)
            flush_all = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            sq_replay_usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "-") != 0) {
            fprintf(stderr, "sqgate replay: unknown option %s\n", argv[i]);
            sq_replay_usage(stderr);
            return 2;
        } else if (!in_path)
            in_path = argv[i];
        else {
            sq_replay_usage(stderr);
            return 2;
        }
    }
    if (!in_path) {
        sq_replay_usage(stderr);
        return 2;
    }
    struct sq_replay rp;
    memset(&rp, 0, sizeof rp);
    struct sq_config_errors errs = {0};
    if (sq_config_build(&rp.st, cfg, environ, &errs) != 0 || errs.n) {
        sq_config_errors_print(&errs, stderr);
        sq_config_errors_fini(&errs);
        sq_settings_free(&rp.st);
        return 1;
    }
    FILE *in = strcmp(in_path, "-") == 0 ? stdin : fopen(in_path, "r");
    if (!in) {
        fprintf(stderr, "sqgate replay: %s: %s\n", in_path, strerror(errno));
        sq_settings_free(&rp.st);
        return 2;
    }
    rp.out = out_path && strcmp(out_path, "-") != 0 ? fopen(out_path, "w") : stdout;
    if (!rp.out) {
        fprintf(stderr, "sqgate replay: %s: %s\n", out_path, strerror(errno));
        if (in != stdin)
            fclose(in);
        sq_settings_free(&rp.st);
        return 2;
    }
    struct sq_err err;
    sq_err_clear(&err);
    rp.st.replay_mode = true; /* windows close in process */
    rp.chain = sq_chain_new(&rp.st, &err);
    rp.store = sq_store_mem_new();
    rp.json_arena = sq_json_arena_new();
    int code = 0;
    if (!rp.chain) {
        fprintf(stderr, "sqgate replay: %s\n", err.msg);
        code = 2;
    }
    bool tty = isatty(2);
    int64_t last_progress = sq_mono_ms();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (code == 0 && (n = getline(&line, &cap, in)) != -1) {
        rp.lines++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue; /* blank lines are not messages */
        if (sq_replay_line(&rp, line, len, rp.lines, &err) != SQ_OK) {
            fprintf(stderr, "sqgate replay: line %llu: %s\n", (unsigned long long)rp.lines, err.msg);
            code = 2;
        }
        if (tty && sq_mono_ms() - last_progress >= 1000) {
            last_progress = sq_mono_ms();
            fprintf(stderr, "\rreplay: %llu lines", (unsigned long long)rp.lines);
        }
    }
    if (tty)
        fprintf(stderr, "\r");
    if (code == 0 && rp.chain && sq_replay_end(&rp, flush_all, &err) != SQ_OK) {
        fprintf(stderr, "sqgate replay: end of input: %s\n", err.msg);
        code = 2;
    }
    if (code == 0 && ferror(in)) {
        fprintf(stderr, "sqgate replay: reading %s: %s\n", in_path, strerror(errno));
        code = 2;
    }
    free(line);
    if (fflush(rp.out) != 0 || ferror(rp.out)) {
        fprintf(stderr, "sqgate replay: writing output: %s\n", strerror(errno));
        code = 2;
    }
    if (rp.chain)
        sq_replay_summary(&rp);
    if (rp.out != stdout)
        fclose(rp.out);
    if (in != stdin)
        fclose(in);
    sq_chain_free(rp.chain);
    sq_store_mem_free(rp.store);
    sq_json_arena_free(rp.json_arena);
    sq_settings_free(&rp.st);
    sq_buf_fini(&rp.line_out);
    return code;
}
