/* The Swift v1 front end of nubo-objproxy: /v1/AUTH_<project_id>[/container[/object]]
 * and /info, Keystone tokens, Swift's status codes, headers and listing formats. */
#ifndef NUBO_OBJSTORE_SWIFT_H
#define NUBO_OBJSTORE_SWIFT_H
#include "proxy.h"

struct objauth;

extern const struct px_frontend swift_frontend;
/* The token validator the front end uses (set once at start). */
void swift_set_auth(struct objauth *a);

/* Splits a raw /v1/... path into its decoded account, container and object (each owned,
 * NULL when absent). The object keeps every '/' after the container's (a leading '/'
 * gives "//" in the path). 0, or -EINVAL for a path that is not /v1/<account>[...] or
 * holds a bad escape or %00. Pure. */
int swift_path_parse(const char *raw, char **account, char **container, char **object);

/* Canonical Swift metadata name: "x-object-meta-color" -> "X-Object-Meta-Color". Pure. */
void swift_meta_name(const char *in, char *out, size_t n);

/* A listing in Swift's format (fmt "json", "xml" or "plain") into a new string; level
 * 'a' (containers of an account) or 'c' (objects of a container). Pure. */
char *swift_listing(const struct store_list *l, const char *fmt, char level, const char *name,
                    size_t *len);

#endif
