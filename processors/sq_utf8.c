/* sq_utf8.c: whole-buffer strict UTF-8 check, for callers that need to know
 * whether bytes are text (the DLQ copy in replay lines, tools). The decode
 * processor has its own single pass that also tracks JSON structure. */
#include "sq_utf8.h"

#include <string.h>

size_t sq_utf8_invalid_at(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = sq_utf8_seq_len(p + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

void sq_utf8_clean_copy(char *out, size_t outsz, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t len = strlen(text), i = 0, o = 0;
    while (i < len && o + 4 < outsz) {
        if (p[i] >= 0x80) {
            size_t n = sq_utf8_seq_len(p + i, len - i);
            if (n == 0)
                break;
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
            continue;
        }
        out[o++] = (p[i] < 0x20 || p[i] == 0x7F) ? '?' : (char)p[i];
        i++;
    }
    out[o] = '\0';
}
