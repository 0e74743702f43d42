/* config: typed INI configs with defaults and key=value overrides (`tessera train`).
 *
 * A config is flat `key = value` lines (`#` or `;` start a comment). The keys a run
 * accepts are a schema — the keys every model shares plus the model's own — and each
 * key has a type, a default and a range. An unknown key, a value of the wrong type or
 * out of range, or a key given twice in one file is an error that names the key and
 * where it came from. Overrides from the command line (`lr=3e-4`) win over the file.
 * The resolved config (every key, with where its value came from) is what a run
 * writes to run_dir/config.ini and stores in its checkpoints. */
#ifndef TESSERA_CONFIG_H
#define TESSERA_CONFIG_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

typedef enum { CFG_INT, CFG_FLOAT, CFG_STRING, CFG_BOOL, CFG_ENUM } ConfigType;

typedef struct {
    const char *key;
    ConfigType type;
    const char *fallback; /* default value as text; NULL = required */
    double min, max;      /* CFG_INT / CFG_FLOAT: inclusive range (ignored when min > max) */
    const char *choices;  /* CFG_ENUM: "a|b|c" */
    const char *help;
} ConfigKey;

typedef struct {
    const ConfigKey **keys; /* every key of every schema, in order */
    size_t n;
    char **values;  /* resolved text values */
    char **origins; /* "file.ini:12", "override", or "default" */
} Config;

/* Reads `key` from a file and overrides without a schema (to learn the model, say).
 * Returns a malloc'd value or NULL. */
char *config_peek(const char *path, char **overrides, int n_overrides, const char *key, Err *err);

/* schemas: NULL-terminated list of arrays, each ended by an entry with key == NULL. */
int config_load(Config *c, const ConfigKey *const *schemas, const char *path, char **overrides, int n_overrides,
                Err *err);
/* The same for config text held in memory (a checkpoint's); messages name it `name`. */
int config_load_text(Config *c, const ConfigKey *const *schemas, const char *text, const char *name, Err *err);
void config_free(Config *c);

long config_int(const Config *c, const char *key);
double config_float(const Config *c, const char *key);
const char *config_str(const Config *c, const char *key);
int config_bool(const Config *c, const char *key);
/* Sets a key of the schema to a value someone other than the user resolved (a model
 * filling a default from its store); origin says who. -1 and a message for an unknown
 * key or a bad value. */
int config_set(Config *c, const char *key, const char *value, const char *origin, Err *err);
/* A comma-separated list of integers ("32,64,48"): stores them in out and returns how many,
 * or -1 with "KEY = VALUE: expected ..." in err when an entry is not an integer in
 * [lo, hi] or there are more than cap of them. */
int config_int_list(const Config *c, const char *key, int *out, int cap, int lo, int hi, Err *err);

/* The resolved config as INI text: "key = value  # origin" lines. */
void config_format(const Config *c, Buf *out);

#endif
