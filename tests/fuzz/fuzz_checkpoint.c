/* fuzz_checkpoint: bytes of a checkpoint file → the checkpoint reader, the config parser
 * and the VQ-VAE shape checks, which a tokenizer checkpoint handed to tokenize or
 * detokenize goes through before any network is built. The CRC-32 trailer is appended
 * here, so the fuzzer explores what lies behind the checksum instead of being stopped by
 * it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "../../core/config.h"
#include "../../tokenize/vqvae.h"
#include "../../train/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_checkpoint_%d.bin", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    uLong crc = crc32(crc32(0L, Z_NULL, 0), data, (uInt)size);
    uint8_t trailer[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
    fwrite(data, 1, size, f);
    fwrite(trailer, 1, 4, f);
    fclose(f);
    CheckpointInfo info;
    char *text = NULL;
    Err err;
    if (checkpoint_inspect(path, &info, &text, &err) == 0) {
        Config c;
        const ConfigKey *const schemas[] = {VQVAE_KEYS, NULL};
        if (config_load_text(&c, schemas, text, path, &err) == 0) {
            VqVaeShape s;
            vqvae_shape(&s, &c, (int)(info.dims[0] % 4096), (int)(info.dims[1] % 4096), (int)(info.dims[2] % 4), &err);
            config_free(&c);
        }
        free(text);
    }
    return 0;
}
