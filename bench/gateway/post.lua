-- post.lua - wrk script of the gateway benchmark: POSTs pre-built bodies, cycling through them,
-- and prints one machine-readable WRKRESULT line (counts, latency percentiles) at the end.
--   wrk ... -s post.lua URL -- API_KEY CONTENT_TYPE CONTENT_ENCODING(- for none) LIST_FILE [PATH [close]]
-- API_KEY "-": no Authorization header (a publishable key in PATH's query instead).
-- CONTENT_TYPE "GET": LIST_FILE holds request paths (pixels), each sent as a GET.
-- "close": every request carries "Connection: close" (a new connection per request, as many
-- browsers and pixels send them; wrk reconnects after each answer).

local reqs = {}
local n = 0
local i = 0

function init(args)
    local key, ctype, enc, list = args[1], args[2], args[3], args[4]
    local path = args[5] or "/v1/events"
    local headers = {}
    if args[6] == "close" then
        headers["Connection"] = "close"
    end
    if ctype ~= "GET" then
        headers["Content-Type"] = ctype
    end
    if key ~= "-" then
        headers["Authorization"] = "Bearer " .. key
    end
    -- the context (browser.md) parses it: a browser's, by default
    local ua = os.getenv("BENCH_UA") or ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 " ..
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
    if ua ~= "" then
        headers["User-Agent"] = ua
    end
    if enc ~= "-" then
        headers["Content-Encoding"] = enc
    end
    for line in io.lines(list) do
        if line ~= "" and ctype == "GET" then
            n = n + 1
            reqs[n] = wrk.format("GET", line, headers, nil)
        elseif line ~= "" then
            local f = assert(io.open(line, "rb"))
            local body = f:read("*a")
            f:close()
            n = n + 1
            -- formatted once: request() only hands out prepared bytes
            reqs[n] = wrk.format("POST", path, headers, body)
        end
    end
    assert(n > 0, "no bodies in " .. list)
    i = math.random(n) - 1
end

function request()
    i = i % n + 1
    return reqs[i]
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("WRKRESULT requests=%d duration_us=%d bytes=%d status_errors=%d " ..
        "connect_errors=%d read_errors=%d write_errors=%d timeouts=%d " ..
        "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
        summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
        e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency.max, latency.mean))
end
