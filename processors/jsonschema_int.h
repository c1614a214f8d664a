/* jsonschema_int.h: internals of the JSON Schema validator (jsonschema.h),
 * shared by processors/jsonschema_*.c only: the index of schema documents
 * (resources, anchors, where each subschema sits), the compiled form (nodes
 * and keyword ops) and the helpers for URIs, regexes, formats and values. */
#ifndef SQ_JSONSCHEMA_INT_H
#define SQ_JSONSCHEMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

#include "jsonschema.h"
#include "strmap.h"

#define JSV_STD_DIALECT "https://json-schema.org/draft/2020-12/schema"
#define JSV_DEFAULT_BASE "urn:sqgate:schema"
#define JSV_MAX_DEPTH 512        /* nested schema applications in one validation */
#define JSV_MAX_SCHEMA_DEPTH 100 /* nesting of subschemas in one document */
#define JSV_MAX_VALUE_DEPTH 2048 /* nesting of a value compared by const/enum/uniqueItems */
#define JSV_STR_(x) #x
#define JSV_STR(x) JSV_STR_(x)
#define JSV_MAX_FILE_BYTES (16u << 20) /* a schema file loaded through a mapping */

/* ---- Small containers (jsonschema_util.c) ---------------------------- */

/* Bump allocator: everything of one compiled schema or one indexed document,
 * released at once. */
struct jsv_arena {
    struct jsv_chunk *head;
};
void *sq_jsv_arena_alloc(struct jsv_arena *a, size_t n); /* zeroed */
char *sq_jsv_arena_strndup(struct jsv_arena *a, const char *s, size_t n);
char *sq_jsv_arena_strdup(struct jsv_arena *a, const char *s);
void sq_jsv_arena_fini(struct jsv_arena *a);

/* Open-addressing map from pointers to pointers. */
struct jsv_ptrmap {
    struct jsv_ptrslot *slots;
    size_t cap, n;
};
void sq_jsv_ptrmap_init(struct jsv_ptrmap *m);
void sq_jsv_ptrmap_fini(struct jsv_ptrmap *m);
void *sq_jsv_ptrmap_get(const struct jsv_ptrmap *m, const void *key);
void sq_jsv_ptrmap_put(struct jsv_ptrmap *m, const void *key, void *value);

/* Appends the JSON-pointer escape of key (~ → ~0, / → ~1) to b. */
void sq_jsv_ptr_escape(struct sq_buf *b, const char *key, size_t len);

/* ---- URIs (jsonschema_uri.c) ----------------------------------------- */

/* ref resolved against base (RFC 3986 5.2, dot segments removed); new string. */
char *sq_jsv_uri_resolve(const char *base, const char *ref);
/* True when s starts with a scheme ("urn:", "https:"). */
bool sq_jsv_uri_has_scheme(const char *s);
/* A new copy of uri without its fragment; *frag (if not NULL) points at the
 * fragment text after '#' inside uri, or is NULL when there is none. */
char *sq_jsv_uri_strip_fragment(const char *uri, const char **frag);
/* Percent-decodes s into a new string; NULL when an escape is malformed. */
char *sq_jsv_uri_pct_decode(const char *s);
/* RFC 3986: an absolute URI (scheme required) or any URI-reference. */
bool sq_jsv_uri_check(const char *s, size_t len, bool absolute);

/* ---- Regular expressions (jsonschema_regex.c) ------------------------ */

struct jsv_regex;
/* Compiles an ECMA-262 pattern (with `u` semantics) through PCRE2. NULL with
 * a message in errbuf when it is invalid or uses what PCRE2 cannot do. */
struct jsv_regex *sq_jsv_regex_new(const char *pattern, size_t len, char *errbuf, size_t errlen);
void sq_jsv_regex_free(struct jsv_regex *re);
/* 1 match, 0 no match, -1 the matcher gave up (match limit, bad UTF-8).
 * *md is created on first use and freed by the caller (pcre2_match_data_free). */
int sq_jsv_regex_match(const struct jsv_regex *re, const char *s, size_t len,
                       pcre2_match_data **md);

/* ---- Formats (jsonschema_format.c) ----------------------------------- */

enum jsv_format {
    JSV_FMT_UNKNOWN = 0,
    JSV_FMT_DATE_TIME,
    JSV_FMT_DATE,
    JSV_FMT_TIME,
    JSV_FMT_EMAIL,
    JSV_FMT_IPV4,
    JSV_FMT_IPV6,
    JSV_FMT_UUID,
    JSV_FMT_URI,
};
/* The asserted format called name, or JSV_FMT_UNKNOWN. */
enum jsv_format sq_jsv_format_lookup(const char *name);
const char *sq_jsv_format_name(enum jsv_format f);
bool sq_jsv_format_check(enum jsv_format f, const char *s, size_t len);
/* True when name is a format defined by draft 2020-12 (asserted or not). */
bool sq_jsv_format_is_standard(const char *name);

/* ---- JSON values (jsonschema_value.c) -------------------------------- */

/* A JSON number as jansson holds it: an integer or a double. */
struct jsv_num {
    bool is_int;
    json_int_t i;
    double d;
};
void sq_jsv_num_of(const json_t *v, struct jsv_num *n);
/* Mathematical comparison: -1, 0, 1. */
int sq_jsv_num_cmp(const struct jsv_num *a, const struct jsv_num *b);
/* A real with no fractional part counts as an integer (draft 2020-12). */
bool sq_jsv_is_integer(const json_t *v);
/* Exact decimal form of a number: value = (neg ? -1 : 1) * mant * 10^exp,
 * with the double's shortest round-trip digits. */
struct jsv_dec {
    uint64_t mant;
    int exp;
    bool neg;
};
void sq_jsv_dec_of(const struct jsv_num *n, struct jsv_dec *d);
/* x is an integer multiple of the divisor (> 0), in decimal arithmetic. */
bool sq_jsv_is_multiple(const struct jsv_num *x, const struct jsv_num *div,
                        const struct jsv_dec *div_dec);
/* JSON equality (1 == 1.0, objects regardless of key order). Sets *too_deep
 * and returns false past JSV_MAX_VALUE_DEPTH. */
bool sq_jsv_equal(const json_t *a, const json_t *b, unsigned depth, bool *too_deep);
/* A hash consistent with sq_jsv_equal. */
uint64_t sq_jsv_hash(const json_t *v, unsigned depth);
/* Unicode code points in a UTF-8 string. */
size_t sq_jsv_utf8_count(const char *s, size_t len);

/* ---- Index of schema documents (jsonschema_registry.c) --------------- */

struct jsv_doc;

/* A $dynamicAnchor of a resource. */
struct jsv_dynanchor {
    const char *name;
    json_t *schema;
    struct jsv_dynanchor *next;
};

/* A schema resource: a document root or a subschema with $id. */
struct jsv_resource {
    const char *uri; /* absolute, no fragment */
    json_t *schema;
    const char *dialect;       /* $schema in effect; NULL: draft 2020-12 */
    struct jsv_dynanchor *dyn; /* its $dynamicAnchors */
    struct jsv_doc *doc;
};

/* What an absolute URI names: a resource ("uri") or an anchor ("uri#name"). */
struct jsv_target {
    json_t *schema;
    struct jsv_resource *res;
    bool dynamic; /* an anchor made by $dynamicAnchor */
};

/* Where a schema object sits, kept for every one in a schema position. */
struct jsv_loc {
    struct jsv_resource *res; /* the resource it belongs to */
    const char *ptr;          /* JSON pointer from the document root */
};

/* One indexed document (a new reference to root is kept). */
struct jsv_doc {
    json_t *root;
    const char *uri; /* retrieval URI */
    struct jsv_arena arena;
    struct sq_strmap uris;  /* URI → struct jsv_target */
    struct jsv_ptrmap locs; /* json_t * → struct jsv_loc */
};
/* Indexes root retrieved from uri: resources ($id), anchors, and the place
 * of every subschema. NULL with err when the document is not usable. */
struct jsv_doc *sq_jsv_doc_new(json_t *root, const char *uri, struct sq_err *err);
void sq_jsv_doc_free(struct jsv_doc *d);
const struct jsv_target *sq_jsv_doc_target(const struct jsv_doc *d, const char *uri);
const struct jsv_loc *sq_jsv_doc_loc(const struct jsv_doc *d, const json_t *schema);
/* Calls fn for every URI the document defines (resources and anchors). */
void sq_jsv_doc_each_uri(struct jsv_doc *d, void (*fn)(const char *uri, void *value, void *arg),
                         void *arg);

struct jsv_map {
    char *prefix;
    char *dir;
};

struct sq_jsv_registry {
    struct jsv_doc **docs;
    size_t ndocs;
    struct jsv_map *maps;
    size_t nmaps;
    struct sq_jsv *meta; /* the draft 2020-12 meta-schema, to check schemas with */
};

/* Loads the file a mapping gives for uri (no fragment) and indexes it.
 * Returns NULL (err untouched) when no mapping covers uri; NULL with
 * err->kind set when the file cannot be read or is not a schema. */
struct jsv_doc *sq_jsv_registry_load(const struct sq_jsv_registry *reg, const char *uri,
                                     struct sq_err *err);
/* Checks a document of the standard dialect against the draft 2020-12
 * meta-schema; SQ_OK or SQ_ERR_DATA with the failing schema location. */
int sq_jsv_registry_meta_check(const struct sq_jsv_registry *reg, const struct jsv_doc *d,
                               struct sq_err *err);

/* The embedded meta-schemas (generated at build time from python3-jsonschema). */
extern const unsigned char sq_jsv_meta_schema[];
extern const size_t sq_jsv_meta_schema_len;
extern const unsigned char sq_jsv_meta_vocabularies[];
extern const size_t sq_jsv_meta_vocabularies_len;

/* ---- Compiled form (jsonschema_compile.c, jsonschema_validate.c) ------ */

enum jsv_node_kind { JSV_NODE_FALSE, JSV_NODE_TRUE, JSV_NODE_SCHEMA };

enum jsv_type_bit {
    JSV_T_NULL = 1 << 0,
    JSV_T_BOOLEAN = 1 << 1,
    JSV_T_OBJECT = 1 << 2,
    JSV_T_ARRAY = 1 << 3,
    JSV_T_NUMBER = 1 << 4,
    JSV_T_STRING = 1 << 5,
    JSV_T_INTEGER = 1 << 6,
};

enum jsv_op {
    /* any instance */
    JSV_OP_TYPE,
    JSV_OP_CONST,
    JSV_OP_ENUM,
    /* numbers */
    JSV_OP_MULTIPLE_OF,
    JSV_OP_MAXIMUM,
    JSV_OP_EXCL_MAXIMUM,
    JSV_OP_MINIMUM,
    JSV_OP_EXCL_MINIMUM,
    /* strings */
    JSV_OP_MAX_LENGTH,
    JSV_OP_MIN_LENGTH,
    JSV_OP_PATTERN,
    JSV_OP_FORMAT,
    /* arrays */
    JSV_OP_MAX_ITEMS,
    JSV_OP_MIN_ITEMS,
    JSV_OP_UNIQUE_ITEMS,
    JSV_OP_ITEMS,    /* prefixItems and items */
    JSV_OP_CONTAINS, /* with minContains, maxContains */
    /* objects */
    JSV_OP_MAX_PROPERTIES,
    JSV_OP_MIN_PROPERTIES,
    JSV_OP_REQUIRED,
    JSV_OP_DEPENDENT_REQUIRED,
    JSV_OP_PROPERTIES, /* properties, patternProperties, additionalProperties */
    JSV_OP_PROPERTY_NAMES,
    JSV_OP_DEPENDENT_SCHEMAS,
    /* in place */
    JSV_OP_REF,
    JSV_OP_DYNAMIC_REF,
    JSV_OP_ALL_OF,
    JSV_OP_ANY_OF,
    JSV_OP_ONE_OF,
    JSV_OP_NOT,
    JSV_OP_IF,
};

struct jsv_node;

struct jsv_res { /* a resource on the dynamic scope */
    const char *uri;
    size_t ndyn;
    uint32_t *dyn_name; /* interned $dynamicAnchor names */
    const struct jsv_node **dyn_node;
};

struct jsv_prop {
    const char *name;
    size_t len;
    const struct jsv_node *node;
    const char *loc; /* "properties/<escaped name>" */
};

struct jsv_pattern_prop {
    const struct jsv_regex *re;
    const struct jsv_node *node;
    const char *loc; /* "patternProperties/<escaped pattern>" */
};

struct jsv_dep { /* dependentRequired / dependentSchemas entry */
    const char *name;
    size_t len;
    const char **req; /* dependentRequired: the names required */
    size_t *req_len;
    size_t nreq;
    const struct jsv_node *node; /* dependentSchemas */
    const char *loc;
};

struct jsv_kw {
    uint8_t op;
    const char *loc; /* keyword location segment(s), e.g. "minimum" */
    union {
        unsigned types;      /* TYPE: jsv_type_bit mask */
        const json_t *value; /* CONST (owned copy, see sq_jsv.values) */
        struct {
            const json_t **v;
            size_t n;
        } en;
        struct jsv_num num; /* MAXIMUM .. EXCL_MINIMUM */
        struct {
            struct jsv_num num;
            struct jsv_dec dec;
        } mult;
        size_t count; /* MAX_LENGTH .. MIN_PROPERTIES */
        const struct jsv_regex *re;
        enum jsv_format fmt;
        const struct jsv_node *node; /* REF, NOT, PROPERTY_NAMES */
        struct {
            const struct jsv_node *node; /* initial target */
            uint32_t name;               /* interned anchor name, when dynamic */
            bool dynamic;
        } dref;
        struct {
            const struct jsv_node **nodes;
            const char **locs; /* "allOf/0", ... */
            size_t n;
        } list;
        struct {
            const struct jsv_node *if_, *then_, *else_;
        } cond;
        struct {
            const struct jsv_node **prefix;
            const char **prefix_locs;
            size_t nprefix;
            const struct jsv_node *items; /* NULL: no items keyword */
        } items;
        struct {
            const struct jsv_node *node;
            size_t min, max;
            bool has_max;
            const char *min_loc, *max_loc;
        } contains;
        struct {
            const char **names;
            size_t *lens;
            size_t n;
        } req;
        struct {
            struct jsv_prop *props;
            size_t nprops;
            uint32_t *table; /* open addressing: index + 1 into props, 0 empty */
            uint32_t mask;
            struct jsv_pattern_prop *pats;
            size_t npats;
            const struct jsv_node *additional; /* NULL: none */
        } props;
        struct {
            struct jsv_dep *deps;
            size_t n;
        } dep;
    } u;
};

struct jsv_kwlist {
    struct jsv_kw *kw;
    size_t n;
};

struct jsv_node {
    uint8_t kind;                         /* enum jsv_node_kind */
    const struct jsv_res *res;            /* resource it belongs to (dynamic scope) */
    struct jsv_kwlist any;                /* type, const, enum */
    struct jsv_kwlist num, str, arr, obj; /* by instance type */
    struct jsv_kwlist inplace;            /* $ref, $dynamicRef, allOf ... if */
    const struct jsv_node *uneval_props;  /* unevaluatedProperties, NULL: none */
    const struct jsv_node *uneval_items;
};

struct sq_jsv {
    struct jsv_arena arena;
    const struct jsv_node *root;
    json_t *schema;  /* the reference the API promises to keep */
    json_t **values; /* owned copies of const / enum values */
    size_t nvalues, capvalues;
    struct jsv_regex **regexes;
    size_t nregexes, capregexes;
    bool dynamic; /* uses $dynamicRef: track the dynamic scope */
};

extern const struct jsv_node sq_jsv_node_true, sq_jsv_node_false;

#endif
