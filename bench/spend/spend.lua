-- wrk script: POST /v1/wallets/{user}/spend of 1 credit, a fresh idempotency key per request.
-- Arguments (after --): run id, API key, users (random u1..uN), hot wallet id ("" for random).
-- Prints one line "BENCH_JSON {...}" with throughput, latency and the statuses seen.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  run_id, users, hot = args[1], tonumber(args[3]), args[4] or ""
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
  math.randomseed(os.time() * 1000 + tid)
  sent, ok, refused, other = 0, 0, 0, 0
end

function request()
  sent = sent + 1
  local user = hot ~= "" and hot or ("u" .. math.random(1, users))
  local body = string.format(
    '{"credits":1,"idempotency_key":"%s-%d-%d","reason":"benchmark"}', run_id, tid, sent)
  return wrk.format("POST", "/v1/wallets/" .. user .. "/spend", nil, body)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 402 then refused = refused + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local c = {ok = 0, refused = 0, other = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(c) do c[name] = c[name] + thread:get(name) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
    .. '"max_us":%d,"ok":%d,"refused":%d,"other":%d,"socket_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, c.ok, c.refused, c.other,
    e.connect + e.read + e.write, e.timeout))
end
