/* store: a Tessera store is one LMDB environment (a folder holding data.mdb and
 * lock.mdb) with four tables (docs/FORMAT.md):
 *
 *   meta     text key   → text value     (kind, shape, labels, count, versions, ...)
 *   records  8-byte big-endian index → record (record.h), dense from 0
 *   sources  source id  → 8-byte big-endian index of its record
 *   rejects  source id  → reason text
 *
 * One process writes a store at a time (StoreWriter, writer.h); readers never block
 * it. Everything a write transaction adds — records, their source ids, rejects and
 * the count in meta — commits together, so a store is always consistent. */
#ifndef TESSERA_STORE_H
#define TESSERA_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "meta.h"
#include "record.h"

#define STORE_FORMAT_VERSION "1"
#define TESSERA_VERSION "0.1.0"

enum { SOURCE_KEY_MAX = 500 }; /* LMDB keys are at most 511 bytes */

typedef struct {
    MDB_env *env;
    MDB_dbi meta, records, sources, rejects;
    char *path;
    int writable;
} Store;

/* Opens an existing store. With `create`, a missing or empty folder becomes a new,
 * empty store (meta is left to the caller). A path that is a file, a folder holding
 * something else, or an LMDB environment without Tessera's tables is refused. */
int store_open(Store *s, const char *path, int writable, int create, Err *err);
void store_close(Store *s);

int store_meta_load(Store *s, Meta *out, Err *err);
uint64_t store_record_count(Store *s);
uint64_t store_reject_count(Store *s);

/* Zero-copy reads inside one read transaction; views stay valid until store_read_end. */
typedef struct {
    Store *store;
    MDB_txn *txn;
} StoreRead;

int store_read_begin(Store *s, StoreRead *r, Err *err);
int store_read_record(StoreRead *r, uint64_t index, RecordView *out, Err *err);
/* 0: unknown source, 1: stored, 2: rejected. */
int store_source_state(StoreRead *r, const char *source_id);
void store_read_end(StoreRead *r);

/* The key under which a source id is stored: the id itself, or for ids longer than
 * SOURCE_KEY_MAX a prefix plus a 64-bit hash of the whole id. out: SOURCE_KEY_MAX+1. */
size_t store_source_key(const char *source_id, char *out);

#endif
