/* nftables through libnftables (see net_nft.h). */
#include "net_nft.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <nftables/libnftables.h>

#include "net_nl.h"

int net_nft_apply(const char *ns, const char *text, char *err, size_t errlen)
{
	int self, rc = net_nl_ns_enter(ns, &self, err, errlen);
	if (rc < 0)
		return rc;
	/* a context made inside the namespace: its netlink socket belongs there */
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft) {
		snprintf(err, errlen, "nft: no context");
		rc = -ENOMEM;
		goto out;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (nft_run_cmd_from_buffer(nft, text) != 0) {
		const char *e = nft_ctx_get_error_buffer(nft);
		snprintf(err, errlen, "nft: %.*s", (int)strcspn(e ? e : "", "\n"), e ? e : "");
		rc = -EIO;
	}
	nft_ctx_free(nft);
out:
	net_nl_ns_leave(self);
	return rc;
}
