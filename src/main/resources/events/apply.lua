-- Applies one profile event to a reader's profile hash, atomically, last write wins (docs/events.md).
--
-- KEYS[1]  the profile hash (the only key touched: Redis Cluster-safe)
-- ARGV[1]  invalidation channel      ARGV[2] uid     ARGV[3] event type
-- ARGV[4]  version: 16-digit epoch millis, '|', event id
-- ARGV[5]  event time, RFC 3339 UTC  ARGV[6] event time, epoch millis
-- ARGV[7..] the type's data:
--   page_view               category
--   cart_add, cart_remove   product
--   purchase                order, amount (plain decimal), product...
--   attribute, consent      n, then n pairs field/value to set, then fields to delete
--   erasure                 nothing
--
-- Returns CHANGED (and publishes the uid on the channel), UNCHANGED or ERASED_BEFORE.
--
-- The final hash depends only on the set of events applied, never on their order or on repeats: every field is
-- either last-write-wins on a stored version, or derived from all the stored versions of its kind.
--
-- Versions and names are compared byte by byte, never with Lua's '<' on strings, which follows the server's
-- LC_COLLATE locale (Redis calls setlocale): a locale's collation may tie or reorder ids.
--
-- Cost: an event reads only the fields it needs (HMGET). A view or cart event that changes a mark rebuilds its list
-- from all the marks of its kind (HSCAN MATCH), unless a shortcut gives the same list (see "shortcuts"); a
-- purchase always reads the cart and order marks; only an erasure reads the whole hash.

local key = KEYS[1]
local channel, uid, event_type, version, time = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local millis = tonumber(ARGV[6])

local WINDOW_MS = 365 * 86400000
local MAX_CATEGORY_MARKS = 50
local MAX_RECENT_CATEGORIES = 10
local MAX_CART_MARKS = 100
local MAX_CART_ITEMS = 50
local MAX_PURCHASED = 100
local CHUNK = 1000 -- arguments per HSET/HDEL call (unpack has a limit)

-- bytes: the second one of each kind of bookkeeping field (~<kind>:<name>), and '~', ':', '+'
local FIELD, CATEGORY, CART, ORDER = 118, 99, 107, 111 -- v c k o
local TILDE, COLON, PLUS = 126, 58, 43

local CART_FIELDS = { 'cart_items', 'cart_updated_at' }
local ORDER_FIELDS = { 'last_purchase_at', 'orders_365d', 'spend_365d', 'purchased' }

---------------------------------------------------------------------------------------------------- comparisons

-- a < b, byte by byte.
local function bytes_before(a, b)
  if a == b then
    return false
  end
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

-- The epoch millis a version (or a value starting with one) was written at.
local function millis_of(value)
  return tonumber(string.sub(value, 1, 16))
end

-- True if version a is later than version b; any version is later than none (nil).
local function later(a, b)
  if not b then
    return true
  end
  local ma, mb = millis_of(a), millis_of(b)
  if ma ~= mb then
    return ma > mb
  end
  return bytes_before(string.sub(b, 18), string.sub(a, 18))
end

-------------------------------------------------------------------------------------------------------- formats

-- Epoch millis as java.time.Instant#toString prints a millisecond instant: 2026-11-22T10:00:00Z, ...:00.120Z.
local function iso_time(ms)
  local days = math.floor(ms / 86400000)
  local rem = ms - days * 86400000
  -- civil_from_days (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms")
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400 + (month <= 2 and 1 or 0)
  local text = string.format('%04d-%02d-%02dT%02d:%02d:%02d', year, month, day,
    math.floor(rem / 3600000), math.floor(rem / 60000) % 60, math.floor(rem / 1000) % 60)
  local fraction = rem % 1000
  if fraction > 0 then
    text = text .. string.format('.%03d', fraction)
  end
  return text .. 'Z'
end

-- A plain decimal amount ("19.995") in whole cents, rounded half up, from its digits (no binary fractions).
local function cents(amount)
  local whole, fraction = string.match(amount, '^(%d+)%.?(%d*)$')
  local c = tonumber(whole) * 100 + tonumber(string.sub(fraction .. '00', 1, 2))
  local next_digit = string.sub(fraction, 3, 3)
  if next_digit ~= '' and tonumber(next_digit) >= 5 then
    c = c + 1
  end
  return c
end

-- Cents as a decimal with up to 2 decimals: 1999 -> 19.99, 1990 -> 19.9, 2000 -> 20.
local function money(c)
  local whole = math.floor(c / 100)
  local rest = c - whole * 100
  if rest == 0 then
    return string.format('%.0f', whole)
  elseif rest % 10 == 0 then
    return string.format('%.0f.%d', whole, rest / 10)
  end
  return string.format('%.0f.%02d', whole, rest)
end

-- The version in a bookkeeping value: ~c: version; ~k: version then '+' or '-'; ~o: version|amount|products
-- (amounts and product ids never hold '|'; event ids may).
local function version_in(kind, value)
  if kind == CART then
    return string.sub(value, 1, -2)
  elseif kind == ORDER then
    return string.match(value, '^(.*)|[^|]*|[^|]*$')
  end
  return value
end

---------------------------------------------------------------------------------------------------------- state

local h = {}        -- the fields loaded so far (all, or the ones this event needs), as changed by it
local before = {}   -- field -> its value before this script first changed it (false: absent)

local function load_all()
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do
    h[flat[i]] = flat[i + 1]
  end
end

local function load_fields(fields)
  local values = redis.call('HMGET', key, unpack(fields))
  for i, field in ipairs(fields) do
    h[field] = values[i] or nil
  end
end

-- Loads every bookkeeping field of one kind ('~k:*' ...); call it before changing any of them.
local function load_kind(kind)
  local cursor = '0'
  repeat
    local reply = redis.call('HSCAN', key, cursor, 'MATCH', '~' .. string.char(kind) .. ':*', 'COUNT', 1000)
    cursor = reply[1]
    local flat = reply[2]
    for i = 1, #flat, 2 do
      h[flat[i]] = flat[i + 1]
    end
  until cursor == '0'
end

-- Sets a field (nil deletes it), remembering its first value so that a set-and-undo is no change.
local function set(field, value)
  if h[field] == value then
    return
  end
  if before[field] == nil then
    before[field] = h[field] or false
  end
  h[field] = value
end

local function set_list(field, names)
  set(field, #names > 0 and table.concat(names, ',') or nil)
end

local function call_chunked(command, args)
  for first = 1, #args, CHUNK do
    redis.call(command, key, unpack(args, first, math.min(first + CHUNK - 1, #args)))
  end
end

-- Writes what differs from the hash as it was; publishes the uid if anything did.
local function commit()
  local puts, dels = {}, {}
  for field, old in pairs(before) do
    local now = h[field]
    if (now or false) ~= old then
      if now then
        puts[#puts + 1] = field
        puts[#puts + 1] = now
      else
        dels[#dels + 1] = field
      end
    end
  end
  if #puts == 0 and #dels == 0 then
    return 'UNCHANGED'
  end
  call_chunked('HDEL', dels)
  call_chunked('HSET', puts)
  redis.call('PUBLISH', channel, uid)
  return 'CHANGED'
end

local function erased_before()
  local tombstone = h['~erased']
  return tombstone and not later(version, tombstone)
end

-- The loaded bookkeeping fields of one kind, newest version first; one version (an event marking several names)
-- ties by name. Sorts the millis as numbers (no Lua comparator); only same-millisecond groups need one.
local function newest_first(kind)
  local by_millis, all_millis = {}, {}
  for field, value in pairs(h) do
    local b1, b2, b3 = string.byte(field, 1, 3)
    if b1 == TILDE and b2 == kind and b3 == COLON then
      local ms = millis_of(value)
      local group = by_millis[ms] -- a field, or a list of the fields of one millisecond
      if group == nil then
        by_millis[ms] = field
        all_millis[#all_millis + 1] = ms
      elseif type(group) == 'string' then
        by_millis[ms] = { group, field }
      else
        group[#group + 1] = field
      end
    end
  end
  table.sort(all_millis)
  local fields = {}
  for i = #all_millis, 1, -1 do
    local group = by_millis[all_millis[i]]
    if type(group) == 'string' then
      fields[#fields + 1] = group
    else
      table.sort(group, function(x, y)
        local vx, vy = version_in(kind, h[x]), version_in(kind, h[y])
        if vx ~= vy then
          return later(vx, vy)
        end
        return bytes_before(x, y)
      end)
      for _, field in ipairs(group) do
        fields[#fields + 1] = field
      end
    end
  end
  return fields
end

------------------------------------------------------------------------------------------------- derived fields

-- recent_categories: the newest categories by their ~c: version; at most MAX_CATEGORY_MARKS ~c: fields are kept.
local function rebuild_categories()
  local recent = {}
  for i, field in ipairs(newest_first(CATEGORY)) do
    if i > MAX_CATEGORY_MARKS then
      set(field, nil)
    elseif i <= MAX_RECENT_CATEGORIES then
      recent[i] = string.sub(field, 4)
    end
  end
  set_list('recent_categories', recent)
end

-- cart_items: products whose newest ~k: mark is '+', newest first; cart_updated_at: the newest one's time, absent
-- while the cart is empty. At most MAX_CART_MARKS ~k: fields are kept.
local function rebuild_cart()
  local items, newest = {}, nil
  for i, field in ipairs(newest_first(CART)) do
    local value = h[field]
    if i > MAX_CART_MARKS then
      set(field, nil)
    elseif #items < MAX_CART_ITEMS and string.byte(value, -1) == PLUS then
      items[#items + 1] = string.sub(field, 4)
      newest = newest or millis_of(value)
    end
  end
  set_list('cart_items', items)
  set('cart_updated_at', newest and iso_time(newest) or nil)
end

-- Orders within WINDOW_MS before the newest one are kept (older ones deleted); the purchase fields summarize them.
local function rebuild_orders()
  local orders = newest_first(ORDER)
  local anchor = orders[1] and millis_of(h[orders[1]])
  local count, total, purchased, seen = 0, 0, {}, {}
  for _, field in ipairs(orders) do
    local value = h[field]
    if millis_of(value) < anchor - WINDOW_MS then
      set(field, nil)
    else
      local amount, products = string.match(value, '|([^|]*)|([^|]*)$')
      count = count + 1
      total = total + cents(amount)
      for product in string.gmatch(products, '[^,]+') do
        if not seen[product] and #purchased < MAX_PURCHASED then
          seen[product] = true
          purchased[#purchased + 1] = product
        end
      end
    end
  end
  set('last_purchase_at', anchor and iso_time(anchor) or nil)
  set('orders_365d', count > 0 and tostring(count) or nil)
  set('spend_365d', count > 0 and money(total) or nil)
  set_list('purchased', purchased)
end

------------------------------------------------------------------------------------------------------ shortcuts
-- Most events arrive in order, so a view or a cart add is usually the newest of its kind. Then the list can be
-- updated from the list itself, with exactly the result of a rebuild from all marks, without reading all marks.

-- The mark of the first (newest) name of a list field (loaded if needed); nil if the list is empty, false if that
-- mark is missing (a list this script did not write: rebuild it).
local function first_mark(list_field, prefix)
  local first = h[list_field] and string.match(h[list_field], '^[^,]+')
  if not first then
    return nil
  end
  local mark = prefix .. first
  if h[mark] == nil then
    load_fields({ mark })
  end
  return h[mark] or false
end

-- True if setting this mark cannot push its kind past the cap: it exists already, or the whole hash has fewer
-- fields than the cap.
local function no_drop(mark, cap)
  return h[mark] ~= nil or redis.call('HLEN', key) < cap
end

-- Puts a name first in a list field (removing it further down), keeping at most max names.
local function put_first(list_field, name, max)
  local names = { name }
  for other in string.gmatch(h[list_field] or '', '[^,]+') do
    if other ~= name and #names < max then
      names[#names + 1] = other
    end
  end
  set_list(list_field, names)
end

-- A later mark for a category that drops no mark and is the newest view: the category goes first.
local function category_shortcut(category, mark)
  local newest = first_mark('recent_categories', '~c:')
  if newest == false or (newest and not later(version, newest)) or not no_drop(mark, MAX_CATEGORY_MARKS) then
    return false
  end
  set(mark, version)
  put_first('recent_categories', category, MAX_RECENT_CATEGORIES)
  return true
end

-- A later cart mark that drops no mark, and either puts in a product later than the newest item (it goes first)
-- or takes out one unlisted, or listed in a list that is not full (so no unlisted item moves up).
local function cart_shortcut(product, sign)
  local mark = '~k:' .. product
  if not no_drop(mark, MAX_CART_MARKS) then
    return false
  end
  if sign == '+' then
    local newest = first_mark('cart_items', '~k:')
    if newest == false or (newest and not later(version, version_in(CART, newest))) then
      return false
    end
    set(mark, version .. sign)
    put_first('cart_items', product, MAX_CART_ITEMS)
    set('cart_updated_at', time)
    return true
  end
  local rest, listed = {}, false
  for name in string.gmatch(h['cart_items'] or '', '[^,]+') do
    if name == product then
      listed = true
    else
      rest[#rest + 1] = name
    end
  end
  if not listed then -- not in the cart, or in it but not shown: the list stays
    set(mark, version .. sign)
    return true
  end
  if #rest + 1 >= MAX_CART_ITEMS then
    return false
  end
  local updated = nil
  if rest[1] then
    local first = '~k:' .. rest[1]
    if h[first] == nil then
      load_fields({ first })
    end
    if not h[first] then
      return false
    end
    updated = iso_time(millis_of(h[first]))
  end
  set(mark, version .. sign)
  set_list('cart_items', rest)
  set('cart_updated_at', updated)
  return true
end

------------------------------------------------------------------------------------------------------- handlers

-- Last write wins per field: each field's ~v: holds the version that last wrote (or deleted) it.
local function apply_fields()
  local n = tonumber(ARGV[7])
  local changes = {}
  for i = 1, n do
    changes[#changes + 1] = { ARGV[6 + 2 * i], ARGV[7 + 2 * i] }
  end
  for i = 8 + 2 * n, #ARGV do
    changes[#changes + 1] = { ARGV[i], false }
  end
  local needed = { '~erased' }
  for _, c in ipairs(changes) do
    needed[#needed + 1] = c[1]
    needed[#needed + 1] = '~v:' .. c[1]
  end
  load_fields(needed)
  if erased_before() then
    return 'ERASED_BEFORE'
  end
  for _, c in ipairs(changes) do
    local mark = '~v:' .. c[1]
    if later(version, h[mark]) then
      set(mark, version)
      set(c[1], c[2] or nil)
    end
  end
  return commit()
end

local function apply_page_view()
  local category = ARGV[7]
  local mark = '~c:' .. category
  load_fields({ '~erased', '~v:last_view', 'last_view_at', 'last_view_category', mark, 'recent_categories' })
  if erased_before() then
    return 'ERASED_BEFORE'
  end
  if later(version, h['~v:last_view']) then
    set('~v:last_view', version)
    set('last_view_at', time)
    set('last_view_category', category)
  end
  if later(version, h[mark]) and not category_shortcut(category, mark) then
    load_kind(CATEGORY)
    set(mark, version)
    rebuild_categories()
  end
  return commit()
end

-- Marks products in ('+') or out of ('-') the cart where this event is later than their mark, then rebuilds the
-- cart. The caller has loaded the products' marks and the cart fields.
local function mark_cart(products, sign)
  local changed = {}
  for _, product in ipairs(products) do
    local current = h['~k:' .. product]
    if not current or later(version, version_in(CART, current)) then
      changed[#changed + 1] = '~k:' .. product
    end
  end
  if #changed > 0 then
    load_kind(CART)
    for _, mark in ipairs(changed) do
      set(mark, version .. sign)
    end
    rebuild_cart()
  end
end

local function apply_cart(sign)
  local product = ARGV[7]
  local mark = '~k:' .. product
  load_fields({ '~erased', mark, unpack(CART_FIELDS) })
  if erased_before() then
    return 'ERASED_BEFORE'
  end
  if later(version, h[mark] and version_in(CART, h[mark])) and not cart_shortcut(product, sign) then
    mark_cart({ product }, sign)
  end
  return commit()
end

-- The cart marks apply whatever happens to the order, so that they do not depend on which orders came first.
-- The order is recorded unless a later event for it is, or it is older than the window before the newest order.
local function apply_purchase()
  local order, amount, products = ARGV[7], ARGV[8], {}
  local field = '~o:' .. order
  local needed = { '~erased', field }
  for _, f in ipairs(CART_FIELDS) do
    needed[#needed + 1] = f
  end
  for i = 9, #ARGV do
    products[#products + 1] = ARGV[i]
    needed[#needed + 1] = '~k:' .. ARGV[i]
  end
  load_fields(needed)
  if erased_before() then
    return 'ERASED_BEFORE'
  end
  mark_cart(products, '-')
  if later(version, h[field] and version_in(ORDER, h[field])) then
    load_fields(ORDER_FIELDS)
    load_kind(ORDER)
    local newest = nil
    for f, value in pairs(h) do
      local b1, b2, b3 = string.byte(f, 1, 3)
      if b1 == TILDE and b2 == ORDER and b3 == COLON then
        newest = math.max(newest or 0, millis_of(value))
      end
    end
    if not newest or millis >= newest - WINDOW_MS then
      set(field, version .. '|' .. amount .. '|' .. table.concat(products, ','))
      rebuild_orders()
    end
  end
  return commit()
end

-- Deletes everything written by events up to this one and leaves the tombstone; later data stays (it may have
-- arrived first). When the erasure is the newest event, as it normally is, only the tombstone is left.
local function apply_erasure()
  load_all()
  if erased_before() then
    return 'ERASED_BEFORE'
  end
  local fields = {}
  for field in pairs(h) do
    fields[#fields + 1] = field
  end
  -- bookkeeping fields: kept only if written by a later event
  for _, field in ipairs(fields) do
    local b1, kind, b3 = string.byte(field, 1, 3)
    if b1 == TILDE and field ~= '~erased' then
      local known = b3 == COLON and (kind == FIELD or kind == CATEGORY or kind == CART or kind == ORDER)
      if not (known and later(version_in(kind, h[field]), version)) then
        set(field, nil)
      end
    end
  end
  -- visible fields: kept while the version mark covering them is; derived ones are rebuilt below
  local derived = {
    recent_categories = true, cart_items = true, cart_updated_at = true,
    last_purchase_at = true, orders_365d = true, spend_365d = true, purchased = true,
  }
  for _, field in ipairs(fields) do
    if string.byte(field, 1) ~= TILDE and not derived[field] then
      local cover = (field == 'last_view_at' or field == 'last_view_category') and '~v:last_view' or '~v:' .. field
      if not h[cover] then
        set(field, nil)
      end
    end
  end
  set('~erased', version)
  rebuild_categories()
  rebuild_cart()
  rebuild_orders()
  return commit()
end

------------------------------------------------------------------------------------------------------- dispatch

if event_type == 'page_view' then
  return apply_page_view()
elseif event_type == 'cart_add' then
  return apply_cart('+')
elseif event_type == 'cart_remove' then
  return apply_cart('-')
elseif event_type == 'purchase' then
  return apply_purchase()
elseif event_type == 'attribute' or event_type == 'consent' then
  return apply_fields()
elseif event_type == 'erasure' then
  return apply_erasure()
end
return redis.error_reply('ERR unknown event type ' .. tostring(event_type))
