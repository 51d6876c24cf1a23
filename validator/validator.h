/* validator.h - JSON Schema (draft 2020-12 and draft-07) compiled once into an immutable,
 * ref-counted program, then run against instances read by json/json.h: a boolean fast
 * path that never allocates, and a full pass that lists every violation. */
#ifndef WEIR_VALIDATOR_H
#define WEIR_VALIDATOR_H

#include "common/arena.h"
#include "common/err.h"
#include "json/json.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct val_schema val_schema;
typedef struct val_resources val_resources;

enum val_dialect {
    VAL_DIALECT_2020_12 = 0, /* https://json-schema.org/draft/2020-12/schema */
    VAL_DIALECT_DRAFT7 = 1   /* http://json-schema.org/draft-07/schema# */
};

/* Compile options; a zeroed struct (or opts == NULL) means: 2020-12 by default, formats
 * asserted, no extra documents, default limits. */
struct val_opts {
    enum val_dialect default_dialect; /* for schemas without `$schema` */
    bool format_annotate;             /* true: `format` only annotates (never fails) */
    const val_resources *resources;   /* documents `$ref` may reach by URI; may be NULL.
                                         Read during val_compile only (not kept). */
    unsigned max_depth;               /* nested evaluation frames at validation time
                                         before an instance is refused; 0 = 512 */
    uint64_t max_steps;               /* evaluation steps (a schema node applied to a
                                         value) one validation may take before the
                                         instance is refused with keyword "cost";
                                         0 = 200,000 + 8 per byte of the instance's
                                         text (js_val src_len) */
};

/* A set of preloaded documents, keyed by absolute URI (weir never fetches). The 2020-12
 * and draft-07 meta-schemas (and the 2020-12 vocabulary meta-schemas) are always known
 * and need not be added. Not thread-safe while being filled; read-only afterwards.
 * Returns NULL when out of memory (err filled). */
val_resources *val_resources_create(struct wr_err *err);

/* Adds doc under uri (an absolute URI without fragment; a trailing "#" or empty fragment
 * is dropped). Takes a new reference to doc (json_incref), released by destroy. Adding
 * the same URI twice replaces the earlier document. Returns 0, WR_EINVAL (uri not
 * absolute; err says why) or WR_ENOMEM. */
int val_resources_add(val_resources *r, const char *uri, json_t *doc, struct wr_err *err);

/* Frees the set and releases its document references; NULL is a no-op. Compiled schemas
 * do not keep pointers into it, so it may be destroyed right after val_compile. */
void val_resources_destroy(val_resources *r);

/* Compiles schema (an object or a boolean) into an immutable program with every `$ref`
 * resolved (inside schema, against opts->resources, or to the bundled meta-schemas).
 * The dialect is chosen by `$schema`, else opts->default_dialect. Refused (NULL, err
 * filled with WR_EINVAL and a message starting with a JSON Pointer into schema, or
 * "(root)", e.g. "/properties/a/minimum: expected number, got string (type)", where the
 * parenthesis names the meta-schema keyword that failed): a schema that is not valid
 * against its meta-schema, an unresolvable `$ref`, a `pattern` that is not ECMA-262, a
 * `$ref` cycle that consumes no input, an unknown `$schema`. WR_ENOMEM when out of
 * memory. The result holds no reference to schema or resources. The caller owns one
 * reference; release it with val_schema_unref. */
val_schema *val_compile(const json_t *schema, const struct val_opts *opts,
                        struct wr_err *err);

/* Takes one more reference (atomic; any thread); returns s. NULL passes through. */
val_schema *val_schema_ref(val_schema *s);

/* Drops one reference (atomic; any thread); the last one frees. NULL is a no-op. */
void val_schema_unref(val_schema *s);

/* The dialect the schema was compiled as. */
enum val_dialect val_schema_dialect(const val_schema *s);

/* True when inst is valid against s. Thread-safe: any number of threads may validate
 * with one schema concurrently. Allocates no heap memory (after the first `pattern`
 * search on a thread, see validator/regex.h), except scratch for outsized arrays and
 * objects (`uniqueItems` over ~500 items, `unevaluated*` over 65,536 members, equal
 * `const`/`enum`/`uniqueItems` objects over 16 members), freed before returning. Uses
 * about 9 KiB of stack plus ~0.5 KiB per nested evaluation frame.
 * Cost is bounded whatever the instance: `uniqueItems` and `enum` use a keyed hash
 * (no crafted collisions), equality of big objects sorts, and the validation stops as
 * invalid when it nests deeper than opts->max_depth frames, takes more than
 * opts->max_steps steps (keyword "cost"), or a regex is abandoned at its match limit
 * (even under `not`: an abandoned search is never turned into a verdict).
 * inst's strings and member names must be valid UTF-8, as js_parse makes them: `pattern`
 * matching trusts them and skips PCRE2's UTF-8 check. */
bool val_is_valid(const val_schema *s, const struct js_val *inst);

/* One violation. All strings are NUL-terminated and live in the caller's arena. */
struct val_error {
    const char *instance_path; /* JSON Pointer (RFC 6901) into the instance, "" = root */
    const char *schema_path;   /* JSON Pointer from the schema root to the failing keyword,
                                  through any `$ref` taken ("/properties/ts/$ref/format") */
    const char *keyword;       /* the failing keyword: "type", "required", "format", ...;
                                  "false" for a false schema, "depth" when evaluation
                                  reached max_depth; never "$ref" or "allOf" */
    const char *message;       /* e.g. "expected integer, got string" */
};

struct val_result {
    bool valid;
    bool truncated;            /* more violations existed than max_errors */
    size_t n_errors;
    struct val_error *errors;  /* n_errors entries, in the arena; NULL when valid */
};

/* Validates inst against s and lists the violations (at most max_errors; 0 = 100; a must
 * not be NULL: WR_EINVAL and only the verdict otherwise),
 * leaf failures only: a failed `anyOf` reports its branches' failures, a failed `not`
 * or `false` schema reports itself. out->valid always equals val_is_valid(s, inst).
 * Everything is allocated in a (not thread-safe: one arena per thread). Returns 0 and
 * fills out (also when invalid: invalid input is a result), or WR_ENOMEM when the
 * arena's cap was reached (out then holds the verdict and the errors gathered so far).
 * Thread-safe for distinct arenas. */
int val_validate(const val_schema *s, const struct js_val *inst, wr_arena *a,
                 unsigned max_errors, struct val_result *out);

#endif
