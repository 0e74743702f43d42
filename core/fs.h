/* fs: checked file-system helpers that report errors as values. */
#ifndef TESSERA_FS_H
#define TESSERA_FS_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Reads a whole file into out (cleared first). Files above max_bytes are refused. */
int fs_read_file(const char *path, Buf *out, size_t max_bytes, Err *err);
int fs_is_dir(const char *path);
int fs_exists(const char *path);
/* mkdir -p; existing folders are fine. */
int fs_mkdirs(const char *path, Err *err);
/* Joins a folder and a name with one '/'. The result is malloc'd. */
char *fs_join(const char *dir, const char *name);

#endif
