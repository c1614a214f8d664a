/* test_jsonschema.c: unit tests of the JSON Schema validator
 * (processors/jsonschema.h) beyond the official suite (which ctest runs as
 * jsonschema.suite): error locations and messages, schemas rejected at
 * compile time, number and string semantics, depth limits, the registry and
 * its file mappings, and validation from several threads at once. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonschema.h"

static struct sq_jsv_registry *reg;

static void setup(void)
{
    reg = sq_jsv_registry_new();
}

static void teardown(void)
{
    sq_jsv_registry_free(reg);
    reg = NULL;
}

TestSuite(jsonschema, .init = setup, .fini = teardown);

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    cr_assert_not_null(j, "bad test JSON %s: %s", text, jerr.text);
    return j;
}

/* Compiles schema text; fails the test when it does not compile. */
static struct sq_jsv *compile_opts(const char *schema, bool assert_format)
{
    json_t *s = parse(schema);
    struct sq_err err;
    struct sq_jsv_opts opts = {.assert_format = assert_format};
    struct sq_jsv *v = sq_jsv_compile(reg, s, NULL, &opts, &err);
    json_decref(s);
    cr_assert_not_null(v, "schema %s not compiled: %s %s", schema, err.pointer, err.msg);
    return v;
}

static struct sq_jsv *compile(const char *schema)
{
    return compile_opts(schema, false);
}

/* Compiles schema text that must be rejected; returns the error. */
static struct sq_err compile_fails(const char *schema)
{
    json_t *s = parse(schema);
    struct sq_err err;
    struct sq_jsv *v = sq_jsv_compile(reg, s, NULL, NULL, &err);
    json_decref(s);
    cr_assert_null(v, "schema %s compiled but should not", schema);
    cr_assert_eq(err.kind, SQ_ERR_DATA);
    cr_assert(err.msg[0] != '\0');
    return err;
}

static bool valid(const struct sq_jsv *v, const char *instance)
{
    json_t *i = parse(instance);
    bool ok = sq_jsv_validate(v, i, NULL);
    json_decref(i);
    return ok;
}

/* Validates an instance that must fail and returns the error. */
static struct sq_jsv_error invalid(const struct sq_jsv *v, const char *instance)
{
    json_t *i = parse(instance);
    struct sq_jsv_error e;
    memset(&e, 0x55, sizeof e);
    cr_assert_not(sq_jsv_validate(v, i, &e), "%s should be invalid", instance);
    json_decref(i);
    cr_assert(memchr(e.instance, '\0', sizeof e.instance) &&
                  memchr(e.keyword, '\0', sizeof e.keyword) && memchr(e.msg, '\0', sizeof e.msg),
              "error fields not terminated");
    return e;
}

static void check_error(const char *schema, const char *instance, const char *want_instance,
                        const char *want_keyword, const char *want_msg_part)
{
    struct sq_jsv *v = compile(schema);
    struct sq_jsv_error e = invalid(v, instance);
    cr_expect_str_eq(e.instance, want_instance, "instance of %s", instance);
    cr_expect_str_eq(e.keyword, want_keyword, "keyword of %s", instance);
    cr_expect(strstr(e.msg, want_msg_part) != NULL, "message \"%s\" lacks \"%s\"", e.msg,
              want_msg_part);
    sq_jsv_free(v);
}

/* ---- error locations and messages ---------------------------------- */

Test(jsonschema, error_nested_property)
{
    check_error("{\"properties\": {\"a\": {\"properties\": {\"b\": {\"minimum\": 5}}}}}",
                "{\"a\": {\"b\": 3}}", "/a/b", "/properties/a/properties/b/minimum", ">= 5");
}

Test(jsonschema, error_through_ref_is_the_evaluation_path)
{
    check_error("{\"$defs\": {\"pos\": {\"type\": \"integer\", \"exclusiveMinimum\": 0}},"
                " \"properties\": {\"n\": {\"$ref\": \"#/$defs/pos\"}}}",
                "{\"n\": 0}", "/n", "/properties/n/$ref/exclusiveMinimum", "> 0");
}

Test(jsonschema, error_array_item_type)
{
    check_error("{\"items\": {\"type\": \"string\"}}", "[\"a\", \"b\", 7]", "/2", "/items/type",
                "expected string, got integer");
    check_error("{\"prefixItems\": [{\"type\": \"string\"}, {\"type\": [\"null\", \"boolean\"]}]}",
                "[\"a\", 1.5]", "/1", "/prefixItems/1/type",
                "expected null or boolean, got number");
}

Test(jsonschema, error_required_points_at_the_object)
{
    check_error("{\"properties\": {\"o\": {\"required\": [\"x\", \"y\"]}}}", "{\"o\": {\"x\": 1}}",
                "/o", "/properties/o/required", "required property \"y\" is missing");
    check_error("{\"required\": [\"event_id\"]}", "{}", "", "/required", "\"event_id\"");
}

Test(jsonschema, error_escapes_pointer_tokens)
{
    check_error("{\"additionalProperties\": false}", "{\"a/b~c\": 1}", "/a~1b~0c",
                "/additionalProperties", "not allowed");
    check_error("{\"properties\": {\"x/y\": {\"type\": \"null\"}}}", "{\"x/y\": 0}", "/x~1y",
                "/properties/x~1y/type", "expected null");
    check_error("{\"patternProperties\": {\"^a\": {\"maxLength\": 1}}}", "{\"ab\": \"xyz\"}", "/ab",
                "/patternProperties/^a/maxLength", "at most 1");
}

Test(jsonschema, error_applicators)
{
    check_error("{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}", "null", "",
                "/anyOf", "none of the 2");
    check_error("{\"oneOf\": [{\"minimum\": 0}, {\"maximum\": 10}]}", "5", "", "/oneOf",
                "more than one");
    check_error("{\"not\": {\"type\": \"null\"}}", "null", "", "/not", "must not match");
    check_error("{\"allOf\": [true, {\"multipleOf\": 3}]}", "7", "", "/allOf/1/multipleOf",
                "multiple of 3");
    check_error("{\"if\": {\"type\": \"string\"}, \"then\": {\"minLength\": 3},"
                " \"else\": {\"const\": 0}}",
                "\"ab\"", "", "/then/minLength", "at least 3");
    check_error("{\"if\": {\"type\": \"string\"}, \"then\": {\"minLength\": 3},"
                " \"else\": {\"const\": 0}}",
                "1", "", "/else/const", "constant");
    check_error("{\"contains\": {\"type\": \"string\"}, \"maxContains\": 1}", "[\"a\", \"b\"]", "",
                "/maxContains", "more than 1");
    check_error("{\"dependentRequired\": {\"a\": [\"b\"]}}", "{\"a\": 1}", "",
                "/dependentRequired/a", "requires property \"b\"");
}

Test(jsonschema, error_unevaluated)
{
    check_error("{\"properties\": {\"a\": true}, \"allOf\": [{\"properties\": {\"b\": true}}],"
                " \"unevaluatedProperties\": false}",
                "{\"a\": 1, \"b\": 2, \"c\": 3}", "/c", "/unevaluatedProperties", "\"c\"");
    check_error("{\"prefixItems\": [true], \"unevaluatedItems\": {\"type\": \"string\"}}",
                "[1, \"x\", 2]", "/2", "/unevaluatedItems/type", "expected string");
}

Test(jsonschema, error_false_schema_and_messages)
{
    check_error("{\"properties\": {\"gone\": false}}", "{\"gone\": 1}", "/gone", "/properties/gone",
                "false schema");
    check_error("{\"uniqueItems\": true}", "[1, 2, 1.0]", "", "/uniqueItems", "items 0 and 2");
    check_error("{\"enum\": [\"voice\", \"chat\"]}", "\"fax\"", "", "/enum", "2 allowed values");
    check_error("{\"maxLength\": 2}", "\"\u00e9\u00e9\u00e9\"", "", "/maxLength",
                "3 characters long");
}

Test(jsonschema, valid_instance_and_null_error)
{
    struct sq_jsv *v =
        compile("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\"}}}");
    cr_assert(valid(v, "{\"a\": \"x\", \"b\": 1}"));
    cr_assert_not(valid(v, "{\"a\": 1}")); /* err NULL */
    cr_assert_not(sq_jsv_validate(v, NULL, NULL));
    sq_jsv_free(v);
    sq_jsv_free(NULL);
    sq_jsv_registry_free(NULL);
}

/* ---- schemas that cannot be used ----------------------------------- */

Test(jsonschema, rejects_bad_type_name)
{
    struct sq_err e = compile_fails("{\"properties\": {\"a\": {\"type\": \"strnig\"}}}");
    cr_expect_str_eq(e.pointer, "/properties/a/type");
    cr_expect(strstr(e.msg, "type") != NULL, "%s", e.msg);
}

Test(jsonschema, rejects_unresolvable_refs)
{
    struct sq_err e = compile_fails("{\"$ref\": \"#/$defs/missing\"}");
    cr_expect(strstr(e.msg, "cannot resolve") != NULL, "%s", e.msg);
    cr_expect_str_eq(e.pointer, "/$ref");
    e = compile_fails("{\"properties\": {\"a\": {\"$ref\": \"#nowhere\"}}}");
    cr_expect(strstr(e.msg, "nowhere") != NULL, "%s", e.msg);
    /* no mapping: never fetched from the network */
    e = compile_fails("{\"$ref\": \"https://example.com/schemas/x.json\"}");
    cr_expect(strstr(e.msg, "https://example.com/schemas/x.json") != NULL, "%s", e.msg);
    e = compile_fails("{\"$dynamicRef\": \"#/$defs/a~2b\"}");
    cr_expect(strstr(e.msg, "cannot resolve") != NULL, "%s", e.msg);
}

Test(jsonschema, rejects_bad_regexes)
{
    struct sq_err e = compile_fails("{\"pattern\": \"(unclosed\"}");
    cr_expect(strstr(e.msg, "regular expression") != NULL, "%s", e.msg);
    e = compile_fails("{\"pattern\": \"\\\\a\"}"); /* not an ECMA-262 escape */
    cr_expect(strstr(e.msg, "invalid escape") != NULL, "%s", e.msg);
    e = compile_fails("{\"patternProperties\": {\"[z-a]\": true}}");
    cr_expect_str_eq(e.pointer, "/patternProperties");
}

Test(jsonschema, rejects_non_schemas)
{
    struct sq_err e = compile_fails("{\"properties\": {\"a\": 5}}");
    cr_expect_str_eq(e.pointer, "/properties/a");
    e = compile_fails("{\"items\": [{\"type\": \"string\"}]}"); /* draft 7 form */
    cr_expect_str_eq(e.pointer, "/items");
    e = compile_fails("{\"minLength\": -1}");
    cr_expect_str_eq(e.pointer, "/minLength");
    e = compile_fails("{\"multipleOf\": 0}");
    cr_expect_str_eq(e.pointer, "/multipleOf");
    json_t *n = json_integer(3);
    struct sq_err err;
    cr_expect_null(sq_jsv_compile(reg, n, NULL, NULL, &err));
    cr_expect_eq(err.kind, SQ_ERR_DATA);
    json_decref(n);
}

Test(jsonschema, rejects_what_only_the_meta_schema_sees)
{
    /* an unreferenced subschema: checked against the draft 2020-12 meta-schema */
    struct sq_err e = compile_fails("{\"$defs\": {\"x\": {\"title\": 5}}}");
    cr_expect_str_eq(e.pointer, "/$defs/x/title");
    cr_expect(strstr(e.msg, "meta-schema") != NULL, "%s", e.msg);
    e = compile_fails("{\"$id\": \"https://example.com/a#frag\"}");
    cr_expect(strstr(e.msg, "fragment") != NULL, "%s", e.msg);
}

Test(jsonschema, rejects_older_drafts_and_unknown_dialects)
{
    struct sq_err e = compile_fails("{\"$schema\": \"http://json-schema.org/draft-07/schema#\"}");
    cr_expect(strstr(e.msg, "2020-12") != NULL, "%s", e.msg);
    e = compile_fails("{\"$schema\": \"https://example.com/unknown-meta\"}");
    cr_expect(strstr(e.msg, "cannot resolve") != NULL, "%s", e.msg);
}

/* The only draft 2020-12 keyword the validator does not implement fully is
 * `format` under a *required* format-assertion vocabulary for formats it
 * does not check: such a schema is refused, naming the format. */
Test(jsonschema, rejects_unimplemented_format_assertion)
{
    json_t *meta =
        parse("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
              " \"$id\": \"https://example.com/meta/fa\","
              " \"$vocabulary\": {\"https://json-schema.org/draft/2020-12/vocab/core\": true,"
              " \"https://json-schema.org/draft/2020-12/vocab/format-assertion\": true}}");
    struct sq_err err;
    cr_assert_eq(sq_jsv_registry_add(reg, NULL, meta, &err), SQ_OK, "%s", err.msg);
    json_decref(meta);
    struct sq_err e = compile_fails("{\"$schema\": \"https://example.com/meta/fa\","
                                    " \"format\": \"hostname\"}");
    cr_expect(strstr(e.msg, "\"hostname\" is not implemented") != NULL, "%s", e.msg);
    cr_expect_str_eq(e.pointer, "/format");
    /* a format it does assert: used, and asserted without assert_format */
    struct sq_jsv *v =
        compile("{\"$schema\": \"https://example.com/meta/fa\", \"format\": \"ipv4\","
                " \"minimum\": 5}");
    cr_expect(valid(v, "\"10.0.0.1\""));
    cr_expect_not(valid(v, "\"10.0.0.256\""));
    cr_expect(valid(v, "1"), "minimum is not in this dialect's vocabularies");
    sq_jsv_free(v);
}

Test(jsonschema, rejects_unknown_required_vocabulary)
{
    json_t *meta =
        parse("{\"$id\": \"https://example.com/meta/x\","
              " \"$vocabulary\": {\"https://json-schema.org/draft/2020-12/vocab/core\": true,"
              " \"https://example.com/vocab/magic\": true}}");
    struct sq_err err;
    cr_assert_eq(sq_jsv_registry_add(reg, NULL, meta, &err), SQ_OK, "%s", err.msg);
    json_decref(meta);
    struct sq_err e = compile_fails("{\"$schema\": \"https://example.com/meta/x\"}");
    cr_expect(strstr(e.msg, "https://example.com/vocab/magic") != NULL, "%s", e.msg);
}

/* ---- semantics -------------------------------------------------------- */

Test(jsonschema, numbers_compare_mathematically)
{
    struct sq_jsv *v = compile("{\"type\": \"integer\"}");
    cr_expect(valid(v, "1.0"));
    cr_expect(valid(v, "-0.0"));
    cr_expect_not(valid(v, "1.5"));
    sq_jsv_free(v);
    v = compile("{\"maximum\": 9007199254740993}"); /* 2^53 + 1: not a double */
    cr_expect(valid(v, "9007199254740993"));
    cr_expect_not(valid(v, "9007199254740994"));
    cr_expect_not(valid(v, "9007199254740994.0"));
    sq_jsv_free(v);
    v = compile("{\"exclusiveMinimum\": 1.5}");
    cr_expect(valid(v, "2"));
    cr_expect_not(valid(v, "1"));
    cr_expect_not(valid(v, "1.5"));
    sq_jsv_free(v);
    v = compile("{\"const\": 1, \"enum\": [1.0, 2]}");
    cr_expect(valid(v, "1.0"));
    cr_expect(valid(v, "1"));
    cr_expect_not(valid(v, "true"));
    sq_jsv_free(v);
}

Test(jsonschema, multiple_of_in_decimal)
{
    struct sq_jsv *v = compile("{\"multipleOf\": 0.01}");
    cr_expect(valid(v, "19.99"));
    cr_expect(valid(v, "0.3"));
    cr_expect(valid(v, "1e300"));
    cr_expect(valid(v, "12"));
    cr_expect_not(valid(v, "19.999"));
    cr_expect_not(valid(v, "1e-3"));
    sq_jsv_free(v);
    v = compile("{\"multipleOf\": 7}");
    cr_expect(valid(v, "-21"));
    cr_expect(valid(v, "7e20"));
    cr_expect_not(valid(v, "22"));
    cr_expect_not(valid(v, "7.7"));
    sq_jsv_free(v);
}

Test(jsonschema, json_equality_for_unique_items)
{
    struct sq_jsv *v = compile("{\"uniqueItems\": true}");
    cr_expect(valid(v, "[{\"a\": 1, \"b\": [1, 2]}, {\"a\": 1, \"b\": [2, 1]}]"));
    cr_expect_not(valid(v, "[{\"a\": 1, \"b\": 2}, {\"b\": 2.0, \"a\": 1}]"));
    /* more than 16 items: the hashed path */
    cr_expect(valid(v, "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,\"0\",[0],{\"0\":0}]"));
    cr_expect_not(
        valid(v, "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,{\"x\":[1]},{\"x\":[1.0]}]"));
    cr_expect_not(valid(v, "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,19.0]"));
    sq_jsv_free(v);
}

Test(jsonschema, string_length_counts_code_points)
{
    struct sq_jsv *v = compile("{\"minLength\": 2, \"maxLength\": 3}");
    cr_expect(valid(v, "\"\u00e9\u00e9\""));                   /* 4 bytes, 2 code points */
    cr_expect(valid(v, "\"\U0001F600\U0001F600\U0001F600\"")); /* 12 bytes */
    cr_expect_not(valid(v, "\"\U0001F600\""));                 /* 4 bytes, 1 code point */
    cr_expect_not(valid(v, "\"abcd\""));
    sq_jsv_free(v);
}

Test(jsonschema, ecma_regex_semantics)
{
    struct sq_jsv *v = compile("{\"pattern\": \"^\\\\d+$\"}");
    cr_expect(valid(v, "\"123\""));
    cr_expect_not(valid(v, "\"\u0661\u0662\"")); /* Arabic-Indic digits */
    cr_expect_not(valid(v, "\"123\\n\""));       /* $ is the end, not before a final newline */
    sq_jsv_free(v);
    v = compile("{\"pattern\": \"^[\\\\s]$\"}");
    cr_expect(valid(v, "\"\u00a0\""));
    cr_expect(valid(v, "\"\ufeff\""));
    cr_expect_not(valid(v, "\"x\""));
    sq_jsv_free(v);
    v = compile("{\"pattern\": \"^[^\\\\S]$\"}");
    cr_expect(valid(v, "\"\u2029\""));
    cr_expect_not(valid(v, "\"x\""));
    sq_jsv_free(v);
    v = compile("{\"pattern\": \"^.$\"}");
    cr_expect(valid(v, "\"\U0001F600\"")); /* one code point, not two UTF-16 units */
    cr_expect_not(valid(v, "\"\\n\""));
    cr_expect_not(valid(v, "\"\u2028\""));
    sq_jsv_free(v);
    v = compile("{\"pattern\": \"^\\\\uD83D\\\\uDE00[]?\\\\p{Lu}\\\\u{41}$\"}");
    cr_expect(valid(v, "\"\U0001F600\u00c9A\""));
    cr_expect_not(valid(v, "\"\U0001F600\u00e9A\""));
    sq_jsv_free(v);
}

Test(jsonschema, format_asserted_only_when_asked)
{
    const char *schema = "{\"properties\": {\"at\": {\"format\": \"date-time\"},"
                         " \"ip\": {\"format\": \"ipv6\"}, \"u\": {\"format\": \"uri\"}}}";
    struct sq_jsv *loose = compile_opts(schema, false);
    struct sq_jsv *strict = compile_opts(schema, true);
    cr_expect(valid(loose, "{\"at\": \"yesterday\"}"));
    struct sq_jsv_error e = invalid(strict, "{\"at\": \"2026-02-30T10:00:00Z\"}");
    cr_expect_str_eq(e.instance, "/at");
    cr_expect_str_eq(e.keyword, "/properties/at/format");
    cr_expect(strstr(e.msg, "date-time") != NULL, "%s", e.msg);
    cr_expect(valid(strict, "{\"at\": \"2026-11-25T10:15:00.5+08:00\", \"ip\": \"::ffff:1.2.3.4\","
                            " \"u\": \"urn:isbn:0451450523\"}"));
    cr_expect_not(valid(strict, "{\"u\": \"relative/path\"}"));
    cr_expect(valid(strict, "{\"at\": 5}"), "formats apply to strings only");
    sq_jsv_free(loose);
    sq_jsv_free(strict);
}

/* ---- depth limits ------------------------------------------------------- */

Test(jsonschema, ref_cycles_end_with_an_error)
{
    struct sq_jsv *v = compile("{\"$ref\": \"#\"}");
    struct sq_jsv_error e = invalid(v, "{}");
    cr_expect(strstr(e.msg, "deeper") != NULL, "%s", e.msg);
    sq_jsv_free(v);
    v = compile("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": {\"not\": {\"$ref\": "
                "\"#/$defs/a\"}}},"
                " \"$ref\": \"#/$defs/a\"}");
    cr_expect_not(valid(v, "1"), "a cycle through not must not turn into a pass");
    sq_jsv_free(v);
}

Test(jsonschema, deep_instance_does_not_overflow)
{
    struct sq_jsv *v = compile("{\"type\": \"array\", \"items\": {\"$ref\": \"#\"}}");
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < 20000; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    struct sq_jsv_error e;
    cr_expect_not(sq_jsv_validate(v, root, &e));
    cr_expect(strstr(e.msg, "deeper") != NULL, "%s", e.msg);
    json_decref(root);
    /* within the limit: fine */
    root = parse("[[[[[[[[[[]]]]]]]]]]");
    cr_expect(sq_jsv_validate(v, root, NULL));
    json_decref(root);
    sq_jsv_free(v);
}

/* ---- registry ----------------------------------------------------------- */

Test(jsonschema, registry_add_and_ref)
{
    json_t *common = parse("{\"$id\": \"https://sq.example/common.json\","
                           " \"$defs\": {\"id\": {\"type\": \"string\", \"minLength\": 1}}}");
    struct sq_err err;
    cr_assert_eq(sq_jsv_registry_add(reg, NULL, common, &err), SQ_OK, "%s", err.msg);
    cr_expect_eq(sq_jsv_registry_add(reg, NULL, common, &err), SQ_ERR_DATA, "added twice");
    cr_expect(strstr(err.msg, "already") != NULL, "%s", err.msg);
    json_decref(common);
    json_t *anon = parse("{\"type\": \"string\"}");
    cr_expect_eq(sq_jsv_registry_add(reg, NULL, anon, &err), SQ_ERR_DATA, "no URI and no $id");
    cr_expect_eq(sq_jsv_registry_add(reg, "relative.json", anon, &err), SQ_ERR_DATA);
    cr_expect_eq(sq_jsv_registry_add(reg, "https://sq.example/anon.json", anon, &err), SQ_OK, "%s",
                 err.msg);
    json_decref(anon);
    json_t *bad = parse("{\"$id\": \"https://sq.example/bad.json\", \"minimum\": \"zero\"}");
    cr_expect_eq(sq_jsv_registry_add(reg, NULL, bad, &err), SQ_ERR_DATA, "not a schema");
    cr_expect_str_eq(err.pointer, "/minimum");
    json_decref(bad);

    struct sq_jsv *v = compile("{\"$id\": \"https://sq.example/event.json\", \"properties\": {"
                               " \"event_id\": {\"$ref\": \"common.json#/$defs/id\"},"
                               " \"name\": {\"$ref\": \"anon.json\"}}}");
    cr_expect(valid(v, "{\"event_id\": \"e1\", \"name\": \"x\"}"));
    struct sq_jsv_error e = invalid(v, "{\"event_id\": \"\"}");
    cr_expect_str_eq(e.keyword, "/properties/event_id/$ref/minLength");
    cr_expect_not(valid(v, "{\"name\": 1}"));
    /* the compiled schema does not need the registry any more */
    sq_jsv_registry_free(reg);
    reg = NULL;
    cr_expect(valid(v, "{\"event_id\": \"e2\"}"));
    sq_jsv_free(v);
}

Test(jsonschema, registry_map_loads_files_only_under_dir)
{
    char dir[] = "/tmp/sq-jsv-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/sub", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/sub/money.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"type\": \"number\", \"minimum\": 0, \"$defs\": {\"cur\": {\"$ref\": \"cur.json\"}}}",
          f);
    fclose(f);
    snprintf(path, sizeof path, "%s/sub/cur.json", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"enum\": [\"EUR\", \"CNY\"]}", f);
    fclose(f);
    sq_jsv_registry_map(reg, "https://sq.example/ext/", dir);
    struct sq_jsv *v = compile(
        "{\"properties\": {\"amount\": {\"$ref\": \"https://sq.example/ext/sub/money.json\"},"
        " \"currency\": {\"$ref\": \"https://sq.example/ext/sub/money.json#/$defs/cur\"}}}");
    cr_expect(valid(v, "{\"amount\": 3.5, \"currency\": \"CNY\"}"));
    cr_expect_not(valid(v, "{\"amount\": -1}"));
    cr_expect_not(valid(v, "{\"currency\": \"USD\"}"));
    sq_jsv_free(v);
    struct sq_err e = compile_fails("{\"$ref\": \"https://sq.example/ext/sub/absent.json\"}");
    cr_expect(strstr(e.msg, "absent.json") != NULL, "%s", e.msg);
    /* a percent-encoded name is the file's name; an encoded ".." is refused */
    snprintf(path, sizeof path, "%s/sub/with space.json", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"const\": 1}", f);
    fclose(f);
    v = compile("{\"$ref\": \"https://sq.example/ext/sub/with%20space.json\"}");
    cr_expect(valid(v, "1"));
    cr_expect_not(valid(v, "2"));
    sq_jsv_free(v);
    unlink(path);
    e = compile_fails("{\"$ref\": \"https://sq.example/ext/sub/%2e%2e/sub/cur.json\"}");
    cr_expect(strstr(e.msg, "does not map") != NULL, "%s", e.msg);
    /* dot segments are resolved before the prefix is matched */
    e = compile_fails("{\"$ref\": \"https://sq.example/ext/../../../etc/passwd\"}");
    cr_expect(strstr(e.msg, "cannot resolve") != NULL, "%s", e.msg);
    snprintf(path, sizeof path, "%s/sub/money.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/sub/cur.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

Test(jsonschema, base_uri_argument)
{
    json_t *s = parse("{\"$defs\": {\"a\": {\"$anchor\": \"A\", \"type\": \"null\"}},"
                      " \"$ref\": \"https://sq.example/given.json#A\"}");
    struct sq_err err;
    struct sq_jsv *v = sq_jsv_compile(reg, s, "https://sq.example/given.json", NULL, &err);
    cr_assert_not_null(v, "%s", err.msg);
    cr_expect(valid(v, "null"));
    cr_expect_not(valid(v, "0"));
    sq_jsv_free(v);
    cr_expect_null(sq_jsv_compile(reg, s, "not absolute", NULL, &err));
    json_decref(s);
}

/* ---- threads ------------------------------------------------------------ */

struct thread_arg {
    const struct sq_jsv *v;
    int bad;
};

static void *validate_many(void *p)
{
    struct thread_arg *a = p;
    json_t *good =
        parse("{\"kind\": \"node\", \"name\": \"ab-12\", \"children\": [{\"kind\": \"node\","
              " \"name\": \"c\", \"children\": []}]}");
    json_t *bad =
        parse("{\"kind\": \"node\", \"name\": \"ab-12\", \"children\": [{\"kind\": \"node\","
              " \"name\": \"c\", \"children\": [], \"typo\": 1}]}");
    for (int i = 0; i < 2000; i++) {
        struct sq_jsv_error e;
        if (!sq_jsv_validate(a->v, good, &e))
            a->bad++;
        if (sq_jsv_validate(a->v, bad, &e) || strcmp(e.instance, "/children/0/typo") != 0)
            a->bad++;
    }
    json_decref(good);
    json_decref(bad);
    return NULL;
}

Test(jsonschema, one_compiled_schema_many_threads)
{
    /* $dynamicRef (dynamic scope), patterns and unevaluatedProperties */
    struct sq_jsv *v = compile(
        "{\"$id\": \"https://sq.example/strict-tree\", \"$dynamicAnchor\": \"node\","
        " \"$ref\": \"tree\", \"unevaluatedProperties\": false,"
        " \"$defs\": {\"tree\": {\"$id\": \"tree\", \"$dynamicAnchor\": \"node\", \"type\": "
        "\"object\","
        "   \"properties\": {\"kind\": {\"const\": \"node\"}, \"name\": {\"pattern\": "
        "\"^[a-z]+(-\\\\d+)?$\"},"
        "   \"children\": {\"type\": \"array\", \"items\": {\"$dynamicRef\": \"#node\"}}}}}}");
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){v, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, validate_many, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(args[i].bad, 0, "thread %d: %d wrong results", i, args[i].bad);
    }
    sq_jsv_free(v);
}
