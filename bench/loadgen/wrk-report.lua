-- wrk has no JSON output: done() prints one line that bench/loadgen/wrk.ts parses. It runs once, after every thread
-- has stopped; no request() or response() hook is defined, so wrk stays on its C fast path (a response() hook would
-- make it build a Lua table of headers for every answer). Latencies are in microseconds.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'corral-wrk {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
