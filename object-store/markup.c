/* One escaper for every document the object store writes (markup.h). */
#include "markup.h"

static const char *const entity[128] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#x27;",
};

void markup_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 128 && entity[c])
			fputs(entity[c], f);
		else if (c < 0x20)
			fprintf(f, "&#x%X;", c);
		else
			fputc(c, f);
	}
}
