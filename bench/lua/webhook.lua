-- wrk script of the webhook benchmark (run by bench/webhook/wrk.py; see docs/performance.md).
--
-- Environment:
--   BENCH_BODIES   prefix of the request files: thread i sends the lines of "<prefix>.<i>" in
--                  order, one per request; a line is "<Stripe-Signature>\t<body>". The files
--                  hold every duplicate where it is to be sent, so threads never share a body.
--   BENCH_SUMMARY  where done() writes its JSON summary.
--   BENCH_PATH     the URL path (default /api/stripe/webhook).
-- A thread that runs out of lines starts again at its first (the harness reports it: for the
-- fulfilment runs that would turn new payments into duplicates, and it fails the run).

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("BENCH_PATH") or "/api/stripe/webhook"
  local file = os.getenv("BENCH_BODIES") .. "." .. id
  requests = {}
  for line in io.lines(file) do
    local tab = line:find("\t", 1, true)
    local headers = {
      ["Content-Type"] = "application/json",
      ["Stripe-Signature"] = line:sub(1, tab - 1),
    }
    requests[#requests + 1] = wrk.format("POST", path, headers, line:sub(tab + 1))
  end
  if #requests == 0 then
    error("no requests in " .. file)
  end
  issued = 0
  statuses = {}
  outcomes = {}
end

function request()
  issued = issued + 1
  return requests[(issued - 1) % #requests + 1]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  local outcome = body and body:match('"status":"(%a+)"') or "none"
  outcomes[outcome] = (outcomes[outcome] or 0) + 1
end

local function add_into(total, counts)
  for key, count in pairs(counts) do
    total[key] = (total[key] or 0) + count
  end
end

local function json_object(counts)
  local parts = {}
  for key, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%s": %d', key, count)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local statuses_total, outcomes_total, issued_by_thread = {}, {}, {}
  local non_2xx = 0
  for _, thread in ipairs(threads) do
    add_into(statuses_total, thread:get("statuses"))
    add_into(outcomes_total, thread:get("outcomes"))
    issued_by_thread[tostring(thread:get("id"))] = thread:get("issued")
  end
  for status, count in pairs(statuses_total) do
    local code = tonumber(status)
    if code < 200 or code > 299 then
      non_2xx = non_2xx + count
    end
  end
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  local out = assert(io.open(os.getenv("BENCH_SUMMARY"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_s": %.6f, "rps": %.3f, "non_2xx": %d, ' ..
      '"latency_ms": {"p50": %.3f, "p90": %.3f, "p99": %.3f, "mean": %.3f, "max": %.3f}, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"statuses": %s, "outcomes": %s, "issued": %s}\n',
    summary.requests, seconds, summary.requests / seconds, non_2xx,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    json_object(statuses_total), json_object(outcomes_total), json_object(issued_by_thread)))
  out:close()
end
