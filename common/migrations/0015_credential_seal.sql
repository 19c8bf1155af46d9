-- Issue 10: credential blobs (the EC2 secrets among them) are kept sealed at rest:
-- "ae1:" + base64(nonce || XChaCha20-Poly1305 box of the blob), the credential's id as
-- associated data, under the [identity] credential_key of nubo.conf (common/cred_seal.h).
-- PostgreSQL never sees the key, so rows written before this migration are sealed by
-- `nubo-manage db-sync` (and by nubo-api at start), which then validates this
-- constraint; from now on no plaintext blob can be written.
ALTER TABLE credentials ADD CONSTRAINT credentials_blob_sealed
  CHECK (blob LIKE 'ae1:%') NOT VALID;

-- The S3 front end's own books (object-store/s3.c). S3 has one bucket namespace for
-- everyone while Swift containers live per account: a bucket made through S3 is
-- registered here under its owner's account ("AUTH_<project_id>"), which answers
-- BucketAlreadyExists and routes another project's request to the owner (and its
-- ACL). The container itself is the object store's, like any other. A container
-- made through Swift and not registered here is seen by S3 in its own account only.
CREATE TABLE s3_buckets (
  name text PRIMARY KEY, account text NOT NULL,
  acl text NOT NULL DEFAULT 'private'
    CHECK (acl IN ('private', 'public-read', 'public-read-write', 'authenticated-read')),
  versioning text CHECK (versioning IN ('Enabled', 'Suspended')),
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX s3_buckets_account ON s3_buckets(account);
-- Multipart uploads in progress: their parts are objects "<upload_id>/<part>" of the
-- hidden container "<bucket>+segments" until completed or aborted.
CREATE TABLE s3_uploads (
  upload_id text PRIMARY KEY, account text NOT NULL, bucket text NOT NULL,
  key text NOT NULL, content_type text, meta jsonb NOT NULL DEFAULT '{}',
  initiated timestamptz NOT NULL DEFAULT now());
CREATE INDEX s3_uploads_bucket ON s3_uploads(account, bucket, key COLLATE "C", upload_id);
