/* Keystone's domain-specific configuration (/v3/domains/{id}/config and the defaults at
 * /v3/domains/config/...): {"<group>": {"<option>": value}} kept per domain as Keystone
 * keeps it in its database. Only Keystone's whitelisted groups and options are taken
 * (identity: driver, list_limit; ldap: its options); the sensitive ones (ldap password)
 * are stored apart and never answered. Nubo has one SQL identity backend: the stored
 * configuration is not applied (tempest's domain_specific_drivers flag stays off). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/keystone.h"
#include "policy.h"
#include "routes.h"
#include "wire.h"
#include "xalloc.h"

#define VALUE_MAX 4096 /* bytes of one option's JSON value */

/* An option Keystone lets a domain set, with the default Nubo shows for it (JSON text;
 * "null" when unset) and whether it is sensitive (stored, never shown). */
struct option {
	const char *group, *name, *def;
	int sensitive;
};

static const struct option options[] = {
    {"identity", "driver", "\"sql\"", 0},
    {"identity", "list_limit", "null", 0},
    {"ldap", "url", "\"ldap://localhost\"", 0},
    {"ldap", "user", "null", 0},
    {"ldap", "password", "null", 1},
    {"ldap", "suffix", "\"cn=example,cn=com\"", 0},
    {"ldap", "query_scope", "\"one\"", 0},
    {"ldap", "page_size", "0", 0},
    {"ldap", "alias_dereferencing", "\"default\"", 0},
    {"ldap", "debug_level", "null", 0},
    {"ldap", "chase_referrals", "null", 0},
    {"ldap", "user_tree_dn", "null", 0},
    {"ldap", "user_filter", "null", 0},
    {"ldap", "user_objectclass", "\"inetOrgPerson\"", 0},
    {"ldap", "user_id_attribute", "\"cn\"", 0},
    {"ldap", "user_name_attribute", "\"sn\"", 0},
    {"ldap", "user_description_attribute", "\"description\"", 0},
    {"ldap", "user_mail_attribute", "\"mail\"", 0},
    {"ldap", "user_pass_attribute", "\"userPassword\"", 0},
    {"ldap", "user_enabled_attribute", "\"enabled\"", 0},
    {"ldap", "user_enabled_invert", "false", 0},
    {"ldap", "user_enabled_mask", "0", 0},
    {"ldap", "user_enabled_default", "\"True\"", 0},
    {"ldap", "user_attribute_ignore", "[\"default_project_id\"]", 0},
    {"ldap", "user_default_project_id_attribute", "null", 0},
    {"ldap", "user_enabled_emulation", "false", 0},
    {"ldap", "user_enabled_emulation_dn", "null", 0},
    {"ldap", "user_enabled_emulation_use_group_config", "false", 0},
    {"ldap", "user_additional_attribute_mapping", "[]", 0},
    {"ldap", "group_tree_dn", "null", 0},
    {"ldap", "group_filter", "null", 0},
    {"ldap", "group_objectclass", "\"groupOfNames\"", 0},
    {"ldap", "group_id_attribute", "\"cn\"", 0},
    {"ldap", "group_name_attribute", "\"ou\"", 0},
    {"ldap", "group_member_attribute", "\"member\"", 0},
    {"ldap", "group_members_are_ids", "false", 0},
    {"ldap", "group_desc_attribute", "\"description\"", 0},
    {"ldap", "group_attribute_ignore", "[]", 0},
    {"ldap", "group_additional_attribute_mapping", "[]", 0},
    {"ldap", "group_ad_nesting", "false", 0},
    {"ldap", "tls_cacertfile", "null", 0},
    {"ldap", "tls_cacertdir", "null", 0},
    {"ldap", "use_tls", "false", 0},
    {"ldap", "tls_req_cert", "\"demand\"", 0},
    {"ldap", "connection_timeout", "-1", 0},
    {"ldap", "use_pool", "true", 0},
    {"ldap", "pool_size", "10", 0},
    {"ldap", "pool_retry_max", "3", 0},
    {"ldap", "pool_retry_delay", "0.1", 0},
    {"ldap", "pool_connection_timeout", "-1", 0},
    {"ldap", "pool_connection_lifetime", "600", 0},
    {"ldap", "use_auth_pool", "true", 0},
    {"ldap", "auth_pool_size", "100", 0},
    {"ldap", "auth_pool_connection_lifetime", "60", 0},
    {"ldap", "randomize_urls", "false", 0},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* The option of group and name, or NULL. */
static const struct option *option_find(const char *group, const char *name)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (!strcmp(options[i].group, group) && !strcmp(options[i].name, name))
			return &options[i];
	return NULL;
}

static int group_known(const char *group)
{
	return !strcmp(group, "identity") || !strcmp(group, "ldap");
}

/* Keystone answers a configuration it does not take with 403. */
#define INVALID "Invalid domain specific configuration: %s."

/* Checks cfg ({"group": {"option": value}}, or only group's options when group is
 * set and cfg is that group's object): known groups and options, bounded values.
 * 0, or answers 403/400 and returns -EINVAL. */
static int config_check(struct req *r, struct resp *w, json_t *cfg, const char *group)
{
	const char *g, *o;
	json_t *opts, *v;
	if (!json_is_object(cfg) || json_object_size(cfg) == 0) {
		resp_error(r, w, 400, "config: must be a non-empty object");
		return -EINVAL;
	}
	json_object_foreach(cfg, g, opts)
	{
		if (!group_known(g)) {
			char *m = xasprintf("group %s is not supported", g);
			resp_error(r, w, 403, INVALID, m);
			free(m);
			return -EINVAL;
		}
		if (!json_is_object(opts) || json_object_size(opts) == 0) {
			resp_error(r, w, 400, "config: group %s must be a non-empty object", g);
			return -EINVAL;
		}
		json_object_foreach(opts, o, v)
		{
			char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			size_t len = text ? strlen(text) : 0;
			free(text);
			if (!option_find(g, o)) {
				char *m = xasprintf("option %s in group %s is not supported", o, g);
				resp_error(r, w, 403, INVALID, m);
				free(m);
				return -EINVAL;
			}
			if (!len || len > VALUE_MAX) {
				resp_error(r, w, 400, "config: %s.%s: value too long", g, o);
				return -EINVAL;
			}
		}
	}
	(void)group;
	return 0;
}

/* The domain's whole stored configuration, sensitive options included (new object),
 * or NULL after answering 404 (no domain, or (when must) no configuration) or 500. */
static json_t *config_load(struct req *r, struct resp *w, const char *domain_id, int must)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT c.config::text, c.sensitive::text FROM domains d"
	                    " LEFT JOIN domain_configs c ON c.domain_id = d.id WHERE d.id = $1",
	                    domain_id);
	if (!res) {
		resp_db_error(r, w, err);
		return NULL;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		ks_not_found(r, w, "domain", domain_id);
		return NULL;
	}
	if (!db_val(res, 0, 0) && must) {
		PQclear(res);
		resp_error(r, w, 404, "Could not find config for domain %s.", domain_id);
		return NULL;
	}
	json_t *cfg = json_loads(db_val(res, 0, 0) ? db_val(res, 0, 0) : "{}", 0, NULL);
	json_t *sens = json_loads(db_val(res, 0, 1) ? db_val(res, 0, 1) : "{}", 0, NULL);
	PQclear(res);
	const char *g;
	json_t *opts;
	json_object_foreach(sens, g, opts)
	{
		json_t *dst = json_object_get(cfg, g);
		if (!dst)
			json_object_set_new(cfg, g, dst = json_object());
		json_object_update(dst, opts);
	}
	json_decref(sens);
	return cfg;
}

/* A copy of cfg without (sensitive = 0) or with only (1) the sensitive options. */
static json_t *config_part(const json_t *cfg, int sensitive)
{
	json_t *out = json_object();
	const char *g, *o;
	json_t *opts, *v;
	json_object_foreach((json_t *)cfg, g, opts)
	{
		json_t *dst = json_object();
		json_object_foreach(opts, o, v)
		{
			const struct option *opt = option_find(g, o);
			if (opt && opt->sensitive == sensitive)
				json_object_set(dst, o, v);
		}
		if (json_object_size(dst))
			json_object_set_new(out, g, dst);
		else
			json_decref(dst);
	}
	return out;
}

/* Stores cfg as the domain's configuration (none left: the row goes). 0 or answers
 * 500 and returns -EIO. */
static int config_store(struct req *r, struct resp *w, const char *domain_id, const json_t *cfg)
{
	char err[256];
	json_t *pub = config_part(cfg, 0), *sens = config_part(cfg, 1);
	char *p = json_dumps(pub, JSON_COMPACT), *s = json_dumps(sens, JSON_COMPACT);
	int empty = !json_object_size(pub) && !json_object_size(sens);
	int n = empty ? DBX(r->ctx->db, err, sizeof err,
	                    "DELETE FROM domain_configs WHERE domain_id = $1", domain_id)
	              : DBX(r->ctx->db, err, sizeof err,
	                    "INSERT INTO domain_configs VALUES ($1, $2::jsonb, $3::jsonb)"
	                    " ON CONFLICT (domain_id) DO UPDATE SET config = EXCLUDED.config,"
	                    " sensitive = EXCLUDED.sensitive",
	                    domain_id, p, s);
	free(p);
	free(s);
	json_decref(pub);
	json_decref(sens);
	if (n < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

/* Answers {"config": what cfg shows} with status: the whole of it, one group or one
 * option, sensitive options left out. */
static void config_answer(struct resp *w, int status, const json_t *cfg, const char *group,
                          const char *option)
{
	json_t *pub = config_part(cfg, 0), *shown;
	if (option)
		shown = json_pack("{s:O}", option,
		                  json_object_get(json_object_get(pub, group), option));
	else if (group)
		shown = json_pack("{s:O}", group, json_object_get(pub, group));
	else
		shown = json_incref(pub);
	json_decref(pub);
	resp_json(w, status, json_pack("{s:o}", "config", shown));
}

/* The body's {"config": {...}}, borrowed, or NULL after answering 400. */
static json_t *body_config(struct req *r, struct resp *w)
{
	json_t *c = r->json ? json_object_get(r->json, "config") : NULL;
	if (!json_is_object(c)) {
		resp_error(r, w, 400, "config: required, an object");
		return NULL;
	}
	return c;
}

/* PUT /domains/{id}/config: the whole configuration, replaced (201 when there was none,
 * 200 when it replaced one, as Keystone answers). */
static void config_put(struct req *r, struct resp *w)
{
	json_t *body = body_config(r, w);
	if (!body || config_check(r, w, body, NULL) < 0)
		return;
	json_t *old = config_load(r, w, r->params[0], 0);
	if (!old)
		return;
	int had = json_object_size(old) > 0;
	json_decref(old);
	if (config_store(r, w, r->params[0], body) == 0)
		config_answer(w, had ? 200 : 201, body, NULL, NULL);
}

/* The configuration of params[0] with its group (params[1]) and option (params[2])
 * present, or NULL after answering 404. */
static json_t *config_at(struct req *r, struct resp *w, const char *group, const char *option)
{
	json_t *cfg = config_load(r, w, r->params[0], 1);
	if (!cfg)
		return NULL;
	json_t *g = group ? json_object_get(cfg, group) : cfg;
	if (!g || (option && !json_object_get(g, option))) {
		json_decref(cfg);
		resp_error(r, w, 404, "Could not find %s %s in the config of domain %s.",
		           option ? "option" : "group", option ? option : group, r->params[0]);
		return NULL;
	}
	return cfg;
}

/* GET .../config[/{group}[/{option}]] */
static void config_show_level(struct req *r, struct resp *w, int level)
{
	const char *group = level > 0 ? r->params[1] : NULL,
	           *option = level > 1 ? r->params[2] : NULL;
	const struct option *opt = option ? option_find(group, option) : NULL;
	if ((group && !group_known(group)) || (option && (!opt || opt->sensitive))) {
		char *m = xasprintf("%s is not supported", option ? option : group);
		resp_error(r, w, 403, INVALID, m);
		free(m);
		return;
	}
	json_t *cfg = config_at(r, w, group, option);
	if (!cfg)
		return;
	config_answer(w, 200, cfg, group, option);
	json_decref(cfg);
}

/* PATCH .../config[/{group}[/{option}]]: merges the body's options into those stored
 * and answers the whole configuration; a group or option that is not yet there is 404
 * (Keystone). */
static void config_update_level(struct req *r, struct resp *w, int level)
{
	const char *group = level > 0 ? r->params[1] : NULL,
	           *option = level > 1 ? r->params[2] : NULL;
	json_t *body = body_config(r, w);
	if (!body)
		return;
	json_t *whole = body; /* the body as a whole configuration */
	if (option)
		whole = json_pack("{s:O}", group, body);
	else
		json_incref(whole);
	if ((group && (json_object_size(whole) != 1 || !json_object_get(whole, group))) ||
	    (option && (json_object_size(body) != 1 || !json_object_get(body, option)))) {
		json_decref(whole);
		resp_error(r, w, 400, "config: the body must name the %s of the URL",
		           option ? "option" : "group");
		return;
	}
	if (config_check(r, w, whole, NULL) < 0) {
		json_decref(whole);
		return;
	}
	json_t *cfg = config_at(r, w, group, option);
	if (!cfg) {
		json_decref(whole);
		return;
	}
	const char *g;
	json_t *opts;
	json_object_foreach(whole, g, opts)
	{
		json_t *dst = json_object_get(cfg, g);
		if (!dst)
			json_object_set_new(cfg, g, dst = json_object());
		json_object_update(dst, opts);
	}
	json_decref(whole);
	/* the whole configuration after the change, whichever level changed (Keystone) */
	if (config_store(r, w, r->params[0], cfg) == 0)
		config_answer(w, 200, cfg, NULL, NULL);
	json_decref(cfg);
}

/* DELETE .../config[/{group}[/{option}]] */
static void config_delete_level(struct req *r, struct resp *w, int level)
{
	const char *group = level > 0 ? r->params[1] : NULL,
	           *option = level > 1 ? r->params[2] : NULL;
	json_t *cfg = config_at(r, w, group, option);
	if (!cfg)
		return;
	if (option)
		json_object_del(json_object_get(cfg, group), option);
	else if (group)
		json_object_del(cfg, group);
	else
		json_object_clear(cfg);
	if (group && json_object_size(json_object_get(cfg, group)) == 0)
		json_object_del(cfg, group);
	if (config_store(r, w, r->params[0], cfg) == 0)
		resp_empty(w, 204);
	json_decref(cfg);
}

/* GET /domains/config[/{group}[/{option}]]/default: the defaults (Nubo's own settings
 * of Keystone's options), sensitive options never. */
static void config_default_level(struct req *r, struct resp *w, int level)
{
	const char *group = level > 0 ? r->params[0] : NULL,
	           *option = level > 1 ? r->params[1] : NULL;
	json_t *out = json_object();
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option *o = &options[i];
		if (o->sensitive || (group && strcmp(o->group, group)) ||
		    (option && strcmp(o->name, option)))
			continue;
		json_t *v = json_loads(o->def, JSON_DECODE_ANY, NULL);
		if (option) {
			json_object_set_new(out, o->name, v);
			continue;
		}
		json_t *g = json_object_get(out, o->group);
		if (!g)
			json_object_set_new(out, o->group, g = json_object());
		json_object_set_new(g, o->name, v);
	}
	if (json_object_size(out) == 0) {
		json_decref(out);
		char *m = xasprintf("%s is not supported", option ? option : group);
		resp_error(r, w, 403, INVALID, m);
		free(m);
		return;
	}
	resp_json(w, 200, json_pack("{s:o}", "config", out));
}

#define LEVEL_HANDLERS(fn)                                                                         \
	static void fn##_0(struct req *r, struct resp *w)                                          \
	{                                                                                          \
		fn##_level(r, w, 0);                                                               \
	}                                                                                          \
	static void fn##_1(struct req *r, struct resp *w)                                          \
	{                                                                                          \
		fn##_level(r, w, 1);                                                               \
	}                                                                                          \
	static void fn##_2(struct req *r, struct resp *w)                                          \
	{                                                                                          \
		fn##_level(r, w, 2);                                                               \
	}
LEVEL_HANDLERS(config_show)
LEVEL_HANDLERS(config_update)
LEVEL_HANDLERS(config_delete)
LEVEL_HANDLERS(config_default)

#define DOM "/identity/v3/domains"
static const struct httpd_route routes[] = {
    {"GET", DOM "/config/default", config_default_0, POL_IDENTITY_SYSTEM_READ, 0},
    {"GET", DOM "/config/{}/default", config_default_1, POL_IDENTITY_SYSTEM_READ, 0},
    {"GET", DOM "/config/{}/{}/default", config_default_2, POL_IDENTITY_SYSTEM_READ, 0},
    {"PUT", DOM "/{}/config", config_put, POL_IDENTITY_ADMIN, 0},
    {"GET", DOM "/{}/config", config_show_0, POL_IDENTITY_SYSTEM_READ, 0},
    {"PATCH", DOM "/{}/config", config_update_0, POL_IDENTITY_ADMIN, 0},
    {"DELETE", DOM "/{}/config", config_delete_0, POL_IDENTITY_ADMIN, 0},
    {"GET", DOM "/{}/config/{}", config_show_1, POL_IDENTITY_SYSTEM_READ, 0},
    {"PATCH", DOM "/{}/config/{}", config_update_1, POL_IDENTITY_ADMIN, 0},
    {"DELETE", DOM "/{}/config/{}", config_delete_1, POL_IDENTITY_ADMIN, 0},
    {"GET", DOM "/{}/config/{}/{}", config_show_2, POL_IDENTITY_SYSTEM_READ, 0},
    {"PATCH", DOM "/{}/config/{}/{}", config_update_2, POL_IDENTITY_ADMIN, 0},
    {"DELETE", DOM "/{}/config/{}/{}", config_delete_2, POL_IDENTITY_ADMIN, 0},
};
HTTPD_TABLE(domain_config_routes, routes, &identity_hooks);
