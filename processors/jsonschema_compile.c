/* jsonschema_compile.c: turns a schema document into the validator's
 * compiled form (jsonschema_int.h): every $ref resolved to a node once,
 * regexes compiled, keywords sorted into per-instance-type op lists, and
 * the vocabularies of the schema's dialect honoured ($schema, $vocabulary).
 * Work is a queue, not recursion, so $ref chains cost no stack. */
#include "jsonschema_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct jsv_node sq_jsv_node_true = {.kind = JSV_NODE_TRUE};
const struct jsv_node sq_jsv_node_false = {.kind = JSV_NODE_FALSE};

/* Vocabularies of draft 2020-12. */
enum {
    JSV_V_CORE = 1 << 0,
    JSV_V_APPLICATOR = 1 << 1,
    JSV_V_UNEVALUATED = 1 << 2,
    JSV_V_VALIDATION = 1 << 3,
    JSV_V_METADATA = 1 << 4,
    JSV_V_FORMAT_ANNOTATION = 1 << 5,
    JSV_V_CONTENT = 1 << 6,
    JSV_V_FORMAT_ASSERTION = 1 << 7,
    JSV_V_STANDARD = (1 << 7) - 1, /* the 2020-12 meta-schema's set */
};

static const struct {
    const char *uri;
    unsigned bit;
} jsv_vocabs[] = {
    {"https://json-schema.org/draft/2020-12/vocab/core", JSV_V_CORE},
    {"https://json-schema.org/draft/2020-12/vocab/applicator", JSV_V_APPLICATOR},
    {"https://json-schema.org/draft/2020-12/vocab/unevaluated", JSV_V_UNEVALUATED},
    {"https://json-schema.org/draft/2020-12/vocab/validation", JSV_V_VALIDATION},
    {"https://json-schema.org/draft/2020-12/vocab/meta-data", JSV_V_METADATA},
    {"https://json-schema.org/draft/2020-12/vocab/format-annotation", JSV_V_FORMAT_ANNOTATION},
    {"https://json-schema.org/draft/2020-12/vocab/content", JSV_V_CONTENT},
    {"https://json-schema.org/draft/2020-12/vocab/format-assertion", JSV_V_FORMAT_ASSERTION},
};

struct jsv_dialect {
    unsigned vocab;    /* vocabularies in use */
    unsigned required; /* of those, the ones declared true */
};

struct jsv_work {
    struct jsv_node *node;
    json_t *schema;
    const struct jsv_loc *loc;
};

struct jsv_cc { /* one compilation */
    struct sq_jsv_registry *reg;
    struct sq_jsv *v;
    const struct sq_jsv_opts *opts;
    struct sq_err *err;
    bool failed;
    struct jsv_doc **docs; /* local: the schema's document, files loaded */
    size_t ndocs;
    struct jsv_ptrmap memo; /* json_t * → struct jsv_node * */
    struct jsv_ptrmap ress; /* struct jsv_resource * → struct jsv_res * */
    struct sq_strmap names; /* $dynamicAnchor name → id + 1 */
    uint32_t nnames;
    struct sq_strmap dialects; /* $schema → struct jsv_dialect * */
    struct sq_strmap regexes;  /* pattern → struct jsv_regex * */
    struct jsv_work *work;
    size_t nwork, capwork;
};

/* ---- errors ---------------------------------------------------------- */

static void jsv_cc_fail(struct jsv_cc *cc, const struct jsv_loc *loc, const char *kw,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void jsv_cc_fail(struct jsv_cc *cc, const struct jsv_loc *loc, const char *kw,
                        const char *fmt, ...)
{
    if (cc->failed)
        return;
    cc->failed = true;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct sq_buf ptr;
    sq_buf_init(&ptr);
    sq_buf_append(&ptr, "", 0);
    if (loc)
        sq_buf_append(&ptr, loc->ptr, strlen(loc->ptr));
    if (kw) {
        sq_buf_append(&ptr, "/", 1);
        sq_jsv_ptr_escape(&ptr, kw, strlen(kw));
    }
    const char *doc = loc ? loc->res->doc->uri : JSV_DEFAULT_BASE;
    bool named = loc && loc->res->doc != cc->docs[0];
    sq_err_set(cc->err, SQ_ERR_DATA, ptr.data, "%s: %s%s%s%s", kw ? kw : "schema", msg,
               named ? " (in " : "", named ? doc : "", named ? ")" : "");
    sq_buf_fini(&ptr);
}

/* ---- lookups across the local documents and the registry -------------- */

static const struct jsv_target *jsv_cc_find(struct jsv_cc *cc, const char *uri)
{
    for (size_t i = 0; i < cc->ndocs; i++) {
        const struct jsv_target *t = sq_jsv_doc_target(cc->docs[i], uri);
        if (t)
            return t;
    }
    for (size_t i = 0; i < cc->reg->ndocs; i++) {
        const struct jsv_target *t = sq_jsv_doc_target(cc->reg->docs[i], uri);
        if (t)
            return t;
    }
    return NULL;
}

static void jsv_cc_add_doc(struct jsv_cc *cc, struct jsv_doc *d)
{
    cc->docs = sq_xrealloc(cc->docs, (cc->ndocs + 1) * sizeof *cc->docs);
    cc->docs[cc->ndocs++] = d;
}

/* The resource or anchor an absolute URI names, loading a mapped file when
 * nothing known defines it. NULL with the error set when not found. */
static const struct jsv_target *jsv_cc_find_load(struct jsv_cc *cc, const char *uri,
                                                 const struct jsv_loc *from, const char *kw)
{
    const struct jsv_target *t = jsv_cc_find(cc, uri);
    if (t)
        return t;
    struct sq_err lerr;
    sq_err_clear(&lerr);
    char *nf = sq_jsv_uri_strip_fragment(uri, NULL);
    struct jsv_doc *d = sq_jsv_registry_load(cc->reg, nf, &lerr);
    free(nf);
    if (d) {
        jsv_cc_add_doc(cc, d);
        t = jsv_cc_find(cc, uri);
        if (t)
            return t;
    }
    if (lerr.kind != SQ_OK)
        jsv_cc_fail(cc, from, kw, "cannot resolve \"%s\": %s", uri, lerr.msg);
    else
        jsv_cc_fail(cc, from, kw, "cannot resolve \"%s\"", uri);
    return NULL;
}

static const struct jsv_loc *jsv_cc_loc(struct jsv_cc *cc, const json_t *s)
{
    for (size_t i = 0; i < cc->ndocs; i++) {
        const struct jsv_loc *l = sq_jsv_doc_loc(cc->docs[i], s);
        if (l)
            return l;
    }
    for (size_t i = 0; i < cc->reg->ndocs; i++) {
        const struct jsv_loc *l = sq_jsv_doc_loc(cc->reg->docs[i], s);
        if (l)
            return l;
    }
    return NULL;
}

/* ---- nodes ----------------------------------------------------------- */

/* The node for schema s (compiled later, from the work queue). hint is the
 * place to assume when s was not indexed (a $ref into an unknown keyword). */
static const struct jsv_node *jsv_cc_node(struct jsv_cc *cc, json_t *s, const struct jsv_loc *hint)
{
    if (json_is_true(s))
        return &sq_jsv_node_true;
    if (json_is_false(s))
        return &sq_jsv_node_false;
    struct jsv_node *n = sq_jsv_ptrmap_get(&cc->memo, s);
    if (n)
        return n;
    const struct jsv_loc *loc = jsv_cc_loc(cc, s);
    if (!loc)
        loc = hint;
    if (!json_is_object(s)) {
        jsv_cc_fail(cc, loc, NULL, "not a schema (an object or a boolean is required)");
        return &sq_jsv_node_false;
    }
    n = sq_jsv_arena_alloc(&cc->v->arena, sizeof *n);
    n->kind = JSV_NODE_SCHEMA;
    sq_jsv_ptrmap_put(&cc->memo, s, n);
    if (cc->nwork == cc->capwork) {
        cc->capwork = cc->capwork ? cc->capwork * 2 : 64;
        cc->work = sq_xrealloc(cc->work, cc->capwork * sizeof *cc->work);
    }
    cc->work[cc->nwork++] = (struct jsv_work){n, s, loc};
    return n;
}

static uint32_t jsv_cc_intern(struct jsv_cc *cc, const char *name)
{
    uintptr_t id = (uintptr_t)sq_strmap_get(&cc->names, name);
    if (id)
        return (uint32_t)(id - 1);
    sq_strmap_put(&cc->names, name, (void *)(uintptr_t)(++cc->nnames));
    return cc->nnames - 1;
}

static const struct jsv_res *jsv_cc_res(struct jsv_cc *cc, struct jsv_resource *r)
{
    struct jsv_res *res = sq_jsv_ptrmap_get(&cc->ress, r);
    if (res)
        return res;
    res = sq_jsv_arena_alloc(&cc->v->arena, sizeof *res);
    res->uri = sq_jsv_arena_strdup(&cc->v->arena, r->uri);
    sq_jsv_ptrmap_put(&cc->ress, r, res);
    size_t n = 0;
    for (struct jsv_dynanchor *a = r->dyn; a; a = a->next)
        n++;
    res->ndyn = n;
    res->dyn_name = sq_jsv_arena_alloc(&cc->v->arena, (n ? n : 1) * sizeof *res->dyn_name);
    res->dyn_node = sq_jsv_arena_alloc(&cc->v->arena, (n ? n : 1) * sizeof *res->dyn_node);
    size_t i = 0;
    for (struct jsv_dynanchor *a = r->dyn; a; a = a->next, i++) {
        res->dyn_name[i] = jsv_cc_intern(cc, a->name);
        res->dyn_node[i] = jsv_cc_node(cc, a->schema, NULL);
    }
    return res;
}

static const struct jsv_dialect *jsv_cc_dialect(struct jsv_cc *cc, const char *uri,
                                                const struct jsv_loc *loc)
{
    static const struct jsv_dialect standard = {JSV_V_STANDARD, JSV_V_CORE};
    if (!uri)
        return &standard;
    char *nf = sq_jsv_uri_strip_fragment(uri, NULL);
    struct jsv_dialect *d = sq_strmap_get(&cc->dialects, nf);
    if (d) {
        free(nf);
        return d;
    }
    if (strcmp(nf, JSV_STD_DIALECT) == 0) {
        free(nf);
        return &standard;
    }
    if (strstr(nf, "json-schema.org/") && (strstr(nf, "draft-0") || strstr(nf, "draft/2019-09"))) {
        jsv_cc_fail(cc, loc, "$schema", "\"%s\" is an older draft: only draft 2020-12 is supported",
                    uri);
        free(nf);
        return &standard;
    }
    const struct jsv_target *t = jsv_cc_find_load(cc, nf, loc, "$schema");
    if (!t) {
        free(nf);
        return &standard;
    }
    d = sq_jsv_arena_alloc(&cc->v->arena, sizeof *d);
    d->vocab = JSV_V_CORE;
    d->required = JSV_V_CORE;
    json_t *vocab = json_is_object(t->schema) ? json_object_get(t->schema, "$vocabulary") : NULL;
    if (!vocab) {
        *d = standard;
    } else if (!json_is_object(vocab)) {
        jsv_cc_fail(cc, loc, "$schema", "the $vocabulary of \"%s\" is not an object", uri);
    } else {
        for (void *it = json_object_iter(vocab); it; it = json_object_iter_next(vocab, it)) {
            const char *vu = json_object_iter_key(it);
            json_t *req = json_object_iter_value(it);
            unsigned bit = 0;
            for (size_t k = 0; k < sizeof jsv_vocabs / sizeof jsv_vocabs[0]; k++)
                if (strcmp(jsv_vocabs[k].uri, vu) == 0)
                    bit = jsv_vocabs[k].bit;
            if (!json_is_boolean(req)) {
                jsv_cc_fail(cc, loc, "$schema", "$vocabulary of \"%s\": \"%s\" is not a boolean",
                            uri, vu);
                break;
            }
            if (!bit) {
                if (json_is_true(req)) {
                    jsv_cc_fail(cc, loc, "$schema",
                                "\"%s\" requires the vocabulary \"%s\", which is not implemented",
                                uri, vu);
                    break;
                }
                continue; /* an optional vocabulary we do not know: ignored */
            }
            d->vocab |= bit;
            if (json_is_true(req))
                d->required |= bit;
        }
    }
    sq_strmap_put(&cc->dialects, nf, d);
    free(nf);
    return d;
}

/* ---- keyword helpers --------------------------------------------------- */

static const char *jsv_cc_locstr(struct jsv_cc *cc, const char *kw, const char *key, size_t keylen,
                                 long index)
{
    struct sq_buf b;
    sq_buf_init(&b);
    sq_jsv_ptr_escape(&b, kw, strlen(kw));
    if (key) {
        sq_buf_append(&b, "/", 1);
        sq_jsv_ptr_escape(&b, key, keylen);
    } else if (index >= 0) {
        sq_buf_appendf(&b, "/%ld", index);
    }
    const char *s = sq_jsv_arena_strndup(&cc->v->arena, b.data, b.len);
    sq_buf_fini(&b);
    return s;
}

/* A non-negative integer keyword value (2.0 counts). */
static bool jsv_cc_count(struct jsv_cc *cc, const struct jsv_loc *loc, const char *kw,
                         const json_t *v, size_t *out)
{
    if (sq_jsv_is_integer(v)) {
        struct jsv_num n;
        sq_jsv_num_of(v, &n);
        if (n.is_int ? n.i >= 0 : n.d >= 0) {
            double d = n.is_int ? (double)n.i : n.d;
            *out = d >= 1.8e19 ? SIZE_MAX : n.is_int ? (size_t)n.i : (size_t)d;
            return true;
        }
    }
    jsv_cc_fail(cc, loc, kw, "must be a non-negative integer");
    return false;
}

static const json_t *jsv_cc_keep(struct jsv_cc *cc, const json_t *value)
{
    struct sq_jsv *v = cc->v;
    if (v->nvalues == v->capvalues) {
        v->capvalues = v->capvalues ? v->capvalues * 2 : 16;
        v->values = sq_xrealloc(v->values, v->capvalues * sizeof *v->values);
    }
    json_t *copy = json_deep_copy(value);
    if (!copy) {
        fprintf(stderr, "sqgate: out of memory (json_deep_copy)\n");
        abort();
    }
    v->values[v->nvalues++] = copy;
    return copy;
}

static const struct jsv_regex *jsv_cc_regex(struct jsv_cc *cc, const struct jsv_loc *loc,
                                            const char *kw, const char *pattern, size_t len)
{
    if (memchr(pattern, '\0', len)) {
        jsv_cc_fail(cc, loc, kw, "invalid regular expression: contains NUL");
        return NULL;
    }
    struct jsv_regex *re = sq_strmap_get(&cc->regexes, pattern);
    if (re)
        return re;
    char msg[200];
    re = sq_jsv_regex_new(pattern, len, msg, sizeof msg);
    if (!re) {
        jsv_cc_fail(cc, loc, kw, "invalid regular expression \"%s\": %s", pattern, msg);
        return NULL;
    }
    struct sq_jsv *v = cc->v;
    if (v->nregexes == v->capregexes) {
        v->capregexes = v->capregexes ? v->capregexes * 2 : 8;
        v->regexes = sq_xrealloc(v->regexes, v->capregexes * sizeof *v->regexes);
    }
    v->regexes[v->nregexes++] = re;
    sq_strmap_put(&cc->regexes, pattern, re);
    return re;
}

/* The node of a subschema keyword value. */
static const struct jsv_node *jsv_cc_sub(struct jsv_cc *cc, const struct jsv_loc *loc,
                                         const char *kw, json_t *s)
{
    if (!json_is_object(s) && !json_is_boolean(s)) {
        jsv_cc_fail(cc, loc, kw, "must be a schema (an object or a boolean)");
        return &sq_jsv_node_false;
    }
    return jsv_cc_node(cc, s, loc);
}

/* Resolves a $ref / $dynamicRef value against the schema's base URI. */
static const struct jsv_node *jsv_cc_ref(struct jsv_cc *cc, const struct jsv_loc *loc,
                                         const char *kw, const char *ref, bool *dynamic,
                                         const char **anchor)
{
    char *abs = sq_jsv_uri_resolve(loc->res->uri, ref);
    const char *frag;
    char *nf = sq_jsv_uri_strip_fragment(abs, &frag);
    const struct jsv_node *node = NULL;
    char *decoded = frag ? sq_jsv_uri_pct_decode(frag) : NULL;
    *dynamic = false;
    *anchor = NULL;
    const struct jsv_target *t = NULL;
    if (frag && !decoded) {
        jsv_cc_fail(cc, loc, kw, "malformed percent-encoding in \"%s\"", ref);
        goto out;
    }
    t = jsv_cc_find_load(cc, nf, loc, kw);
    if (!t)
        goto out;
    if (!decoded || !*decoded) {
        node = jsv_cc_node(cc, t->schema, jsv_cc_loc(cc, t->schema));
    } else if (decoded[0] == '/') {
        /* JSON pointer from the resource root */
        json_t *cur = t->schema;
        const struct jsv_loc *near = jsv_cc_loc(cc, cur);
        const char *p = decoded;
        while (*p == '/') {
            p++;
            const char *end = strchr(p, '/');
            size_t tl = end ? (size_t)(end - p) : strlen(p);
            char *tok = sq_xmalloc(tl + 1);
            size_t o = 0;
            bool bad = false;
            for (size_t i = 0; i < tl; i++) {
                if (p[i] == '~') {
                    if (i + 1 < tl && (p[i + 1] == '0' || p[i + 1] == '1')) {
                        tok[o++] = p[i + 1] == '0' ? '~' : '/';
                        i++;
                    } else {
                        bad = true;
                    }
                } else {
                    tok[o++] = p[i];
                }
            }
            tok[o] = '\0';
            json_t *next = NULL;
            if (!bad && json_is_object(cur)) {
                next = json_object_getn(cur, tok, o);
            } else if (!bad && json_is_array(cur) && o > 0 && o < 10 &&
                       strspn(tok, "0123456789") == o && (tok[0] != '0' || o == 1)) {
                next = json_array_get(cur, strtoul(tok, NULL, 10));
            }
            free(tok);
            if (!next) {
                jsv_cc_fail(cc, loc, kw, "cannot resolve \"%s\": no such location", abs);
                goto out;
            }
            cur = next;
            const struct jsv_loc *l = jsv_cc_loc(cc, cur);
            if (l)
                near = l;
            p += tl;
        }
        node = jsv_cc_node(cc, cur, near);
    } else {
        char *key = sq_xasprintf("%s#%s", t->res->uri, decoded);
        const struct jsv_target *a = sq_jsv_doc_target(t->res->doc, key);
        free(key);
        if (!a) {
            jsv_cc_fail(cc, loc, kw, "cannot resolve \"%s\": no anchor \"%s\"", abs, decoded);
            goto out;
        }
        node = jsv_cc_node(cc, a->schema, jsv_cc_loc(cc, a->schema));
        *dynamic = a->dynamic;
        *anchor = sq_jsv_arena_strdup(&cc->v->arena, decoded);
    }
out:
    free(decoded);
    free(nf);
    free(abs);
    return node ? node : &sq_jsv_node_false;
}

static const struct {
    const char *name;
    unsigned bit;
} jsv_type_names[] = {
    {"null", JSV_T_NULL},       {"boolean", JSV_T_BOOLEAN}, {"object", JSV_T_OBJECT},
    {"array", JSV_T_ARRAY},     {"number", JSV_T_NUMBER},   {"string", JSV_T_STRING},
    {"integer", JSV_T_INTEGER},
};

static bool jsv_cc_type_name(const json_t *v, unsigned *bit)
{
    if (!json_is_string(v))
        return false;
    for (size_t k = 0; k < sizeof jsv_type_names / sizeof jsv_type_names[0]; k++)
        if (strcmp(jsv_type_names[k].name, json_string_value(v)) == 0) {
            *bit = jsv_type_names[k].bit;
            return true;
        }
    return false;
}

/* ---- one schema object ------------------------------------------------ */

#define JSV_LIST_MAX 12

struct jsv_lists {
    struct jsv_kw any[JSV_LIST_MAX], num[JSV_LIST_MAX], str[JSV_LIST_MAX], arr[JSV_LIST_MAX],
        obj[JSV_LIST_MAX], inplace[JSV_LIST_MAX];
    size_t nany, nnum, nstr, narr, nobj, ninplace;
};

static struct jsv_kw *jsv_push(struct jsv_kw *list, size_t *n, enum jsv_op op, const char *loc)
{
    struct jsv_kw *kw = &list[(*n)++];
    memset(kw, 0, sizeof *kw);
    kw->op = (uint8_t)op;
    kw->loc = loc;
    return kw;
}

static void jsv_cc_list(struct jsv_cc *cc, struct jsv_kwlist *out, const struct jsv_kw *kw,
                        size_t n)
{
    out->n = n;
    if (!n)
        return;
    struct jsv_kw *a = sq_jsv_arena_alloc(&cc->v->arena, n * sizeof *a);
    memcpy(a, kw, n * sizeof *a);
    out->kw = a;
}

static uint64_t jsv_name_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void jsv_cc_validation(struct jsv_cc *cc, json_t *s, const struct jsv_loc *loc,
                              struct jsv_lists *L)
{
    json_t *v;
    if ((v = json_object_get(s, "type"))) {
        unsigned mask = 0, bit;
        if (json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v); i++) {
                if (!jsv_cc_type_name(json_array_get(v, i), &bit) || (mask & bit)) {
                    jsv_cc_fail(cc, loc, "type",
                                "must be a type name or an array of unique type names");
                    return;
                }
                mask |= bit;
            }
        } else if (jsv_cc_type_name(v, &bit)) {
            mask = bit;
        } else {
            jsv_cc_fail(cc, loc, "type", "must be a type name or an array of unique type names");
            return;
        }
        if (mask & JSV_T_NUMBER)
            mask |= JSV_T_INTEGER;
        jsv_push(L->any, &L->nany, JSV_OP_TYPE, "type")->u.types = mask;
    }
    if ((v = json_object_get(s, "const")))
        jsv_push(L->any, &L->nany, JSV_OP_CONST, "const")->u.value = jsv_cc_keep(cc, v);
    if ((v = json_object_get(s, "enum"))) {
        if (!json_is_array(v)) {
            jsv_cc_fail(cc, loc, "enum", "must be an array");
            return;
        }
        struct jsv_kw *kw = jsv_push(L->any, &L->nany, JSV_OP_ENUM, "enum");
        kw->u.en.n = json_array_size(v);
        kw->u.en.v = sq_jsv_arena_alloc(&cc->v->arena, (kw->u.en.n + 1) * sizeof *kw->u.en.v);
        for (size_t i = 0; i < kw->u.en.n; i++)
            kw->u.en.v[i] = jsv_cc_keep(cc, json_array_get(v, i));
    }
    if ((v = json_object_get(s, "multipleOf"))) {
        struct jsv_num n;
        if (!json_is_number(v) || (sq_jsv_num_of(v, &n), n.is_int ? n.i <= 0 : !(n.d > 0))) {
            jsv_cc_fail(cc, loc, "multipleOf", "must be a number greater than 0");
            return;
        }
        struct jsv_kw *kw = jsv_push(L->num, &L->nnum, JSV_OP_MULTIPLE_OF, "multipleOf");
        kw->u.mult.num = n;
        sq_jsv_dec_of(&n, &kw->u.mult.dec);
    }
    static const struct {
        const char *name;
        enum jsv_op op;
    } limits[] = {
        {"maximum", JSV_OP_MAXIMUM},
        {"exclusiveMaximum", JSV_OP_EXCL_MAXIMUM},
        {"minimum", JSV_OP_MINIMUM},
        {"exclusiveMinimum", JSV_OP_EXCL_MINIMUM},
    };
    for (size_t k = 0; k < 4; k++) {
        if (!(v = json_object_get(s, limits[k].name)))
            continue;
        if (!json_is_number(v)) {
            jsv_cc_fail(cc, loc, limits[k].name, "must be a number");
            return;
        }
        sq_jsv_num_of(v, &jsv_push(L->num, &L->nnum, limits[k].op, limits[k].name)->u.num);
    }
    static const struct {
        const char *name;
        enum jsv_op op;
        int list; /* 0 str, 1 arr, 2 obj */
    } counts[] = {
        {"maxLength", JSV_OP_MAX_LENGTH, 0},         {"minLength", JSV_OP_MIN_LENGTH, 0},
        {"maxItems", JSV_OP_MAX_ITEMS, 1},           {"minItems", JSV_OP_MIN_ITEMS, 1},
        {"maxProperties", JSV_OP_MAX_PROPERTIES, 2}, {"minProperties", JSV_OP_MIN_PROPERTIES, 2},
    };
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        size_t c;
        if (!(v = json_object_get(s, counts[k].name)))
            continue;
        if (!jsv_cc_count(cc, loc, counts[k].name, v, &c))
            return;
        struct jsv_kw *kw =
            counts[k].list == 0   ? jsv_push(L->str, &L->nstr, counts[k].op, counts[k].name)
            : counts[k].list == 1 ? jsv_push(L->arr, &L->narr, counts[k].op, counts[k].name)
                                  : jsv_push(L->obj, &L->nobj, counts[k].op, counts[k].name);
        kw->u.count = c;
    }
    if ((v = json_object_get(s, "pattern"))) {
        if (!json_is_string(v)) {
            jsv_cc_fail(cc, loc, "pattern", "must be a string");
            return;
        }
        const struct jsv_regex *re =
            jsv_cc_regex(cc, loc, "pattern", json_string_value(v), json_string_length(v));
        if (!re)
            return;
        jsv_push(L->str, &L->nstr, JSV_OP_PATTERN, "pattern")->u.re = re;
    }
    if ((v = json_object_get(s, "uniqueItems"))) {
        if (!json_is_boolean(v)) {
            jsv_cc_fail(cc, loc, "uniqueItems", "must be a boolean");
            return;
        }
        if (json_is_true(v))
            jsv_push(L->arr, &L->narr, JSV_OP_UNIQUE_ITEMS, "uniqueItems");
    }
    if ((v = json_object_get(s, "required"))) {
        if (!json_is_array(v)) {
            jsv_cc_fail(cc, loc, "required", "must be an array of strings");
            return;
        }
        struct jsv_kw *kw = jsv_push(L->obj, &L->nobj, JSV_OP_REQUIRED, "required");
        size_t n = json_array_size(v);
        kw->u.req.n = n;
        kw->u.req.names = sq_jsv_arena_alloc(&cc->v->arena, (n + 1) * sizeof *kw->u.req.names);
        kw->u.req.lens = sq_jsv_arena_alloc(&cc->v->arena, (n + 1) * sizeof *kw->u.req.lens);
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_string(e)) {
                jsv_cc_fail(cc, loc, "required", "must be an array of strings");
                return;
            }
            kw->u.req.names[i] =
                sq_jsv_arena_strndup(&cc->v->arena, json_string_value(e), json_string_length(e));
            kw->u.req.lens[i] = json_string_length(e);
        }
    }
    if ((v = json_object_get(s, "dependentRequired"))) {
        if (!json_is_object(v)) {
            jsv_cc_fail(cc, loc, "dependentRequired", "must be an object of string arrays");
            return;
        }
        struct jsv_kw *kw =
            jsv_push(L->obj, &L->nobj, JSV_OP_DEPENDENT_REQUIRED, "dependentRequired");
        size_t n = json_object_size(v), i = 0;
        kw->u.dep.n = n;
        kw->u.dep.deps = sq_jsv_arena_alloc(&cc->v->arena, (n + 1) * sizeof *kw->u.dep.deps);
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it), i++) {
            struct jsv_dep *d = &kw->u.dep.deps[i];
            json_t *a = json_object_iter_value(it);
            d->len = json_object_iter_key_len(it);
            d->name = sq_jsv_arena_strndup(&cc->v->arena, json_object_iter_key(it), d->len);
            d->loc = jsv_cc_locstr(cc, "dependentRequired", d->name, d->len, -1);
            if (!json_is_array(a)) {
                jsv_cc_fail(cc, loc, "dependentRequired", "must be an object of string arrays");
                return;
            }
            d->nreq = json_array_size(a);
            d->req = sq_jsv_arena_alloc(&cc->v->arena, (d->nreq + 1) * sizeof *d->req);
            d->req_len = sq_jsv_arena_alloc(&cc->v->arena, (d->nreq + 1) * sizeof *d->req_len);
            for (size_t j = 0; j < d->nreq; j++) {
                json_t *e = json_array_get(a, j);
                if (!json_is_string(e)) {
                    jsv_cc_fail(cc, loc, "dependentRequired", "must be an object of string arrays");
                    return;
                }
                d->req[j] = sq_jsv_arena_strndup(&cc->v->arena, json_string_value(e),
                                                 json_string_length(e));
                d->req_len[j] = json_string_length(e);
            }
        }
    }
}

static void jsv_cc_format(struct jsv_cc *cc, json_t *s, const struct jsv_loc *loc,
                          const struct jsv_dialect *dia, struct jsv_lists *L)
{
    json_t *v = json_object_get(s, "format");
    if (!v || !(dia->vocab & (JSV_V_FORMAT_ANNOTATION | JSV_V_FORMAT_ASSERTION)))
        return;
    if (!json_is_string(v)) {
        jsv_cc_fail(cc, loc, "format", "must be a string");
        return;
    }
    bool assert = (dia->vocab & JSV_V_FORMAT_ASSERTION) || cc->opts->assert_format;
    if (!assert)
        return;
    enum jsv_format f = sq_jsv_format_lookup(json_string_value(v));
    if (f == JSV_FMT_UNKNOWN) {
        if ((dia->required & JSV_V_FORMAT_ASSERTION) &&
            sq_jsv_format_is_standard(json_string_value(v)))
            jsv_cc_fail(
                cc, loc, "format",
                "format \"%s\" is not implemented (the format-assertion vocabulary requires it)",
                json_string_value(v));
        return;
    }
    jsv_push(L->str, &L->nstr, JSV_OP_FORMAT, "format")->u.fmt = f;
}

static const struct jsv_node **jsv_cc_schema_array(struct jsv_cc *cc, const struct jsv_loc *loc,
                                                   const char *kw, json_t *a, const char ***locs,
                                                   size_t *n, bool nonempty)
{
    if (!json_is_array(a) || (nonempty && json_array_size(a) == 0)) {
        jsv_cc_fail(cc, loc, kw, "must be a%s array of schemas", nonempty ? " non-empty" : "n");
        return NULL;
    }
    *n = json_array_size(a);
    const struct jsv_node **nodes = sq_jsv_arena_alloc(&cc->v->arena, (*n + 1) * sizeof *nodes);
    *locs = sq_jsv_arena_alloc(&cc->v->arena, (*n + 1) * sizeof **locs);
    for (size_t i = 0; i < *n; i++) {
        nodes[i] = jsv_cc_sub(cc, loc, kw, json_array_get(a, i));
        (*locs)[i] = jsv_cc_locstr(cc, kw, NULL, 0, (long)i);
    }
    return nodes;
}

static void jsv_cc_properties(struct jsv_cc *cc, json_t *s, const struct jsv_loc *loc,
                              struct jsv_lists *L)
{
    json_t *props = json_object_get(s, "properties");
    json_t *pats = json_object_get(s, "patternProperties");
    json_t *add = json_object_get(s, "additionalProperties");
    if (!props && !pats && !add)
        return;
    if ((props && !json_is_object(props)) || (pats && !json_is_object(pats))) {
        jsv_cc_fail(cc, loc, props && !json_is_object(props) ? "properties" : "patternProperties",
                    "must be an object of schemas");
        return;
    }
    struct jsv_kw *kw = jsv_push(L->obj, &L->nobj, JSV_OP_PROPERTIES, "properties");
    struct jsv_arena *A = &cc->v->arena;
    if (props && json_object_size(props)) {
        size_t n = json_object_size(props), i = 0;
        kw->u.props.nprops = n;
        kw->u.props.props = sq_jsv_arena_alloc(A, n * sizeof *kw->u.props.props);
        uint32_t cap = 4;
        while (cap < 2 * n)
            cap *= 2;
        kw->u.props.mask = cap - 1;
        kw->u.props.table = sq_jsv_arena_alloc(A, cap * sizeof *kw->u.props.table);
        for (void *it = json_object_iter(props); it; it = json_object_iter_next(props, it), i++) {
            struct jsv_prop *p = &kw->u.props.props[i];
            p->len = json_object_iter_key_len(it);
            p->name = sq_jsv_arena_strndup(A, json_object_iter_key(it), p->len);
            p->loc = jsv_cc_locstr(cc, "properties", p->name, p->len, -1);
            p->node = jsv_cc_sub(cc, loc, "properties", json_object_iter_value(it));
            uint32_t h = (uint32_t)jsv_name_hash(p->name, p->len) & kw->u.props.mask;
            while (kw->u.props.table[h])
                h = (h + 1) & kw->u.props.mask;
            kw->u.props.table[h] = (uint32_t)i + 1;
        }
    }
    if (pats && json_object_size(pats)) {
        size_t n = json_object_size(pats), i = 0;
        kw->u.props.npats = n;
        kw->u.props.pats = sq_jsv_arena_alloc(A, n * sizeof *kw->u.props.pats);
        for (void *it = json_object_iter(pats); it; it = json_object_iter_next(pats, it), i++) {
            struct jsv_pattern_prop *p = &kw->u.props.pats[i];
            const char *key = json_object_iter_key(it);
            size_t klen = json_object_iter_key_len(it);
            p->re = jsv_cc_regex(cc, loc, "patternProperties", key, klen);
            if (!p->re)
                return;
            p->loc = jsv_cc_locstr(cc, "patternProperties", key, klen, -1);
            p->node = jsv_cc_sub(cc, loc, "patternProperties", json_object_iter_value(it));
        }
    }
    if (add)
        kw->u.props.additional = jsv_cc_sub(cc, loc, "additionalProperties", add);
}

static void jsv_cc_applicator(struct jsv_cc *cc, json_t *s, const struct jsv_loc *loc,
                              const struct jsv_dialect *dia, struct jsv_lists *L)
{
    json_t *v;
    static const struct {
        const char *name;
        enum jsv_op op;
    } lists[] = {{"allOf", JSV_OP_ALL_OF}, {"anyOf", JSV_OP_ANY_OF}, {"oneOf", JSV_OP_ONE_OF}};
    for (size_t k = 0; k < 3; k++) {
        if (!(v = json_object_get(s, lists[k].name)))
            continue;
        struct jsv_kw *kw = jsv_push(L->inplace, &L->ninplace, lists[k].op, lists[k].name);
        kw->u.list.nodes =
            jsv_cc_schema_array(cc, loc, lists[k].name, v, &kw->u.list.locs, &kw->u.list.n, true);
        if (!kw->u.list.nodes)
            return;
    }
    if ((v = json_object_get(s, "not")))
        jsv_push(L->inplace, &L->ninplace, JSV_OP_NOT, "not")->u.node =
            jsv_cc_sub(cc, loc, "not", v);
    if ((v = json_object_get(s, "if"))) {
        struct jsv_kw *kw = jsv_push(L->inplace, &L->ninplace, JSV_OP_IF, "if");
        kw->u.cond.if_ = jsv_cc_sub(cc, loc, "if", v);
        json_t *t = json_object_get(s, "then"), *e = json_object_get(s, "else");
        kw->u.cond.then_ = t ? jsv_cc_sub(cc, loc, "then", t) : NULL;
        kw->u.cond.else_ = e ? jsv_cc_sub(cc, loc, "else", e) : NULL;
    }
    if ((v = json_object_get(s, "dependentSchemas"))) {
        if (!json_is_object(v)) {
            jsv_cc_fail(cc, loc, "dependentSchemas", "must be an object of schemas");
            return;
        }
        struct jsv_kw *kw =
            jsv_push(L->obj, &L->nobj, JSV_OP_DEPENDENT_SCHEMAS, "dependentSchemas");
        size_t n = json_object_size(v), i = 0;
        kw->u.dep.n = n;
        kw->u.dep.deps = sq_jsv_arena_alloc(&cc->v->arena, (n + 1) * sizeof *kw->u.dep.deps);
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it), i++) {
            struct jsv_dep *d = &kw->u.dep.deps[i];
            d->len = json_object_iter_key_len(it);
            d->name = sq_jsv_arena_strndup(&cc->v->arena, json_object_iter_key(it), d->len);
            d->loc = jsv_cc_locstr(cc, "dependentSchemas", d->name, d->len, -1);
            d->node = jsv_cc_sub(cc, loc, "dependentSchemas", json_object_iter_value(it));
        }
    }
    jsv_cc_properties(cc, s, loc, L);
    if ((v = json_object_get(s, "propertyNames")))
        jsv_push(L->obj, &L->nobj, JSV_OP_PROPERTY_NAMES, "propertyNames")->u.node =
            jsv_cc_sub(cc, loc, "propertyNames", v);
    json_t *prefix = json_object_get(s, "prefixItems"), *items = json_object_get(s, "items");
    if (prefix || items) {
        struct jsv_kw *kw = jsv_push(L->arr, &L->narr, JSV_OP_ITEMS, "items");
        if (prefix) {
            kw->u.items.prefix =
                jsv_cc_schema_array(cc, loc, "prefixItems", prefix, &kw->u.items.prefix_locs,
                                    &kw->u.items.nprefix, true);
            if (!kw->u.items.prefix)
                return;
        }
        if (items)
            kw->u.items.items = jsv_cc_sub(cc, loc, "items", items);
    }
    if ((v = json_object_get(s, "contains"))) {
        struct jsv_kw *kw = jsv_push(L->arr, &L->narr, JSV_OP_CONTAINS, "contains");
        kw->u.contains.node = jsv_cc_sub(cc, loc, "contains", v);
        kw->u.contains.min = 1;
        kw->u.contains.min_loc = "contains";
        json_t *mn = json_object_get(s, "minContains"), *mx = json_object_get(s, "maxContains");
        if (dia->vocab & JSV_V_VALIDATION) {
            if (mn) {
                if (!jsv_cc_count(cc, loc, "minContains", mn, &kw->u.contains.min))
                    return;
                kw->u.contains.min_loc = "minContains";
            }
            if (mx) {
                if (!jsv_cc_count(cc, loc, "maxContains", mx, &kw->u.contains.max))
                    return;
                kw->u.contains.has_max = true;
                kw->u.contains.max_loc = "maxContains";
            }
        }
    }
}

static void jsv_cc_body(struct jsv_cc *cc, struct jsv_node *n, json_t *s, const struct jsv_loc *loc)
{
    n->res = jsv_cc_res(cc, loc->res);
    const struct jsv_dialect *dia = jsv_cc_dialect(cc, loc->res->dialect, loc);
    if (cc->failed)
        return;
    struct jsv_lists *L = sq_xmalloc(sizeof *L);
    L->nany = L->nnum = L->nstr = L->narr = L->nobj = L->ninplace = 0;
    json_t *v;
    /* core */
    if ((v = json_object_get(s, "$ref"))) {
        if (!json_is_string(v)) {
            jsv_cc_fail(cc, loc, "$ref", "must be a string");
        } else {
            bool dyn;
            const char *anchor;
            jsv_push(L->inplace, &L->ninplace, JSV_OP_REF, "$ref")->u.node =
                jsv_cc_ref(cc, loc, "$ref", json_string_value(v), &dyn, &anchor);
        }
    }
    if ((v = json_object_get(s, "$dynamicRef"))) {
        if (!json_is_string(v)) {
            jsv_cc_fail(cc, loc, "$dynamicRef", "must be a string");
        } else {
            bool dyn;
            const char *anchor;
            struct jsv_kw *kw =
                jsv_push(L->inplace, &L->ninplace, JSV_OP_DYNAMIC_REF, "$dynamicRef");
            kw->u.dref.node =
                jsv_cc_ref(cc, loc, "$dynamicRef", json_string_value(v), &dyn, &anchor);
            if (dyn) {
                kw->u.dref.dynamic = true;
                kw->u.dref.name = jsv_cc_intern(cc, anchor);
                cc->v->dynamic = true;
            }
        }
    }
    if ((v = json_object_get(s, "$vocabulary")) && !json_is_object(v))
        jsv_cc_fail(cc, loc, "$vocabulary", "must be an object");
    if ((v = json_object_get(s, "$comment")) && !json_is_string(v))
        jsv_cc_fail(cc, loc, "$comment", "must be a string");
    if (!cc->failed && (dia->vocab & JSV_V_VALIDATION))
        jsv_cc_validation(cc, s, loc, L);
    if (!cc->failed)
        jsv_cc_format(cc, s, loc, dia, L);
    if (!cc->failed && (dia->vocab & JSV_V_APPLICATOR))
        jsv_cc_applicator(cc, s, loc, dia, L);
    if (!cc->failed && (dia->vocab & JSV_V_UNEVALUATED)) {
        if ((v = json_object_get(s, "unevaluatedProperties")))
            n->uneval_props = jsv_cc_sub(cc, loc, "unevaluatedProperties", v);
        if ((v = json_object_get(s, "unevaluatedItems")))
            n->uneval_items = jsv_cc_sub(cc, loc, "unevaluatedItems", v);
    }
    /* meta-data and content keywords are annotations: nothing to check */
    jsv_cc_list(cc, &n->any, L->any, L->nany);
    jsv_cc_list(cc, &n->num, L->num, L->nnum);
    jsv_cc_list(cc, &n->str, L->str, L->nstr);
    jsv_cc_list(cc, &n->arr, L->arr, L->narr);
    jsv_cc_list(cc, &n->obj, L->obj, L->nobj);
    jsv_cc_list(cc, &n->inplace, L->inplace, L->ninplace);
    free(L);
}

static void jsv_cc_fini(struct jsv_cc *cc)
{
    for (size_t i = 0; i < cc->ndocs; i++)
        sq_jsv_doc_free(cc->docs[i]);
    free(cc->docs);
    sq_jsv_ptrmap_fini(&cc->memo);
    sq_jsv_ptrmap_fini(&cc->ress);
    sq_strmap_fini(&cc->names);
    sq_strmap_fini(&cc->dialects);
    sq_strmap_fini(&cc->regexes);
    free(cc->work);
}

struct sq_jsv *sq_jsv_compile(struct sq_jsv_registry *reg, json_t *schema, const char *base_uri,
                              const struct sq_jsv_opts *opts, struct sq_err *err)
{
    static const struct sq_jsv_opts no_opts = {.assert_format = false};
    if (err)
        sq_err_clear(err);
    if (!reg || !schema || (!json_is_object(schema) && !json_is_boolean(schema))) {
        sq_err_set(err, SQ_ERR_DATA, "", "not a schema (an object or a boolean is required)");
        return NULL;
    }
    char *base = sq_jsv_uri_strip_fragment(base_uri ? base_uri : JSV_DEFAULT_BASE, NULL);
    if (!sq_jsv_uri_has_scheme(base)) {
        sq_err_set(err, SQ_ERR_DATA, "", "base URI \"%s\" is not absolute", base_uri);
        free(base);
        return NULL;
    }
    struct jsv_doc *doc = sq_jsv_doc_new(schema, base, err);
    free(base);
    if (!doc)
        return NULL;
    if (sq_jsv_registry_meta_check(reg, doc, err) != SQ_OK) {
        sq_jsv_doc_free(doc);
        return NULL;
    }
    struct sq_jsv *v = sq_xcalloc(1, sizeof *v);
    v->schema = json_incref(schema);
    struct jsv_cc cc = {.reg = reg, .v = v, .opts = opts ? opts : &no_opts, .err = err};
    sq_jsv_ptrmap_init(&cc.memo);
    sq_jsv_ptrmap_init(&cc.ress);
    sq_strmap_init(&cc.names);
    sq_strmap_init(&cc.dialects);
    sq_strmap_init(&cc.regexes);
    jsv_cc_add_doc(&cc, doc);
    v->root = jsv_cc_node(&cc, schema, jsv_cc_loc(&cc, schema));
    /* Breadth-first over the queue: each node's keywords queue their subschemas. */
    for (size_t i = 0; i < cc.nwork && !cc.failed; i++) {
        struct jsv_work w = cc.work[i];
        jsv_cc_body(&cc, w.node, w.schema, w.loc);
    }
    jsv_cc_fini(&cc);
    if (cc.failed) {
        sq_jsv_free(v);
        return NULL;
    }
    return v;
}

void sq_jsv_free(struct sq_jsv *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->nvalues; i++)
        json_decref(v->values[i]);
    free(v->values);
    for (size_t i = 0; i < v->nregexes; i++)
        sq_jsv_regex_free(v->regexes[i]);
    free(v->regexes);
    json_decref(v->schema);
    sq_jsv_arena_fini(&v->arena);
    free(v);
}
