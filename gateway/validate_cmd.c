/* validate_cmd.c: `sqgate validate [--schema NAME|PATH] [--map URI=DIR]...
 * FILE.ndjson|-` (SPEC 11). Each input line is one JSON instance, checked
 * against a built-in schema, a schema file, or (without --schema) the
 * built-in schema its own `schema` field names; prints `N ok` or
 * `N invalid POINTER MESSAGE` per line, then `summary: N valid, N invalid`.
 * Called by gateway/main.c. Nothing is fetched from the network. */
#include "validate_cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "jsonschema.h"
#include "schemas_builtin.h"
#include "sq_common.h"

#define SQ_VCMD_LINE_MAX (16u * 1024 * 1024)   /* longest input line read */
#define SQ_VCMD_SCHEMA_MAX (16u * 1024 * 1024) /* largest schema file */
#define SQ_VCMD_NAME_MAX 64                    /* schema name bytes quoted back */

/* A built-in schema compiled on first use (lines without --schema). */
struct sq_vcmd_cached {
    const char *name; /* static, from the built-in table */
    struct sq_jsv *jsv;
};

struct sq_vcmd {
    struct sq_jsv_registry *reg;
    struct sq_jsv *fixed;          /* --schema, or NULL: each line's own */
    struct sq_vcmd_cached *cache;
    size_t cache_n;
    uint64_t valid, invalid;
};

static void sq_vcmd_usage(FILE *out)
{
    fprintf(out, "usage: sqgate validate [--schema NAME|PATH] [--map URI=DIR]... FILE.ndjson|-\n"
                 "  --schema NAME   a built-in schema (contact.v1, scored.v1, config, ...)\n"
                 "  --schema PATH   a JSON Schema file (draft 2020-12): a value with a '/' or\n"
                 "                  ending in .json\n"
                 "  --map URI=DIR   resolve $refs under URI from files under DIR (repeatable)\n"
                 "Without --schema each line's \"schema\" field names its built-in schema.\n"
                 "Exit status: 0 all valid, 1 any invalid, 2 usage error or unusable schema.\n");
}

/* Writes s with control bytes as '?' (one output line per input line). */
static void sq_vcmd_put_clean(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        putc(*p < 0x20 || *p == 0x7F ? '?' : (int)*p, out);
}

static void sq_vcmd_ok(struct sq_vcmd *vc, uint64_t line)
{
    printf("%" PRIu64 " ok\n", line);
    vc->valid++;
}

static void sq_vcmd_bad(struct sq_vcmd *vc, uint64_t line, const char *pointer, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

/* `N invalid POINTER MESSAGE`; an empty pointer (the root) is written "". */
static void sq_vcmd_bad(struct sq_vcmd *vc, uint64_t line, const char *pointer, const char *fmt,
                        ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("%" PRIu64 " invalid ", line);
    if (*pointer)
        sq_vcmd_put_clean(stdout, pointer);
    else
        fputs("\"\"", stdout);
    putchar(' ');
    sq_vcmd_put_clean(stdout, msg);
    putchar('\n');
    vc->invalid++;
}

/* s quoted for a message, at most SQ_VCMD_NAME_MAX bytes of it. */
static void sq_vcmd_quote(char *out, size_t outsz, const char *s)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; s[i] && o + 8 < outsz; i++) {
        if (i == SQ_VCMD_NAME_MAX) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (s[i] == '"' || s[i] == '\\')
            out[o++] = '\\';
        out[o++] = s[i];
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* The names of every built-in schema, comma-separated, for messages. */
static void sq_vcmd_builtin_names(char *out, size_t outsz)
{
    size_t n = 0, o = 0;
    const struct sq_schema_entry *all = sq_schema_builtin_all(&n);
    out[0] = '\0';
    for (size_t i = 0; i < n && o < outsz; i++) {
        int w = snprintf(out + o, outsz - o, "%s%s", i ? ", " : "", all[i].name);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* ---- schemas ---------------------------------------------------------- */

/* The static name of the built-in schema `name`, or NULL. */
static const char *sq_vcmd_builtin_name(const char *name)
{
    size_t n = 0;
    const struct sq_schema_entry *all = sq_schema_builtin_all(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].name, name) == 0)
            return all[i].name;
    return NULL;
}

/* The validator of built-in `name` (static), compiled on first use; NULL
 * with err filled when it does not compile (a defect of the build). */
static struct sq_jsv *sq_vcmd_builtin_jsv(struct sq_vcmd *vc, const char *name,
                                          struct sq_err *err)
{
    for (size_t i = 0; i < vc->cache_n; i++)
        if (vc->cache[i].name == name)
            return vc->cache[i].jsv;
    struct sq_jsv *jsv = sq_schema_compile_builtin(vc->reg, name, true, err);
    if (!jsv)
        return NULL;
    vc->cache = sq_xrealloc(vc->cache, (vc->cache_n + 1) * sizeof *vc->cache);
    vc->cache[vc->cache_n].name = name;
    vc->cache[vc->cache_n].jsv = jsv;
    vc->cache_n++;
    return jsv;
}

/* "file://" + the absolute path, percent-encoded, for a schema file's base
 * URI; *dir_uri gets the URI of its directory (with a final '/') and
 * *dir its absolute directory. All three owned by the caller; NULL when
 * the path cannot be resolved. */
static char *sq_vcmd_file_uri(const char *path, char **dir_uri, char **dir)
{
    char *abs = realpath(path, NULL);
    if (!abs)
        return NULL;
    static const char hex[] = "0123456789ABCDEF";
    struct sq_buf b;
    sq_buf_init(&b);
    sq_buf_append(&b, "file://", 7);
    size_t dir_end = 0; /* b.len just after the last '/' */
    for (const unsigned char *p = (const unsigned char *)abs; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("/-._~", c)) {
            char ch = (char)c;
            sq_buf_append(&b, &ch, 1);
            if (c == '/')
                dir_end = b.len;
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sq_buf_append(&b, e, 3);
        }
    }
    char *uri = sq_xstrndup(b.data, b.len);
    *dir_uri = sq_xstrndup(b.data, dir_end);
    sq_buf_fini(&b);
    char *slash = strrchr(abs, '/');
    *dir = sq_xstrndup(abs, slash && slash != abs ? (size_t)(slash - abs) : 1);
    free(abs);
    return uri;
}

/* Reads a whole file of at most max bytes into a new buffer; NULL with msg
 * filled otherwise. */
static char *sq_vcmd_read_file(const char *path, size_t max, size_t *len, char *msg,
                               size_t msgsz)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msgsz, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = sq_xmalloc(max + 1);
    size_t n = fread(buf, 1, max + 1, f);
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed || n > max) {
        if (failed)
            snprintf(msg, msgsz, "cannot read: %s", strerror(saved));
        else
            snprintf(msg, msgsz, "larger than %u bytes", (unsigned)max);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The validator of --schema PATH, or NULL after printing why (exit 2). Its
 * relative $refs resolve to files next to it. `format` only annotates, as
 * draft 2020-12 says, unless the schema's own vocabulary asks otherwise. */
static struct sq_jsv *sq_vcmd_schema_file(struct sq_vcmd *vc, const char *path)
{
    char msg[512];
    size_t len = 0;
    char *text = sq_vcmd_read_file(path, SQ_VCMD_SCHEMA_MAX, &len, msg, sizeof msg);
    if (!text) {
        fprintf(stderr, "sqgate validate: schema %s: %s\n", path, msg);
        return NULL;
    }
    json_error_t jerr;
    json_t *schema =
        json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!schema) {
        fprintf(stderr, "sqgate validate: schema %s is unusable: not JSON: line %d column %d: %s\n",
                path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    char *dir_uri = NULL, *dir = NULL;
    char *uri = sq_vcmd_file_uri(path, &dir_uri, &dir);
    if (!uri) {
        fprintf(stderr, "sqgate validate: schema %s: %s\n", path, strerror(errno));
        json_decref(schema);
        return NULL;
    }
    sq_jsv_registry_map(vc->reg, dir_uri, dir);
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_jsv_opts opts = {.assert_format = false};
    struct sq_jsv *jsv = sq_jsv_compile(vc->reg, schema, uri, &opts, &err);
    if (!jsv)
        fprintf(stderr, "sqgate validate: schema %s is unusable: %s%s%s\n", path,
                err.pointer[0] ? err.pointer : "", err.pointer[0] ? ": " : "",
                err.msg[0] ? err.msg : "the validator refused it");
    json_decref(schema);
    free(uri);
    free(dir_uri);
    free(dir);
    return jsv;
}

/* ---- input ------------------------------------------------------------ */

/* Reads one line (without its "\n" or "\r\n") into b: 1 when a line was
 * read, 0 at the end of the input, -1 on a read error. A line longer than
 * SQ_VCMD_LINE_MAX is consumed to its end, keeping only that much, and
 * *too_long is set. */
static int sq_vcmd_read_line(FILE *in, struct sq_buf *b, bool *too_long)
{
    char chunk[4096];
    size_t n = 0;
    bool any = false;
    int c;
    sq_buf_reset(b);
    *too_long = false;
    while ((c = getc_unlocked(in)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        chunk[n++] = (char)c;
        if (n == sizeof chunk) {
            if (b->len + n <= SQ_VCMD_LINE_MAX)
                sq_buf_append(b, chunk, n);
            else
                *too_long = true;
            n = 0;
        }
    }
    if (ferror(in))
        return -1;
    if (b->len + n <= SQ_VCMD_LINE_MAX)
        sq_buf_append(b, chunk, n);
    else
        *too_long = true;
    if (!any)
        return 0;
    if (b->len && b->data[b->len - 1] == '\r')
        b->len--;
    return 1;
}

/* Checks one line; returns 0, or 2 when a built-in schema fails to compile. */
static int sq_vcmd_line(struct sq_vcmd *vc, uint64_t lineno, const char *text, size_t len)
{
    json_error_t jerr;
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (i == len) {
        sq_vcmd_bad(vc, lineno, "", "empty line: not JSON");
        return 0;
    }
    json_t *inst =
        json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (!inst) {
        sq_vcmd_bad(vc, lineno, "", "not JSON: column %d: %s", jerr.column, jerr.text);
        return 0;
    }
    const struct sq_jsv *jsv = vc->fixed;
    if (!jsv) {
        json_t *sj = json_is_object(inst) ? json_object_get(inst, "schema") : NULL;
        const char *name = json_is_string(sj) ? sq_vcmd_builtin_name(json_string_value(sj)) : NULL;
        char quoted[SQ_VCMD_NAME_MAX * 2 + 8];
        if (!sj) {
            sq_vcmd_bad(vc, lineno, "/schema",
                        "no schema field to pick a built-in schema (or give --schema)");
        } else if (!json_is_string(sj)) {
            sq_vcmd_bad(vc, lineno, "/schema", "schema is not a string");
        } else if (!name) {
            sq_vcmd_quote(quoted, sizeof quoted, json_string_value(sj));
            sq_vcmd_bad(vc, lineno, "/schema", "unknown schema %s", quoted);
        } else {
            struct sq_err err;
            sq_err_clear(&err);
            jsv = sq_vcmd_builtin_jsv(vc, name, &err);
            if (!jsv) {
                fprintf(stderr, "sqgate validate: built-in schema %s is unusable: %s\n", name,
                        err.msg);
                json_decref(inst);
                return 2;
            }
        }
        if (!jsv) {
            json_decref(inst);
            return 0;
        }
    }
    struct sq_jsv_error je;
    memset(&je, 0, sizeof je);
    if (sq_jsv_validate(jsv, inst, &je))
        sq_vcmd_ok(vc, lineno);
    else
        sq_vcmd_bad(vc, lineno, je.instance, "%s", je.msg[0] ? je.msg : "invalid");
    json_decref(inst);
    return 0;
}

static int sq_vcmd_run(struct sq_vcmd *vc, FILE *in, const char *in_name)
{
    struct sq_buf line;
    sq_buf_init(&line);
    uint64_t lineno = 0;
    bool too_long = false;
    int rc = 0, r;
    while ((r = sq_vcmd_read_line(in, &line, &too_long)) == 1) {
        lineno++;
        const char *text = line.data ? line.data : "";
        size_t len = line.len;
        if (lineno == 1 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
            text += 3; /* a UTF-8 byte-order mark */
            len -= 3;
        }
        if (too_long) {
            sq_vcmd_bad(vc, lineno, "", "line longer than %u bytes", SQ_VCMD_LINE_MAX);
            continue;
        }
        rc = sq_vcmd_line(vc, lineno, text, len);
        if (rc)
            break;
    }
    sq_buf_fini(&line);
    if (r < 0) {
        fprintf(stderr, "sqgate validate: %s: read error: %s\n", in_name, strerror(errno));
        return 2;
    }
    if (rc)
        return rc;
    printf("summary: %" PRIu64 " valid, %" PRIu64 " invalid\n", vc->valid, vc->invalid);
    return vc->invalid ? 1 : 0;
}

/* ---- command ---------------------------------------------------------- */

/* --schema value: a path when it contains '/' or ends in ".json". */
static bool sq_vcmd_is_path(const char *v)
{
    size_t n = strlen(v);
    return strchr(v, '/') != NULL || (n >= 5 && strcmp(v + n - 5, ".json") == 0);
}

int sq_validate_main(int argc, char **argv)
{
    const char *schema = NULL, *file = NULL;
    const char **maps = NULL;
    size_t maps_n = 0;
    int code = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sq_vcmd_usage(stdout);
            free(maps);
            return 0;
        }
        if (strcmp(a, "--schema") == 0 && i + 1 < argc) {
            if (schema) {
                fprintf(stderr, "sqgate validate: --schema given twice\n");
                goto usage;
            }
            schema = argv[++i];
        } else if (strcmp(a, "--map") == 0 && i + 1 < argc) {
            maps = sq_xrealloc(maps, (maps_n + 1) * sizeof *maps);
            maps[maps_n++] = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "sqgate validate: unknown or incomplete option %s\n", a);
            goto usage;
        } else if (file) {
            fprintf(stderr, "sqgate validate: one input file only (%s, then %s)\n", file, a);
            goto usage;
        } else {
            file = a;
        }
    }
    if (!file) {
        fprintf(stderr, "sqgate validate: no input file (FILE.ndjson, or - for stdin)\n");
        goto usage;
    }
    for (size_t k = 0; k < maps_n; k++) {
        const char *eq = strchr(maps[k], '=');
        struct stat sb;
        if (!eq || eq == maps[k] || !eq[1]) {
            fprintf(stderr, "sqgate validate: --map wants URI=DIR, got %s\n", maps[k]);
            goto usage;
        }
        if (stat(eq + 1, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "sqgate validate: --map %s: %s is not a directory\n", maps[k], eq + 1);
            free(maps);
            return 2;
        }
    }

    struct sq_vcmd vc;
    memset(&vc, 0, sizeof vc);
    struct sq_err err;
    sq_err_clear(&err);
    vc.reg = sq_schema_registry_new(&err);
    if (!vc.reg) {
        fprintf(stderr, "sqgate validate: %s\n", err.msg);
        free(maps);
        return 2;
    }
    for (size_t k = 0; k < maps_n; k++) {
        const char *eq = strchr(maps[k], '=');
        char *uri = sq_xstrndup(maps[k], (size_t)(eq - maps[k]));
        sq_jsv_registry_map(vc.reg, uri, eq + 1);
        free(uri);
    }
    free(maps);
    maps = NULL;

    if (schema && sq_vcmd_is_path(schema)) {
        vc.fixed = sq_vcmd_schema_file(&vc, schema);
        if (!vc.fixed)
            goto done;
    } else if (schema) {
        const char *name = sq_vcmd_builtin_name(schema);
        if (!name) {
            char names[1024];
            sq_vcmd_builtin_names(names, sizeof names);
            fprintf(stderr,
                    "sqgate validate: no built-in schema %s (built-in: %s; a schema file needs "
                    "a '/' in its path or a .json ending)\n",
                    schema, names);
            goto done;
        }
        vc.fixed = sq_schema_compile_builtin(vc.reg, name, true, &err);
        if (!vc.fixed) {
            fprintf(stderr, "sqgate validate: built-in schema %s is unusable: %s\n", name,
                    err.msg);
            goto done;
        }
    }

    FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!in) {
        fprintf(stderr, "sqgate validate: %s: %s\n", file, strerror(errno));
        goto done;
    }
    code = sq_vcmd_run(&vc, in, strcmp(file, "-") == 0 ? "stdin" : file);
    if (in != stdin)
        fclose(in);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "sqgate validate: writing the output: %s\n", strerror(errno));
        code = 2;
    }

done:
    sq_jsv_free(vc.fixed);
    for (size_t k = 0; k < vc.cache_n; k++)
        sq_jsv_free(vc.cache[k].jsv);
    free(vc.cache);
    sq_jsv_registry_free(vc.reg);
    return code;

usage:
    sq_vcmd_usage(stderr);
    free(maps);
    return 2;
}
