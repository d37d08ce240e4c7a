-- Shared by the wrk scenarios of scripts/bench.sh.
--
-- Each scenario builds its requests once per thread from the seeded data (BENCH_DATA) and
-- sends a random one each time, so the per-request cost in the load generator stays a
-- table lookup. Every answer is checked: anything but 2xx is counted, the first one kept.
-- At the end the results go as JSON to BENCH_RESULT, and wrk exits with status 1 when any
-- request failed, so the benchmark stops loudly.

local M = {}

-- The non-empty lines of a file of the seeded data.
function M.lines(name)
  local dir = os.getenv("BENCH_DATA") or error("BENCH_DATA is not set")
  local lines = {}
  for line in io.lines(dir .. "/" .. name) do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  if #lines == 0 then
    error(dir .. "/" .. name .. " is empty")
  end
  return lines
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- Installs wrk's hooks; `build()` returns the list of requests (strings from wrk.format).
function M.run(build)
  local threads = {}

  function setup(thread)
    table.insert(threads, thread)
    thread:set("thread_number", #threads)
  end

  function init(args)
    math.randomseed(os.time() * 1000 + thread_number)
    pool = build()
    pool_size = #pool
    non_2xx = 0
    first_bad = ""
  end

  function request()
    return pool[math.random(pool_size)]
  end

  function response(status, headers, body)
    if status < 200 or status > 299 then
      non_2xx = non_2xx + 1
      if first_bad == "" then
        first_bad = status .. " " .. string.sub(body or "", 1, 300)
      end
    end
  end

  function done(summary, latency, requests)
    local bad, first = 0, ""
    for _, thread in ipairs(threads) do
      bad = bad + thread:get("non_2xx")
      local f = thread:get("first_bad")
      if first == "" and f ~= "" then
        first = f
      end
    end
    local e = summary.errors
    local socket_errors = e.connect + e.read + e.write + e.timeout
    local json = string.format(
      '{"requests":%d,"duration_us":%d,"rps":%.2f,"mean_us":%.1f,"p50_us":%d,' ..
        '"p90_us":%d,"p99_us":%d,"max_us":%d,"non_2xx":%d,"errors":{"connect":%d,' ..
        '"read":%d,"write":%d,"timeout":%d,"status":%d},"first_bad":%s}\n',
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, bad, e.connect, e.read, e.write, e.timeout,
      e.status, json_string(first))
    local path = os.getenv("BENCH_RESULT")
    if path then
      local file = assert(io.open(path, "w"))
      file:write(json)
      file:close()
    end
    if bad > 0 or socket_errors > 0 then
      io.stderr:write(string.format(
        "\nFAILED: %d of %d answers were not 2xx, %d socket errors " ..
          "(connect %d, read %d, write %d, timeout %d); first bad answer: %s\n",
        bad, summary.requests, socket_errors, e.connect, e.read, e.write, e.timeout,
        first == "" and "none" or first))
      os.exit(1)
    end
    -- A warm-up may be too short for one slow request (a login) to finish.
    if summary.requests == 0 and (os.getenv("BENCH_WARMUP_RUN") or "") == "" then
      io.stderr:write("\nFAILED: no request completed\n")
      os.exit(1)
    end
  end
end

return M
