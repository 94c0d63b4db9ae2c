-- Logs in repeatedly and appends every refresh token it receives to POOL.<thread>.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  out = io.open(os.getenv("POOL") .. "." .. id, "a")
end
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
function response(status, headers, body)
  local token = body:match('"refresh"%s*:%s*"([^"]+)"')
  if status == 200 and token then
    out:write(token, "\n")
    out:flush()
  end
end
