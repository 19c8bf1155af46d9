/* nftables for nubo-net's privileged helper: a generated ruleset (whole tables, see
 * net_gen.h) applied through libnftables inside the helper's process, in the
 * namespace it names, as one transaction, exactly as `nft -f FILE` would apply it
 * but without the fork+exec of nft (and of `ip netns exec` for a namespace). */
#ifndef NUBO_NET_NFT_H
#define NUBO_NET_NFT_H
#include <stddef.h>

/* Helper side (root): applies text (a complete nft script) in namespace ns ("" = the
 * helper's own) in one transaction. 0, or -EIO with nft's first error line in err
 * (-errno when the namespace cannot be entered). */
int net_nft_apply(const char *ns, const char *text, char *err, size_t errlen);

#endif
