/* xalloc: allocation that exits with file:line when memory runs out. */
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void out_of_memory(size_t n, const char *file, int line) {
    fprintf(stderr, "tessera: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
    exit(1);
}

void *xmalloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n, file, line);
    return p;
}

void *xcalloc_at(size_t count, size_t size, const char *file, int line) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size, file, line);
    return p;
}

void *xrealloc_at(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) out_of_memory(n, file, line);
    return q;
}

char *xstrdup_at(const char *s, const char *file, int line) {
    size_t n = strlen(s) + 1;
    char *p = xmalloc_at(n, file, line);
    memcpy(p, s, n);
    return p;
}

void *xmalloc_large_at(size_t n, const char *file, int line) {
    const size_t huge = (size_t)2 << 20;
    if (n < huge) return xmalloc_at(n, file, line);
    size_t rounded = (n + huge - 1) / huge * huge; /* whole huge pages: none shared with other data */
    void *p = NULL;
    if (posix_memalign(&p, huge, rounded)) out_of_memory(n, file, line);
#ifdef MADV_HUGEPAGE
    (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice: refused or ignored, it is only slower */
#endif
    return p;
}
