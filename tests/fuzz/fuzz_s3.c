/* libFuzzer target: the S3 request parser (method, raw path, raw query, Host) and the
 * request-body parsers (CompleteMultipartUpload, Delete, AccessControlPolicy,
 * VersioningConfiguration, CreateBucketConfiguration). The first byte picks the path;
 * a parsed request must honour the header's bounds, and a parsed Delete or Complete
 * must render back through the XML writer and parse again to the same keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "object-store/s3_request.h"
#include "object-store/s3_view.h"
#include "object-store/s3_xml.h"

static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"};

static void fuzz_request(const char *s, uint8_t sel)
{
	/* "path\nquery\nhost\ncopy" */
	char *parts[4] = {NULL, NULL, NULL, NULL};
	char *dup = strdup(s), *p = dup;
	for (int i = 0; i < 4 && p; i++) {
		parts[i] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = 0;
	}
	struct s3_wire w = {
	    methods[sel % 6], parts[0], parts[1], parts[2], sel & 8 ? "s3.nubo.test" : NULL,
	    parts[3]};
	struct s3_request r;
	if (s3_request_parse(&w, &r) == S3_OK) {
		if (r.op <= S3_OP_NONE || r.op >= S3_OP_COUNT || strlen(r.bucket) > S3_BUCKET_MAX ||
		    (r.key && strlen(r.key) > S3_KEY_MAX) || r.max_keys > S3_MAX_KEYS ||
		    r.part_number > S3_MAX_PARTS)
			abort();
		if (r.bucket[0] && !s3_bucket_name_valid(r.bucket))
			abort();
	}
	s3_request_release(&r);
	free(dup);
}

static void fuzz_delete(const char *s, size_t n)
{
	struct s3_delete_req d;
	if (s3_parse_delete(s, n, &d) != S3_OK)
		return;
	/* round trip: the keys as a Delete document again */
	struct s3_xw w;
	s3_xw_init(&w);
	s3_xw_open(&w, "Delete", NULL);
	for (size_t i = 0; i < d.n; i++) {
		s3_xw_open(&w, "Object", NULL);
		s3_xw_text(&w, "Key", d.keys[i]);
		s3_xw_close(&w, "Object");
	}
	s3_xw_close(&w, "Delete");
	char *doc = s3_xw_finish(&w);
	struct s3_delete_req d2;
	/* a key that is only whitespace or control characters may not survive as text */
	if (s3_parse_delete(doc, strlen(doc), &d2) == S3_OK) {
		if (d2.n != d.n)
			abort();
		for (size_t i = 0; i < d.n; i++)
			if (strcmp(d.keys[i], d2.keys[i]))
				abort();
		s3_delete_req_release(&d2);
	}
	free(doc);
	s3_delete_req_release(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	size_t n = size - 1;
	switch (data[0] % 6) {
	case 0:
		fuzz_request(s, data[0] >> 3);
		break;
	case 1: {
		struct s3_complete_part *p = NULL;
		size_t np = 0;
		if (s3_parse_complete(s, n, &p, &np) == S3_OK) {
			for (size_t i = 1; i < np; i++)
				if (p[i].number <= p[i - 1].number || strlen(p[i].etag) != 32)
					abort();
		}
		free(p);
		break;
	}
	case 2:
		fuzz_delete(s, n);
		break;
	case 3: {
		enum s3_acl acl;
		(void)s3_parse_acl(s, n, &acl);
		break;
	}
	case 4: {
		int en;
		(void)s3_parse_versioning(s, n, &en);
		break;
	}
	case 5: {
		char loc[64];
		(void)s3_parse_location(s, n, loc);
		break;
	}
	}
	free(s);
	return 0;
}
