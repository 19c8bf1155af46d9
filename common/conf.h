/* nubo.conf: INI-style "[section]" headers and "key = value" lines; '#' and ';'
 * start comments. Names are letters, digits, '_', '-' and (keys only) '.'. Every
 * daemon reads the same file and takes its own sections. */
#ifndef NUBO_CONF_H
#define NUBO_CONF_H
#include <stddef.h>

#define CONF_MAX_ENTRIES 512
#define CONF_MAX_LINE 4096

struct conf;

/* Parses text. Returns an owned conf, or NULL with a message in err ("line N: ..."). */
struct conf *conf_parse(const char *text, char *err, size_t errlen);
/* Reads and parses a file (at most 1 MiB). NULL with err on failure. */
struct conf *conf_load(const char *path, char *err, size_t errlen);
void conf_free(struct conf *c);

/* Lookups return the value (borrowed from c) or def when the key is absent. */
const char *conf_get(const struct conf *c, const char *section, const char *key, const char *def);
long conf_get_long(const struct conf *c, const char *section, const char *key, long def);
double conf_get_double(const struct conf *c, const char *section, const char *key, double def);
/* Writes every entry as "section.key = value", secrets (keys containing "secret",
 * "password", "conninfo" or "_key") masked; used by each daemon's -n. */
void conf_dump(const struct conf *c, void *file);

#endif
