-- 24: which side made a volume's attachment. Only Compute's os-volume_attachments plugs
-- a disk into a guest; Cinder's os-attach is bookkeeping. attach_compute is true while
-- the attachment (attached_server) is Compute's: only those are re-plugged into a new
-- QEMU, listed and detached by Compute, and Cinder's os-detach leaves them alone.
ALTER TABLE volumes ADD COLUMN attach_compute boolean NOT NULL DEFAULT false;
-- (volume_transfers.key_hash, unchanged in shape, now holds "b2$<salt>$<digest>": a
-- salted BLAKE2b of the transfer's 64-bit random key, see api-server/volume/transfer.c.)
