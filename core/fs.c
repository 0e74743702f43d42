/* fs: checked file-system helpers. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

int fs_read_file(const char *path, Buf *out, size_t max_bytes, Err *err) {
    buf_clear(out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(err, "cannot open (%s)", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err_set(err, "cannot stat (%s)", strerror(errno));
        close(fd);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return err_set(err, "is a folder, not a file");
    }
    if ((size_t)st.st_size > max_bytes) {
        close(fd);
        return err_set(err, "file of %lld bytes is above the %zu-byte limit", (long long)st.st_size, max_bytes);
    }
    buf_reserve(out, (size_t)st.st_size + 1);
    for (;;) {
        if (out->len == max_bytes + 1) break;
        buf_reserve(out, 65536);
        size_t room = out->cap - out->len;
        if (out->len + room > max_bytes + 1) room = max_bytes + 1 - out->len;
        ssize_t n = read(fd, out->data + out->len, room);
        if (n < 0) {
            if (errno == EINTR) continue;
            err_set(err, "read failed (%s)", strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0) break;
        out->len += (size_t)n;
    }
    close(fd);
    if (out->len > max_bytes) return err_set(err, "file is above the %zu-byte limit", max_bytes);
    return 0;
}

int fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int fs_mkdirs(const char *path, Err *err) {
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            err_set(err, "%s: cannot create folder (%s)", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) rc = err_set(err, "%s: cannot create folder (%s)", p, strerror(errno));
    else if (!fs_is_dir(p)) rc = err_set(err, "%s: exists and is not a folder", p);
    free(p);
    return rc;
}

char *fs_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    while (a > 1 && dir[a - 1] == '/') a--;
    char *out = xmalloc(a + b + 2);
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
    return out;
}
