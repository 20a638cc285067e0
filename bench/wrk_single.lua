-- Single-event ingest for `python -m bench`: every request POSTs the next pre-generated body.
-- wrk ... -s bench/wrk_single.lua URL -- BODIES_FILE TOKEN THREADS
-- BODIES_FILE holds one JSON event per line, each with its own audit_id, so no request is a
-- duplicate until the file is used up. done() prints one BENCH_JSON line for the harness.

local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  local path, token = args[1], args[2]
  step = tonumber(args[3]) or 1
  bodies = {}
  for line in io.lines(path) do
    bodies[#bodies + 1] = line
  end
  index = thread_index or 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  local body = bodies[(index % #bodies) + 1]
  index = index + step
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,'
      .. '"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
