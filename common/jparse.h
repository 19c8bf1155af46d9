/* Table-driven parsing of JSON request bodies into typed structs at the edge: each
 * field row names its key, type, destination offset, bound and whether it is
 * required, so handlers never touch the wire's json_t. */
#ifndef NUBO_JPARSE_H
#define NUBO_JPARSE_H
#include <jansson.h>
#include <stddef.h>

enum jtype {
	J_STR,        /* char * (owned by the struct; free with jparse_release) bound = max bytes */
	J_UUID,       /* char[37] */
	J_INT,        /* long, range [min, max] */
	J_BOOL,       /* int 0/1; also accepts "true"/"false" strings */
	J_OBJECT,     /* json_t * borrowed from the body (nested, parsed by the caller) */
	J_ARRAY,      /* json_t * borrowed */
	J_STR_OR_INT, /* char *: a string, or an integer rendered as a string (flavor ids) */
	J_STRMAP,     /* struct jstrmap: an object of string values (Nova metadata); keys
	               * 1..255 bytes, values at most 255 bytes, no control bytes in keys;
	               * at most max entries when max > 0 */
	J_SCALARMAP,  /* struct jstrmap: the same, but numbers and booleans are taken as
	               * their text ("2", "0.5", "True"), as Nova stores flavor extra specs */
	J_DOUBLE,     /* double: a JSON number or a decimal string, finite, > 0 and at most
	               * FLT_MAX (a float column); min and max are ignored */
	J_STRLIST,    /* struct jstrlist: a list of strings of 1..255 bytes, at most max
	               * items when max > 0 */
};

/* Field flags. */
enum {
	JF_STRICT = 1, /* J_INT and J_BOOL take only JSON integers and booleans, not their
	                * text (Glance's schemas; Nova's clients send numbers as strings) */
};

/* A JSON list of strings, owned by the struct that holds it (jparse_release). */
struct jstrlist {
	size_t n;
	char **items;
};

/* A JSON object's members as text, in the order they came (owned by the struct that
 * holds it: jparse_release frees it). */
struct jstrmap {
	size_t n;
	char **keys, **vals;
};

/* Pure: a new JSON object of m's members (later duplicates win). */
json_t *jstrmap_to_json(const struct jstrmap *m);
/* Parses obj itself as a map (a body that is the map, e.g. {"<key>": "<value>"}): type
 * is J_STRMAP or J_SCALARMAP, max the most entries (0 = no bound), name the field name
 * for messages. 0 with out filled (release with jstrmap_release), or -EINVAL with err
 * and nothing to release. */
int jparse_map(const json_t *obj, enum jtype type, long max, const char *name, struct jstrmap *out,
               char *err, size_t errlen);
/* Frees what m holds and empties it. */
void jstrmap_release(struct jstrmap *m);

struct jfield {
	const char *name;
	enum jtype type;
	size_t off;
	long min, max; /* J_STR: max length (min ignored); J_INT: range */
	int required;
	int nullable;   /* JSON null accepted as absent */
	unsigned flags; /* JF_* */
};

/* Parses one value v by f's type into out (at f->off), for bodies whose keys are only
 * known at run time (Glance's image attributes and JSON-patch values). Returns 0; 1
 * when v is JSON null and f->nullable (nothing stored); or -EINVAL with err. What it
 * stores is released by jparse_release(f, 1, out). */
int jparse_value(const struct jfield *f, const json_t *v, void *out, char *err, size_t errlen);

/* Fills out from obj per fields. Unknown keys are ignored. Returns 0, or -EINVAL with
 * a client-facing message in err ("name: must be a string of at most 255 bytes"). */
int jparse(const json_t *obj, const struct jfield *fields, size_t n, void *out, char *err,
           size_t errlen);
/* For schemas that forbid other keys (JSON Schema's additionalProperties: false):
 * 0 when every key of obj is a field of fields or one of also (a NULL-terminated list
 * of keys the caller reads some other way, may be NULL); else -EINVAL with
 * "Additional properties are not allowed ('<key>' was unexpected)" in err (the key is
 * cut at 64 bytes). obj must be an object. */
int jparse_known(const json_t *obj, const struct jfield *fields, size_t n, const char *const *also,
                 char *err, size_t errlen);
/* Frees the J_STR / J_STR_OR_INT strings, J_STRMAP / J_SCALARMAP maps and J_STRLIST
 * lists jparse allocated in out. */
void jparse_release(const struct jfield *fields, size_t n, void *out);

#define JF(st, member) offsetof(st, member)
#define JCOUNT(a) (sizeof(a) / sizeof((a)[0]))

#endif
