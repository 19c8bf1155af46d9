-- Object expiry (issue 10, X-Delete-At/X-Delete-After): the version a listing row
-- records carries the epoch second it expires at (NULL: never). The row's newest-wins
-- update sets it with the version, so an overwrite or a delete without the header
-- clears it. The expirer in nubo-objproxy walks the partial index in expiry order.
ALTER TABLE obj_objects ADD COLUMN delete_at bigint;
CREATE INDEX obj_objects_expiring ON obj_objects (delete_at, account, container, name)
    WHERE delete_at IS NOT NULL AND NOT deleted;
