/* Allocation that cannot fail: out of memory aborts the process, so callers never
 * carry an allocation-failure path (CONVENTIONS habit 6). */
#ifndef NUBO_XALLOC_H
#define NUBO_XALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s); /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
/* printf into a new string; returns owned memory. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Copies src into dst of size n, always NUL-terminates; returns -ENAMETOOLONG when cut. */
int strlcpy_checked(char *dst, const char *src, size_t n);

#endif
