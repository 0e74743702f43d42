/* err: errors as values, carried up to where a useful message can be written.
 *
 * Library code never exits on bad input: it fills an Err with one line that names
 * the file, record or key and what is wrong, and returns -1. Only the command layer
 * prints the line and picks the exit code, so a pool worker can reject one bad JPEG
 * and go on. Allocation failure is the exception (see xalloc.h). */
#ifndef TESSERA_ERR_H
#define TESSERA_ERR_H

#include <stdarg.h>

typedef struct {
    char msg[1024];
} Err;

/* Sets the message and returns -1, so `return err_set(e, ...)` reads naturally. */
int err_set(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context: "ctx: old message". */
int err_prefix(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Exit codes of every subcommand (docs/CLI.md). */
enum {
    EXIT_OK = 0,
    EXIT_BAD_INPUT = 1,
    EXIT_USAGE = 2,
    EXIT_REJECTS = 3, /* the job finished, but some sources were rejected */
};

/* Prints "tessera: <message>" on stderr. */
void report_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_error_v(const char *fmt, va_list ap);

#endif
