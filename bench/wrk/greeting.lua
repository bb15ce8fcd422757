-- wrk script for the Opentime benchmark: GET /v1/amp/greeting?t=TOKEN as an AMP email would.
--
--   wrk -t2 -c64 -d10s -s bench/wrk/greeting.lua http://127.0.0.1:PORT -- TOKENS_FILE
--   (or OPENTIME_TOKENS=TOKENS_FILE wrk ... without the trailing argument)
--
-- TOKENS_FILE holds one token per line. Each request picks one at random (a file with one line is the "hot",
-- single-reader case). Every request carries AMP-Email-Sender (env OPENTIME_SENDER, default
-- bench@opentime.example). The same script is used against the ceiling server, which ignores path and headers, so
-- both pay the same client-side cost (including the response() callback below).
--
-- done() prints one machine-readable line:
--   RESULT rps=.. requests=.. responses=.. p50=.. p90=.. p99=.. p999=.. max=.. non200=.. connect_errors=..
--          read_errors=.. write_errors=.. timeouts=.. src_redis=.. src_cache=.. src_stale=.. src_default=.. src_none=..
--          statuses=CODE:COUNT,...
-- Latencies are in milliseconds (wrk's own, i.e. not corrected for coordinated omission). src_* count the
-- X-Opentime-Source header of the answers (src_none: no such header, e.g. the ceiling server).

-- OPENTIME_DELAY_MS paces the load: each connection waits that many milliseconds before its next request, so the
-- offered rate is about connections * 1000 / (delay + latency) instead of "as fast as possible".
local pace_ms = tonumber(os.getenv("OPENTIME_DELAY_MS") or "")
if pace_ms ~= nil and pace_ms > 0 then
  function delay()
    return pace_ms
  end
end

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1] or os.getenv("OPENTIME_TOKENS")
  if path == nil or path == "" then
    error("no tokens file: pass it after -- or set OPENTIME_TOKENS")
  end
  local tokens = {}
  for line in io.lines(path) do
    if #line > 0 then
      tokens[#tokens + 1] = line
    end
  end
  if #tokens == 0 then
    error("tokens file " .. path .. " is empty")
  end
  wrk.headers["AMP-Email-Sender"] = os.getenv("OPENTIME_SENDER") or "bench@opentime.example"
  -- Format the request once around a marker, then splice each token in: request() costs one concatenation
  -- (none with a single token) and init stays fast with many tokens, so the run starts at once.
  local marker = "@OPENTIME_TOKEN@"
  -- OPENTIME_PATH picks the endpoint (default the AMP greeting), e.g. /v1/fragment/recommendations; a path that
  -- holds the marker itself takes the token there instead of in ?t= (the pixel: /v1/open/@OPENTIME_TOKEN@.gif)
  local path = os.getenv("OPENTIME_PATH") or "/v1/amp/greeting"
  local target = path .. "?t=" .. marker
  if string.find(path, marker, 1, true) then
    target = path
  end
  local template = wrk.format("GET", target)
  local at = string.find(template, marker, 1, true)
  prefix_ = string.sub(template, 1, at - 1)
  suffix_ = string.sub(template, at + #marker)
  tokens_ = tokens
  count_ = #tokens
  single_ = prefix_ .. tokens[1] .. suffix_
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)

  responses = 0
  non200 = 0
  src_redis, src_cache, src_stale, src_default, src_none = 0, 0, 0, 0, 0
  status_counts = {}
end

-- OPENTIME_SEQUENTIAL=N (N = wrk's thread count) walks the tokens in order instead of at random: thread k starts at
-- the k-th N-th of the file and wraps around, so a long enough run reads every reader (the memory scenario).
local sequential_threads = tonumber(os.getenv("OPENTIME_SEQUENTIAL") or "")

function request()
  if count_ == 1 then
    return single_
  end
  if sequential_threads ~= nil then
    if next_ == nil then
      next_ = math.floor(((thread_id or 1) - 1) * count_ / sequential_threads)
    end
    next_ = next_ % count_ + 1
    return prefix_ .. tokens_[next_] .. suffix_
  end
  return prefix_ .. tokens_[math.random(count_)] .. suffix_
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    non200 = non200 + 1
    status_counts[status] = (status_counts[status] or 0) + 1
  end
  local src = headers["X-Opentime-Source"] or headers["x-opentime-source"]
  if src == nil then
    src_none = src_none + 1
  elseif src == "cache" then
    src_cache = src_cache + 1
  elseif src == "redis" then
    src_redis = src_redis + 1
  elseif src == "stale" then
    src_stale = src_stale + 1
  elseif src == "default" then
    src_default = src_default + 1
  end
  -- Answers per wall-clock second, for the throughput-over-time plot (bench/plot.sh): the finished seconds are
  -- appended to series_ when a new second starts; the current one stays in sec_/sec_count_.
  local now = os.time()
  if now ~= sec_ then
    if sec_ ~= nil then
      series_ = (series_ or "") .. sec_ .. ":" .. sec_count_ .. ","
    end
    sec_ = now
    sec_count_ = 0
  end
  sec_count_ = sec_count_ + 1
  -- Encoded for thread:get, which copies strings and numbers between Lua states.
  if status ~= 200 then
    local parts = {}
    for code, n in pairs(status_counts) do
      parts[#parts + 1] = code .. ":" .. n
    end
    statuses_ = table.concat(parts, ",")
  end
end

local function sum(name)
  local total = 0
  for _, t in ipairs(threads) do
    total = total + (t:get(name) or 0)
  end
  return total
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses_")
    if s ~= nil and s ~= "" then
      for code, n in string.gmatch(s, "(%d+):(%d+)") do
        merged[code] = (merged[code] or 0) + tonumber(n)
      end
    end
  end
  local parts = {}
  for code, n in pairs(merged) do
    parts[#parts + 1] = code .. ":" .. n
  end
  table.sort(parts)
  local per_second = {}
  for _, t in ipairs(threads) do
    local series = (t:get("series_") or "")
    local last = t:get("sec_")
    if last ~= nil then
      series = series .. last .. ":" .. (t:get("sec_count_") or 0)
    end
    for sec, n in string.gmatch(series, "(%d+):(%d+)") do
      per_second[tonumber(sec)] = (per_second[tonumber(sec)] or 0) + tonumber(n)
    end
  end
  local seconds = {}
  for sec in pairs(per_second) do
    seconds[#seconds + 1] = sec
  end
  table.sort(seconds)
  local series_parts = {}
  for _, sec in ipairs(seconds) do
    series_parts[#series_parts + 1] = sec .. ":" .. per_second[sec]
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  local function ms(us) return us / 1000.0 end
  io.write(string.format(
    "RESULT rps=%.0f requests=%d responses=%d p50=%.3f p90=%.3f p99=%.3f p999=%.3f max=%.3f non200=%d "
      .. "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d "
      .. "src_redis=%d src_cache=%d src_stale=%d src_default=%d src_none=%d statuses=%s\n",
    summary.requests / secs, summary.requests, sum("responses"),
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
    ms(latency:percentile(99.9)), ms(latency.max),
    sum("non200"), e.connect, e.read, e.write, e.timeout,
    sum("src_redis"), sum("src_cache"), sum("src_stale"), sum("src_default"), sum("src_none"),
    (#parts > 0) and table.concat(parts, ",") or "-"))
  -- SERIES: answers per wall-clock second (epoch second:count); the first and last seconds are partial.
  io.write("SERIES " .. table.concat(series_parts, ",") .. "\n")
end
