-- cjson for scripts: the subset of lua-cjson's API that Redis scripts use
-- (encode, decode, null), with its number formatting, sparse-array rule and
-- error messages. Written in Lua so errors carry the script's line as the
-- C library's do. `__fc_null` is the light userdata that stands for null.
local null = __fc_null
__fc_null = nil
local type, pairs, tostring, tonumber, select, error, pcall =
  type, pairs, tostring, tonumber, select, error, pcall
local sfmt, sbyte, schar, ssub, sgsub, sfind, tconcat, floor, huge =
  string.format, string.byte, string.char, string.sub, string.gsub, string.find,
  table.concat, math.floor, math.huge

local MAX_DEPTH = 1000

local function fail(msg) error(msg, 0) end

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['/'] = '\\/', ['\b'] = '\\b',
  ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}
local function escape(c) return escapes[c] or sfmt('\\u%04x', sbyte(c)) end

local function number_text(n, what)
  if n ~= n or n == huge or n == -huge then
    fail('Cannot serialise ' .. what .. ': must not be NaN or Inf')
  end
  return sfmt('%.14g', n)
end

local encode_value

-- lua-cjson's rule: keys all positive integers make an array unless it is
-- "excessively sparse" (max > 2 * count and max > 10); an empty table is
-- an object.
local function array_length(t)
  local max, count = 0, 0
  for k in pairs(t) do
    if type(k) ~= 'number' or k < 1 or floor(k) ~= k then return -1 end
    if k > max then max = k end
    count = count + 1
  end
  if max > count * 2 and max > 10 then
    fail('Cannot serialise table: excessively sparse array')
  end
  return max
end

local function encode_table(t, depth, out)
  if depth > MAX_DEPTH then
    fail('Cannot serialise, excessive nesting (' .. depth .. ')')
  end
  local n = array_length(t)
  if n > 0 then
    out[#out + 1] = '['
    for i = 1, n do
      if i > 1 then out[#out + 1] = ',' end
      encode_value(t[i], depth, out)
    end
    out[#out + 1] = ']'
    return
  end
  out[#out + 1] = '{'
  local first = true
  for k, v in pairs(t) do
    if not first then out[#out + 1] = ',' end
    first = false
    local kt = type(k)
    if kt == 'string' then
      out[#out + 1] = '"' .. (sgsub(k, '[%c"\\/]', escape)) .. '"'
    elseif kt == 'number' then
      out[#out + 1] = '"' .. number_text(k, 'number') .. '"'
    else
      fail('Cannot serialise ' .. kt .. ': table key must be a number or string')
    end
    out[#out + 1] = ':'
    encode_value(v, depth, out)
  end
  out[#out + 1] = '}'
end

encode_value = function(v, depth, out)
  local vt = type(v)
  if vt == 'string' then
    out[#out + 1] = '"' .. (sgsub(v, '[%c"\\/]', escape)) .. '"'
  elseif vt == 'number' then
    out[#out + 1] = number_text(v, 'number')
  elseif vt == 'boolean' then
    out[#out + 1] = v and 'true' or 'false'
  elseif vt == 'nil' or v == null then
    out[#out + 1] = 'null'
  elseif vt == 'table' then
    encode_table(v, depth + 1, out)
  else
    fail('Cannot serialise ' .. vt .. ': type not supported')
  end
end

-- Decoding: a tokenizer with lua-cjson's token names, and a recursive
-- descent parser. Positions are 1-based characters, as lua-cjson reports.
local function utf8(code)
  if code < 0x80 then return schar(code) end
  if code < 0x800 then
    return schar(0xC0 + floor(code / 0x40), 0x80 + code % 0x40)
  end
  if code < 0x10000 then
    return schar(0xE0 + floor(code / 0x1000), 0x80 + floor(code / 0x40) % 0x40,
      0x80 + code % 0x40)
  end
  return schar(0xF0 + floor(code / 0x40000), 0x80 + floor(code / 0x1000) % 0x40,
    0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

local simple_escapes = {
  ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n',
  r = '\r', t = '\t',
}

-- Returns kind, value, start, next position. Kinds: T_OBJ_BEGIN, T_OBJ_END,
-- T_ARR_BEGIN, T_ARR_END, T_STRING, T_NUMBER, T_BOOLEAN, T_NULL, T_COLON,
-- T_COMMA, T_END, T_ERROR (value = the message).
local function token(s, i)
  local _, e = sfind(s, '^[ \t\n\r]*', i)
  i = e + 1
  local c = ssub(s, i, i)
  if c == '' then return 'T_END', nil, i, i end
  if c == '{' then return 'T_OBJ_BEGIN', nil, i, i + 1 end
  if c == '}' then return 'T_OBJ_END', nil, i, i + 1 end
  if c == '[' then return 'T_ARR_BEGIN', nil, i, i + 1 end
  if c == ']' then return 'T_ARR_END', nil, i, i + 1 end
  if c == ':' then return 'T_COLON', nil, i, i + 1 end
  if c == ',' then return 'T_COMMA', nil, i, i + 1 end
  if c == '"' then
    local parts, j = {}, i + 1
    while true do
      local a, b = sfind(s, '^[^"\\]+', j)
      if a then parts[#parts + 1] = ssub(s, a, b); j = b + 1 end
      local d = ssub(s, j, j)
      if d == '' then return 'T_ERROR', 'unexpected end of string', j, j end
      if d == '"' then return 'T_STRING', tconcat(parts), i, j + 1 end
      local x = ssub(s, j + 1, j + 1)
      if simple_escapes[x] then
        parts[#parts + 1] = simple_escapes[x]
        j = j + 2
      elseif x == 'u' then
        local hex = ssub(s, j + 2, j + 5)
        local code = #hex == 4 and sfind(hex, '^%x%x%x%x$') and tonumber(hex, 16)
        if not code then return 'T_ERROR', 'invalid unicode escape code', i, j end
        j = j + 6
        if code >= 0xD800 and code <= 0xDBFF then
          local low = ssub(s, j, j + 1) == '\\u' and ssub(s, j + 2, j + 5)
          local lc = low and sfind(low, '^%x%x%x%x$') and tonumber(low, 16)
          if not lc or lc < 0xDC00 or lc > 0xDFFF then
            return 'T_ERROR', 'invalid unicode escape code', i, j
          end
          code = 0x10000 + (code - 0xD800) * 0x400 + (lc - 0xDC00)
          j = j + 6
        elseif code >= 0xDC00 and code <= 0xDFFF then
          return 'T_ERROR', 'invalid unicode escape code', i, j
        end
        parts[#parts + 1] = utf8(code)
      else
        return 'T_ERROR', 'invalid escape code', i, j
      end
    end
  end
  if sfind(c, '^[-0-9]') then
    local a, b = sfind(s, '^-?%d+%.?%d*[eE]?[-+]?%d*', i)
    local n = a and tonumber(ssub(s, a, b))
    if not n then return 'T_ERROR', 'invalid number', i, i end
    return 'T_NUMBER', n, i, b + 1
  end
  if ssub(s, i, i + 3) == 'true' then return 'T_BOOLEAN', true, i, i + 4 end
  if ssub(s, i, i + 4) == 'false' then return 'T_BOOLEAN', false, i, i + 5 end
  if ssub(s, i, i + 3) == 'null' then return 'T_NULL', null, i, i + 4 end
  return 'T_ERROR', 'invalid token', i, i
end

local function expected(what, kind, value, at)
  local found = kind == 'T_ERROR' and value or kind
  fail('Expected ' .. what .. ' but found ' .. found .. ' at character ' .. at)
end

local decode_value

local function decode_object(s, i, depth)
  local t = {}
  local kind, value, at, nxt = token(s, i)
  if kind == 'T_OBJ_END' then return t, nxt end
  while true do
    if kind ~= 'T_STRING' then expected('object key string', kind, value, at) end
    local key = value
    kind, value, at, nxt = token(s, nxt)
    if kind ~= 'T_COLON' then expected('colon', kind, value, at) end
    t[key], nxt = decode_value(s, nxt, depth)
    kind, value, at, nxt = token(s, nxt)
    if kind == 'T_OBJ_END' then return t, nxt end
    if kind ~= 'T_COMMA' then expected('comma or object end', kind, value, at) end
    kind, value, at, nxt = token(s, nxt)
  end
end

local function decode_array(s, i, depth)
  local t, n = {}, 0
  local kind, value, at, nxt = token(s, i)
  if kind == 'T_ARR_END' then return t, nxt end
  while true do
    n = n + 1
    t[n], nxt = decode_value(s, at, depth)
    kind, value, at, nxt = token(s, nxt)
    if kind == 'T_ARR_END' then return t, nxt end
    if kind ~= 'T_COMMA' then expected('comma or array end', kind, value, at) end
    kind, value, at = token(s, nxt)
  end
end

decode_value = function(s, i, depth)
  local kind, value, at, nxt = token(s, i)
  if kind == 'T_OBJ_BEGIN' or kind == 'T_ARR_BEGIN' then
    if depth >= MAX_DEPTH then
      fail('Found too many nested data structures (' .. (depth + 1) ..
        ') at character ' .. at)
    end
    if kind == 'T_OBJ_BEGIN' then return decode_object(s, nxt, depth + 1) end
    return decode_array(s, nxt, depth + 1)
  end
  if kind == 'T_STRING' or kind == 'T_NUMBER' or kind == 'T_BOOLEAN'
    or kind == 'T_NULL' then
    return value, nxt
  end
  expected('value', kind, value, at)
end

-- Arity checks; errors are raised without a position, and the Rust
-- wrapper (a C function, so a tail call keeps the script's frame) adds the
-- script's line as lua-cjson's own errors have it.
local function guarded(name, f)
  return function(...)
    if select('#', ...) ~= 1 then
      fail("bad argument #1 to '" .. name .. "' (expected 1 argument)")
    end
    return f(...)
  end
end

cjson = {
  null = null,
  encode = guarded('encode', function(v)
    local out = {}
    encode_value(v, 0, out)
    return tconcat(out)
  end),
  decode = guarded('decode', function(s)
    if type(s) ~= 'string' and type(s) ~= 'number' then
      fail("bad argument #1 to 'decode' (string expected, got " .. type(s) .. ')')
    end
    s = tostring(s)
    local v, nxt = decode_value(s, 1, 0)
    local kind, value, at = token(s, nxt)
    if kind ~= 'T_END' then expected('the end', kind, value, at) end
    return v
  end),
}
