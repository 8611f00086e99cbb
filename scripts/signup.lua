-- wrk script: POST /api/subscribe (JSON) with a unique address per request.
-- usage: wrk -s scripts/signup.lua --latency -c32 -d10s http://127.0.0.1:8080
local counter = 0
local prefix = ""

function setup(thread)
  thread:set("id", tostring(math.random(1, 1e9)))
end

function init(args)
  prefix = "load" .. id .. "-" .. tostring(os.time())
end

request = function()
  counter = counter + 1
  local body = '{"email":"' .. prefix .. "-" .. counter .. '@example.pl","name":"","consent":true,"whitepaper":false,"website":"","source":"/"}'
  return wrk.format("POST", "/api/subscribe", {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }, body)
end
