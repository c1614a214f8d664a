/* jsonschema_validate.c: validates a jansson value against a compiled schema.
 * Keywords run from per-type op lists; applicators stop at the first failure;
 * evaluated properties/items are tracked only under unevaluated*. The first
 * error's instance pointer, keyword location (the path through $ref) and
 * message are built while the recursion unwinds. */
#include "jsonschema_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Which properties (by iteration position) or items of one instance some
 * keyword has evaluated. */
struct jsv_ev {
    size_t n;
    bool all;
    uint64_t *bits;
    uint64_t small[4];
};

static void jsv_ev_init(struct jsv_ev *e, size_t n)
{
    size_t words = (n + 63) / 64;
    e->n = n;
    e->all = false;
    if (words <= 4) {
        e->bits = e->small;
        memset(e->small, 0, sizeof e->small);
    } else {
        e->bits = sq_xcalloc(words, sizeof *e->bits);
    }
}

static void jsv_ev_fini(struct jsv_ev *e)
{
    if (e->bits != e->small)
        free(e->bits);
}

static inline void jsv_ev_set(struct jsv_ev *e, size_t i)
{
    e->bits[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline bool jsv_ev_get(const struct jsv_ev *e, size_t i)
{
    return e->all || ((e->bits[i >> 6] >> (i & 63)) & 1);
}

static void jsv_ev_merge(struct jsv_ev *dst, const struct jsv_ev *src)
{
    if (src->all) {
        dst->all = true;
        return;
    }
    for (size_t w = 0; w < (dst->n + 63) / 64; w++)
        dst->bits[w] |= src->bits[w];
}

/* One step of an error path, recorded innermost first. */
struct jsv_seg {
    const char *s; /* keyword segment or property name; NULL: index */
    size_t n;      /* property name length, or the index */
};

struct jsv_segs {
    struct jsv_seg *v;
    size_t n, cap;
};

struct jsv_vctx {
    unsigned depth;
    bool want_err; /* record the error (false inside anyOf, not, ...) */
    bool have_err;
    bool abort; /* undecidable: depth limit, regex limit */
    bool dynamic;
    pcre2_match_data *md;
    char msg[256];
    struct jsv_segs kw, in;
    size_t nscope;
    const struct jsv_res *scope[JSV_MAX_DEPTH + 1];
};

static void jsv_seg_push(struct jsv_segs *s, const char *str, size_t n)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = sq_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = (struct jsv_seg){str, n};
}

static void jsv_err(struct jsv_vctx *c, const char *kw, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the failing keyword (NULL: a false schema) and message. */
static void jsv_err(struct jsv_vctx *c, const char *kw, const char *fmt, ...)
{
    if (!c->want_err || c->have_err)
        return;
    c->have_err = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    if (kw)
        jsv_seg_push(&c->kw, kw, 0);
}

/* Path steps added on the way out of a failed subschema. */
static inline void jsv_err_kw(struct jsv_vctx *c, const char *loc)
{
    if (c->want_err && c->have_err)
        jsv_seg_push(&c->kw, loc, 0);
}

static inline void jsv_err_key(struct jsv_vctx *c, const char *key, size_t len)
{
    if (c->want_err && c->have_err)
        jsv_seg_push(&c->in, key, len);
}

static inline void jsv_err_idx(struct jsv_vctx *c, size_t i)
{
    if (c->want_err && c->have_err)
        jsv_seg_push(&c->in, NULL, i);
}

static void jsv_abort(struct jsv_vctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void jsv_abort(struct jsv_vctx *c, const char *fmt, ...)
{
    if (!c->abort && !c->have_err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->msg, sizeof c->msg, fmt, ap);
        va_end(ap);
        c->have_err = c->want_err;
    }
    c->abort = true;
}

static bool jsv_eval(struct jsv_vctx *c, const struct jsv_node *n, const json_t *inst,
                     struct jsv_ev *ev);

static const char *jsv_type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static unsigned jsv_type_bits(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return JSV_T_OBJECT;
    case JSON_ARRAY:
        return JSV_T_ARRAY;
    case JSON_STRING:
        return JSV_T_STRING;
    case JSON_INTEGER:
        return JSV_T_NUMBER | JSV_T_INTEGER;
    case JSON_REAL:
        return sq_jsv_is_integer(v) ? JSV_T_NUMBER | JSV_T_INTEGER : JSV_T_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE:
        return JSV_T_BOOLEAN;
    default:
        return JSV_T_NULL;
    }
}

static void jsv_type_names(unsigned mask, char *out, size_t outlen)
{
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    size_t o = 0;
    out[0] = '\0';
    if (mask & JSV_T_NUMBER)
        mask &= ~(unsigned)JSV_T_INTEGER;
    for (unsigned b = 0; b < 7; b++) {
        if (!(mask & (1u << b)))
            continue;
        int w = snprintf(out + o, outlen - o, "%s%s", o ? " or " : "", names[b]);
        if (w < 0 || (size_t)w >= outlen - o)
            break;
        o += (size_t)w;
    }
}

/* ---- arrays ---------------------------------------------------------- */

struct jsv_hidx {
    uint64_t h;
    size_t i;
};

static int jsv_hidx_cmp(const void *a, const void *b)
{
    const struct jsv_hidx *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Finds two equal items; returns false with *i < *j when there are. */
static bool jsv_unique(struct jsv_vctx *c, const json_t *a, size_t *i, size_t *j)
{
    size_t n = json_array_size(a);
    bool deep = false;
    if (n <= 16) {
        for (*i = 0; *i < n; (*i)++)
            for (*j = *i + 1; *j < n; (*j)++)
                if (sq_jsv_equal(json_array_get(a, *i), json_array_get(a, *j), 0, &deep))
                    return false;
    } else {
        struct jsv_hidx *h = sq_xmalloc(n * sizeof *h);
        for (size_t k = 0; k < n; k++)
            h[k] = (struct jsv_hidx){sq_jsv_hash(json_array_get(a, k), 0), k};
        qsort(h, n, sizeof *h, jsv_hidx_cmp);
        for (size_t s = 0; s < n; s++) {
            for (size_t t = s + 1; t < n && h[t].h == h[s].h; t++) {
                if (sq_jsv_equal(json_array_get(a, h[s].i), json_array_get(a, h[t].i), 0, &deep)) {
                    *i = h[s].i < h[t].i ? h[s].i : h[t].i;
                    *j = h[s].i < h[t].i ? h[t].i : h[s].i;
                    free(h);
                    return false;
                }
            }
        }
        free(h);
    }
    if (deep)
        jsv_abort(c, "uniqueItems: items nested deeper than %d", JSV_MAX_VALUE_DEPTH);
    return !deep;
}

static bool jsv_kw_array(struct jsv_vctx *c, const struct jsv_kw *kw, const json_t *inst,
                         struct jsv_ev *ev)
{
    size_t n = json_array_size(inst);
    switch (kw->op) {
    case JSV_OP_MAX_ITEMS:
        if (n <= kw->u.count)
            return true;
        jsv_err(c, kw->loc, "has %zu items, at most %zu allowed", n, kw->u.count);
        return false;
    case JSV_OP_MIN_ITEMS:
        if (n >= kw->u.count)
            return true;
        jsv_err(c, kw->loc, "has %zu items, at least %zu required", n, kw->u.count);
        return false;
    case JSV_OP_UNIQUE_ITEMS: {
        size_t i = 0, j = 0;
        if (jsv_unique(c, inst, &i, &j))
            return true;
        if (!c->abort)
            jsv_err(c, kw->loc, "items %zu and %zu are equal", i, j);
        return false;
    }
    case JSV_OP_ITEMS: {
        size_t np = kw->u.items.nprefix < n ? kw->u.items.nprefix : n;
        for (size_t i = 0; i < np; i++) {
            if (!jsv_eval(c, kw->u.items.prefix[i], json_array_get(inst, i), NULL)) {
                jsv_err_idx(c, i);
                jsv_err_kw(c, kw->u.items.prefix_locs[i]);
                return false;
            }
        }
        if (kw->u.items.items) {
            const struct jsv_node *in = kw->u.items.items;
            for (size_t i = np; i < n; i++) {
                if (in == &sq_jsv_node_false) {
                    jsv_err(c, NULL, "has %zu items, at most %zu allowed", n, np);
                    jsv_err_kw(c, "items");
                    return false;
                }
                if (!jsv_eval(c, in, json_array_get(inst, i), NULL)) {
                    jsv_err_idx(c, i);
                    jsv_err_kw(c, "items");
                    return false;
                }
            }
            if (ev)
                ev->all = true;
        } else if (ev) {
            for (size_t i = 0; i < np; i++)
                jsv_ev_set(ev, i);
        }
        return true;
    }
    case JSV_OP_CONTAINS: {
        size_t min = kw->u.contains.min, count = 0;
        bool has_max = kw->u.contains.has_max;
        if (min == 0 && !has_max && !ev)
            return true;
        bool want = c->want_err;
        c->want_err = false;
        for (size_t i = 0; i < n; i++) {
            if (jsv_eval(c, kw->u.contains.node, json_array_get(inst, i), NULL)) {
                count++;
                if (ev)
                    jsv_ev_set(ev, i);
                else if (!has_max && count >= min)
                    break;
                else if (has_max && count > kw->u.contains.max)
                    break;
            }
            if (c->abort)
                break;
        }
        c->want_err = want;
        if (c->abort)
            return false;
        if (count < min) {
            jsv_err(c, kw->u.contains.min_loc,
                    "%zu items match \"contains\", at least %zu required", count, min);
            return false;
        }
        if (has_max && count > kw->u.contains.max) {
            jsv_err(c, kw->u.contains.max_loc, "more than %zu items match \"contains\"",
                    kw->u.contains.max);
            return false;
        }
        return true;
    }
    default:
        return true;
    }
}

/* ---- objects --------------------------------------------------------- */

static const struct jsv_prop *jsv_prop_find(const struct jsv_kw *kw, const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ULL;
    }
    for (uint32_t s = (uint32_t)h & kw->u.props.mask;; s = (s + 1) & kw->u.props.mask) {
        uint32_t e = kw->u.props.table[s];
        if (!e)
            return NULL;
        const struct jsv_prop *p = &kw->u.props.props[e - 1];
        if (p->len == len && memcmp(p->name, key, len) == 0)
            return p;
    }
}

static bool jsv_props(struct jsv_vctx *c, const struct jsv_kw *kw, const json_t *inst,
                      struct jsv_ev *ev)
{
    json_t *obj = (json_t *)inst; /* jansson's iterators take a non-const object */
    size_t idx = 0;
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it), idx++) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        const json_t *val = json_object_iter_value(it);
        bool matched = false;
        if (kw->u.props.nprops) {
            const struct jsv_prop *p = jsv_prop_find(kw, key, klen);
            if (p) {
                matched = true;
                if (!jsv_eval(c, p->node, val, NULL)) {
                    jsv_err_key(c, key, klen);
                    jsv_err_kw(c, p->loc);
                    return false;
                }
            }
        }
        for (size_t k = 0; k < kw->u.props.npats; k++) {
            const struct jsv_pattern_prop *pp = &kw->u.props.pats[k];
            int m = sq_jsv_regex_match(pp->re, key, klen, &c->md);
            if (m < 0) {
                jsv_abort(c, "patternProperties: the regex matcher gave up on a property name");
                return false;
            }
            if (!m)
                continue;
            matched = true;
            if (!jsv_eval(c, pp->node, val, NULL)) {
                jsv_err_key(c, key, klen);
                jsv_err_kw(c, pp->loc);
                return false;
            }
        }
        if (!matched && kw->u.props.additional) {
            matched = true;
            if (kw->u.props.additional == &sq_jsv_node_false) {
                jsv_err(c, NULL, "property \"%.*s\" is not allowed", (int)(klen > 64 ? 64 : klen),
                        key);
                jsv_err_key(c, key, klen);
                jsv_err_kw(c, "additionalProperties");
                return false;
            }
            if (!jsv_eval(c, kw->u.props.additional, val, NULL)) {
                jsv_err_key(c, key, klen);
                jsv_err_kw(c, "additionalProperties");
                return false;
            }
        }
        if (matched && ev)
            jsv_ev_set(ev, idx);
    }
    return true;
}

static bool jsv_kw_object(struct jsv_vctx *c, const struct jsv_kw *kw, const json_t *inst,
                          struct jsv_ev *ev)
{
    switch (kw->op) {
    case JSV_OP_MAX_PROPERTIES:
        if (json_object_size(inst) <= kw->u.count)
            return true;
        jsv_err(c, kw->loc, "has %zu properties, at most %zu allowed", json_object_size(inst),
                kw->u.count);
        return false;
    case JSV_OP_MIN_PROPERTIES:
        if (json_object_size(inst) >= kw->u.count)
            return true;
        jsv_err(c, kw->loc, "has %zu properties, at least %zu required", json_object_size(inst),
                kw->u.count);
        return false;
    case JSV_OP_REQUIRED:
        for (size_t i = 0; i < kw->u.req.n; i++) {
            if (!json_object_getn(inst, kw->u.req.names[i], kw->u.req.lens[i])) {
                jsv_err(c, kw->loc, "required property \"%s\" is missing", kw->u.req.names[i]);
                return false;
            }
        }
        return true;
    case JSV_OP_DEPENDENT_REQUIRED:
        for (size_t i = 0; i < kw->u.dep.n; i++) {
            const struct jsv_dep *d = &kw->u.dep.deps[i];
            if (!json_object_getn(inst, d->name, d->len))
                continue;
            for (size_t j = 0; j < d->nreq; j++) {
                if (!json_object_getn(inst, d->req[j], d->req_len[j])) {
                    jsv_err(c, d->loc, "property \"%s\" requires property \"%s\"", d->name,
                            d->req[j]);
                    return false;
                }
            }
        }
        return true;
    case JSV_OP_DEPENDENT_SCHEMAS:
        for (size_t i = 0; i < kw->u.dep.n; i++) {
            const struct jsv_dep *d = &kw->u.dep.deps[i];
            if (json_object_getn(inst, d->name, d->len) && !jsv_eval(c, d->node, inst, ev)) {
                jsv_err_kw(c, d->loc);
                return false;
            }
        }
        return true;
    case JSV_OP_PROPERTIES:
        return jsv_props(c, kw, inst, ev);
    case JSV_OP_PROPERTY_NAMES: {
        json_t *obj = (json_t *)inst;
        if (kw->u.node == &sq_jsv_node_true)
            return true;
        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
            json_t *name =
                json_stringn_nocheck(json_object_iter_key(it), json_object_iter_key_len(it));
            bool ok = jsv_eval(c, kw->u.node, name, NULL);
            json_decref(name);
            if (!ok) {
                jsv_err_kw(c, kw->loc);
                return false;
            }
        }
        return true;
    }
    default:
        return true;
    }
}

/* ---- numbers and strings --------------------------------------------- */

static bool jsv_kw_number(struct jsv_vctx *c, const struct jsv_kw *kw, const json_t *inst)
{
    struct jsv_num x;
    sq_jsv_num_of(inst, &x);
    int cmp;
    char lim[40];
    switch (kw->op) {
    case JSV_OP_MULTIPLE_OF:
        if (sq_jsv_is_multiple(&x, &kw->u.mult.num, &kw->u.mult.dec))
            return true;
        if (kw->u.mult.num.is_int)
            snprintf(lim, sizeof lim, "%" JSON_INTEGER_FORMAT, kw->u.mult.num.i);
        else
            snprintf(lim, sizeof lim, "%.15g", kw->u.mult.num.d);
        jsv_err(c, kw->loc, "must be a multiple of %s", lim);
        return false;
    default:
        break;
    }
    cmp = sq_jsv_num_cmp(&x, &kw->u.num);
    bool ok = kw->op == JSV_OP_MAXIMUM        ? cmp <= 0
              : kw->op == JSV_OP_EXCL_MAXIMUM ? cmp < 0
              : kw->op == JSV_OP_MINIMUM      ? cmp >= 0
                                              : cmp > 0;
    if (ok)
        return true;
    if (kw->u.num.is_int)
        snprintf(lim, sizeof lim, "%" JSON_INTEGER_FORMAT, kw->u.num.i);
    else
        snprintf(lim, sizeof lim, "%.15g", kw->u.num.d);
    const char *rel = kw->op == JSV_OP_MAXIMUM        ? "<="
                      : kw->op == JSV_OP_EXCL_MAXIMUM ? "<"
                      : kw->op == JSV_OP_MINIMUM      ? ">="
                                                      : ">";
    jsv_err(c, kw->loc, "must be %s %s", rel, lim);
    return false;
}

static bool jsv_kw_string(struct jsv_vctx *c, const struct jsv_kw *kw, const json_t *inst)
{
    const char *s = json_string_value(inst);
    size_t len = json_string_length(inst);
    switch (kw->op) {
    case JSV_OP_MAX_LENGTH: {
        if (len <= kw->u.count) /* bytes >= code points */
            return true;
        size_t cp = sq_jsv_utf8_count(s, len);
        if (cp <= kw->u.count)
            return true;
        jsv_err(c, kw->loc, "is %zu characters long, at most %zu allowed", cp, kw->u.count);
        return false;
    }
    case JSV_OP_MIN_LENGTH: {
        size_t cp = len < kw->u.count ? len : sq_jsv_utf8_count(s, len);
        if (cp >= kw->u.count)
            return true;
        jsv_err(c, kw->loc, "is %zu characters long, at least %zu required", cp, kw->u.count);
        return false;
    }
    case JSV_OP_PATTERN: {
        int m = sq_jsv_regex_match(kw->u.re, s, len, &c->md);
        if (m > 0)
            return true;
        if (m < 0) {
            jsv_abort(c, "pattern: the regex matcher gave up on this string");
            return false;
        }
        jsv_err(c, kw->loc, "does not match the pattern");
        return false;
    }
    case JSV_OP_FORMAT:
        if (sq_jsv_format_check(kw->u.fmt, s, len))
            return true;
        jsv_err(c, kw->loc, "is not a valid %s", sq_jsv_format_name(kw->u.fmt));
        return false;
    default:
        return true;
    }
}

/* ---- any type, in place ------------------------------------------------ */

static bool jsv_kw_any(struct jsv_vctx *c, const struct jsv_kw *kw, const json_t *inst)
{
    bool deep = false;
    switch (kw->op) {
    case JSV_OP_TYPE:
        if (jsv_type_bits(inst) & kw->u.types)
            return true;
        {
            char want[80];
            jsv_type_names(kw->u.types, want, sizeof want);
            jsv_err(c, kw->loc, "expected %s, got %s", want, jsv_type_of(inst));
        }
        return false;
    case JSV_OP_CONST:
        if (sq_jsv_equal(inst, kw->u.value, 0, &deep))
            return true;
        if (deep) {
            jsv_abort(c, "const: value nested deeper than %d", JSV_MAX_VALUE_DEPTH);
            return false;
        }
        jsv_err(c, kw->loc, "does not equal the constant");
        return false;
    case JSV_OP_ENUM: {
        bool is_str = json_is_string(inst);
        for (size_t i = 0; i < kw->u.en.n; i++) {
            const json_t *e = kw->u.en.v[i];
            if (is_str) {
                if (json_is_string(e) && json_string_length(e) == json_string_length(inst) &&
                    memcmp(json_string_value(e), json_string_value(inst), json_string_length(e)) ==
                        0)
                    return true;
            } else if (sq_jsv_equal(inst, e, 0, &deep)) {
                return true;
            }
        }
        if (deep) {
            jsv_abort(c, "enum: value nested deeper than %d", JSV_MAX_VALUE_DEPTH);
            return false;
        }
        jsv_err(c, kw->loc, "is not one of the %zu allowed values", kw->u.en.n);
        return false;
    }
    default:
        return true;
    }
}

static const struct jsv_node *jsv_dynamic_target(const struct jsv_vctx *c, const struct jsv_kw *kw)
{
    if (!kw->u.dref.dynamic)
        return kw->u.dref.node;
    for (size_t i = 0; i < c->nscope; i++) {
        const struct jsv_res *r = c->scope[i];
        for (size_t j = 0; j < r->ndyn; j++)
            if (r->dyn_name[j] == kw->u.dref.name)
                return r->dyn_node[j];
    }
    return kw->u.dref.node;
}

static bool jsv_kw_inplace(struct jsv_vctx *c, const struct jsv_kw *kw, const json_t *inst,
                           struct jsv_ev *ev)
{
    switch (kw->op) {
    case JSV_OP_REF:
        if (jsv_eval(c, kw->u.node, inst, ev))
            return true;
        jsv_err_kw(c, kw->loc);
        return false;
    case JSV_OP_DYNAMIC_REF:
        if (jsv_eval(c, jsv_dynamic_target(c, kw), inst, ev))
            return true;
        jsv_err_kw(c, kw->loc);
        return false;
    case JSV_OP_ALL_OF:
        for (size_t i = 0; i < kw->u.list.n; i++) {
            if (!jsv_eval(c, kw->u.list.nodes[i], inst, ev)) {
                jsv_err_kw(c, kw->u.list.locs[i]);
                return false;
            }
        }
        return true;
    case JSV_OP_ANY_OF:
    case JSV_OP_ONE_OF: {
        bool one = kw->op == JSV_OP_ONE_OF, want = c->want_err;
        size_t nvalid = 0, first = 0, second = 0;
        c->want_err = false;
        for (size_t i = 0; i < kw->u.list.n && !c->abort; i++) {
            bool ok;
            if (ev) {
                struct jsv_ev br;
                jsv_ev_init(&br, ev->n);
                ok = jsv_eval(c, kw->u.list.nodes[i], inst, &br);
                if (ok && (!one || nvalid == 0))
                    jsv_ev_merge(ev, &br);
                jsv_ev_fini(&br);
            } else {
                ok = jsv_eval(c, kw->u.list.nodes[i], inst, NULL);
            }
            if (!ok)
                continue;
            if (nvalid++ == 0)
                first = i;
            else
                second = i;
            if ((one && nvalid > 1) || (!one && !ev))
                break;
        }
        c->want_err = want;
        if (c->abort)
            return false;
        if (nvalid == 0) {
            jsv_err(c, kw->loc, "matches none of the %zu subschemas", kw->u.list.n);
            return false;
        }
        if (one && nvalid > 1) {
            jsv_err(c, kw->loc, "matches more than one subschema (%zu and %zu)", first, second);
            return false;
        }
        return true;
    }
    case JSV_OP_NOT: {
        bool want = c->want_err;
        c->want_err = false;
        bool ok = jsv_eval(c, kw->u.node, inst, NULL);
        c->want_err = want;
        if (c->abort)
            return false;
        if (!ok)
            return true;
        jsv_err(c, kw->loc, "must not match the \"not\" subschema");
        return false;
    }
    case JSV_OP_IF: {
        bool want = c->want_err, ok;
        c->want_err = false;
        if (ev) {
            struct jsv_ev br;
            jsv_ev_init(&br, ev->n);
            ok = jsv_eval(c, kw->u.cond.if_, inst, &br);
            if (ok)
                jsv_ev_merge(ev, &br);
            jsv_ev_fini(&br);
        } else {
            ok = jsv_eval(c, kw->u.cond.if_, inst, NULL);
        }
        c->want_err = want;
        if (c->abort)
            return false;
        const struct jsv_node *next = ok ? kw->u.cond.then_ : kw->u.cond.else_;
        if (!next || jsv_eval(c, next, inst, ev))
            return true;
        jsv_err_kw(c, ok ? "then" : "else");
        return false;
    }
    default:
        return true;
    }
}

/* ---- unevaluated* ----------------------------------------------------- */

static bool jsv_uneval_props(struct jsv_vctx *c, const struct jsv_node *un, const json_t *inst,
                             const struct jsv_ev *ev)
{
    json_t *obj = (json_t *)inst;
    size_t idx = 0;
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it), idx++) {
        if (jsv_ev_get(ev, idx))
            continue;
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        if (un == &sq_jsv_node_false) {
            jsv_err(c, NULL, "property \"%.*s\" is not allowed (unevaluated)",
                    (int)(klen > 64 ? 64 : klen), key);
            jsv_err_key(c, key, klen);
            jsv_err_kw(c, "unevaluatedProperties");
            return false;
        }
        if (!jsv_eval(c, un, json_object_iter_value(it), NULL)) {
            jsv_err_key(c, key, klen);
            jsv_err_kw(c, "unevaluatedProperties");
            return false;
        }
    }
    return true;
}

static bool jsv_uneval_items(struct jsv_vctx *c, const struct jsv_node *un, const json_t *inst,
                             const struct jsv_ev *ev)
{
    size_t n = json_array_size(inst);
    for (size_t i = 0; i < n; i++) {
        if (jsv_ev_get(ev, i))
            continue;
        if (un == &sq_jsv_node_false)
            jsv_err(c, NULL, "item %zu is not allowed (unevaluated)", i);
        if (!jsv_eval(c, un, json_array_get(inst, i), NULL)) {
            jsv_err_idx(c, i);
            jsv_err_kw(c, "unevaluatedItems");
            return false;
        }
    }
    return true;
}

/* ---- one node ---------------------------------------------------------- */

static bool jsv_eval(struct jsv_vctx *c, const struct jsv_node *n, const json_t *inst,
                     struct jsv_ev *ev)
{
    if (n->kind != JSV_NODE_SCHEMA) {
        if (n->kind == JSV_NODE_TRUE)
            return true;
        jsv_err(c, NULL, "no value is allowed here (false schema)");
        return false;
    }
    if (c->depth >= JSV_MAX_DEPTH) {
        jsv_abort(c, "nested deeper than %d evaluation levels (deeply nested data or a $ref cycle)",
                  JSV_MAX_DEPTH);
        return false;
    }
    c->depth++;
    size_t scope = c->nscope;
    if (c->dynamic && (c->nscope == 0 || c->scope[c->nscope - 1] != n->res))
        c->scope[c->nscope++] = n->res;

    bool ok = true;
    json_type t = json_typeof(inst);
    struct jsv_ev local, *use = ev;
    const struct jsv_node *un = t == JSON_OBJECT  ? n->uneval_props
                                : t == JSON_ARRAY ? n->uneval_items
                                                  : NULL;
    if (un) {
        jsv_ev_init(&local, t == JSON_OBJECT ? json_object_size(inst) : json_array_size(inst));
        use = &local;
    }
    for (size_t i = 0; ok && i < n->any.n; i++)
        ok = jsv_kw_any(c, &n->any.kw[i], inst);
    switch (t) {
    case JSON_OBJECT:
        for (size_t i = 0; ok && i < n->obj.n; i++)
            ok = jsv_kw_object(c, &n->obj.kw[i], inst, use);
        break;
    case JSON_ARRAY:
        for (size_t i = 0; ok && i < n->arr.n; i++)
            ok = jsv_kw_array(c, &n->arr.kw[i], inst, use);
        break;
    case JSON_STRING:
        for (size_t i = 0; ok && i < n->str.n; i++)
            ok = jsv_kw_string(c, &n->str.kw[i], inst);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        for (size_t i = 0; ok && i < n->num.n; i++)
            ok = jsv_kw_number(c, &n->num.kw[i], inst);
        break;
    default:
        break;
    }
    for (size_t i = 0; ok && i < n->inplace.n; i++)
        ok = jsv_kw_inplace(c, &n->inplace.kw[i], inst, use);
    if (un) {
        if (ok)
            ok = t == JSON_OBJECT ? jsv_uneval_props(c, un, inst, use)
                                  : jsv_uneval_items(c, un, inst, use);
        if (ok && ev)
            ev->all = true;
        jsv_ev_fini(&local);
    }
    c->nscope = scope;
    c->depth--;
    return ok;
}

/* ---- entry point ------------------------------------------------------- */

static void jsv_fill_error(const struct jsv_vctx *c, struct sq_jsv_error *err)
{
    struct sq_buf b;
    sq_buf_init(&b);
    sq_buf_append(&b, "", 0);
    for (size_t i = c->in.n; i-- > 0;) {
        const struct jsv_seg *s = &c->in.v[i];
        sq_buf_append(&b, "/", 1);
        if (s->s)
            sq_jsv_ptr_escape(&b, s->s, s->n);
        else
            sq_buf_appendf(&b, "%zu", s->n);
    }
    snprintf(err->instance, sizeof err->instance, "%s", b.data);
    sq_buf_reset(&b);
    for (size_t i = c->kw.n; i-- > 0;) {
        sq_buf_append(&b, "/", 1);
        sq_buf_append(&b, c->kw.v[i].s, strlen(c->kw.v[i].s));
    }
    snprintf(err->keyword, sizeof err->keyword, "%s", b.data ? b.data : "");
    snprintf(err->msg, sizeof err->msg, "%s", c->msg[0] ? c->msg : "invalid");
    sq_buf_fini(&b);
}

bool sq_jsv_validate(const struct sq_jsv *v, const json_t *instance, struct sq_jsv_error *err)
{
    struct jsv_vctx c; /* the scope array is written only as far as it is used */
    c.depth = 0;
    c.want_err = err != NULL;
    c.have_err = false;
    c.abort = false;
    c.dynamic = v->dynamic;
    c.md = NULL;
    c.msg[0] = '\0';
    c.kw = (struct jsv_segs){NULL, 0, 0};
    c.in = (struct jsv_segs){NULL, 0, 0};
    c.nscope = 0;
    bool ok = instance && jsv_eval(&c, v->root, instance, NULL);
    if (!instance)
        snprintf(c.msg, sizeof c.msg, "no instance");
    if (!ok && err)
        jsv_fill_error(&c, err);
    if (c.md)
        pcre2_match_data_free(c.md);
    free(c.kw.v);
    free(c.in.v);
    return ok;
}
