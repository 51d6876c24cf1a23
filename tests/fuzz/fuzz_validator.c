/* fuzz_validator.c - libFuzzer target for the validator: the input is a schema (JSON text),
 * a NUL byte, and an instance (JSON text). Compiles the schema (2020-12 or draft-07 by the
 * first byte's low bit, formats asserted), then checks that the fast path and the full
 * error pass agree on every instance the reader accepts, and that validating costs no more
 * than the cost check allows (fuzz_cost.h: 200 ms + 20 ms per KiB of instance; the step
 * budget and the keyed hashes keep the real cost far below).
 *
 *   CC=clang cmake -S . -B build-val-asan -DWEIR_SANITIZE=address,undefined -DWEIR_FUZZ=ON
 *   cmake --build build-val-asan --target fuzz_validator
 *   mkdir -p /tmp/fv && python3 -c 'import json,glob
 *   for i,f in enumerate(sorted(glob.glob("../shared/jsonschema-test-suite/tests/draft2020-12/" "[a-z]" "*.json"))):
 *       c=json.load(open(f))[0]; open("/tmp/fv/s%d"%i,"wb").write(json.dumps(c["schema"]).encode()
 *           +b"\0"+json.dumps(c["tests"][0]["data"]).encode())'
 *   build-val-asan/tests/fuzz/fuzz_validator -max_total_time=600 -max_len=4096 /tmp/fv */
#include "fuzz_cost.h"
#include "json/json.h"
#include "validator/validator.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul || size > 65536) {
        return 0;
    }
    size_t slen = (size_t)(nul - data);
    const char *itext = (const char *)nul + 1;
    size_t ilen = size - slen - 1;
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, slen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!doc) {
        return 0;
    }
    struct val_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.default_dialect = (slen > 0 && (data[0] & 1)) ? VAL_DIALECT_DRAFT7 : VAL_DIALECT_2020_12;
    struct wr_err err;
    val_schema *s = val_compile(doc, &opts, &err);
    json_decref(doc);
    if (!s) {
        return 0;
    }
    wr_arena *a = wr_arena_create(16384, 1 << 24);
    struct js_val *v = NULL;
    struct js_error jerr;
    if (a && js_parse(a, itext, ilen, NULL, &v, &jerr) == 0) {
        double t0 = fuzz_cost_now_ms();
        bool fast = val_is_valid(s, v);
        struct val_result r;
        int rc = val_validate(s, v, a, 20, &r);
        fuzz_cost_check("validation (fast path and error pass)", t0, ilen, 200, 20);
        if (rc == 0 && (r.valid != fast || (!fast && r.n_errors == 0))) {
            abort();
        }
        for (size_t i = 0; rc == 0 && i < r.n_errors; i++) {
            if (!r.errors[i].instance_path || !r.errors[i].schema_path || !r.errors[i].keyword ||
                !r.errors[i].message) {
                abort();
            }
        }
    }
    wr_arena_destroy(a);
    val_schema_unref(s);
    return 0;
}
