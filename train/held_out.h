/* held_out: the held-out pixel store a model validates on (its `val_store` and
 * `val_images` keys), opened, checked and read the same way by every model that has one. */
#ifndef TESSERA_HELD_OUT_H
#define TESSERA_HELD_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"
#include "../core/err.h"
#include "../store/record.h"
#include "../store/store.h"

typedef struct {
    Store store;
    int open;       /* 0: the config names none */
    uint64_t count; /* records to validate on: all, or the first val_images */
    int height, width, channels;
} HeldOut;

/* Opens val_store when the config names one (else leaves h closed and returns 0). Refuses
 * the training store itself, a store that is not a pixel store, or one of other images than
 * height × width × channels, naming the key and both shapes. */
int held_out_open(HeldOut *h, const Config *c, int height, int width, int channels, Err *err);
/* Records idx[0..n) into out, each checked to be a uint8 image of the model's shape. */
int held_out_read(HeldOut *h, StoreRead *sr, const uint64_t *idx, size_t n, RecordView *out, Err *err);
void held_out_close(HeldOut *h);

#endif
