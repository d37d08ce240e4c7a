-- GET /health: the server alone, no dependency.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(here .. "common.lua")

bench.run(function()
  return { wrk.format("GET", "/health") }
end)
