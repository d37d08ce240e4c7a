-- POST /api/v1/users/login as a random seeded customer (one bcrypt verification each).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(here .. "common.lua")

bench.run(function()
  local requests = {}
  for _, line in ipairs(bench.lines("users.tsv")) do
    local email, password = line:match("^([^\t]+)\t(.+)$")
    local body = string.format('{"email":"%s","password":"%s"}', email, password)
    requests[#requests + 1] = wrk.format("POST", "/api/v1/users/login",
      { ["Content-Type"] = "application/json" }, body)
  end
  return requests
end)
