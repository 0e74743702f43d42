/* source: what `ingest` reads, planned once and then read in order.
 *
 * Planning walks every SRC argument and lists its items in a fixed order with a
 * stable source id and a label, without decoding anything:
 *
 *   folder tree  class = first-level sub-folder name (sorted, as torchvision's
 *                ImageFolder), files walked recursively in name order; a folder
 *                without sub-folders gives unlabelled items
 *   list file    "path<TAB>label" lines (label optional: an integer or a class
 *                name); paths relative to the list's folder
 *   tar shard    .tar/.tar.gz/.tgz via libarchive: image members in archive order,
 *                label from a "<basename>.cls" member or the member's folder
 *   IDX file     MNIST-format images (gzipped or not), labels from the matching
 *                "labels-idx1" file beside it
 *   a .jpg file  one unlabelled item
 *
 * Source ids are absolute: "/abs/path.jpg", "/abs/shard.tar:member",
 * "/abs/train-images-idx3-ubyte.gz#123". A path that does not exist, or a broken
 * tar header, becomes an item that carries its reason, so it is rejected in order
 * like any other bad source. */
#ifndef TESSERA_SOURCE_H
#define TESSERA_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/err.h"

typedef enum { ITEM_FILE = 1, ITEM_TAR_MEMBER, ITEM_IDX, ITEM_BROKEN } ItemKind;

typedef struct {
    char *id;
    int32_t label;      /* -1 unlabelled; resolved to the plan's label space */
    uint8_t kind;       /* ItemKind */
    uint32_t container; /* tar or IDX file: index into plan.containers */
    uint64_t position;  /* tar: member ordinal; IDX: image index */
    char *path;         /* ITEM_FILE: the file to read */
    char *reason;       /* ITEM_BROKEN: why it cannot be read */
} SourceItem;

typedef struct {
    SourceItem *items;
    size_t n_items, cap_items;
    char **label_names;
    size_t n_labels;
    char **containers;
    size_t n_containers;
    char *description; /* the SRC arguments, for the store's meta */
    size_t skipped_loose_files; /* files at the top of a labelled tree, outside any class */
    size_t duplicates;          /* ids listed more than once (kept once) */
} SourcePlan;

/* label_names: optional comma-separated names for integer labels (--label-names). */
int source_plan(SourcePlan *plan, char **paths, int n_paths, const char *label_names, Err *err);
void source_plan_free(SourcePlan *plan);

typedef enum { PAYLOAD_JPEG = 1, PAYLOAD_PIXELS = 2, PAYLOAD_ERROR = 3 } PayloadKind;

typedef struct {
    PayloadKind kind;
    const uint8_t *data; /* valid until the next source_read */
    size_t n;
    int width, height, channels; /* PAYLOAD_PIXELS */
    char error[512];             /* PAYLOAD_ERROR */
} Payload;

typedef struct SourceReader SourceReader;

SourceReader *source_reader_open(const SourcePlan *plan);
/* Items must be read in increasing index order (skipping is fine). */
void source_read(SourceReader *r, size_t item, Payload *out);
void source_reader_close(SourceReader *r);

#define MAX_SOURCE_FILE_BYTES ((size_t)256 << 20)

#endif
