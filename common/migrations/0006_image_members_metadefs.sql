-- 6: image members (issue 7): the projects an image with visibility 'shared' is shared
-- with, each with the status its project gave the sharing (pending until it answers).
-- A member sees the image whatever its status; it lists the image only once accepted
-- (Glance's member_status filter). Memberships of an image that is not 'shared' stay
-- stored but grant nothing.
CREATE TABLE image_members (
  image_id text NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  member text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (image_id, member));
CREATE INDEX image_members_member ON image_members(member, status);
-- Metadata definitions (Glance's metadefs catalog): namespaces and, inside each, the
-- objects, properties, tags and resource-type associations it defines. An item's
-- definition is kept as the client sent it (body), its name beside it.
CREATE TABLE metadef_namespaces (
  namespace text PRIMARY KEY, display_name text, description text,
  visibility text NOT NULL DEFAULT 'private' CHECK (visibility IN ('public', 'private')),
  protected boolean NOT NULL DEFAULT false, owner text,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE metadef_items (
  namespace text NOT NULL REFERENCES metadef_namespaces(namespace)
    ON DELETE CASCADE ON UPDATE CASCADE,
  kind text NOT NULL CHECK (kind IN ('object', 'property', 'tag', 'resource_type')),
  name text NOT NULL, body jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, kind, name));
