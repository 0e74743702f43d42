/* meta: a store's meta table held in memory as ordered key → text value pairs. */
#ifndef TESSERA_META_H
#define TESSERA_META_H

#include <stddef.h>

typedef struct {
    size_t n;
    char **keys, **values;
} Meta;

void meta_set(Meta *m, const char *key, const char *value);
void meta_setf(Meta *m, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *meta_get(const Meta *m, const char *key); /* NULL if absent */
void meta_free(Meta *m);

/* Label names are stored one per line under "label_names". */
char **meta_label_names(const Meta *m, size_t *count); /* malloc'd array of malloc'd strings */
void free_strings(char **v, size_t n);

#endif
