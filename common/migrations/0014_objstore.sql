-- The object store's listings and usage (issue 10): accounts, containers and one row per
-- object (its newest version: a deleted object keeps its row with deleted = true, so a
-- late or replayed older update never brings it back). Names sort in byte order.
CREATE TABLE obj_accounts (
    account text PRIMARY KEY,
    meta jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE obj_containers (
    account text NOT NULL,
    name text COLLATE "C" NOT NULL,
    created text NOT NULL,
    meta jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (account, name)
);

CREATE TABLE obj_objects (
    account text NOT NULL,
    container text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    ts text NOT NULL,
    size bigint NOT NULL DEFAULT 0,
    etag text NOT NULL DEFAULT '',
    content_type text NOT NULL DEFAULT '',
    deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (account, container, name)
);
CREATE INDEX obj_objects_live ON obj_objects (account, container, name) WHERE NOT deleted;
