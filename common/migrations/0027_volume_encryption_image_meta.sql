-- 27: Cinder's volume type encryption specs (types/{id}/encryption) and a volume's
-- image metadata (os-set_image_metadata / os-unset_image_metadata).
-- A type's encryption spec is kept as Cinder keeps it; Nubo encrypts no volume, so the
-- API refuses to create a volume of a type that has one (api-server/volume/volume_type.c).
CREATE TABLE volume_type_encryption (
  type_id text PRIMARY KEY REFERENCES volume_types(id) ON DELETE CASCADE,
  encryption_id text NOT NULL UNIQUE,
  provider text NOT NULL CHECK (length(provider) BETWEEN 1 AND 255),
  cipher text CHECK (length(cipher) <= 255),
  key_size int CHECK (key_size >= 0),
  control_location text NOT NULL DEFAULT 'front-end'
    CHECK (control_location IN ('front-end', 'back-end')),
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz);
-- NULL: never set, the view shows {"image_id": image_id} of a volume made from an image;
-- else the whole image metadata (Cinder's volume_glance_metadata rows of the volume).
ALTER TABLE volumes ADD COLUMN image_meta jsonb
  CHECK (image_meta IS NULL OR jsonb_typeof(image_meta) = 'object');
