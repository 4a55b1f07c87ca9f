-- wrk script for the service's load test (engine/service/load/run.py): posts the example flows in
-- turn, each stamped requested_at = now, counts answers by status, and prints exact percentiles.
-- Usage: wrk -t2 -c16 -d20s -s flows.lua http://127.0.0.1:8181/v1/evaluate -- FLOWS_FILE
-- FLOWS_FILE holds one flow a line, with __REQUESTED_AT__ where the timestamp goes.
local bodies, sent = {}, 0
ok, other = 0, 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  sent = sent + 1
  local body = bodies[sent % #bodies + 1]:gsub("__REQUESTED_AT__", os.date("!%Y-%m-%dT%H:%M:%SZ"), 1)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
  end
  local errors = summary.errors
  io.write(string.format("LICIT-LOAD ok=%d other=%d socket_errors=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    total_ok, total_other, errors.connect + errors.read + errors.write + errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
