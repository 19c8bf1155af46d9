-- placeholder for image's migration 0006 (issue 7 session): lets this branch migrate
-- without a gap; the lead drops it when the real file is merged.
DO $$ BEGIN END $$;
