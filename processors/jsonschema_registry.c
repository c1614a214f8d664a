/* jsonschema_registry.c: schema documents and the registry. Indexing finds a
 * document's resources ($id), anchors and the place of every subschema, in
 * draft 2020-12 schema positions only (an $id inside `enum` names nothing).
 * The registry holds the built-in meta-schemas, added documents and
 * URI-prefix → directory mappings (files only, never the network). */
#include "jsonschema_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Keywords whose value is a schema, an array of schemas, a map of schemas. */
static const char *const jsv_kw_schema[] = {
    "additionalProperties",
    "propertyNames",
    "items",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
};
static const char *const jsv_kw_schema_array[] = {"allOf", "anyOf", "oneOf", "prefixItems"};
static const char *const jsv_kw_schema_map[] = {"$defs", "properties", "patternProperties",
                                                "dependentSchemas"};

struct jsv_walk {
    struct jsv_doc *d;
    struct sq_err *err;
    struct sq_buf ptr; /* JSON pointer of the current position */
};

static bool jsv_walk_fail(struct jsv_walk *w, const char *fmt, const char *arg)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, arg);
    sq_err_set(w->err, SQ_ERR_DATA, w->ptr.data ? w->ptr.data : "", "%s%s%s", msg,
               strcmp(w->d->uri, JSV_DEFAULT_BASE) ? " in " : "",
               strcmp(w->d->uri, JSV_DEFAULT_BASE) ? w->d->uri : "");
    return false;
}

/* ^[A-Za-z_][-A-Za-z0-9._]*$ */
static bool jsv_anchor_name_ok(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.' || *s == '_'))
            return false;
    return true;
}

static bool jsv_doc_put(struct jsv_walk *w, const char *uri, json_t *schema,
                        struct jsv_resource *res, bool dynamic)
{
    struct jsv_target *old = sq_strmap_get(&w->d->uris, uri);
    if (old)
        return old->schema == schema || jsv_walk_fail(w, "\"%s\" is defined twice", uri);
    struct jsv_target *t = sq_jsv_arena_alloc(&w->d->arena, sizeof *t);
    t->schema = schema;
    t->res = res;
    t->dynamic = dynamic;
    sq_strmap_put(&w->d->uris, uri, t);
    return true;
}

static bool jsv_walk(struct jsv_walk *w, json_t *s, const char *parent_base,
                     struct jsv_resource *parent_res, unsigned depth, bool doc_root);

static bool jsv_walk_child(struct jsv_walk *w, json_t *child, const char *base,
                           struct jsv_resource *res, unsigned depth, const char *kw,
                           const char *key, size_t keylen, long index)
{
    size_t save = w->ptr.len;
    sq_buf_append(&w->ptr, "/", 1);
    sq_jsv_ptr_escape(&w->ptr, kw, strlen(kw));
    if (key) {
        sq_buf_append(&w->ptr, "/", 1);
        sq_jsv_ptr_escape(&w->ptr, key, keylen);
    } else if (index >= 0) {
        sq_buf_appendf(&w->ptr, "/%ld", index);
    }
    bool ok = jsv_walk(w, child, base, res, depth + 1, false);
    w->ptr.len = save;
    w->ptr.data[save] = '\0';
    return ok;
}

static bool jsv_walk(struct jsv_walk *w, json_t *s, const char *parent_base,
                     struct jsv_resource *parent_res, unsigned depth, bool doc_root)
{
    if (json_is_boolean(s))
        return true;
    if (!json_is_object(s))
        return jsv_walk_fail(w, "%s", "not a schema (an object or a boolean is required)");
    if (depth > JSV_MAX_SCHEMA_DEPTH)
        return jsv_walk_fail(w, "%s",
                             "schema nested deeper than " JSV_STR(JSV_MAX_SCHEMA_DEPTH) " levels");
    struct jsv_doc *d = w->d;
    const char *base = parent_base;
    struct jsv_resource *res = parent_res;
    json_t *jid = json_object_get(s, "$id");
    json_t *jschema = json_object_get(s, "$schema");
    if (jschema && !json_is_string(jschema))
        return jsv_walk_fail(w, "%s", "$schema must be a string");
    if (jid) {
        if (!json_is_string(jid))
            return jsv_walk_fail(w, "%s", "$id must be a string");
        const char *frag;
        char *nf = sq_jsv_uri_strip_fragment(json_string_value(jid), &frag);
        if (frag && *frag) {
            free(nf);
            return jsv_walk_fail(w, "$id \"%s\" must not have a fragment", json_string_value(jid));
        }
        char *abs = sq_jsv_uri_resolve(parent_base, nf);
        free(nf);
        base = sq_jsv_arena_strdup(&d->arena, abs);
        free(abs);
    }
    if (jid || doc_root) {
        res = sq_jsv_arena_alloc(&d->arena, sizeof *res);
        res->uri = base;
        res->schema = s;
        res->doc = d;
        res->dialect = jschema      ? json_string_value(jschema)
                       : parent_res ? parent_res->dialect
                                    : NULL;
        if (!jsv_doc_put(w, base, s, res, false))
            return false;
        if (doc_root && strcmp(d->uri, base) != 0 && !jsv_doc_put(w, d->uri, s, res, false))
            return false;
    }
    struct jsv_loc *loc = sq_jsv_arena_alloc(&d->arena, sizeof *loc);
    loc->res = res;
    loc->ptr = sq_jsv_arena_strdup(&d->arena, w->ptr.data ? w->ptr.data : "");
    sq_jsv_ptrmap_put(&d->locs, s, loc);
    static const char *const anchor_kws[] = {"$anchor", "$dynamicAnchor"};
    for (int k = 0; k < 2; k++) {
        json_t *ja = json_object_get(s, anchor_kws[k]);
        if (!ja)
            continue;
        if (!json_is_string(ja) || !jsv_anchor_name_ok(json_string_value(ja)))
            return jsv_walk_fail(w, "%s must be a plain name ([A-Za-z_][-A-Za-z0-9._]*)",
                                 anchor_kws[k]);
        char *key = sq_xasprintf("%s#%s", base, json_string_value(ja));
        bool ok = jsv_doc_put(w, key, s, res, k == 1);
        if (!ok) {
            free(key);
            return false;
        }
        if (k == 1) {
            /* $anchor and $dynamicAnchor of one name in one place: dynamic */
            struct jsv_target *t = sq_strmap_get(&d->uris, key);
            t->dynamic = true;
            struct jsv_dynanchor *da = sq_jsv_arena_alloc(&d->arena, sizeof *da);
            da->name = sq_jsv_arena_strdup(&d->arena, json_string_value(ja));
            da->schema = s;
            da->next = res->dyn;
            res->dyn = da;
        }
        free(key);
    }
    for (size_t k = 0; k < sizeof jsv_kw_schema / sizeof jsv_kw_schema[0]; k++) {
        json_t *c = json_object_get(s, jsv_kw_schema[k]);
        if (c && !jsv_walk_child(w, c, base, res, depth, jsv_kw_schema[k], NULL, 0, -1))
            return false;
    }
    for (size_t k = 0; k < sizeof jsv_kw_schema_array / sizeof jsv_kw_schema_array[0]; k++) {
        json_t *a = json_object_get(s, jsv_kw_schema_array[k]);
        if (!a)
            continue;
        if (!json_is_array(a))
            return jsv_walk_fail(w, "%s must be an array of schemas", jsv_kw_schema_array[k]);
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!jsv_walk_child(w, json_array_get(a, i), base, res, depth, jsv_kw_schema_array[k],
                                NULL, 0, (long)i))
                return false;
    }
    for (size_t k = 0; k < sizeof jsv_kw_schema_map / sizeof jsv_kw_schema_map[0]; k++) {
        json_t *m = json_object_get(s, jsv_kw_schema_map[k]);
        if (!m)
            continue;
        if (!json_is_object(m))
            return jsv_walk_fail(w, "%s must be an object of schemas", jsv_kw_schema_map[k]);
        for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it))
            if (!jsv_walk_child(w, json_object_iter_value(it), base, res, depth,
                                jsv_kw_schema_map[k], json_object_iter_key(it),
                                json_object_iter_key_len(it), -1))
                return false;
    }
    return true;
}

struct jsv_doc *sq_jsv_doc_new(json_t *root, const char *uri, struct sq_err *err)
{
    struct jsv_doc *d = sq_xcalloc(1, sizeof *d);
    d->root = json_incref(root);
    d->uri = sq_jsv_arena_strdup(&d->arena, uri);
    sq_strmap_init(&d->uris);
    sq_jsv_ptrmap_init(&d->locs);
    struct jsv_walk w = {d, err, {NULL, 0, 0}};
    sq_buf_append(&w.ptr, "", 0);
    bool ok = jsv_walk(&w, root, d->uri, NULL, 0, true);
    if (ok && json_is_boolean(root)) {
        /* a boolean document is still a resource */
        struct jsv_resource *res = sq_jsv_arena_alloc(&d->arena, sizeof *res);
        res->uri = d->uri;
        res->schema = root;
        res->doc = d;
        ok = jsv_doc_put(&w, d->uri, root, res, false);
    }
    sq_buf_fini(&w.ptr);
    if (!ok) {
        sq_jsv_doc_free(d);
        return NULL;
    }
    return d;
}

void sq_jsv_doc_free(struct jsv_doc *d)
{
    if (!d)
        return;
    json_decref(d->root);
    sq_strmap_fini(&d->uris);
    sq_jsv_ptrmap_fini(&d->locs);
    sq_jsv_arena_fini(&d->arena);
    free(d);
}

const struct jsv_target *sq_jsv_doc_target(const struct jsv_doc *d, const char *uri)
{
    return sq_strmap_get(&d->uris, uri);
}

const struct jsv_loc *sq_jsv_doc_loc(const struct jsv_doc *d, const json_t *schema)
{
    return sq_jsv_ptrmap_get(&d->locs, schema);
}

void sq_jsv_doc_each_uri(struct jsv_doc *d, void (*fn)(const char *uri, void *value, void *arg),
                         void *arg)
{
    sq_strmap_each(&d->uris, fn, arg);
}

/* ---- Registry -------------------------------------------------------- */

static bool jsv_is_std_dialect(const char *dialect)
{
    if (!dialect)
        return true;
    size_t n = strlen(JSV_STD_DIALECT);
    return strncmp(dialect, JSV_STD_DIALECT, n) == 0 &&
           (dialect[n] == '\0' || (dialect[n] == '#' && dialect[n + 1] == '\0'));
}

int sq_jsv_registry_meta_check(const struct sq_jsv_registry *reg, const struct jsv_doc *d,
                               struct sq_err *err)
{
    const struct jsv_target *t = sq_jsv_doc_target(d, d->uri);
    if (!reg->meta || !t || !jsv_is_std_dialect(t->res->dialect))
        return SQ_OK;
    struct sq_jsv_error e;
    if (sq_jsv_validate(reg->meta, d->root, &e))
        return SQ_OK;
    bool named = strcmp(d->uri, JSV_DEFAULT_BASE) != 0;
    bool short_kw = strlen(e.keyword) < 100;
    return sq_err_set(err, SQ_ERR_DATA, e.instance,
                      "not a valid draft 2020-12 schema%s%s at \"%.120s\": %s%s%s%s",
                      named ? " " : "", named ? d->uri : "", e.instance, e.msg,
                      short_kw ? " (meta-schema " : "", short_kw ? e.keyword : "",
                      short_kw ? ")" : "");
}

struct jsv_conflict {
    const struct sq_jsv_registry *reg;
    const char *dup;
};

static void jsv_conflict_check(const char *uri, void *value, void *arg)
{
    (void)value;
    struct jsv_conflict *c = arg;
    if (c->dup)
        return;
    for (size_t i = 0; i < c->reg->ndocs; i++)
        if (sq_jsv_doc_target(c->reg->docs[i], uri))
            c->dup = uri;
}

/* Indexes schema under uri into the registry. */
static int jsv_registry_put(struct sq_jsv_registry *reg, const char *uri, json_t *schema,
                            struct sq_err *err)
{
    char *nf = sq_jsv_uri_strip_fragment(uri, NULL);
    if (!sq_jsv_uri_has_scheme(nf)) {
        sq_err_set(err, SQ_ERR_DATA, "", "schema URI \"%s\" is not absolute", uri);
        free(nf);
        return SQ_ERR_DATA;
    }
    struct jsv_doc *d = sq_jsv_doc_new(schema, nf, err);
    free(nf);
    if (!d)
        return SQ_ERR_DATA;
    struct jsv_conflict c = {reg, NULL};
    sq_jsv_doc_each_uri(d, jsv_conflict_check, &c);
    if (c.dup) {
        sq_err_set(err, SQ_ERR_DATA, "", "\"%s\" is already in the registry", c.dup);
        sq_jsv_doc_free(d);
        return SQ_ERR_DATA;
    }
    if (sq_jsv_registry_meta_check(reg, d, err) != SQ_OK) {
        sq_jsv_doc_free(d);
        return SQ_ERR_DATA;
    }
    reg->docs = sq_xrealloc(reg->docs, (reg->ndocs + 1) * sizeof *reg->docs);
    reg->docs[reg->ndocs++] = d;
    return SQ_OK;
}

int sq_jsv_registry_add(struct sq_jsv_registry *reg, const char *uri, json_t *schema,
                        struct sq_err *err)
{
    if (err)
        sq_err_clear(err);
    if (!schema || (!json_is_object(schema) && !json_is_boolean(schema)))
        return sq_err_set(err, SQ_ERR_DATA, "",
                          "not a schema (an object or a boolean is required)");
    if (!uri) {
        json_t *id = json_is_object(schema) ? json_object_get(schema, "$id") : NULL;
        if (!json_is_string(id))
            return sq_err_set(err, SQ_ERR_DATA, "", "no URI given and the schema has no $id");
        uri = json_string_value(id);
    }
    return jsv_registry_put(reg, uri, schema, err);
}

void sq_jsv_registry_map(struct sq_jsv_registry *reg, const char *uri_prefix, const char *dir)
{
    reg->maps = sq_xrealloc(reg->maps, (reg->nmaps + 1) * sizeof *reg->maps);
    /* normalised as $ref targets are: lower-case scheme, no dot segments */
    reg->maps[reg->nmaps].prefix = sq_jsv_uri_resolve(NULL, uri_prefix);
    reg->maps[reg->nmaps].dir = sq_xstrdup(dir);
    reg->nmaps++;
}

/* The file under dir for rest (a URI path, percent-decoded here), or NULL
 * when rest could leave dir or name something odd. */
static char *jsv_map_path(const char *dir, const char *rest)
{
    if (strchr(rest, '?'))
        return NULL;
    char *name = sq_jsv_uri_pct_decode(rest);
    if (!name)
        return NULL;
    size_t n = strlen(name);
    bool bad = strstr(rest, "%00") != NULL; /* would end the name early */
    for (size_t i = 0; i < n && !bad; i++)
        bad = name[i] == '\\' ||
              (name[i] == '.' && name[i + 1] == '.' && (i == 0 || name[i - 1] == '/') &&
               (name[i + 2] == '/' || name[i + 2] == '\0'));
    if (bad) {
        free(name);
        return NULL;
    }
    const char *r = name;
    while (*r == '/')
        r++;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    char *path = sq_xasprintf("%.*s/%s", (int)dl, dir, r);
    free(name);
    return path;
}

struct jsv_doc *sq_jsv_registry_load(const struct sq_jsv_registry *reg, const char *uri,
                                     struct sq_err *err)
{
    const struct jsv_map *best = NULL;
    for (size_t i = 0; i < reg->nmaps; i++) {
        const struct jsv_map *m = &reg->maps[i];
        size_t pl = strlen(m->prefix);
        if (strncmp(uri, m->prefix, pl) != 0)
            continue;
        /* "https://x/s" covers "https://x/s/a.json", not "https://x/sa.json" */
        bool boundary = pl == 0 || m->prefix[pl - 1] == '/' || uri[pl] == '/';
        if (boundary && (!best || pl > strlen(best->prefix)))
            best = m;
    }
    if (!best)
        return NULL;
    char *path = jsv_map_path(best->dir, uri + strlen(best->prefix));
    if (!path) {
        sq_err_set(err, SQ_ERR_DATA, "", "\"%s\" does not map to a file under %s", uri, best->dir);
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        sq_err_set(err, SQ_ERR_DATA, "", "no file %s", path);
        free(path);
        return NULL;
    }
    if ((unsigned long long)st.st_size > JSV_MAX_FILE_BYTES) {
        sq_err_set(err, SQ_ERR_DATA, "", "%s is larger than %u bytes", path, JSV_MAX_FILE_BYTES);
        free(path);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        sq_err_set(err, SQ_ERR_DATA, "", "%s (for \"%s\"): line %d: %s", path, uri, jerr.line,
                   jerr.text);
        free(path);
        return NULL;
    }
    free(path);
    struct jsv_doc *d = sq_jsv_doc_new(root, uri, err);
    json_decref(root);
    if (d && sq_jsv_registry_meta_check(reg, d, err) != SQ_OK) {
        sq_jsv_doc_free(d);
        d = NULL;
    }
    return d;
}

static void jsv_registry_fatal(const char *what, const char *msg)
{
    fprintf(stderr, "sqgate: built-in meta-schema %s: %s\n", what, msg);
    abort();
}

struct sq_jsv_registry *sq_jsv_registry_new(void)
{
    struct sq_jsv_registry *reg = sq_xcalloc(1, sizeof *reg);
    struct sq_err err;
    sq_err_clear(&err);
    json_error_t jerr;
    json_t *meta = json_loadb((const char *)sq_jsv_meta_schema, sq_jsv_meta_schema_len, 0, &jerr);
    if (!meta)
        jsv_registry_fatal("draft2020-12.json", jerr.text);
    if (sq_jsv_registry_add(reg, NULL, meta, &err) != SQ_OK)
        jsv_registry_fatal("draft2020-12.json", err.msg);
    json_t *vocabs =
        json_loadb((const char *)sq_jsv_meta_vocabularies, sq_jsv_meta_vocabularies_len, 0, &jerr);
    if (!vocabs)
        jsv_registry_fatal("vocabularies.json", jerr.text);
    const char *prefix = "https://json-schema.org/draft/2020-12/";
    for (void *it = json_object_iter(vocabs); it; it = json_object_iter_next(vocabs, it)) {
        const char *uri = json_object_iter_key(it);
        if (strncmp(uri, prefix, strlen(prefix)) != 0)
            continue;
        if (sq_jsv_registry_add(reg, uri, json_object_iter_value(it), &err) != SQ_OK)
            jsv_registry_fatal(uri, err.msg);
    }
    json_decref(vocabs);
    struct sq_jsv_opts opts = {.assert_format = false};
    reg->meta = sq_jsv_compile(reg, meta, NULL, &opts, &err);
    if (!reg->meta)
        jsv_registry_fatal("compile", err.msg);
    json_decref(meta);
    return reg;
}

void sq_jsv_registry_free(struct sq_jsv_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->ndocs; i++)
        sq_jsv_doc_free(reg->docs[i]);
    free(reg->docs);
    for (size_t i = 0; i < reg->nmaps; i++) {
        free(reg->maps[i].prefix);
        free(reg->maps[i].dir);
    }
    free(reg->maps);
    sq_jsv_free(reg->meta);
    free(reg);
}
