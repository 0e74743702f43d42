/* json: escaped JSON strings and scalars (see json.h). */
#include "json.h"

#include <stdlib.h>

void json_string(Buf *b, const char *s) {
    buf_put_u8(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': buf_put(b, "\\\"", 2); break;
        case '\\': buf_put(b, "\\\\", 2); break;
        case '\n': buf_put(b, "\\n", 2); break;
        case '\r': buf_put(b, "\\r", 2); break;
        case '\t': buf_put(b, "\\t", 2); break;
        default:
            if (*p < 0x20) buf_printf(b, "\\u%04x", *p);
            else buf_put_u8(b, *p);
        }
    }
    buf_put_u8(b, '"');
}

void json_scalar(Buf *b, const char *s) {
    char *end;
    if (*s && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) {
        strtod(s, &end);
        if (!*end && !(s[0] == '0' && s[1] >= '0' && s[1] <= '9')) {
            buf_printf(b, "%s", s);
            return;
        }
    }
    json_string(b, s);
}
