/* err: errors as values (see err.h). */
#include "err.h"

#include <stdio.h>
#include <string.h>

int err_set(Err *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int err_prefix(Err *e, const char *fmt, ...) {
    if (e) {
        char joined[2 * sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(joined, sizeof e->msg, fmt, ap);
        va_end(ap);
        size_t at = n < 0 ? 0 : (size_t)n < sizeof e->msg ? (size_t)n : sizeof e->msg - 1;
        size_t old = strnlen(e->msg, sizeof e->msg - 1);
        memcpy(joined + at, ": ", 2);
        memcpy(joined + at + 2, e->msg, old);
        size_t total = at + 2 + old < sizeof e->msg - 1 ? at + 2 + old : sizeof e->msg - 1;
        memcpy(e->msg, joined, total);
        e->msg[total] = 0;
    }
    return -1;
}

void report_error_v(const char *fmt, va_list ap) {
    fputs("tessera: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void report_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_error_v(fmt, ap);
    va_end(ap);
}
