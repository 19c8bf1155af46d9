/* Unit tests: an argv (NULL-terminated) as one line, its words joined by single spaces,
 * so that a builder's output is compared with the command as a person would write it.
 * The text lives in a static buffer until the next call. */
#ifndef NUBO_TEST_ARGV_TEXT_H
#define NUBO_TEST_ARGV_TEXT_H
#include <stdio.h>
#include <string.h>

static inline const char *joined(const char *const *argv)
{
	static char buf[1024];
	buf[0] = 0;
	for (size_t i = 0; argv[i]; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " " : "",
		         argv[i]);
	return buf;
}

#endif
