-- Wireshark / tshark dissector for sl-bridge captures (`sl-bridge run|demo --pcap FILE`) and for
-- the deciphered captures `sl-bridge pdu decode --pcap FILE --keylog KEYS --write-pcap OUT` writes.
--
-- Each pcap record (link type LINKTYPE_USER0 = 147 by default) starts with octet 0 saying which:
--   1  a capture record: the capture header (the PduEnvelope fields of proto/bridge.proto plus the
--      direction) and then the groupcast PDCP PDU of docs/protocol.md 4.1, its body ciphered.
--      Layout: src/capture/record.ts.
--   2  a deciphered record: the same envelope fields, the PDCP header, the decode result (MAC-I
--      verified / dropped and why ...), and the SDU in clear; a RangingMessage SDU (the bundled
--      ranging application's payload, proto/bridge.proto) is decoded field by field.
--      Layout: src/capture/deciphered-record.ts.
-- docs/captures-shim.md documents both. Source and Destination columns show the L2 source ID
-- (the sender's GMI) and the L2 destination ID (the Group ID) as 6 hex digits.
--
-- Use:
--   wireshark -X lua_script:bridge/wireshark/sl-bridge.lua capture.pcap
--   tshark -X lua_script:bridge/wireshark/sl-bridge.lua -r capture.pcap \
--          -T fields -e slbridge.pgk_index -e slbridge.ptk_id -e slbridge.sn
--   tshark -X lua_script:bridge/wireshark/sl-bridge.lua -r clear.pcap \
--          -T fields -e slbridge.result -e slbridge.ranging.kind -e slbridge.ranging.request_seq
-- or copy this file into the personal Lua plugins folder (Help > About > Folders).
--
-- Preferences (Edit > Preferences > Protocols > SL-BRIDGE, or tshark -o slbridge.<name>:<value>):
--   user_dlt  which LINKTYPE_USERn (0..15) carries sl-bridge records (default 0 = DLT 147)
--   mac_i     the PDUs end with a 4-octet MAC-I (integrity on; off for nia none / lte-prose)

local slb = Proto("slbridge", "sl-bridge sidelink groupcast capture")

local DIRECTIONS = { [0] = "tx (to the stack)", [1] = "rx (from the stack)" }
local CAST_TYPES = { [1] = "broadcast", [2] = "groupcast", [3] = "unicast" }
local SDU_TYPES = {
  [0] = "IP", [1] = "Non-IP", [2] = "Ethernet", [3] = "Unstructured", [4] = "ARP",
  [5] = "Reserved", [6] = "Reserved", [7] = "Reserved",
}
-- Octet 0 of a record.
local FORMAT_CAPTURE = 1
local FORMAT_DECIPHERED = 2
local FORMATS = { [1] = "capture record (PDU as captured)", [2] = "deciphered record (pdu decode --write-pcap)" }
-- Deciphered records: octet 11 and octet 29.
local RESULTS = {
  [0] = "deciphered, MAC-I verified",
  [1] = "deciphered, identity block verified (integrity off)",
  [2] = "deciphered, not verified (lte-prose: nothing to check)",
  [3] = "dropped",
  [4] = "not deciphered",
}
local RESULT_DROPPED = 3
local CONTENTS = { [0] = "opaque", [1] = "RangingMessage (proto/bridge.proto)" }
local CONTENT_RANGING = 1
local RANGING_KINDS = { [0] = "unspecified", [1] = "request", [2] = "response" }

local HEADER_V1_BYTES = 24
local DECIPHERED_FIXED_BYTES = 40
local PDCP_HEADER_BYTES = 5
local MAC_I_BYTES = 4

local f = {
  -- capture header (the envelope)
  version = ProtoField.uint8("slbridge.version", "Record format", base.DEC, FORMATS),
  header_length = ProtoField.uint8("slbridge.header_length", "Capture header length"),
  direction = ProtoField.uint8("slbridge.direction", "Direction", base.DEC, DIRECTIONS),
  cast_type = ProtoField.uint8("slbridge.cast_type", "Cast type", base.DEC, CAST_TYPES),
  l2_src = ProtoField.uint24("slbridge.l2_src", "L2 source ID (sender GMI)", base.HEX),
  l2_dst = ProtoField.uint24("slbridge.l2_dst", "L2 destination ID (Group ID)", base.HEX),
  flags = ProtoField.uint8("slbridge.flags", "Flags", base.HEX),
  flag_envelope = ProtoField.bool("slbridge.flags.envelope_fields", "Envelope seq / tx time known", 8, nil, 0x01),
  flag_pdcp_header = ProtoField.bool("slbridge.flags.pdcp_header", "PDCP header present", 8, nil, 0x02),
  seq = ProtoField.uint32("slbridge.seq", "Envelope sequence number"),
  tx_time_ns = ProtoField.uint64("slbridge.tx_time_ns", "Envelope tx time (ns since epoch)"),
  tx_time = ProtoField.absolute_time("slbridge.tx_time", "Envelope tx time", base.UTC),
  -- PDCP PDU (docs/protocol.md 4.1)
  pdu = ProtoField.bytes("slbridge.pdu", "PDCP PDU"),
  pdu_length = ProtoField.uint32("slbridge.pdu_length", "PDU length"),
  sdu_type = ProtoField.uint8("slbridge.sdu_type", "SDU Type", base.DEC, SDU_TYPES, 0xE0),
  pgk_index = ProtoField.uint8("slbridge.pgk_index", "PGK Index", base.DEC, nil, 0x1F),
  ptk_id = ProtoField.uint16("slbridge.ptk_id", "PTK ID", base.DEC),
  sn = ProtoField.uint16("slbridge.sn", "SN", base.DEC),
  count = ProtoField.uint32("slbridge.count", "COUNT (PTK ID << 16 | SN)", base.HEX),
  ciphered = ProtoField.bytes("slbridge.ciphered", "Ciphered part (identity block, SDU, MAC-I)"),
  ciphered_length = ProtoField.uint32("slbridge.ciphered_length", "Ciphered length"),
  mac_i = ProtoField.uint32("slbridge.mac_i", "MAC-I (ciphered)", base.HEX),
  -- deciphered records (pdu decode --write-pcap)
  result = ProtoField.uint8("slbridge.result", "Result", base.DEC, RESULTS),
  reason = ProtoField.string("slbridge.reason", "Reason"),
  pgk_id = ProtoField.uint32("slbridge.pgk_id", "PGK ID (deciphered with)", base.DEC),
  source_frame = ProtoField.uint32("slbridge.source_frame", "Frame in the decoded capture", base.DEC),
  content = ProtoField.uint8("slbridge.content", "SDU content", base.DEC, CONTENTS),
  deciphered_sdu_type = ProtoField.uint8("slbridge.deciphered_sdu_type", "SDU type (deciphered, TS 38.323 code)", base.DEC, SDU_TYPES),
  sdu = ProtoField.bytes("slbridge.sdu", "SDU (deciphered)"),
  sdu_length = ProtoField.uint32("slbridge.sdu_length", "SDU length"),
  -- RangingMessage (proto/bridge.proto), protobuf
  r_kind = ProtoField.uint32("slbridge.ranging.kind", "Kind", base.DEC, RANGING_KINDS),
  r_requester_id = ProtoField.uint32("slbridge.ranging.requester_id", "Requester ID", base.DEC),
  r_request_seq = ProtoField.uint32("slbridge.ranging.request_seq", "Request sequence number", base.DEC),
  r_request_time_ns = ProtoField.uint64("slbridge.ranging.request_time_ns", "Request time (ns since epoch)"),
  r_request_time = ProtoField.absolute_time("slbridge.ranging.request_time", "Request time", base.UTC),
  r_responder_id = ProtoField.uint32("slbridge.ranging.responder_id", "Responder ID", base.DEC),
  r_response_time_ns = ProtoField.uint64("slbridge.ranging.response_time_ns", "Response time (ns since epoch)"),
  r_response_time = ProtoField.absolute_time("slbridge.ranging.response_time", "Response time", base.UTC),
  r_padding = ProtoField.bytes("slbridge.ranging.padding", "Padding"),
  r_padding_length = ProtoField.uint32("slbridge.ranging.padding_length", "Padding length"),
  r_unknown = ProtoField.bytes("slbridge.ranging.unknown_field", "Unknown field"),
}
slb.fields = {
  f.version, f.header_length, f.direction, f.cast_type, f.l2_src, f.l2_dst, f.flags, f.flag_envelope,
  f.flag_pdcp_header, f.seq, f.tx_time_ns, f.tx_time, f.pdu, f.pdu_length, f.sdu_type, f.pgk_index,
  f.ptk_id, f.sn, f.count, f.ciphered, f.ciphered_length, f.mac_i,
  f.result, f.reason, f.pgk_id, f.source_frame, f.content, f.deciphered_sdu_type, f.sdu, f.sdu_length,
  f.r_kind, f.r_requester_id, f.r_request_seq, f.r_request_time_ns, f.r_request_time, f.r_responder_id,
  f.r_response_time_ns, f.r_response_time, f.r_padding, f.r_padding_length, f.r_unknown,
}

local ef_malformed = ProtoExpert.new("slbridge.malformed", "Malformed sl-bridge capture record",
  expert.group.MALFORMED, expert.severity.ERROR)
local ef_reserved = ProtoExpert.new("slbridge.reserved_sdu_type", "Reserved SDU Type (receivers drop it)",
  expert.group.PROTOCOL, expert.severity.WARN)
local ef_dropped = ProtoExpert.new("slbridge.dropped", "PDU dropped by the receive path",
  expert.group.SECURITY, expert.severity.WARN)
local ef_unverified = ProtoExpert.new("slbridge.unverified", "Deciphered without integrity check",
  expert.group.SECURITY, expert.severity.NOTE)
local ef_bad_ranging = ProtoExpert.new("slbridge.ranging.malformed", "Malformed RangingMessage",
  expert.group.MALFORMED, expert.severity.ERROR)
slb.experts = { ef_malformed, ef_reserved, ef_dropped, ef_unverified, ef_bad_ranging }

slb.prefs.user_dlt = Pref.uint("User DLT (0-15)", 0, "sl-bridge records are on LINKTYPE_USER<n> (147 + n)")
slb.prefs.mac_i = Pref.bool("PDUs carry a MAC-I", true, "integrity on: the last 4 octets are the (ciphered) MAC-I")

-- 24-bit IDs as 6 hex digits, like the rest of sl-bridge (src/pkmf/identity.ts hex24).
local function id24(v) return string.format("%06x", v) end

local function ns_time(ns)
  return NSTime.new((ns / 1000000000):tonumber(), (ns % 1000000000):tonumber())
end

-- Octets 2-23, common to both record formats. Returns direction, cast type, L2 source, L2 destination.
local function dissect_envelope(tvb, env)
  local dir = tvb(2, 1):uint()
  local cast = tvb(3, 1):uint()
  local src = tvb(4, 3):uint()
  local dst = tvb(7, 3):uint()
  env:add(f.direction, tvb(2, 1))
  env:add(f.cast_type, tvb(3, 1))
  env:add(f.l2_src, tvb(4, 3))
  env:add(f.l2_dst, tvb(7, 3))
  local flags_item = env:add(f.flags, tvb(10, 1))
  flags_item:add(f.flag_envelope, tvb(10, 1))
  if tvb(0, 1):uint() == FORMAT_DECIPHERED then flags_item:add(f.flag_pdcp_header, tvb(10, 1)) end
  local known = tvb(10, 1):uint() % 2 == 1 -- flags bit 0 (plain arithmetic: no bit library needed)
  if known then
    env:add(f.seq, tvb(12, 4))
    env:add(f.tx_time_ns, tvb(16, 8))
    env:add(f.tx_time, tvb(16, 8), ns_time(tvb(16, 8):uint64())):set_generated()
  end
  env:append_text(string.format(", %s, %s -> %s, %s", DIRECTIONS[dir] or "?", id24(src), id24(dst), CAST_TYPES[cast] or "?"))
  return dir, cast, src, dst
end

-- The 5-octet PDCP header at `off`. Returns a summary for the Info column, naming the SDU type
-- `sdu_name` when given (deciphered records know it), else after the header's code.
local function dissect_pdcp_header(tvb, off, tree, sdu_name)
  local b0 = tvb(off, 1):uint()
  local sdu_type = math.floor(b0 / 32)
  local pgk_index = b0 % 32
  local ptk_id = tvb(off + 1, 2):uint()
  local sn = tvb(off + 3, 2):uint()
  local st = tree:add(f.sdu_type, tvb(off, 1))
  if sdu_type > 4 then st:add_proto_expert_info(ef_reserved) end
  tree:add(f.pgk_index, tvb(off, 1))
  tree:add(f.ptk_id, tvb(off + 1, 2))
  tree:add(f.sn, tvb(off + 3, 2))
  tree:add(f.count, tvb(off + 1, 4), ptk_id * 65536 + sn):set_generated()
  return string.format("%s PGK idx %d PTK %d SN %d", sdu_name or SDU_TYPES[sdu_type], pgk_index, ptk_id, sn)
end

-- The PDCP PDU as captured, from `off` to the end. Returns a summary, or nil when it is too short.
local function dissect_pdu(tvb, off, root)
  local len = tvb:len()
  local pdu_len = len - off
  if pdu_len < PDCP_HEADER_BYTES then
    root:add_proto_expert_info(ef_malformed, string.format("PDU of %d octets is shorter than the 5-octet header", pdu_len))
    return nil
  end
  local pdu_tree = root:add(f.pdu, tvb(off, pdu_len))
  pdu_tree:set_text(string.format("PDCP PDU (%d octets)", pdu_len))
  pdu_tree:add(f.pdu_length, pdu_len):set_generated()
  local summary = dissect_pdcp_header(tvb, off, pdu_tree)
  local ciphered_len = pdu_len - PDCP_HEADER_BYTES
  pdu_tree:add(f.ciphered_length, ciphered_len):set_generated()
  if ciphered_len > 0 then
    pdu_tree:add(f.ciphered, tvb(off + PDCP_HEADER_BYTES, ciphered_len))
    if slb.prefs.mac_i and ciphered_len >= MAC_I_BYTES then
      pdu_tree:add(f.mac_i, tvb(len - MAC_I_BYTES, MAC_I_BYTES))
    end
  end
  return string.format("%s len %d", summary, pdu_len)
end

-- Protobuf varint at `off` (before `limit`): value modulo 2^32 (what a uint32 field keeps), octets.
-- nil when it runs past `limit` or over 10 octets.
local function read_varint(tvb, off, limit)
  local value, scale, n = 0, 1, 0
  while true do
    if off + n >= limit or n >= 10 then return nil, n end
    local b = tvb(off + n, 1):uint()
    n = n + 1
    -- Only the first 5 octets reach bit 31; doubles stay exact there.
    if n <= 5 then value = value + (b % 128) * scale; scale = scale * 128 end
    if b < 128 then return value % 4294967296, n end
  end
end

local VARINT_FIELDS = { [1] = f.r_kind, [2] = f.r_requester_id, [3] = f.r_request_seq, [5] = f.r_responder_id }
local TIME_FIELDS = { [4] = { f.r_request_time_ns, f.r_request_time }, [6] = { f.r_response_time_ns, f.r_response_time } }
-- The wire type of each RangingMessage field (0 varint, 1 fixed64, 2 length-delimited).
local WIRE_TYPES = { [1] = 0, [2] = 0, [3] = 0, [4] = 1, [5] = 0, [6] = 1, [7] = 2 }

-- A RangingMessage (proto/bridge.proto) in `tvb` (its own buffer). Fields a sender left out have
-- their proto3 default and are shown as generated. Returns a summary for the Info column.
local function dissect_ranging(tvb, tree)
  local len = tvb:len()
  local values = {}
  local off = 0
  while off < len do
    local tag, n = read_varint(tvb, off, len)
    if tag == nil then
      tree:add_proto_expert_info(ef_bad_ranging, string.format("field tag at octet %d runs past the end", off))
      break
    end
    local field, wire_type = math.floor(tag / 8), tag % 8
    local start = off
    off = off + n
    local item_len -- octets of the value after the tag
    if wire_type == 0 then
      local v, m = read_varint(tvb, off, len)
      if v == nil then
        tree:add_proto_expert_info(ef_bad_ranging, string.format("field %d: varint runs past the end", field))
        break
      end
      item_len = m
      if VARINT_FIELDS[field] ~= nil then
        tree:add(VARINT_FIELDS[field], tvb(start, n + m), v)
        values[field] = v
      end
    elseif wire_type == 1 then
      item_len = 8
      if off + 8 > len then
        tree:add_proto_expert_info(ef_bad_ranging, string.format("field %d: fixed64 runs past the end", field))
        break
      end
      local t = TIME_FIELDS[field]
      if t ~= nil then
        local ns = tvb(off, 8):le_uint64()
        tree:add_le(t[1], tvb(off, 8))
        tree:add(t[2], tvb(off, 8), ns_time(ns)):set_generated()
        values[field] = ns
      end
    elseif wire_type == 2 then
      local l, m = read_varint(tvb, off, len)
      if l == nil or off + m + l > len then
        tree:add_proto_expert_info(ef_bad_ranging, string.format("field %d: length runs past the end", field))
        break
      end
      item_len = m + l
      if field == 7 then
        if l > 0 then tree:add(f.r_padding, tvb(off + m, l)) end
        tree:add(f.r_padding_length, tvb(start, n + m + l), l)
        values[7] = l
      end
    elseif wire_type == 5 then
      item_len = 4
      if off + 4 > len then
        tree:add_proto_expert_info(ef_bad_ranging, string.format("field %d: fixed32 runs past the end", field))
        break
      end
    else
      tree:add_proto_expert_info(ef_bad_ranging, string.format("field %d: wire type %d not supported", field, wire_type))
      break
    end
    local expected = WIRE_TYPES[field]
    if expected ~= wire_type then
      local u = tree:add(f.r_unknown, tvb(start, n + item_len))
      u:set_text(string.format("Unknown field %d (wire type %d, %d octets)", field, wire_type, n + item_len))
      if expected ~= nil then u:add_proto_expert_info(ef_bad_ranging, string.format("field %d has wire type %d", field, wire_type)) end
    end
    off = off + item_len
  end
  -- proto3 defaults of the fields not on the wire, in field order
  for field = 1, 7 do
    if values[field] == nil then
      if VARINT_FIELDS[field] ~= nil then tree:add(VARINT_FIELDS[field], 0):set_generated()
      elseif TIME_FIELDS[field] ~= nil then tree:add(TIME_FIELDS[field][1], UInt64.new(0)):set_generated()
      else tree:add(f.r_padding_length, 0):set_generated() end
    end
  end
  local kind = values[1] or 0
  tree:append_text(string.format(": %s", RANGING_KINDS[kind] or tostring(kind)))
  local s = string.format("RangingMessage %s requester %d seq %d", RANGING_KINDS[kind] or tostring(kind), values[2] or 0, values[3] or 0)
  if kind == 2 then s = s .. string.format(" responder %d", values[5] or 0) end
  return s
end

-- Format 2 (src/capture/deciphered-record.ts), after the envelope. Returns the Info text after the IDs.
local function dissect_deciphered(tvb, root, hlen)
  local len = tvb:len()
  local result = tvb(11, 1):uint()
  local reason_len = tvb(31, 1):uint()
  local d = root:add(slb, tvb(11, 1), "Decode result (sl-bridge pdu decode)")
  local result_item = d:add(f.result, tvb(11, 1))
  if reason_len > 0 then d:add(f.reason, tvb(DECIPHERED_FIXED_BYTES, reason_len)) end
  d:add(f.source_frame, tvb(36, 4))
  local reason = reason_len > 0 and tvb(DECIPHERED_FIXED_BYTES, reason_len):string() or ""
  if result > RESULT_DROPPED then
    if not RESULTS[result] then result_item:add_proto_expert_info(ef_malformed, string.format("unknown result %d", result)) end
    d:append_text(": not deciphered (" .. reason .. ")")
    local s = dissect_pdu(tvb, hlen, root)
    return (s or "malformed PDU") .. " not deciphered: " .. reason
  end
  if result == RESULT_DROPPED then
    result_item:add_proto_expert_info(ef_dropped, "PDU dropped: " .. reason)
    d:append_text(": dropped (" .. reason .. ")")
    local s = dissect_pdu(tvb, hlen, root)
    return (s or "malformed PDU") .. " dropped: " .. reason
  end
  -- deciphered
  if result == 2 then result_item:add_proto_expert_info(ef_unverified) end
  d:append_text(": " .. RESULTS[result])
  d:add(f.pgk_id, tvb(32, 4))
  -- The SDU type as deciphered: profile lte-prose's header carries LTE codes (TS 36.323), not these.
  d:add(f.deciphered_sdu_type, tvb(30, 1))
  local content = tvb(29, 1):uint()
  d:add(f.content, tvb(29, 1))
  local sdu_name = SDU_TYPES[tvb(30, 1):uint()] or "?"
  local summary = sdu_name
  if math.floor(tvb(10, 1):uint() / 2) % 2 == 1 then -- flags bit 1: the PDCP header is there
    local h = root:add(slb, tvb(24, PDCP_HEADER_BYTES), "PDCP header (as captured)")
    summary = dissect_pdcp_header(tvb, 24, h, sdu_name)
  end
  local sdu_len = len - hlen
  if sdu_len == 0 then
    root:add(f.sdu_length, 0):set_generated()
    return summary .. " deciphered, empty SDU"
  end
  local sdu_tree = root:add(f.sdu, tvb(hlen, sdu_len))
  sdu_tree:set_text(string.format("SDU (deciphered, %d octets)", sdu_len))
  sdu_tree:add(f.sdu_length, sdu_len):set_generated()
  if content == CONTENT_RANGING then
    local r = sdu_tree:add(slb, tvb(hlen, sdu_len), "RangingMessage")
    return summary .. " deciphered: " .. dissect_ranging(tvb(hlen, sdu_len):tvb(), r)
  end
  return string.format("%s deciphered, %d octets", summary, sdu_len)
end

function slb.dissector(tvb, pinfo, tree)
  local len = tvb:len()
  pinfo.cols.protocol = "SL-BRIDGE"
  local root = tree:add(slb, tvb(), "sl-bridge capture record")
  if len < 2 then
    root:add_proto_expert_info(ef_malformed, "record shorter than 2 octets")
    return len
  end
  local format = tvb(0, 1):uint()
  local hlen = tvb(1, 1):uint()
  local env = root:add(slb, tvb(0, math.min(len, math.max(hlen, 2))), "Envelope (capture header)")
  env:add(f.version, tvb(0, 1))
  env:add(f.header_length, tvb(1, 1))
  local min_hlen = HEADER_V1_BYTES
  if format == FORMAT_DECIPHERED then
    min_hlen = DECIPHERED_FIXED_BYTES
    if len >= DECIPHERED_FIXED_BYTES then min_hlen = DECIPHERED_FIXED_BYTES + tvb(31, 1):uint() end
  end
  if (format ~= FORMAT_CAPTURE and format ~= FORMAT_DECIPHERED) or hlen < min_hlen or len < hlen then
    env:add_proto_expert_info(ef_malformed,
      string.format("unsupported format %d or header length %d (record %d octets)", format, hlen, len))
    pinfo.cols.info = "malformed sl-bridge record"
    return len
  end
  local dir, cast, src, dst = dissect_envelope(tvb, env)
  pinfo.cols.src = id24(src)
  pinfo.cols.dst = id24(dst)

  local info = string.format("%s %s -> %s", dir == 1 and "rx" or "tx", id24(src), id24(dst))
  if cast ~= 2 then info = info .. " " .. (CAST_TYPES[cast] or "cast?") end
  if format == FORMAT_DECIPHERED then
    pinfo.cols.info = info .. " " .. dissect_deciphered(tvb, root, hlen)
    return len
  end
  local s = dissect_pdu(tvb, hlen, root)
  pinfo.cols.info = info .. " " .. (s or "malformed PDU")
  return len
end

-- Register on the user DLT chosen in the preferences (wtap encapsulations USER0..USER15 are
-- consecutive). This takes the DLT away from the generic "user_dlts" table for that link type only.
local encap_table = DissectorTable.get("wtap_encap")
local registered_dlt = nil
local function register()
  local n = slb.prefs.user_dlt
  if n > 15 then n = 0 end
  if registered_dlt == n then return end
  if registered_dlt ~= nil then encap_table:remove(wtap_encaps.USER0 + registered_dlt, slb) end
  encap_table:add(wtap_encaps.USER0 + n, slb)
  registered_dlt = n
end
function slb.prefs_changed() register() end
register()
