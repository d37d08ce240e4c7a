-- POST /api/v1/orders: a random customer orders 1 to 3 copies of a random book.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(here .. "common.lua")

bench.run(function()
  local tokens = bench.lines("tokens.txt")
  local books = bench.lines("books.txt")
  local requests = {}
  for i = 1, 8192 do
    local body = string.format('{"book_id":"%s","quantity":%d}',
      books[math.random(#books)], math.random(3))
    requests[i] = wrk.format("POST", "/api/v1/orders", {
      ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
      ["Content-Type"] = "application/json",
    }, body)
  end
  return requests
end)
