/* The Nova view of one flavor, written straight into a jsonw (issue 6: no json_t tree
 * per request). The bytes are those the jansson tree gave (JSON_COMPACT), checked
 * against golden text in tests/unit/test_flavor_view.c. */
#include "compute/flavor.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "compute/server.h"
#include "jsonw.h"

#define SPECS_STACK 2048

/* rxtx_factor as jansson dumps a real ("%.17g", then ".0" when it reads as an
 * integer). PostgreSQL prints a double of up to 15 digits without exponent or point,
 * so such text is the integer itself; anything else goes through jansson. */
static void rxtx_write(struct jsonw *w, const char *t)
{
	size_t n = t ? strspn(t, "0123456789") : 0;
	if (n > 0 && n <= 15 && !t[n]) {
		char b[20];
		memcpy(b, t, n);
		memcpy(b + n, ".0", 2);
		jsonw_raw(w, b, n + 2);
		return;
	}
	json_t *j = json_real(t ? strtod(t, NULL) : 0.0); /* NULL for NaN and infinities */
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (s)
		jsonw_raw(w, s, strlen(s));
	else
		jsonw_null(w);
	free(s);
	json_decref(j);
}

/* PostgreSQL's text of a jsonb object of strings ({"k": "v", ...}) as jansson's compact
 * dump of it: the spaces after ':' and ',' dropped and \u escapes in upper case
 * (PostgreSQL writes them in lower). Returns the length written to out (room for
 * strlen(t) + 1 bytes), or 0 for anything else (numbers, arrays, not an object). */
static size_t specs_compact(const char *t, char *out)
{
	size_t n = 0;
	int in_str = 0;
	while (*t == ' ')
		t++;
	if (*t != '{')
		return 0;
	for (; *t; t++) {
		char c = *t;
		if (in_str) {
			out[n++] = c;
			if (c == '"') {
				in_str = 0;
			} else if (c == '\\') {
				if (!t[1])
					return 0;
				out[n++] = *++t;
				if (*t == 'u') {
					for (int k = 0; k < 4; k++) {
						char h = *++t;
						if (!h)
							return 0;
						out[n++] =
						    h >= 'a' && h <= 'f' ? (char)(h - 32) : h;
					}
				}
			}
		} else if (c == '"') {
			in_str = 1;
			out[n++] = c;
		} else if (c == '{' || c == '}' || c == ':' || c == ',') {
			out[n++] = c;
		} else if (c != ' ' && c != '\n') {
			return 0;
		}
	}
	return in_str ? 0 : n;
}

static void specs_write(struct jsonw *w, const char *t)
{
	if (!t) {
		jsonw_raw(w, "{}", 2);
		return;
	}
	size_t len = strlen(t);
	char stack[SPECS_STACK], *buf = len < sizeof(stack) ? stack : malloc(len + 1);
	size_t n = buf ? specs_compact(t, buf) : 0;
	if (n > 0) {
		jsonw_raw(w, buf, n);
	} else { /* the tree's way, for whatever else the column holds */
		json_t *j = json_loads(t, 0, NULL);
		char *s = json_is_object(j) ? json_dumps(j, JSON_COMPACT) : NULL;
		if (s)
			jsonw_raw(w, s, strlen(s));
		else
			jsonw_raw(w, "{}", 2);
		free(s);
		json_decref(j);
	}
	if (buf != stack)
		free(buf);
}

void flavor_view_write(struct jsonw *w, const struct flavor_row *f, const char *public_url,
                       int mv_minor, int brief)
{
	jsonw_obj_begin(w);
	JSONW_KEY(w, "id");
	jsonw_str(w, f->id);
	JSONW_KEY(w, "name");
	jsonw_str(w, f->name);
	if (!brief) {
		JSONW_KEY(w, "ram");
		jsonw_int(w, f->ram_mb);
		JSONW_KEY(w, "disk");
		jsonw_int(w, f->disk_gb);
		JSONW_KEY(w, "vcpus");
		jsonw_int(w, f->vcpus);
		JSONW_KEY(w, "swap");
		if (f->swap_mb || mv_minor >= 75)
			jsonw_int(w, f->swap_mb);
		else /* Nova before 2.75 shows no swap as the empty string */
			JSONW_PLAIN(w, "");
		JSONW_KEY(w, "OS-FLV-EXT-DATA:ephemeral");
		jsonw_int(w, f->ephemeral_gb);
		JSONW_KEY(w, "rxtx_factor");
		rxtx_write(w, f->rxtx_factor);
		JSONW_KEY(w, "os-flavor-access:is_public");
		jsonw_bool(w, f->is_public);
		JSONW_KEY(w, "OS-FLV-DISABLED:disabled");
		jsonw_bool(w, f->disabled);
	}
	JSONW_KEY(w, "links");
	server_view_links_write(w, public_url, "flavors", f->id);
	if (mv_minor >= 55) {
		JSONW_KEY(w, "description");
		jsonw_str_or_null(w, f->description);
	}
	if (!brief && mv_minor >= 61) { /* readable by everyone who may read the flavor */
		JSONW_KEY(w, "extra_specs");
		specs_write(w, f->extra_specs);
	}
	jsonw_obj_end(w);
}
