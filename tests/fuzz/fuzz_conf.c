/* libFuzzer target: nubo.conf text (conf_parse), and the round trip through the only
 * encoder conf has, conf_dump (what every daemon's -n prints, "section.key = value"
 * with secrets masked): parse -> dump -> that dump written back as INI -> parse ->
 * dump must print the same text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* conf_dump's text of c. Owned by the caller. */
static char *dump(const struct conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	conf_dump(c, f);
	fclose(f);
	return buf;
}

/* The INI text that means what the dump says: each "section.key = value" line becomes
 * "[section]" and "key=value" (no spaces: the line stays within CONF_MAX_LINE). A
 * section name has no '.', so the first '.' ends it. Owned by the caller. */
static char *dump_to_ini(const char *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	for (const char *line = d; *line;) {
		const char *nl = strchr(line, '\n');
		const char *eq = strstr(line, " = ");
		const char *dot = strchr(line, '.');
		if (!nl || !eq || !dot || eq > nl || dot > eq) {
			fprintf(stderr, "conf_dump line not 'section.key = value': %.*s\n",
			        (int)(nl ? nl - line : (long)strlen(line)), line);
			abort();
		}
		fprintf(f, "[%.*s]\n%.*s=%.*s\n", (int)(dot - line), line, (int)(eq - dot - 1),
		        dot + 1, (int)(nl - eq - 3), eq + 3);
		line = nl + 1;
	}
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char err[256];
	struct conf *c = conf_parse(text, err, sizeof(err));
	if (c) {
		conf_get_long(c, "api", "port", 0);
		char *d1 = dump(c);
		char *ini = dump_to_ini(d1);
		struct conf *c2 = conf_parse(ini, err, sizeof(err));
		if (!c2) {
			fprintf(stderr, "the dump does not parse back (%s):\n%s", err, ini);
			abort();
		}
		char *d2 = dump(c2);
		if (strcmp(d1, d2)) {
			fprintf(stderr, "decode -> encode -> decode differs:\n%s---\n%s", d1, d2);
			abort();
		}
		free(d2);
		conf_free(c2);
		free(ini);
		free(d1);
	}
	conf_free(c);
	free(text);
	return 0;
}
