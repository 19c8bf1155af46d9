/* A streaming JSON writer: responses written straight into one growing buffer, no
 * tree built and thrown away. Strings are escaped as jansson's json_dumps does
 * (JSON_COMPACT; '"', '\\' and control characters, nothing else), so the bytes are
 * the same as before; a string that is not valid UTF-8 is written as "" (what the
 * views did with jansson, whose json_string refuses it). Fuzzed against jansson in
 * tests/fuzz/fuzz_jsonw.c. Commas are placed by the writer: callers only open, key,
 * write and close. */
#ifndef NUBO_JSONW_H
#define NUBO_JSONW_H
#include <stddef.h>

#define JSONW_DEPTH 32

struct jsonw {
	char *buf; /* owned; NUL-terminated */
	size_t len, cap;
	int depth;
	unsigned char first[JSONW_DEPTH]; /* 1 while the container at that depth is empty */
	int after_key;                    /* the next value follows a key: no comma */
};

/* Starts an empty writer with room for hint bytes (0: a default). */
void jsonw_init(struct jsonw *w, size_t hint);
/* Frees the buffer; accepts a released writer. */
void jsonw_release(struct jsonw *w);
/* Hands the buffer over (caller frees) with its length in *len; w is empty after. */
char *jsonw_detach(struct jsonw *w, size_t *len);

void jsonw_obj_begin(struct jsonw *w);
void jsonw_obj_end(struct jsonw *w);
void jsonw_arr_begin(struct jsonw *w);
void jsonw_arr_end(struct jsonw *w);
/* An object key: a literal the caller knows is plain UTF-8 (escaped all the same). */
void jsonw_key(struct jsonw *w, const char *k);
/* Values. jsonw_str(NULL) writes ""; jsonw_str_or_null(NULL) writes null. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_strn(struct jsonw *w, const char *s, size_t n);
void jsonw_str_or_null(struct jsonw *w, const char *s);
void jsonw_int(struct jsonw *w, long long v);
void jsonw_bool(struct jsonw *w, int v);
void jsonw_null(struct jsonw *w);
/* A value that is already JSON text (e.g. PostgreSQL's jsonb output), copied as is. */
void jsonw_raw(struct jsonw *w, const char *json, size_t n);

/* Plain text: bytes 0x20..0x7e except '"' and '\\' (UUIDs, hex digests, timestamps,
 * fixed words, or text already escaped as JSON): written between quotes as is, with
 * no escape scan and no UTF-8 check. The caller guarantees plainness (a value it made
 * or checked with jsonw_is_plain()); anything else would break the output. */
void jsonw_key_plain(struct jsonw *w, const char *k, size_t n);
void jsonw_plain(struct jsonw *w, const char *s, size_t n);
/* One plain string value written in pieces: begin, any number of adds, end. */
void jsonw_plain_begin(struct jsonw *w);
void jsonw_plain_add(struct jsonw *w, const char *s, size_t n);
void jsonw_plain_end(struct jsonw *w);
/* The same for string literals (their length known when compiling). */
#define JSONW_KEY(w, lit) jsonw_key_plain((w), "" lit, sizeof(lit) - 1)
#define JSONW_PLAIN(w, lit) jsonw_plain((w), "" lit, sizeof(lit) - 1)
#define JSONW_PLAIN_ADD(w, lit) jsonw_plain_add((w), "" lit, sizeof(lit) - 1)
/* 1 when s[0..n) is plain text as above (so jsonw_str() would write it unchanged). */
int jsonw_is_plain(const char *s, size_t n);

/* 1 when s[0..n) is valid UTF-8 as jansson accepts it (no NUL inside, no surrogates,
 * no overlong forms, nothing past U+10FFFF). */
int jsonw_utf8_valid(const char *s, size_t n);

#endif
