/* progress: what long jobs show while they run.
 *
 * On a terminal one line is redrawn in place (rate, done/total, rejects, ETA) a few
 * times a second; otherwise a plain line is printed every few seconds so that logs
 * stay readable. Everything goes to stderr; stdout is left for results. */
#ifndef TESSERA_PROGRESS_H
#define TESSERA_PROGRESS_H

#include <stdint.h>

typedef struct {
    const char *what; /* "ingest", "tokenize", ... */
    uint64_t total;   /* items this run will process (0 if unknown) */
    double start, last_print, rate;
    uint64_t rate_done; /* done count at the last rate sample */
    double rate_time;
    int tty;
    int quiet;
} Progress;

void progress_start(Progress *p, const char *what, uint64_t total);
/* Cheap to call often: prints only when a redraw is due. */
void progress_update(Progress *p, uint64_t done, uint64_t rejects, const char *note);
/* Clears the terminal line so a summary can follow. */
void progress_finish(Progress *p);

#endif
