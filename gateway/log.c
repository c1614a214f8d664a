/* log.c: level-filtered, line-buffered logging to stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sq_common.h"

static enum sq_log_level sq_log_current = SQ_LOG_INFO;
static const char *const sq_log_names[] = {"error", "warn", "info", "debug"};

void sq_log_set_level(enum sq_log_level lvl)
{
    sq_log_current = lvl;
}

int sq_log_level_parse(const char *s, enum sq_log_level *out)
{
    for (int i = 0; i <= SQ_LOG_DEBUG; i++) {
        if (strcmp(s, sq_log_names[i]) == 0) {
            *out = (enum sq_log_level)i;
            return 0;
        }
    }
    return -1;
}

void sq_log(enum sq_log_level lvl, const char *fmt, ...)
{
    if (lvl > sq_log_current)
        return;
    char ts[SQ_TIME_BUFSZ];
    sq_time_format(sq_now_ms(), ts);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s sqgate %s: %s\n", ts, sq_log_names[lvl], line);
}
