/* sq_utf8.h: strict UTF-8 checks (RFC 3629: no overlongs, no encoded
 * surrogates, nothing above U+10FFFF). The decode processor's scanner uses
 * the inline sequence check; sinks and tools use sq_utf8_invalid_at. */
#ifndef SQ_UTF8_H
#define SQ_UTF8_H

#include <stddef.h>

/* Length (2-4) of the valid multi-byte sequence starting at p, whose lead
 * byte p[0] is >= 0x80, reading at most avail bytes; 0 when the sequence is
 * invalid or truncated. Table 3-7 of the Unicode standard, one branch per
 * lead-byte range. */
static inline size_t sq_utf8_seq_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;          /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F;          /* U+D800..U+DFFF: surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;          /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F;          /* above U+10FFFF */
    } else {
        return 0;               /* continuation byte, C0/C1, F5..FF */
    }
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Offset of the first byte that does not start a valid UTF-8 character, or
 * len when all of s[0..len) is valid UTF-8. */
size_t sq_utf8_invalid_at(const char *s, size_t len);

/* Copies text for a header or log line: control bytes become '?' and the
 * copy stops before an incomplete UTF-8 sequence (text cut by its producer),
 * so the result is always valid UTF-8 and NUL-terminated within outsz. */
void sq_utf8_clean_copy(char *out, size_t outsz, const char *text);

#endif
