/* log.h: one-line logs to stderr with a level and UTC timestamp. Only the
 * gateway logs; processors return errors to it. */
#ifndef SQ_LOG_H
#define SQ_LOG_H

enum sq_log_level { SQ_LOG_ERROR = 0, SQ_LOG_WARN, SQ_LOG_INFO, SQ_LOG_DEBUG };

void sq_log_set_level(enum sq_log_level lvl);
/* "error"|"warn"|"info"|"debug" → level; returns -1 when unknown. */
int sq_log_level_parse(const char *s, enum sq_log_level *out);
void sq_log(enum sq_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sq_error(...) sq_log(SQ_LOG_ERROR, __VA_ARGS__)
#define sq_warn(...) sq_log(SQ_LOG_WARN, __VA_ARGS__)
#define sq_info(...) sq_log(SQ_LOG_INFO, __VA_ARGS__)
#define sq_debug(...) sq_log(SQ_LOG_DEBUG, __VA_ARGS__)

#endif
