/* fuzz_decode.c: libFuzzer target for the decode processor. Beyond "no
 * crash", it checks what must hold for any input: one reason or an object,
 * SPEC 15's order under a smaller depth limit, agreement with a reference
 * UTF-8 decoder, and that an accepted event re-encodes to an accepted one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "decode.h"
#include "sq_utf8.h"

#define FUZZ_CHECK(cond)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "fuzz_decode: check failed: %s (line %d)\n", #cond,   \
                    __LINE__);                                                    \
            abort();                                                              \
        }                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Valid UTF-8 by decoding code points, a different route from sq_utf8.h. */
static int fuzz_ref_utf8(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t c = p[i], cp, min;
        size_t n;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (len - i < n)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n;
    }
    return 1;
}

/* A detail is printable UTF-8 text with no control bytes. */
static void fuzz_check_detail(const char *d)
{
    size_t n = strlen(d);
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(sq_utf8_invalid_at(d, n) == n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)d[i] >= 0x20 && d[i] != 0x7F);
}

static enum sq_dlq_reason fuzz_decode(const char *buf, size_t len, const struct sq_settings *st,
                                      json_t **out)
{
    char detail[512];
    enum sq_dlq_reason r = sq_decode_bytes(buf, len, st, out, detail, sizeof detail);
    if (r == SQ_DLQ_NONE) {
        FUZZ_CHECK(json_is_object(*out));
    } else {
        FUZZ_CHECK(*out == NULL);
        FUZZ_CHECK(r == SQ_DLQ_TOO_LARGE || r == SQ_DLQ_BAD_UTF8 || r == SQ_DLQ_TOO_DEEP ||
                   r == SQ_DLQ_MALFORMED_JSON || r == SQ_DLQ_NOT_OBJECT);
        fuzz_check_detail(detail);
    }
    return r;
}

/* Runs the processor on one message on a topic picked by the first byte. */
static void fuzz_process(const uint8_t *data, size_t size, const struct sq_settings *st)
{
    static const char *const defaults[] = {NULL, "contact.v1", "profile.v1"};
    struct sq_msg m;
    memset(&m, 0, sizeof m);
    m.topic = "fuzz";
    m.default_schema = defaults[size ? data[0] % 3 : 0];
    m.key = size > 1 && data[1] & 1 ? "C1" : NULL;
    m.key_len = m.key ? 2 : 0;
    m.value = size > 2 && data[2] == 'N' ? NULL : (const char *)data;
    m.value_len = m.value ? size : 0;

    void *ctx = NULL;
    struct sq_err err;
    sq_err_clear(&err);
    FUZZ_CHECK(sq_proc_decode.init(st, &ctx, &err) == SQ_OK);
    struct sq_batch b;
    memset(&b, 0, sizeof b);
    b.msgs = &m;
    b.n = 1;
    FUZZ_CHECK(sq_proc_decode.process(ctx, &b, &err) == SQ_OK);
    sq_proc_decode.destroy(ctx);

    if (m.verdict == SQ_VERDICT_PENDING) {
        FUZZ_CHECK(m.schema != NULL && sq_schema_lookup(m.schema) == m.schema);
        FUZZ_CHECK(m.event != NULL || strcmp(m.schema, "profile.v1") == 0);
    } else {
        FUZZ_CHECK(m.verdict == SQ_VERDICT_DLQ);
        FUZZ_CHECK(m.event == NULL && m.schema == NULL);
        FUZZ_CHECK(strncmp(m.detail, "\"\" ", 3) == 0 || strncmp(m.detail, "/schema ", 8) == 0);
        fuzz_check_detail(m.detail);
    }
    sq_msg_fini(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sq_settings st;
    memset(&st, 0, sizeof st);
    st.max_message_bytes = 65536;
    st.max_depth = 64;
    const char *buf = (const char *)data;

    json_t *ev;
    enum sq_dlq_reason r = fuzz_decode(buf, size, &st, &ev);
    if (size <= 65536 && !fuzz_ref_utf8(data, size))
        FUZZ_CHECK(r == SQ_DLQ_BAD_UTF8);
    if (r == SQ_DLQ_NONE || r == SQ_DLQ_NOT_OBJECT)
        FUZZ_CHECK(fuzz_ref_utf8(data, size));

    /* A smaller depth limit can only turn a later reason into too_deep. */
    struct sq_settings shallow = st;
    shallow.max_depth = 1 + (size ? data[size - 1] % 6 : 0);
    json_t *ev2;
    enum sq_dlq_reason r2 = fuzz_decode(buf, size, &shallow, &ev2);
    if (r == SQ_DLQ_TOO_LARGE || r == SQ_DLQ_BAD_UTF8 || r == SQ_DLQ_TOO_DEEP)
        FUZZ_CHECK(r2 == r);
    else
        FUZZ_CHECK(r2 == r || r2 == SQ_DLQ_TOO_DEEP);
    json_decref(ev2);

    /* An accepted event, written out again (ASCII only, so non-BMP
     * characters become surrogate pairs), is accepted and equal. */
    if (ev) {
        char *again = json_dumps(ev, JSON_ENSURE_ASCII | JSON_COMPACT);
        FUZZ_CHECK(again != NULL);
        struct sq_settings roomy = st;
        roomy.max_message_bytes = INT64_MAX;
        json_t *ev3;
        FUZZ_CHECK(fuzz_decode(again, strlen(again), &roomy, &ev3) == SQ_DLQ_NONE);
        FUZZ_CHECK(json_equal(ev, ev3));
        json_decref(ev3);
        free(again);
        json_decref(ev);
    }

    fuzz_process(data, size, &st);
    return 0;
}
