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
