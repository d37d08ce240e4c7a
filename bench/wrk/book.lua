-- GET /api/v1/books/{id}, a random seeded book each time.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(here .. "common.lua")

bench.run(function()
  local requests = {}
  for _, id in ipairs(bench.lines("books.txt")) do
    requests[#requests + 1] = wrk.format("GET", "/api/v1/books/" .. id)
  end
  return requests
end)
