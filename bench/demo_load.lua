-- bench/demo_load.lua -- a load for sluice-demo (demo/) with Debian's wrk: 10 % creates
-- (POST /products/new, answered 303), 60 % product pages (GET /products/ID) and 30 % list pages
-- (GET /?page=1..3).  The ids to read are taken from the list pages the run itself fetches, so
-- it needs no preparation.  Every answer's badges are counted per node, so the summary says how
-- the reads spread over the cluster as the nodes themselves reported it.
--
--   wrk -t2 -c8 -d30s -s bench/demo_load.lua http://127.0.0.1:8080
--   wrk ... -s bench/demo_load.lua http://127.0.0.1:8080 -- 20 60   (create %, detail %)
--
-- bench/demo_load.py starts a cluster, sluice and the app and runs this; bench/demo_load.md has
-- the results.

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

-- Per thread (each has its own Lua state).
local create_pct, detail_pct = 10, 60
local ids = {}          -- product ids seen in list pages
local known = {}        -- id -> true, to keep `ids` free of repeats
local sent = 0
statuses = {}           -- "303" -> count
reads = {}              -- node -> read badges
kinds = { create = 0, detail = 0, list = 0 }

function init(args)
   create_pct = tonumber(args[1]) or create_pct
   detail_pct = tonumber(args[2]) or detail_pct
   math.randomseed(os.time() + id * 7919)
end

local form_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function request()
   sent = sent + 1
   local r = math.random(100)
   if r <= create_pct then
      kinds.create = kinds.create + 1
      local body = string.format("name=wrk+%d+%d&price=%d.%02d&stock=%d", id, sent,
                                 math.random(0, 999), math.random(0, 99), math.random(0, 500))
      return wrk.format("POST", "/products/new", form_headers, body)
   elseif r <= create_pct + detail_pct and #ids > 0 then
      kinds.detail = kinds.detail + 1
      return wrk.format("GET", "/products/" .. ids[math.random(#ids)])
   else
      kinds.list = kinds.list + 1
      return wrk.format("GET", "/?page=" .. math.random(3))
   end
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if body == nil then
      return
   end
   -- Badges: <li class="badge ..." data-kind="read" data-node="node2" ...>
   -- (A create's answer is a 303 without badges: its write badge is on the page it
   -- redirects to, which wrk does not follow.)
   for node in body:gmatch('data%-kind="read" data%-node="([^"]*)"') do
      reads[node] = (reads[node] or 0) + 1
   end
   -- Links of list pages: <a href="/products/123">
   if #ids < 2000 then
      for pid in body:gmatch('href="/products/(%d+)"') do
         if not known[pid] then
            known[pid] = true
            table.insert(ids, pid)
         end
      end
   end
end

local function add_into(total, part)
   for k, v in pairs(part) do
      total[k] = (total[k] or 0) + v
   end
end

local function line(name, t)
   local keys = {}
   for k in pairs(t) do
      table.insert(keys, k)
   end
   table.sort(keys)
   local parts = {}
   for _, k in ipairs(keys) do
      table.insert(parts, k .. "=" .. t[k])
   end
   io.write(string.format("%s: %s\n", name, table.concat(parts, " ")))
end

function done(summary, latency, requests)
   local st, rd, kd = {}, {}, {}
   for _, thread in ipairs(threads) do
      add_into(st, thread:get("statuses"))
      add_into(rd, thread:get("reads"))
      add_into(kd, thread:get("kinds"))
   end
   io.write("-- demo_load summary --\n")
   io.write(string.format("requests/s: %.1f\n", summary.requests / (summary.duration / 1e6)))
   io.write(string.format("latency ms: p50=%.2f p90=%.2f p99=%.2f max=%.2f\n",
                          latency:percentile(50) / 1000, latency:percentile(90) / 1000,
                          latency:percentile(99) / 1000, latency.max / 1000))
   line("requests by kind", kd)
   line("status", st)
   line("read badges by node", rd)
end
