-- cmsgpack for scripts: MessagePack pack/unpack with lua-cmsgpack's
-- choices (the narrowest integer form, a float when it holds the number
-- exactly, arrays for tables keyed 1..n without holes, nil past 16 levels
-- of nesting). Floats are converted by Rust helpers (`__fc_f32`, `__fc_f64`
-- and their inverses), which Lua 5.1 has no way to do exactly.
local f32, f64, from_f32, from_f64 = __fc_f32, __fc_f64, __fc_from_f32, __fc_from_f64
__fc_f32, __fc_f64, __fc_from_f32, __fc_from_f64 = nil, nil, nil, nil
local type, pairs, select, error, floor, huge = type, pairs, select, error, math.floor, math.huge
local schar, sbyte, ssub, tconcat = string.char, string.byte, string.sub, table.concat

local MAX_NESTING = 16

local function be(n, bytes)
  local out = {}
  for i = bytes, 1, -1 do
    out[i] = schar(n % 256)
    n = floor(n / 256)
  end
  return tconcat(out)
end

-- Eight bytes, big endian, two's complement, split in 32-bit halves so the
-- arithmetic stays exact in doubles.
local function be64(n)
  local hi = floor(n / 4294967296)
  local lo = n - hi * 4294967296
  if hi < 0 then hi = hi + 4294967296 end
  return be(hi, 4) .. be(lo, 4)
end

local function is_int(n)
  return n == floor(n) and n >= -9223372036854775808 and n < 18446744073709551616
end

local function pack_number(n, out)
  if n ~= n or n == huge or n == -huge or not is_int(n) then
    local s = f32(n)
    if s then
      out[#out + 1] = "\202" .. s
    else
      out[#out + 1] = "\203" .. f64(n)
    end
  elseif n >= 0 then
    if n < 128 then out[#out + 1] = schar(n)
    elseif n < 256 then out[#out + 1] = "\204" .. schar(n)
    elseif n < 65536 then out[#out + 1] = "\205" .. be(n, 2)
    elseif n < 4294967296 then out[#out + 1] = "\206" .. be(n, 4)
    else out[#out + 1] = "\207" .. be64(n) end
  else
    if n >= -32 then out[#out + 1] = schar(256 + n)
    elseif n >= -128 then out[#out + 1] = "\208" .. schar(256 + n)
    elseif n >= -32768 then out[#out + 1] = "\209" .. be(65536 + n, 2)
    elseif n >= -2147483648 then out[#out + 1] = "\210" .. be(4294967296 + n, 4)
    else out[#out + 1] = "\211" .. be64(n) end
  end
end

local function pack_string(s, out)
  local n = #s
  if n < 32 then out[#out + 1] = schar(160 + n)
  elseif n < 256 then out[#out + 1] = "\217" .. schar(n)
  elseif n < 65536 then out[#out + 1] = "\218" .. be(n, 2)
  else out[#out + 1] = "\219" .. be(n, 4) end
  out[#out + 1] = s
end

local pack_value

local function array_length(t)
  local count, max = 0, 0
  for k in pairs(t) do
    if type(k) ~= 'number' or k < 1 or k ~= floor(k) then return nil end
    count = count + 1
    if k > max then max = k end
  end
  if max ~= count then return nil end
  return count
end

local function pack_table(t, depth, out)
  local n = array_length(t)
  if n then
    if n < 16 then out[#out + 1] = schar(144 + n)
    elseif n < 65536 then out[#out + 1] = "\220" .. be(n, 2)
    else out[#out + 1] = "\221" .. be(n, 4) end
    for i = 1, n do pack_value(t[i], depth + 1, out) end
    return
  end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  if count < 16 then out[#out + 1] = schar(128 + count)
  elseif count < 65536 then out[#out + 1] = "\222" .. be(count, 2)
  else out[#out + 1] = "\223" .. be(count, 4) end
  for k, v in pairs(t) do
    pack_value(k, depth + 1, out)
    pack_value(v, depth + 1, out)
  end
end

pack_value = function(v, depth, out)
  local t = type(v)
  if t == 'number' then pack_number(v, out)
  elseif t == 'string' then pack_string(v, out)
  elseif t == 'boolean' then out[#out + 1] = v and "\195" or "\194"
  elseif t == 'table' and depth < MAX_NESTING then pack_table(v, depth, out)
  else out[#out + 1] = "\192" end
end

-- Decoding. `pos` is 1-based; each reader returns the value and the next
-- position, or raises one of lua-cmsgpack's two errors.
local function missing() error("Missing bytes in input.", 0) end
local function bad() error("Bad data format in input.", 0) end

local function need(s, pos, n)
  if pos + n - 1 > #s then missing() end
end

local function uint(s, pos, n)
  need(s, pos, n)
  local v = 0
  for i = pos, pos + n - 1 do v = v * 256 + sbyte(s, i) end
  return v
end

local function sint(s, pos, n)
  if n == 8 then
    -- Halves keep the arithmetic exact in doubles.
    local hi, lo = uint(s, pos, 4), uint(s, pos + 4, 4)
    if hi >= 2147483648 then hi = hi - 4294967296 end
    return hi * 4294967296 + lo
  end
  local v = uint(s, pos, n)
  local top = 2 ^ (8 * n)
  if v >= top / 2 then v = v - top end
  return v
end

local unpack_value

local function unpack_array(s, pos, n)
  local t = {}
  for i = 1, n do t[i], pos = unpack_value(s, pos) end
  return t, pos
end

local function unpack_map(s, pos, n)
  local t = {}
  for _ = 1, n do
    local k, v
    k, pos = unpack_value(s, pos)
    v, pos = unpack_value(s, pos)
    if k ~= nil then t[k] = v end
  end
  return t, pos
end

local function bytes(s, pos, n)
  need(s, pos, n)
  return ssub(s, pos, pos + n - 1), pos + n
end

unpack_value = function(s, pos)
  need(s, pos, 1)
  local c = sbyte(s, pos)
  pos = pos + 1
  if c < 128 then return c, pos end
  if c >= 224 then return c - 256, pos end
  if c >= 160 and c < 192 then return bytes(s, pos, c - 160) end
  if c >= 144 and c < 160 then return unpack_array(s, pos, c - 144) end
  if c >= 128 and c < 144 then return unpack_map(s, pos, c - 128) end
  if c == 192 then return nil, pos end
  if c == 194 then return false, pos end
  if c == 195 then return true, pos end
  if c == 202 then need(s, pos, 4) return from_f32(ssub(s, pos, pos + 3)), pos + 4 end
  if c == 203 then need(s, pos, 8) return from_f64(ssub(s, pos, pos + 7)), pos + 8 end
  if c == 204 then return uint(s, pos, 1), pos + 1 end
  if c == 205 then return uint(s, pos, 2), pos + 2 end
  if c == 206 then return uint(s, pos, 4), pos + 4 end
  if c == 207 then return uint(s, pos, 8), pos + 8 end
  if c == 208 then return sint(s, pos, 1), pos + 1 end
  if c == 209 then return sint(s, pos, 2), pos + 2 end
  if c == 210 then return sint(s, pos, 4), pos + 4 end
  if c == 211 then return sint(s, pos, 8), pos + 8 end
  if c == 217 or c == 196 then local n = uint(s, pos, 1) return bytes(s, pos + 1, n) end
  if c == 218 or c == 197 then local n = uint(s, pos, 2) return bytes(s, pos + 2, n) end
  if c == 219 or c == 198 then local n = uint(s, pos, 4) return bytes(s, pos + 4, n) end
  if c == 220 then return unpack_array(s, pos + 2, uint(s, pos, 2)) end
  if c == 221 then return unpack_array(s, pos + 4, uint(s, pos, 4)) end
  if c == 222 then return unpack_map(s, pos + 2, uint(s, pos, 2)) end
  if c == 223 then return unpack_map(s, pos + 4, uint(s, pos, 4)) end
  bad()
end

-- Decodes up to `limit` values (0: all) from byte `offset` (0-based).
-- Returns the offset after them (-1 at the end of input) and the values.
local function unpack_n(s, limit, offset)
  local values, pos, n = {}, offset + 1, 0
  while pos <= #s and (limit == 0 or n < limit) do
    n = n + 1
    values[n], pos = unpack_value(s, pos)
  end
  local next_offset = pos <= #s and pos - 1 or -1
  return next_offset, values, n
end

local unpack = unpack
cmsgpack = {
  pack = function(...)
    local n = select('#', ...)
    if n == 0 then
      error("bad argument #0 to 'pack' (MessagePack pack needs input.)", 0)
    end
    local out = {}
    for i = 1, n do pack_value((select(i, ...)), 0, out) end
    return tconcat(out)
  end,
  unpack = function(s)
    local _, values, n = unpack_n(s, 0, 0)
    return unpack(values, 1, n)
  end,
  unpack_one = function(s, offset)
    local next_offset, values, n = unpack_n(s, 1, offset or 0)
    return next_offset, unpack(values, 1, n)
  end,
  unpack_limit = function(s, limit, offset)
    local next_offset, values, n = unpack_n(s, limit, offset or 0)
    return next_offset, unpack(values, 1, n)
  end,
}
