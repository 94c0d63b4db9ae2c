-- Each request presents a different, never used refresh token from POOL.<thread>; a thread that
-- runs out repeats its last one (those requests fail and show as non-2xx in wrk's report).
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  tokens = {}
  for line in io.lines(os.getenv("POOL") .. "." .. id) do
    tokens[#tokens + 1] = line
  end
  next_token = 1
end
function request()
  local token = tokens[math.min(next_token, #tokens)]
  next_token = next_token + 1
  return wrk.format("POST", "/api/token/refresh/", {["Content-Type"] = "application/json"},
    '{"refresh":"' .. token .. '"}')
end
