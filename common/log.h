/* Daemon logging to stderr (the supervisor sends it to /var/log/nubo/<daemon>.log).
 * Only daemons log; library code in common/ returns errors instead. Never log secrets. */
#ifndef NUBO_LOG_H
#define NUBO_LOG_H

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };

void log_init(const char *daemon, enum log_level min);
/* Names the request this thread works on (e.g. "req-<uuid>"), shown in every line it
 * logs until cleared with NULL. The string must live until then. */
void log_set_request(const char *id);
/* log_set_request(id) that also shows global (may be NULL), the id of the request
 * of another service this one serves: "[req-local req-global] ". */
void log_set_requests(const char *id, const char *global);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)

#endif
