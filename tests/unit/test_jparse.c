/* Request-body field tables: types, bounds, required fields, nulls. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jparse.h"

struct body {
	char *name;
	char *flavor;
	long count;
	int flag;
	char id[37];
	json_t *nets;
};

static const struct jfield fields[] = {
    {"name", J_STR, JF(struct body, name), 0, 8, 1, 0},
    {"flavorRef", J_STR_OR_INT, JF(struct body, flavor), 0, 64, 0, 0},
    {"count", J_INT, JF(struct body, count), 1, 10, 0, 0},
    {"flag", J_BOOL, JF(struct body, flag), 0, 0, 0, 1},
    {"id", J_UUID, JF(struct body, id), 0, 0, 0, 1},
    {"networks", J_ARRAY, JF(struct body, nets), 0, 2, 0, 0},
};

static int parse(const char *text, struct body *b, char *err, size_t errlen)
{
	json_t *j = json_loads(text, 0, NULL);
	memset(b, 0, sizeof(*b));
	int rc = jparse(j, fields, JCOUNT(fields), b, err, errlen);
	if (rc == 0)
		jparse_release(fields, JCOUNT(fields), b);
	json_decref(j);
	return rc;
}

static void accepts(void **state)
{
	struct body b;
	char err[128];
	json_t *j =
	    json_loads("{\"name\":\"vm1\",\"flavorRef\":1,\"count\":\"3\",\"flag\":\"True\","
	               "\"id\":null,\"networks\":[{}]}",
	               0, NULL);
	memset(&b, 0, sizeof(b));
	assert_int_equal(jparse(j, fields, JCOUNT(fields), &b, err, sizeof(err)), 0);
	assert_string_equal(b.name, "vm1");
	assert_string_equal(b.flavor, "1");
	assert_int_equal(b.count, 3);
	assert_int_equal(b.flag, 1);
	assert_string_equal(b.id, "");
	jparse_release(fields, JCOUNT(fields), &b);
	assert_null(b.name);
	json_decref(j);
}

static void rejects(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"{}", "name: is required"},
	    {"{\"name\":5}", "name: must be a string of at most 8 bytes"},
	    {"{\"name\":\"123456789\"}", "name: must be a string of at most 8 bytes"},
	    {"{\"name\":\"a\",\"count\":11}", "count: must be between 1 and 10"},
	    {"{\"name\":\"a\",\"count\":\"x\"}", "count: must be an integer"},
	    {"{\"name\":\"a\",\"flag\":3}", "flag: must be a boolean"},
	    {"{\"name\":\"a\",\"id\":\"zz\"}", "id: must be a UUID"},
	    {"{\"name\":\"a\",\"networks\":[1,2,3]}",
	     "networks: must be a list of at most 2 items"},
	    {"[1]", "request body must be a JSON object"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct body b;
		char err[128] = "";
		assert_int_equal(parse(cases[i].text, &b, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, cases[i].msg);
		assert_null(b.name); /* nothing leaks on failure */
	}
}

/* Closed schemas: every key must be a field or an allowed extra. */
static void known_keys(void **state)
{
	char err[256];
	static const char *const also[] = {"networks_raw", NULL};
	json_t *ok = json_pack("{s:s,s:i,s:i}", "name", "a", "count", 2, "networks_raw", 1);
	assert_int_equal(jparse_known(ok, fields, JCOUNT(fields), also, err, sizeof(err)), 0);
	json_t *extra = json_pack("{s:s,s:s}", "name", "a", "user_id", "x");
	assert_int_equal(jparse_known(extra, fields, JCOUNT(fields), also, err, sizeof(err)),
	                 -EINVAL);
	assert_string_equal(err,
	                    "Additional properties are not allowed ('user_id' was unexpected)");
	assert_int_equal(jparse_known(ok, fields, JCOUNT(fields), NULL, err, sizeof(err)), -EINVAL);
	json_t *ctl = json_pack("{s:s}", "a\nb", "x"); /* the key never forges a line */
	assert_int_equal(jparse_known(ctl, NULL, 0, NULL, err, sizeof(err)), -EINVAL);
	assert_null(strchr(err, '\n'));
	json_decref(ok);
	json_decref(extra);
	json_decref(ctl);
}

struct num {
	double x;
};

static void doubles(void **state)
{
	static const struct jfield f[] = {{"x", J_DOUBLE, JF(struct num, x), 0, 0, 1, 0}};
	char err[256];
	struct num n;
	static const char *const good[] = {"{\"x\": 1.5}", "{\"x\": 2}", "{\"x\": \"0.25\"}"};
	static const double want[] = {1.5, 2, 0.25};
	for (size_t i = 0; i < 3; i++) {
		json_t *j = json_loads(good[i], 0, NULL);
		assert_int_equal(jparse(j, f, 1, &n, err, sizeof(err)), 0);
		assert_true(n.x == want[i]);
		json_decref(j);
	}
	static const char *const bad[] = {"{\"x\": 0}",       "{\"x\": -1}",   "{\"x\": \"1e400\"}",
	                                  "{\"x\": \"abc\"}", "{\"x\": \"\"}", "{\"x\": true}",
	                                  "{\"x\": 1e39}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		assert_int_equal(jparse(j, f, 1, &n, err, sizeof(err)), -EINVAL);
		json_decref(j);
	}
}

struct maps {
	struct jstrmap meta, specs;
};

static void maps(void **state)
{
	static const struct jfield f[] = {
	    {"meta", J_STRMAP, JF(struct maps, meta), 0, 3, 0, 1},
	    {"specs", J_SCALARMAP, JF(struct maps, specs), 0, 0, 0, 1},
	};
	char err[256];
	struct maps m = {0};
	json_t *ok = json_loads("{\"meta\": {\"a\": \"1\", \"b c\": \"\"}, \"specs\": "
	                        "{\"n\": 2, \"r\": 0.5, \"t\": true, \"f\": false, \"s\": \"x\"}}",
	                        0, NULL);
	assert_int_equal(jparse(ok, f, 2, &m, err, sizeof(err)), 0);
	assert_int_equal(m.meta.n, 2);
	assert_string_equal(m.meta.keys[1], "b c");
	assert_string_equal(m.meta.vals[1], "");
	assert_int_equal(m.specs.n, 5);
	json_t *j = jstrmap_to_json(&m.specs);
	assert_string_equal(json_string_value(json_object_get(j, "n")), "2");
	assert_string_equal(json_string_value(json_object_get(j, "r")), "0.5");
	assert_string_equal(json_string_value(json_object_get(j, "t")), "True");
	assert_string_equal(json_string_value(json_object_get(j, "f")), "False");
	json_decref(j);
	jparse_release(f, 2, &m);
	assert_int_equal(m.meta.n, 0);
	assert_null(m.specs.keys);
	json_decref(ok);

	static const char *const bad[] = {
	    "{\"meta\": {\"a\": 1}}",         /* strings only */
	    "{\"meta\": []}",                 /* an object */
	    "{\"meta\": {\"\": \"x\"}}",      /* empty key */
	    "{\"meta\": {\"a\\nb\": \"x\"}}", /* control byte */
	    "{\"meta\": {\"a\": \"1\", \"b\": \"2\", \"c\": \"3\", \"d\": \"4\"}}", /* max 3 */
	    "{\"specs\": {\"a\": null}}",                                           /* no null */
	    "{\"specs\": {\"a\": {}}}",                                             /* no object */
	    "{\"meta\": {\"a\": \"1\"}, \"specs\": {\"a\": [1]}}", /* fails after a map */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *b = json_loads(bad[i], 0, NULL);
		assert_non_null(b);
		memset(&m, 0, sizeof(m));
		assert_int_equal(jparse(b, f, 2, &m, err, sizeof(err)), -EINVAL);
		assert_null(m.meta.keys); /* released on failure */
		json_decref(b);
	}
	/* a value of 256 bytes */
	char big[300];
	memset(big, 'v', 256);
	big[256] = '\0';
	json_t *b = json_pack("{s:{s:s}}", "meta", "k", big);
	assert_int_equal(jparse(b, f, 2, &m, err, sizeof(err)), -EINVAL);
	json_decref(b);

	/* a body that is the map */
	struct jstrmap one;
	json_t *body = json_pack("{s:i}", "hw:cpu", 4);
	assert_int_equal(jparse_map(body, J_SCALARMAP, 1, "extra_specs", &one, err, sizeof(err)),
	                 0);
	assert_string_equal(one.vals[0], "4");
	jstrmap_release(&one);
	json_decref(body);
	body = json_pack("{s:i,s:i}", "a", 1, "b", 2);
	assert_int_equal(jparse_map(body, J_SCALARMAP, 1, "extra_specs", &one, err, sizeof(err)),
	                 -EINVAL);
	json_decref(body);
}

struct one {
	long i;
	int b;
	char *s;
	struct jstrlist tags;
};

/* One value at a time (Glance attributes), strict types, lists of strings. */
static void values(void **state)
{
	static const struct jfield fi = {"min_disk", J_INT, JF(struct one, i), 0, 10,
	                                 0,          0,     JF_STRICT};
	static const struct jfield fb = {"protected", J_BOOL, JF(struct one, b), 0, 0,
	                                 0,           0,      JF_STRICT};
	static const struct jfield fs = {"name", J_STR, JF(struct one, s), 0, 4, 0, 1, 0};
	static const struct jfield fl = {"tags", J_STRLIST, JF(struct one, tags), 0, 2, 0, 0, 0};
	char err[256];
	struct one o = {0};
	json_t *v = json_integer(3);
	assert_int_equal(jparse_value(&fi, v, &o, err, sizeof(err)), 0);
	assert_int_equal(o.i, 3);
	json_decref(v);
	v = json_string("3"); /* strict: no numbers as text */
	assert_int_equal(jparse_value(&fi, v, &o, err, sizeof(err)), -EINVAL);
	assert_int_equal(jparse_value(&fb, v, &o, err, sizeof(err)), -EINVAL);
	json_decref(v);
	v = json_string("true");
	assert_int_equal(jparse_value(&fb, v, &o, err, sizeof(err)), -EINVAL);
	json_decref(v);
	v = json_true();
	assert_int_equal(jparse_value(&fb, v, &o, err, sizeof(err)), 0);
	assert_int_equal(o.b, 1);
	json_decref(v);
	v = json_null();
	assert_int_equal(jparse_value(&fs, v, &o, err, sizeof(err)), 1); /* nullable */
	assert_null(o.s);
	assert_int_equal(jparse_value(&fi, v, &o, err, sizeof(err)), -EINVAL);
	json_decref(v);
	v = json_string("abcd");
	assert_int_equal(jparse_value(&fs, v, &o, err, sizeof(err)), 0);
	assert_string_equal(o.s, "abcd");
	jparse_release(&fs, 1, &o);
	assert_null(o.s);
	json_decref(v);

	v = json_pack("[s,s]", "a", "b");
	assert_int_equal(jparse_value(&fl, v, &o, err, sizeof(err)), 0);
	assert_int_equal(o.tags.n, 2);
	assert_string_equal(o.tags.items[1], "b");
	jparse_release(&fl, 1, &o);
	assert_int_equal(o.tags.n, 0);
	json_decref(v);
	static const char *const bad[] = {"[\"a\", \"b\", \"c\"]", "[\"\"]", "[1]", "{}", "\"a\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		assert_int_equal(jparse_value(&fl, v, &o, err, sizeof(err)), -EINVAL);
		assert_null(o.tags.items);
		json_decref(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(accepts),    cmocka_unit_test(rejects),
	                                   cmocka_unit_test(known_keys), cmocka_unit_test(doubles),
	                                   cmocka_unit_test(maps),       cmocka_unit_test(values)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
