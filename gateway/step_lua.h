/* step_lua.h: the Lua every Redis script that applies ops (processors/
 * store.h) starts with: the partition steps (redis_link.c) and the KPI
 * journal's fold (kpi_journal.c). */
#ifndef SQ_STEP_LUA_H
#define SQ_STEP_LUA_H

/* expire (a key's TTL once per script), apply (one op of processors/
 * store.h at ARGV[i], or J, returning the index after it, nil for an
 * unknown op) and finish (a partition's new
 * applied offset, its greatest event time and its place in the watermark's
 * zsets wm:parts and wm:idle; gateway/closer.c). processors/store_mem.c
 * applies the same ops in process and must keep the same meaning. J is
 * the Redis side's own: J key entry appends a KPI journal entry
 * (gateway/kpi_journal.h) to the list key. */
#define SQ_STEP_LUA_COMMON \
    "local wm, ttl_set = {}, {}\n" \
    "-- a key's TTL is set once per step: an op writing a key again skips it.\n" \
    "-- A negative t (gateway/ttl_memo.h) is set only on a key the op created\n" \
    "-- (new: its op saw the key empty where it wrote)\n" \
    "local function expire(k, t, new)\n" \
    "  local n = tonumber(t)\n" \
    "  if n > 0 then\n" \
    "    if ttl_set[k] ~= t then redis.call('EXPIRE', k, t); ttl_set[k] = t end\n" \
    "  elseif n < 0 and new and ttl_set[k] == nil then\n" \
    "    redis.call('EXPIRE', k, -n); ttl_set[k] = t\n" \
    "  end\n" \
    "end\n" \
    "local function apply(i)\n" \
    "  local op = ARGV[i]\n" \
    "  if op == 'C' then\n" \
    "    -- the customer hash: one HMGET, one HSET and its TTL an event\n" \
    "    local key, t, eid, tc, region, tier, ttl = ARGV[i+1], ARGV[i+3], ARGV[i+4], ARGV[i+5], ARGV[i+6], ARGV[i+7], ARGV[i+8]\n" \
    "    local c30, cxt, nb, bt, bc, od = ARGV[i+9], ARGV[i+10], tonumber(ARGV[i+13]), ARGV[i+14], ARGV[i+15], tonumber(ARGV[i+16])\n" \
    "    local o = redis.call('HMGET', key, 'events_total', 'last_event_at', 'last_event_id', 'last_contact_at',\n" \
    "      'cx_num', 'cx_den', 'cx_t0', 'breaches_total', 'last_breach_at', 'last_breach_code', 'open_tickets')\n" \
    "    local set = {'events_total', string.format('%d', (tonumber(o[1]) or 0) + tonumber(ARGV[i+2]))}\n" \
    "    if (not o[2]) or t > o[2] or (t == o[2] and eid > (o[3] or '')) then\n" \
    "      set[3], set[4], set[5], set[6] = 'last_event_at', t, 'last_event_id', eid\n" \
    "      if region ~= '' then set[#set + 1] = 'region'; set[#set + 1] = region end\n" \
    "      if tier ~= '' then set[#set + 1] = 'tier'; set[#set + 1] = tier end\n" \
    "    end\n" \
    "    if tc ~= '' and ((not o[4]) or tc > o[4]) then set[#set + 1] = 'last_contact_at'; set[#set + 1] = tc end\n" \
    "    if c30 ~= '' then set[#set + 1] = 'contacts_30d'; set[#set + 1] = c30 end\n" \
    "    if cxt ~= '' then\n" \
    "      local ct, sc, hl = tonumber(cxt), tonumber(ARGV[i+11]), tonumber(ARGV[i+12])\n" \
    "      local num, den, t0 = sc, 1, ct\n" \
    "      if o[5] and o[6] and o[7] then\n" \
    "        num, den, t0 = tonumber(o[5]), tonumber(o[6]), tonumber(o[7])\n" \
    "        if ct >= t0 then\n" \
    "          local f = 2 ^ (-(ct - t0) / hl); num = num * f + sc; den = den * f + 1; t0 = ct\n" \
    "        else\n" \
    "          local w = 2 ^ (-(t0 - ct) / hl); num = num + w * sc; den = den + w\n" \
    "        end\n" \
    "      end\n" \
    "      -- cx_index as C round(x * 10) / 10 (SPEC 15): halves away from zero\n" \
    "      local y = math.abs(num / den) * 10\n" \
    "      local r = math.floor(y)\n" \
    "      if y - r >= 0.5 then r = r + 1 end\n" \
    "      if num / den < 0 then r = -r end\n" \
    "      local n = #set\n" \
    "      set[n + 1], set[n + 2], set[n + 3], set[n + 4] = 'cx_num', string.format('%.17g', num), 'cx_den', string.format('%.17g', den)\n" \
    "      set[n + 5], set[n + 6], set[n + 7], set[n + 8] = 'cx_t0', string.format('%d', t0), 'cx_index', string.format('%.15g', r / 10)\n" \
    "    end\n" \
    "    if nb ~= 0 then set[#set + 1] = 'breaches_total'; set[#set + 1] = string.format('%d', (tonumber(o[8]) or 0) + nb) end\n" \
    "    if bt ~= '' and ((not o[9]) or bt > o[9] or (bt == o[9] and bc > (o[10] or ''))) then\n" \
    "      set[#set + 1] = 'last_breach_at'; set[#set + 1] = bt; set[#set + 1] = 'last_breach_code'; set[#set + 1] = bc\n" \
    "    end\n" \
    "    if od ~= 0 then set[#set + 1] = 'open_tickets'; set[#set + 1] = string.format('%d', (tonumber(o[11]) or 0) + od) end\n" \
    "    redis.call('HSET', key, unpack(set))\n" \
    "    expire(key, ttl, not o[1])\n" \
    "    i = i + 17\n" \
    "  elseif op == 'H' then\n" \
    "    local k, added = tonumber(ARGV[i+3]), 0\n" \
    "    if k > 0 then added = redis.call('HSET', ARGV[i+1], unpack(ARGV, i + 4, i + 3 + 2 * k)) end\n" \
    "    expire(ARGV[i+1], ARGV[i+2], added > 0)\n" \
    "    i = i + 4 + 2 * k\n" \
    "  elseif op == 'X' then\n" \
    "    redis.call('DEL', ARGV[i+1]); ttl_set[ARGV[i+1]] = nil; i = i + 2\n" \
    "  elseif op == 'R' then\n" \
    "    redis.call('HDEL', ARGV[i+1], ARGV[i+2]); ttl_set[ARGV[i+1]] = nil; i = i + 3\n" \
    "  elseif op == 'I' then\n" \
    "    local v = redis.call('HINCRBY', ARGV[i+1], ARGV[i+2], ARGV[i+3])\n" \
    "    expire(ARGV[i+1], ARGV[i+4], v == tonumber(ARGV[i+3]))\n" \
    "    i = i + 5\n" \
    "  elseif op == 'K' then\n" \
    "    -- one HINCRBY per counter: cheaper in the script than HMGET, sum and HSET\n" \
    "    local key, k = ARGV[i+1], tonumber(ARGV[i+3])\n" \
    "    local new = false\n" \
    "    for j = 1, k do\n" \
    "      local v = redis.call('HINCRBY', key, ARGV[i+2+2*j], ARGV[i+3+2*j])\n" \
    "      if j == 1 then new = v == tonumber(ARGV[i+5]) end\n" \
    "    end\n" \
    "    expire(key, ARGV[i+2], new)\n" \
    "    i = i + 4 + 2 * k\n" \
    "  elseif op == 'W' then\n" \
    "    local p, c = ARGV[i+1], ARGV[i+2]\n" \
    "    local g = redis.call('HINCRBY', p .. 'win:gen', c, 1)\n" \
    "    if wm[p] == nil then wm[p] = tonumber(redis.call('GET', p .. 'wm') or '') or false end\n" \
    "    if g > 1 and ((not wm[p]) or tonumber(ARGV[i+3]) > wm[p]) then\n" \
    "      -- touched before and ends after the watermark: never closed, already in win:open\n" \
    "    elseif redis.call('HEXISTS', p .. 'win:rev', c) == 1 then redis.call('SADD', p .. 'win:dirty', c)\n" \
    "    else redis.call('ZADD', p .. 'win:open', 'NX', ARGV[i+3], c) end\n" \
    "    i = i + 4\n" \
    "  elseif op == 'J' then\n" \
    "    -- the KPI journal: sums folded into their hashes later (kpi_journal.c)\n" \
    "    redis.call('RPUSH', ARGV[i+1], ARGV[i+2]); i = i + 3\n" \
    "  elseif op == 'Z' then\n" \
    "    -- a member added may take the set past keep, or be its first\n" \
    "    local n = 0\n" \
    "    if redis.call('ZADD', ARGV[i+1], ARGV[i+4], ARGV[i+5]) == 1 then\n" \
    "      n = redis.call('ZCARD', ARGV[i+1])\n" \
    "      local keep = tonumber(ARGV[i+3])\n" \
    "      if n > keep then redis.call('ZREMRANGEBYRANK', ARGV[i+1], 0, n - keep - 1) end\n" \
    "    end\n" \
    "    expire(ARGV[i+1], ARGV[i+2], n == 1)\n" \
    "    i = i + 6\n" \
    "  elseif op == 'T' then\n" \
    "    local a = redis.call('HSET', ARGV[i+1], ARGV[i+3], ARGV[i+5])\n" \
    "    local b = redis.call('ZADD', ARGV[i+2], ARGV[i+4], ARGV[i+3])\n" \
    "    expire(ARGV[i+1], ARGV[i+6], a == 1); expire(ARGV[i+2], ARGV[i+6], b == 1)\n" \
    "    i = i + 7\n" \
    "  elseif op == 'U' then\n" \
    "    local h, z, m, d = ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4]\n" \
    "    if d == '' then redis.call('HDEL', h, m); redis.call('ZREM', z, m)\n" \
    "    else\n" \
    "      -- only the timer due at d: one re-armed by a later step stays\n" \
    "      local v = redis.call('HGET', h, m)\n" \
    "      if v and string.sub(v, 1, #d + 1) == d .. '|' then redis.call('HDEL', h, m) end\n" \
    "      local s = redis.call('ZSCORE', z, m)\n" \
    "      if s and tonumber(s) == tonumber(d) then redis.call('ZREM', z, m) end\n" \
    "    end\n" \
    "    ttl_set[h] = nil; ttl_set[z] = nil; i = i + 5\n" \
    "  elseif op == 'G' then\n" \
    "    local old = redis.call('HMGET', ARGV[i+1], ARGV[i+2], ARGV[i+4])\n" \
    "    if (not old[1]) or ARGV[i+3] > old[1] or (ARGV[i+3] == old[1] and ARGV[i+5] > (old[2] or '')) then\n" \
    "      redis.call('HSET', ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5])\n" \
    "    end\n" \
    "    expire(ARGV[i+1], ARGV[i+6], not old[1])\n" \
    "    i = i + 7\n" \
    "  else\n" \
    "    return nil\n" \
    "  end\n" \
    "  return i\n" \
    "end\n" \
    "local function finish(key, last, maxev, parts, idle)\n" \
    "  redis.call('HSET', key, 'offset', last)\n" \
    "  if maxev ~= '' then\n" \
    "    local m = redis.call('HGET', key, 'max_event_ms')\n" \
    "    if (not m) or tonumber(maxev) > tonumber(m) then redis.call('HSET', key, 'max_event_ms', maxev) end\n" \
    "  end\n" \
    "  local mx = redis.call('HGET', key, 'max_event_ms')\n" \
    "  if mx then\n" \
    "    redis.call('ZADD', parts, mx, key)\n" \
    "    redis.call('ZREM', idle, key)\n" \
    "  end\n" \
    "end\n"

#endif
