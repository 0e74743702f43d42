/* decode_ceiling: the fastest any JPEG ingest could go on this machine, to measure
 * `tessera ingest` against: bare TurboJPEG decoding of the same files at the same
 * DCT scale tessera picks (the smallest of 1/8, 1/4, 1/2, 1 that keeps both sides
 * >= SIZE), with TJFLAG_FASTDCT, into RGB (or gray for --channels 1). No resize, no
 * store, no messages: W forked processes each read every W-th file (the page cache
 * is expected to be warm) and decode it into one reused buffer.
 *
 *   cc -O2 -march=native bench/decode_ceiling.c -o bench/out/decode_ceiling -lturbojpeg
 *   decode_ceiling --size S [--channels 3] [--workers W] SRC...
 *
 * SRC is a JPEG file or a folder, walked recursively. Prints one line:
 *   ceiling: N decoded, F failed, in S s (R images/s)
 * The time runs from the first fork to the last child's exit; listing the files
 * comes before it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

typedef struct {
    char **paths;
    size_t n, cap;
} FileList;

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "decode_ceiling: out of memory\n");
        exit(1);
    }
    return q;
}

static int is_jpeg_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static void list_add(FileList *l, const char *path) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->paths = xrealloc(l->paths, l->cap * sizeof *l->paths);
    }
    l->paths[l->n++] = strdup(path);
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static void walk(FileList *l, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "decode_ceiling: %s: cannot stat\n", path);
        exit(1);
    }
    if (!S_ISDIR(st.st_mode)) {
        list_add(l, path);
        return;
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "decode_ceiling: %s: cannot list\n", path);
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (name[0] != '.') {
            char *child;
            if (asprintf(&child, "%s/%s", path, name) < 0) exit(1);
            struct stat cs;
            if (stat(child, &cs) == 0 && (S_ISDIR(cs.st_mode) || is_jpeg_name(name))) walk(l, child);
            free(child);
        }
        free(names[i]);
    }
    free(names);
}

/* The rule of ingest/decode.c, jpeg_scale_denominator. */
static int scaled(int dim, int denom) { return (dim + denom - 1) / denom; }

static int scale_denominator(int width, int height, int min_side) {
    int best = 1;
    for (int denom = 2; denom <= 8; denom *= 2)
        if (scaled(width, denom) >= min_side && scaled(height, denom) >= min_side) best = denom;
    return best;
}

/* Decodes files first, first + step, ...; returns how many failed. */
static int decode_share(const FileList *l, size_t first, size_t step, int size, int channels) {
    tjhandle tj = tjInitDecompress();
    if (!tj) return (int)l->n;
    int pixel_format = channels == 1 ? TJPF_GRAY : TJPF_RGB;
    unsigned char *file = NULL, *pixels = NULL;
    size_t file_cap = 0, pixels_cap = 0;
    int failed = 0;
    for (size_t i = first; i < l->n; i += step) {
        FILE *f = fopen(l->paths[i], "rb");
        if (!f) {
            failed++;
            continue;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (n <= 0) {
            fclose(f);
            failed++;
            continue;
        }
        if ((size_t)n > file_cap) file = xrealloc(file, file_cap = (size_t)n);
        size_t got = fread(file, 1, (size_t)n, f);
        fclose(f);
        int width, height, subsamp, colorspace;
        if (got != (size_t)n ||
            tjDecompressHeader3(tj, file, (unsigned long)n, &width, &height, &subsamp, &colorspace) != 0) {
            failed++;
            continue;
        }
        int denom = scale_denominator(width, height, size);
        int sw = scaled(width, denom), sh = scaled(height, denom);
        size_t need = (size_t)sw * sh * tjPixelSize[pixel_format];
        if (need > pixels_cap) pixels = xrealloc(pixels, pixels_cap = need);
        if (tjDecompress2(tj, file, (unsigned long)n, pixels, sw, 0, sh, pixel_format, TJFLAG_FASTDCT) != 0 &&
            tjGetErrorCode(tj) != TJERR_WARNING)
            failed++;
    }
    free(file);
    free(pixels);
    tjDestroy(tj);
    return failed;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void usage(void) {
    fprintf(stderr, "usage: decode_ceiling --size S [--channels 1|3] [--workers W] SRC...\n");
    exit(2);
}

int main(int argc, char **argv) {
    int size = 0, channels = 3, workers = 1;
    FileList files = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--channels") && i + 1 < argc) channels = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc) workers = atoi(argv[++i]);
        else if (argv[i][0] == '-') usage();
        else walk(&files, argv[i]);
    }
    if (size < 1 || (channels != 1 && channels != 3) || workers < 1 || files.n == 0) usage();

    double start = now_seconds();
    for (int w = 0; w < workers; w++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("decode_ceiling: fork");
            return 1;
        }
        if (pid == 0) {
            int failed = decode_share(&files, (size_t)w, (size_t)workers, size, channels);
            _exit(failed > 255 ? 255 : failed); /* a count of failures, capped */
        }
    }
    int failed = 0, status;
    while (wait(&status) > 0)
        failed += WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    double seconds = now_seconds() - start;
    size_t decoded = files.n - (size_t)failed;
    printf("ceiling: %zu decoded, %d failed, in %.3f s (%.0f images/s)\n", decoded, failed, seconds,
           (double)decoded / seconds);
    return failed ? 1 : 0;
}
