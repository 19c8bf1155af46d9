-- S3 bucket versioning (issue 10): one row per version or delete marker of a key in a
-- bucket whose versioning was ever Enabled or Suspended (a bucket that never had it has
-- no rows: its objects are the "null" versions of obj_objects). Of one key, the row with
-- the highest seq is the latest. Where a version's bytes are: the latest data version's
-- in the bucket itself (archive NULL); every other data version's in the object
-- "<archive>" of the hidden container "<bucket>+versions"; a delete marker has none.
CREATE TABLE s3_versions (
    account text NOT NULL,
    bucket text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    version_id text NOT NULL,
    seq bigserial NOT NULL,
    ts text NOT NULL,
    size bigint NOT NULL DEFAULT 0,
    etag text NOT NULL DEFAULT '',
    delete_marker boolean NOT NULL DEFAULT false,
    archive text,
    PRIMARY KEY (account, bucket, key, version_id)
);
CREATE INDEX s3_versions_order ON s3_versions (account, bucket, key, seq DESC);
