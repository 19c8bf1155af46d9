-- 4: reserved for the perf branch (issue 6). This placeholder only lets the identity
-- branch's 0005 apply and be tested on its own; drop it when merging perf's 0004.
DO $$ BEGIN END $$;
