-- Issue 10: credential blobs (the EC2 secrets among them) are kept sealed at rest:
-- "ae1:" + base64(nonce || XChaCha20-Poly1305 box of the blob), the credential's id as
-- associated data, under the [identity] credential_key of nubo.conf (common/cred_seal.h).
-- PostgreSQL never sees the key, so rows written before this migration are sealed by
-- `nubo-manage db-sync` (and by nubo-api at start), which then validates this
-- constraint; from now on no plaintext blob can be written.
ALTER TABLE credentials ADD CONSTRAINT credentials_blob_sealed
  CHECK (blob LIKE 'ae1:%') NOT VALID;
