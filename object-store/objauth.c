/* Token validation through nubo-api, with a small cache. */
#include "objauth.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_client.h"
#include "objtoken.h"
#include "util.h"
#include "xalloc.h"

#define OBJAUTH_SLOTS 1024

struct slot {
	char key[65]; /* sha256 hex of the token */
	time_t until;
	struct objauth_who who;
};

struct objauth {
	char *url;
	long ttl;
	pthread_mutex_t mu;
	struct slot slots[OBJAUTH_SLOTS];
};

struct objauth *objauth_new(const char *identity_url, long ttl)
{
	struct objauth *a = xcalloc(1, sizeof(*a));
	a->url = xasprintf("%s/v3/auth/tokens", identity_url);
	a->ttl = ttl;
	pthread_mutex_init(&a->mu, NULL);
	return a;
}

void objauth_free(struct objauth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	free(a->url);
	free(a);
}

static int who_from_token(json_t *tok, struct objauth_who *who)
{
	memset(who, 0, sizeof(*who));
	const char *pid = json_string_value(json_object_get(json_object_get(tok, "project"), "id"));
	const char *uid = json_string_value(json_object_get(json_object_get(tok, "user"), "id"));
	if (!pid || !uid || strlen(pid) > 64 || strlen(uid) > 64)
		return -EACCES;
	snprintf(who->project_id, sizeof(who->project_id), "%s", pid);
	snprintf(who->user_id, sizeof(who->user_id), "%s", uid);
	size_t i;
	json_t *role;
	json_array_foreach(json_object_get(tok, "roles"), i, role)
	{
		const char *n = json_string_value(json_object_get(role, "name"));
		if (!n)
			continue;
		who->reader = 1;
		if (!strcmp(n, "admin"))
			who->admin = who->writer = 1;
		else if (!strcmp(n, "member") || !strcmp(n, "swiftoperator"))
			who->writer = 1;
	}
	return 0;
}

int objauth_limit(const char *token, struct objauth_who *who)
{
	char account[OBJTOKEN_ACCOUNT_MAX];
	int lim = objtoken_account(token, account, sizeof(account));
	if (lim < 0 || (lim > 0 && strlen(account) - 5 >= sizeof(who->project_id)))
		return -EACCES;
	if (lim > 0) {
		snprintf(who->only_account, sizeof(who->only_account), "%s", account);
		snprintf(who->project_id, sizeof(who->project_id), "%.64s", account + 5);
		who->admin = 0;
	}
	return 0;
}

int objauth_check(struct objauth *a, const char *token, struct objauth_who *who)
{
	char key[65];
	sha256_hex(token, strlen(token), key);
	struct slot *s =
	    &a->slots[strtoul((char[4]){key[0], key[1], key[2], 0}, NULL, 16) % OBJAUTH_SLOTS];
	time_t now = time(NULL);
	pthread_mutex_lock(&a->mu);
	if (!strcmp(s->key, key) && s->until > now) {
		*who = s->who;
		pthread_mutex_unlock(&a->mu);
		return 0;
	}
	pthread_mutex_unlock(&a->mu);
	if (strlen(token) > 4096)
		return -EACCES;
	char *h1 = xasprintf("X-Auth-Token: %s", token),
	     *h2 = xasprintf("X-Subject-Token: %s", token);
	const char *hdrs[] = {h1, h2, NULL};
	struct http_json q = {.method = "GET", .url = a->url, .headers = hdrs, .timeout = 10};
	struct http_json_answer ans;
	char err[256];
	int rc = http_client_json(&q, &ans, err, sizeof(err));
	explicit_bzero(h1, strlen(h1));
	explicit_bzero(h2, strlen(h2));
	free(h1);
	free(h2);
	if (rc < 0)
		return -EIO;
	if (ans.status >= 500)
		rc = -EIO;
	else if (ans.status != 200)
		rc = -EACCES;
	else {
		json_t *tok = json_object_get(ans.json, "token");
		rc = who_from_token(tok, who);
		if (rc == 0)
			rc = objauth_limit(token, who);
		time_t exp = 0;
		const char *e = json_string_value(json_object_get(tok, "expires_at"));
		if (rc == 0 && e && time_parse_iso(e, &exp) == 0) {
			time_t until = now + a->ttl < exp ? now + a->ttl : exp;
			pthread_mutex_lock(&a->mu);
			memcpy(s->key, key, sizeof(key));
			s->until = until;
			s->who = *who;
			pthread_mutex_unlock(&a->mu);
		}
	}
	http_client_answer_release(&ans);
	return rc;
}
