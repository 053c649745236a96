-- wrk script: POSTs prepared requests, each at most once per run. LINES names a file of
-- "path<TAB>bearer token<TAB>JSON body" lines; RUN (0-based) and RUNS split it so that every run
-- uses fresh lines, and each thread takes every THREADS-th line of its run's share.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local all = {}
  for line in io.lines(os.getenv("LINES")) do
    all[#all + 1] = line
  end
  local runs = tonumber(os.getenv("RUNS") or "1")
  local run = tonumber(os.getenv("RUN") or "0")
  local nthreads = tonumber(os.getenv("THREADS") or "1")
  local share = math.floor(#all / runs)
  lines = {}
  for i = run * share + 1 + tid, (run + 1) * share, nthreads do
    lines[#lines + 1] = all[i]
  end
  next_line = 1
  exhausted = 0
end

function request()
  if next_line > #lines then
    next_line = 1
    exhausted = exhausted + 1
  end
  local path, token, body = lines[next_line]:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  next_line = next_line + 1
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end
