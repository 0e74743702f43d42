/* json: writing JSON values (strings escaped per RFC 8259) into a Buf. */
#ifndef TESSERA_JSON_H
#define TESSERA_JSON_H

#include "buf.h"

void json_string(Buf *b, const char *s);
/* A number if s is one, else a string: for meta values that may be either. */
void json_scalar(Buf *b, const char *s);

#endif
