-- wrk script for bench/http.sh: prints one machine-readable line
--   RESULT <p50 ms> <p99 ms> <requests/s> <errors>
-- and, when WRK_RATE and WRK_CONNECTIONS are set, paces every connection to
-- WRK_RATE / WRK_CONNECTIONS requests a second (wrk's delay() hook: the
-- pause before each request), so the server sees a fixed offered rate.
local rate = tonumber(os.getenv("WRK_RATE") or "")
local connections = tonumber(os.getenv("WRK_CONNECTIONS") or "")

if rate and connections and rate > 0 then
  local interval_ms = 1000 * connections / rate
  function delay()
    return interval_ms
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format("RESULT %.3f %.3f %.0f %d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / seconds, errors))
end
