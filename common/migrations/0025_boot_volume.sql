-- Boot from volume (issues 9 and 7): the volume an instance boots from (its image_id
-- is then ''), and Nova's delete_on_termination of a volume's attachment: deleting the
-- instance deletes the volume instead of detaching it.
ALTER TABLE instances ADD COLUMN boot_volume_id text;
ALTER TABLE volumes ADD COLUMN delete_on_termination boolean NOT NULL DEFAULT false;
-- a server's volumes are read by attached_server (server views, instance delete)
CREATE INDEX volumes_attached_server ON volumes (attached_server)
  WHERE attached_server IS NOT NULL;
