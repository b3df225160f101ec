-- wrk script: replay pre-built WeChat requests, each at most once, and check every reply body.
-- Usage: wrk ... -s bench/replay.lua URL -- <requests file> <wrk threads> <expected substring>
-- The file holds one request per line: "<path?query>\t<body>" (bodies are single-line XML).
-- Thread k of n takes lines k, k+n, k+2n ...: a MsgId sent twice would be answered from the dedup
-- cache, which is not the path being measured, so running out is counted as "repeats", never hidden.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  expect = args[3]
  reqs = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then
      local tab = line:find("\t", 1, true)
      reqs[#reqs + 1] = wrk.format("POST", line:sub(1, tab - 1),
                                   {["Content-Type"] = "text/xml", ["User-Agent"] = "Mozilla/4.0"},
                                   line:sub(tab + 1))
    end
    i = i + 1
  end
  nreqs, sent, bad = #reqs, 0, 0
end

function request()
  sent = sent + 1
  return reqs[(sent - 1) % nreqs + 1]
end

function response(status, headers, body)
  -- Status errors are counted by wrk; a 200 "success" (deadline miss, last-resort handler) is not.
  if status == 200 and not body:find(expect, 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local repeats, bad_bodies = 0, 0
  for _, t in ipairs(threads) do
    repeats = repeats + math.max(0, t:get("sent") - t:get("nreqs"))
    bad_bodies = bad_bodies + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non2xx": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "bad_bodies": %d, "repeats": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status,
    e.connect, e.read, e.write, e.timeout, bad_bodies, repeats))
end
