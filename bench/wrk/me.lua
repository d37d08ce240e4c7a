-- GET /api/v1/users/me with the bearer token of a random seeded customer.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(here .. "common.lua")

bench.run(function()
  local requests = {}
  for _, token in ipairs(bench.lines("tokens.txt")) do
    requests[#requests + 1] =
      wrk.format("GET", "/api/v1/users/me", { ["Authorization"] = "Bearer " .. token })
  end
  return requests
end)
