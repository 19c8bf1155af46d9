-- wrk script for bench/api_bench.sh and bench/api.sh: sends the token in X-Auth-Token
-- (as the openstack CLI does) and prints the results as key=value lines, each key
-- prefixed with $NUBO_BENCH_KEY (e.g. servers_detail_p50_ms=1.234).
-- Optional: $NUBO_SUBJECT (sent as X-Subject-Token: a token validation), $NUBO_METHOD
-- and $NUBO_BODY_FILE (a request body, sent as application/json: a token issue).
local token = os.getenv("NUBO_TOKEN")
local subject = os.getenv("NUBO_SUBJECT")
local method = os.getenv("NUBO_METHOD")
local body_file = os.getenv("NUBO_BODY_FILE")
local prefix = os.getenv("NUBO_BENCH_KEY") or "wrk"

if token and token ~= "" then
	wrk.headers["X-Auth-Token"] = token
end
if subject and subject ~= "" then
	wrk.headers["X-Subject-Token"] = subject
end
if method and method ~= "" then
	wrk.method = method
end
if body_file and body_file ~= "" then
	local f = assert(io.open(body_file, "r"))
	wrk.body = f:read("*a")
	f:close()
	wrk.headers["Content-Type"] = "application/json"
end
wrk.headers["Accept"] = "application/json"
wrk.headers["X-OpenStack-Nova-API-Version"] = "2.1"

function done(summary, latency, requests)
	local secs = summary.duration / 1e6
	local e = summary.errors
	local function out(k, fmt, v)
		io.write(string.format("%s_%s=" .. fmt .. "\n", prefix, k, v))
	end
	out("p50_ms", "%.3f", latency:percentile(50) / 1000)
	out("p90_ms", "%.3f", latency:percentile(90) / 1000)
	out("p99_ms", "%.3f", latency:percentile(99) / 1000)
	out("max_ms", "%.3f", latency.max / 1000)
	out("mean_ms", "%.3f", latency.mean / 1000)
	out("requests", "%d", summary.requests)
	out("rps", "%.3f", summary.requests / secs)
	out("mb_per_s", "%.2f", summary.bytes / secs / 1048576)
	-- socket errors plus answers that were not 2xx/3xx
	out("errors", "%d", e.connect + e.read + e.write + e.timeout + e.status)
end
