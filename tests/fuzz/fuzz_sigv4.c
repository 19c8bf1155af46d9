/* libFuzzer target: the SigV4 Authorization header and presigned-query parsers, the
 * canonical request builder over hostile paths and queries, and the aws-chunked
 * decoder fed the input in two pieces. The first byte picks the path. Anything
 * parsed must satisfy the header's bounds (hex signature, lowercase sorted names). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

static void check_auth(const struct sigv4_auth *a)
{
	if (strlen(a->signature) != SIGV4_HEX - 1 || strlen(a->date) != 8 || !a->access[0] ||
	    !a->signed_headers[0])
		abort();
	for (const char *p = a->signed_headers; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
}

static int sink(void *arg, const void *data, size_t len)
{
	*(size_t *)arg += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	struct sigv4_auth a;
	switch (data[0] % 4) {
	case 0:
		if (sigv4_parse_header(s, &a) == 0)
			check_auth(&a);
		break;
	case 1:
		if (sigv4_parse_query(s, &a) == 0) {
			check_auth(&a);
			(void)sigv4_check_time(&a, 1700000000);
		}
		break;
	case 2: {
		/* "path\nquery": both hostile, under both URI rules */
		char *nl = strchr(s, '\n');
		if (nl)
			*nl = 0;
		struct sigv4_auth h = {.signed_headers = "host;x-amz-date",
		                       .amz_date = "20150830T123600Z",
		                       .date = "20150830",
		                       .region = "r",
		                       .service = "s3"};
		struct sigv4_header hd[] = {{"Host", s}, {"X-Amz-Date", nl ? nl + 1 : ""}};
		for (int s3 = 0; s3 < 2; s3++) {
			struct sigv4_request rq = {
			    "GET", s, nl ? nl + 1 : NULL, hd, 2, SIGV4_EMPTY_SHA256, s3};
			char *creq = NULL;
			if (sigv4_verify(&rq, &h, "secret", &creq) == 0)
				abort(); /* a zero signature never matches */
			free(creq);
		}
		break;
	}
	case 3: {
		struct sigv4_auth h = {.signature = "00000000000000000000000000000000000000000000"
		                                    "00000000000000000000",
		                       .amz_date = "20150830T123600Z",
		                       .date = "20150830",
		                       .region = "r",
		                       .service = "s3"};
		uint8_t key[32] = {0};
		size_t got = 0, cut = size / 2;
		struct sigv4_chunks *c = sigv4_chunks_new(key, &h, sink, &got);
		if (sigv4_chunks_feed(c, data + 1, cut ? cut - 1 : 0) == 0)
			(void)sigv4_chunks_feed(c, data + (cut ? cut : 1), size - (cut ? cut : 1));
		(void)sigv4_chunks_finish(c, -1);
		if (got != sigv4_chunks_decoded(c))
			abort();
		sigv4_chunks_free(c);
		break;
	}
	}
	free(s);
	return 0;
}
