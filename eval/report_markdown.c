/* report_markdown: writing untrusted strings into report.md safely, and the warnings of
 * `tessera eval report` (see report_sections.h). */
#include "report_sections.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Letters and digits, counting every non-ASCII byte as part of a letter. */
static int is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

void md_text(Buf *md, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        /* An underscore inside a word never starts emphasis: val_psnr stays readable. */
        int inside_word = *p == '_' && p > (const unsigned char *)s && is_word_byte(p[-1]) && is_word_byte(p[1]);
        if (*p < 0x20 || *p == 0x7f) buf_put_u8(md, ' ');
        else if (strchr("\\`*_[]<>|&~#", *p) && !inside_word) buf_printf(md, "\\%c", *p);
        else buf_put_u8(md, *p);
    }
}

void md_code(Buf *md, const char *s) {
    size_t longest = 0, run = 0;
    for (const char *p = s; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest) longest = run;
    }
    /* A span that starts or ends with a backtick needs a space inside its fence. */
    size_t n = strlen(s);
    const char *pad = n && (s[0] == '`' || s[n - 1] == '`') ? " " : "";
    for (size_t i = 0; i <= longest; i++) buf_put_u8(md, '`');
    buf_printf(md, "%s", pad);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) buf_put_u8(md, *p < 0x20 || *p == 0x7f ? ' ' : *p);
    buf_printf(md, "%s", pad);
    for (size_t i = 0; i <= longest; i++) buf_put_u8(md, '`');
}

void md_link_target(Buf *md, const char *path) {
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~/", *p))
            buf_put_u8(md, *p);
        else
            buf_printf(md, "%%%02X", *p);
    }
}

void report_warning(Buf *list, const char *fmt, ...) {
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    report_error("warning: %s", msg);
    buf_printf(list, "- ");
    md_text(list, msg);
    buf_printf(list, "\n");
}

void format_round_trip(char *out, size_t cap, double x) {
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(out, cap, "%.*g", digits, x);
        if (strtod(out, NULL) == x) return;
    }
}
