/* job_tokenize: the pool jobs of the tokenize stage, run by the same workers as ingest.
 *
 *   tokenize     a JPEG (bytes or a local path) or raw pixels → preprocess (exactly as
 *                ingest does) → encoder → nearest codes → h×w uint16 codes, little-endian
 *   detokenize   h×w uint16 codes → codebook vectors → decoder → H×W×C uint8 pixels
 *
 * Job options are text lines: "tokenizer=PATH", "checksum=XXXXXXXX" (the CRC-32 the
 * coordinator read, so a worker on another host with another file under that path
 * refuses the job instead of writing codes of another tokenizer), "height=H", "width=W"
 * (the image size), then for tokenize the preprocessing options of ingest. */
#include "job_tokenize.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/xalloc.h"
#include "../ingest/job_ingest.h"
#include "../ingest/preprocess.h"
#include "tokenizer.h"

typedef struct {
    Tokenizer tok;
    PreprocessOptions options;
    Preprocessor pre;
    int with_pre;
    Buf file;        /* INPUT_FILE: the bytes this worker read itself */
    uint8_t *pixels; /* one image */
    int32_t *codes;  /* one grid */
} TokenizeJob;

void tokenize_job_options(Buf *out, const char *tokenizer_path, uint32_t checksum, int height, int width,
                          const PreprocessOptions *pre) {
    buf_printf(out, "tokenizer=%s\nchecksum=%08x\nheight=%d\nwidth=%d\n", tokenizer_path, checksum, height, width);
    if (pre) preprocess_options_format(pre, out);
    buf_put_u8(out, 0);
}

/* Takes the tokenize lines off the front of the options; the rest is preprocessing. */
static int parse_head(const char **text, size_t *n, char *path, size_t path_cap, unsigned *checksum, int *height,
                      int *width, Err *err) {
    const char *keys[] = {"tokenizer=", "checksum=", "height=", "width="};
    for (int k = 0; k < 4; k++) {
        size_t key_n = strlen(keys[k]);
        const char *nl = memchr(*text, '\n', *n);
        if (!nl || (size_t)(nl - *text) < key_n || strncmp(*text, keys[k], key_n) != 0)
            return err_set(err, "job options: expected %s... first", keys[k]);
        size_t len = (size_t)(nl - *text) - key_n;
        char value[4096];
        if (len >= (k == 0 ? path_cap : sizeof value)) return err_set(err, "job options: %s value too long", keys[k]);
        memcpy(k == 0 ? path : value, *text + key_n, len);
        (k == 0 ? path : value)[len] = 0;
        char *end;
        if (k == 1) *checksum = (unsigned)strtoul(value, &end, 16);
        if (k == 2) *height = (int)strtol(value, &end, 10);
        if (k == 3) *width = (int)strtol(value, &end, 10);
        if (k > 0 && (end == value || *end)) return err_set(err, "job options: bad %s'%s'", keys[k], value);
        *n -= (size_t)(nl - *text) + 1;
        *text = nl + 1;
    }
    return 0;
}

static void *start(const char *options, size_t n, int with_pre, Err *err) {
    char path[4096];
    unsigned checksum = 0;
    int height = 0, width = 0;
    if (n && options[n - 1] == 0) n--; /* the terminating NUL */
    if (parse_head(&options, &n, path, sizeof path, &checksum, &height, &width, err) != 0) return NULL;
    /* One worker per core: each runs its GEMMs on one thread, as training ranks do. */
    openblas_set_num_threads(1);
    TokenizeJob *j = xcalloc(1, sizeof *j);
    if (tokenizer_open(&j->tok, path, height, width, err) != 0) {
        free(j);
        return NULL;
    }
    if (j->tok.checksum != checksum) {
        err_set(err, "%s here has checksum %08x, the coordinator's %08x: not the same tokenizer", path,
                j->tok.checksum, checksum);
        tokenizer_close(&j->tok);
        free(j);
        return NULL;
    }
    if (with_pre && (preprocess_options_parse(options, n, &j->options, err) != 0 || preprocessor_init(&j->pre, err) != 0)) {
        tokenizer_close(&j->tok);
        free(j);
        return NULL;
    }
    j->with_pre = with_pre;
    j->pixels = xmalloc((size_t)j->tok.height * j->tok.width * j->tok.channels);
    j->codes = xmalloc((size_t)j->tok.grid_h * j->tok.grid_w * sizeof *j->codes);
    return j;
}

static void *tokenize_start(const char *options, size_t n, Err *err) { return start(options, n, 1, err); }
static void *detokenize_start(const char *options, size_t n, Err *err) { return start(options, n, 0, err); }

static int tokenize_process(void *state, const TaskItem *in, Buf *out, Err *err) {
    TokenizeJob *j = state;
    int rc;
    if (in->kind == INPUT_PIXELS) {
        /* Pixels from a store are taken as they are: same size and channels, checked by the
         * coordinator; preprocess would resample anything else silently. */
        if (in->width != j->tok.width || in->height != j->tok.height || in->channels != j->tok.channels)
            return err_set(err, "image of %u×%u×%u, the tokenizer runs at %d×%d×%d", in->width, in->height,
                           in->channels, j->tok.width, j->tok.height, j->tok.channels);
        memcpy(j->pixels, in->data, in->n);
        rc = 0;
    } else { /* JPEG sources: exactly ingest's pixels */
        rc = job_item_pixels(&j->pre, &j->options, &j->file, in, j->pixels, err);
    }
    if (rc != 0) return rc;
    const uint8_t *images[1] = {j->pixels};
    vqvae_tokenize(&j->tok.net, images, 1, j->codes);
    size_t cells = (size_t)j->tok.grid_h * j->tok.grid_w;
    buf_reserve(out, 2 * cells);
    for (size_t c = 0; c < cells; c++) {
        out->data[out->len++] = (uint8_t)(j->codes[c] & 0xff);
        out->data[out->len++] = (uint8_t)(j->codes[c] >> 8);
    }
    return 0;
}

static int detokenize_process(void *state, const TaskItem *in, Buf *out, Err *err) {
    TokenizeJob *j = state;
    if (in->kind != INPUT_TOKENS) return err_set(err, "detokenize takes token grids, not task items of kind %u", in->kind);
    if (in->width != j->tok.grid_w || in->height != j->tok.grid_h)
        return err_set(err, "a %u×%u token grid, the tokenizer decodes %d×%d", in->height, in->width, j->tok.grid_h,
                       j->tok.grid_w);
    size_t cells = (size_t)j->tok.grid_h * j->tok.grid_w;
    for (size_t c = 0; c < cells; c++) {
        int32_t code = (int32_t)(in->data[2 * c] | in->data[2 * c + 1] << 8);
        if (code >= j->tok.K)
            return err_set(err, "code %d at row %zu, column %zu is out of range (the codebook has %d codes)", code,
                           c / (size_t)j->tok.grid_w, c % (size_t)j->tok.grid_w, j->tok.K);
        j->codes[c] = code;
    }
    size_t bytes = (size_t)j->tok.height * j->tok.width * j->tok.channels;
    buf_reserve(out, bytes);
    vqvae_detokenize(&j->tok.net, j->codes, 1, out->data + out->len);
    out->len += bytes;
    return 0;
}

static void job_stop(void *state) {
    TokenizeJob *j = state;
    tokenizer_close(&j->tok);
    if (j->with_pre) preprocessor_free(&j->pre);
    buf_free(&j->file);
    free(j->pixels);
    free(j->codes);
    free(j);
}

const JobKind TOKENIZE_JOB = {"tokenize", tokenize_start, tokenize_process, job_stop};
const JobKind DETOKENIZE_JOB = {"detokenize", detokenize_start, detokenize_process, job_stop};
