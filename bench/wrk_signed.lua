-- wrk script for bench/ingest.py: every request a distinct, pre-signed Zoom webhook.
--
--   wrk -t2 -c20 -d10s --timeout 30s -s bench/wrk_signed.lua http://127.0.0.1:PORT/PATH \
--       -- REQUESTS_FILE THREADS
--
-- REQUESTS_FILE has one request a line, "timestamp<TAB>signature<TAB>body" (compact
-- JSON has no raw tab or newline), written by bench/ingest.py with a fresh timestamp.
-- Thread k of THREADS sends lines k+1, k+1+THREADS, ... in order, so no two threads
-- send the same event; a thread that runs out starts again at its first line and
-- counts it ("wrapped": the events are then no longer unique).
-- done() prints one line "WRK_JSON {...}": wrk's own figures (requests, duration,
-- socket errors, latency percentiles in microseconds) plus what the script saw
-- (requests made, answers by HTTP status, wraps).

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local requests = {}
local nreq = 0
local index = 0
made = 0
wrapped = 0
ok = 0
statuses = {}

function init(args)
   local path, nthreads = args[1], tonumber(args[2])
   if path == nil or nthreads == nil then
      error("usage: -- REQUESTS_FILE THREADS")
   end
   local line_no = 0
   for line in io.lines(path) do
      if line_no % nthreads == tid then
         local ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
         local headers = {
            ["Content-Type"] = "application/json; charset=utf-8",
            ["User-Agent"] = "Zoom Marketplace/1.0a",
            ["x-zm-request-timestamp"] = ts,
            ["x-zm-signature"] = sig,
         }
         nreq = nreq + 1
         requests[nreq] = wrk.format("POST", nil, headers, body)
      end
      line_no = line_no + 1
   end
   if nreq == 0 then
      error("no requests for thread " .. tid .. " in " .. path)
   end
end

function request()
   index = index + 1
   if index > nreq then
      index = 1
      wrapped = wrapped + 1
   end
   made = made + 1
   return requests[index]
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   else
      local key = tostring(status)
      statuses[key] = (statuses[key] or 0) + 1
   end
end

local function json_counts(counts)
   local parts = {}
   for key, n in pairs(counts) do
      table.insert(parts, string.format('"%s":%d', key, n))
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, _requests)
   local total_made, total_wrapped, total_ok, others = 0, 0, 0, {}
   for _, thread in ipairs(threads) do
      total_made = total_made + thread:get("made")
      total_wrapped = total_wrapped + thread:get("wrapped")
      total_ok = total_ok + thread:get("ok")
      for key, n in pairs(thread:get("statuses")) do
         others[key] = (others[key] or 0) + n
      end
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},'
         .. '"made":%d,"wrapped":%d,"ok":%d,"other_statuses":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9),
      total_made, total_wrapped, total_ok, json_counts(others)
   ))
end
