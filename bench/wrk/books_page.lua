-- GET /api/v1/books?limit=20&offset=<random>: a full page somewhere in the catalogue.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(here .. "common.lua")

bench.run(function()
  local limit = 20
  local last = math.max(0, #bench.lines("books.txt") - limit)
  local requests = {}
  for offset = 0, last do
    requests[#requests + 1] =
      wrk.format("GET", "/api/v1/books?limit=" .. limit .. "&offset=" .. offset)
  end
  return requests
end)
