/* Text into XML or HTML (Swift's XML listings, S3's documents, staticweb's pages). */
#ifndef NUBO_MARKUP_H
#define NUBO_MARKUP_H
#include <stdio.h>

/* Writes s (NULL: nothing) to f with & < > " ' as references and other control bytes
 * as numeric ones, so it is safe as element text and inside a quoted attribute of
 * either language. */
void markup_escape(FILE *f, const char *s);

#endif
