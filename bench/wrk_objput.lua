-- wrk script for bench/objstore.sh: bench/wrk_auth.lua (token, method, body, key=value
-- results) with every request to a name of its own, <url>-<thread>-<n>: PUTs of new
-- objects, as a store's writers make them, not one name rewritten by every connection
-- (which measures the waits for that name's row lock and newest-version checks).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk_auth.lua")

local threads = 0
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end

local n = 0
function request()
	n = n + 1
	return wrk.format(nil, string.format("%s-%d-%d", wrk.path, tid, n))
end
