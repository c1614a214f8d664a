/* jsonschema.h: a JSON Schema draft 2020-12 validator. A registry holds schema
 * resources by absolute URI (the draft 2020-12 meta-schemas built in); a schema
 * is compiled once into an immutable form and then validates jansson values,
 * from any number of threads. Used by the validate processor and by
 * `sqgate validate` (SPEC 3, 11); docs/validation.md says what is supported. */
#ifndef SQ_JSONSCHEMA_H
#define SQ_JSONSCHEMA_H

#include <stdbool.h>

#include <jansson.h>

#include "sq_common.h"

struct sq_jsv_registry;                                   /* schema resources by absolute URI */
struct sq_jsv_registry *sq_jsv_registry_new(void);        /* preloaded with the draft 2020-12 meta-schemas and vocabularies */
void sq_jsv_registry_free(struct sq_jsv_registry *reg);   /* accepts NULL */
/* Adds a schema resource under uri (NULL: its own $id); the registry takes its own reference. Returns SQ_OK or SQ_ERR_DATA with err. */
int sq_jsv_registry_add(struct sq_jsv_registry *reg, const char *uri, json_t *schema, struct sq_err *err);
/* $refs to URIs starting with uri_prefix load DIR/<rest of the URI> from disk (never the network). */
void sq_jsv_registry_map(struct sq_jsv_registry *reg, const char *uri_prefix, const char *dir);

struct sq_jsv_opts { bool assert_format; };               /* assert `format` for date-time, date, time, email, ipv4, ipv6, uuid, uri */
struct sq_jsv;                                            /* a compiled schema, immutable, safe to use from several threads */
/* Compiles schema (a new reference is kept) with base_uri (NULL: its $id or a default "urn:sqgate:schema"). NULL with err (SQ_ERR_DATA) when the schema is unusable: a keyword of a draft 2020-12 vocabulary that is not implemented (message names it), a $ref that cannot be resolved, not a schema, an invalid regex. */
struct sq_jsv *sq_jsv_compile(struct sq_jsv_registry *reg, json_t *schema, const char *base_uri, const struct sq_jsv_opts *opts, struct sq_err *err);
struct sq_jsv_error { char instance[256]; char keyword[512]; char msg[256]; };  /* instance JSON pointer ("" = root), keyword location (JSON pointer into the schema, e.g. "/properties/a/minimum"), short message */
/* true when valid; otherwise false and *err (if not NULL) describes the first error found. */
bool sq_jsv_validate(const struct sq_jsv *v, const json_t *instance, struct sq_jsv_error *err);
void sq_jsv_free(struct sq_jsv *v);                       /* accepts NULL */

#endif
