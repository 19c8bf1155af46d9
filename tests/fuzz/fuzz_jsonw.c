/* libFuzzer target: common/jsonw against jansson as the oracle. Any input (up to its
 * first NUL, as the views hand C strings) written as a string, as a key and inside a
 * small object must give exactly the bytes json_dumps(JSON_COMPACT) gives, and "" where
 * jansson refuses the string (not UTF-8); the whole input with its NULs (jsonw_strn)
 * likewise, "" when it holds a NUL; plain text written without the escape scan must
 * give the same bytes as with it. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

static void same(const char *want, const struct jsonw *w)
{
	if (strcmp(want, w->buf) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size);
	json_t *j = json_string(s);
	if ((j != NULL) != jsonw_utf8_valid(s, strlen(s)))
		abort();

	struct jsonw w;
	jsonw_init(&w, 0);
	jsonw_str(&w, s);
	char *want = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("\"\"");
	same(want, &w);
	free(want);
	jsonw_release(&w);

	/* {"servers":[{"name":s,"n":-7,"x":null,"b":true},{}],"k":[]} */
	json_t *o = json_pack("{s:[{s:o?,s:i,s:n,s:b},{}],s:[]}", "servers", "name",
	                      j ? json_incref(j) : json_string(""), "n", -7, "x", "b", 1, "k");
	jsonw_init(&w, 1);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "servers");
	jsonw_arr_begin(&w);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "name");
	jsonw_str(&w, s);
	jsonw_key(&w, "n");
	jsonw_int(&w, -7);
	jsonw_key(&w, "x");
	jsonw_null(&w);
	jsonw_key(&w, "b");
	jsonw_bool(&w, 1);
	jsonw_obj_end(&w);
	jsonw_obj_begin(&w);
	jsonw_obj_end(&w);
	jsonw_arr_end(&w);
	jsonw_key(&w, "k");
	jsonw_arr_begin(&w);
	jsonw_arr_end(&w);
	jsonw_obj_end(&w);
	want = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	same(want, &w);
	free(want);
	jsonw_release(&w);
	json_decref(o);

	/* as a key, where jansson takes it */
	if (j) {
		json_t *k = json_object();
		json_object_set_new(k, s, json_true());
		jsonw_init(&w, 0);
		jsonw_obj_begin(&w);
		jsonw_key(&w, s);
		jsonw_bool(&w, 1);
		jsonw_obj_end(&w);
		want = json_dumps(k, JSON_COMPACT);
		same(want, &w);
		free(want);
		jsonw_release(&w);
		json_decref(k);
	}
	/* plain text (jsonw_is_plain) written without the scan is what the scan writes */
	if (jsonw_is_plain(s, strlen(s))) {
		jsonw_init(&w, 0);
		jsonw_plain(&w, s, strlen(s));
		struct jsonw w2;
		jsonw_init(&w2, 0);
		jsonw_str(&w2, s);
		same(w2.buf, &w);
		jsonw_release(&w2);
		jsonw_release(&w);
	}
	json_decref(j);
	free(s);

	/* all the bytes, NULs included (jsonw_strn): as json_stringn, but "" where the
	 * bytes hold a NUL or are not UTF-8 */
	j = json_stringn((const char *)data, size);
	int nul = memchr(data, 0, size) != NULL;
	if ((j != NULL && !nul) != jsonw_utf8_valid((const char *)data, size))
		abort();
	jsonw_init(&w, 0);
	jsonw_strn(&w, (const char *)data, size);
	want = j && !nul ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("\"\"");
	same(want, &w);
	free(want);
	jsonw_release(&w);
	json_decref(j);
	return 0;
}
