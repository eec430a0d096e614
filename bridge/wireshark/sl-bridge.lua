-- Wireshark / tshark dissector for sl-bridge captures (`sl-bridge run|demo --pcap FILE`).
--
-- Each pcap record (link type LINKTYPE_USER0 = 147 by default) holds an sl-bridge capture header
-- (the PduEnvelope fields of proto/bridge.proto plus the direction) and then the groupcast PDCP
-- PDU of sl-bridge's docs/protocol.md 4.1. Layout: src/capture/record.ts, docs/captures-shim.md.
-- The PDU body is ciphered; `sl-bridge pdu decode --pcap FILE --keylog FILE` deciphers it.
--
-- Use:
--   wireshark -X lua_script:bridge/wireshark/sl-bridge.lua capture.pcap
--   tshark -X lua_script:bridge/wireshark/sl-bridge.lua -r capture.pcap \
--          -T fields -e slbridge.pgk_index -e slbridge.ptk_id -e slbridge.sn
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
local HEADER_V1_BYTES = 24
local PDCP_HEADER_BYTES = 5
local MAC_I_BYTES = 4

local f = {
  -- capture header (the envelope)
  version = ProtoField.uint8("slbridge.version", "Capture header version"),
  header_length = ProtoField.uint8("slbridge.header_length", "Capture header length"),
  direction = ProtoField.uint8("slbridge.direction", "Direction", base.DEC, DIRECTIONS),
  cast_type = ProtoField.uint8("slbridge.cast_type", "Cast type", base.DEC, CAST_TYPES),
  l2_src = ProtoField.uint24("slbridge.l2_src", "L2 source ID (sender GMI)", base.HEX),
  l2_dst = ProtoField.uint24("slbridge.l2_dst", "L2 destination ID (Group ID)", base.HEX),
  flags = ProtoField.uint8("slbridge.flags", "Flags", base.HEX),
  flag_envelope = ProtoField.bool("slbridge.flags.envelope_fields", "Envelope seq / tx time known", 8, nil, 0x01),
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
}
slb.fields = {
  f.version, f.header_length, f.direction, f.cast_type, f.l2_src, f.l2_dst, f.flags, f.flag_envelope,
  f.seq, f.tx_time_ns, f.tx_time, f.pdu, f.pdu_length, f.sdu_type, f.pgk_index, f.ptk_id, f.sn,
  f.count, f.ciphered, f.ciphered_length, f.mac_i,
}

local ef_malformed = ProtoExpert.new("slbridge.malformed", "Malformed sl-bridge capture record",
  expert.group.MALFORMED, expert.severity.ERROR)
local ef_reserved = ProtoExpert.new("slbridge.reserved_sdu_type", "Reserved SDU Type (receivers drop it)",
  expert.group.PROTOCOL, expert.severity.WARN)
slb.experts = { ef_malformed, ef_reserved }

slb.prefs.user_dlt = Pref.uint("User DLT (0-15)", 0, "sl-bridge records are on LINKTYPE_USER<n> (147 + n)")
slb.prefs.mac_i = Pref.bool("PDUs carry a MAC-I", true, "integrity on: the last 4 octets are the (ciphered) MAC-I")

local function id24(v) return string.format("%06x", v) end

function slb.dissector(tvb, pinfo, tree)
  local len = tvb:len()
  pinfo.cols.protocol = "SL-BRIDGE"
  local root = tree:add(slb, tvb(), "sl-bridge capture record")
  if len < 2 then
    root:add_proto_expert_info(ef_malformed, "record shorter than 2 octets")
    return len
  end
  local version = tvb(0, 1):uint()
  local hlen = tvb(1, 1):uint()
  local env = root:add(slb, tvb(0, math.min(len, math.max(hlen, 2))), "Envelope (capture header)")
  env:add(f.version, tvb(0, 1))
  env:add(f.header_length, tvb(1, 1))
  if version ~= 1 or hlen < HEADER_V1_BYTES or len < hlen then
    env:add_proto_expert_info(ef_malformed,
      string.format("unsupported version %d or header length %d (record %d octets)", version, hlen, len))
    pinfo.cols.info = "malformed sl-bridge record"
    return len
  end
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
  local known = tvb(10, 1):uint() % 2 == 1 -- flags bit 0 (plain arithmetic: no bit library needed)
  if known then
    env:add(f.seq, tvb(12, 4))
    env:add(f.tx_time_ns, tvb(16, 8))
    local ns = tvb(16, 8):uint64()
    local secs = (ns / 1000000000):tonumber()
    local nsecs = (ns % 1000000000):tonumber()
    env:add(f.tx_time, tvb(16, 8), NSTime.new(secs, nsecs)):set_generated()
  end
  env:append_text(string.format(", %s, %s -> %s, %s", DIRECTIONS[dir] or "?", id24(src), id24(dst), CAST_TYPES[cast] or "?"))

  local pdu_len = len - hlen
  local info = string.format("%s %s -> %s", dir == 1 and "rx" or "tx", id24(src), id24(dst))
  if cast ~= 2 then info = info .. " " .. (CAST_TYPES[cast] or "cast?") end
  if pdu_len < PDCP_HEADER_BYTES then
    root:add_proto_expert_info(ef_malformed, string.format("PDU of %d octets is shorter than the 5-octet header", pdu_len))
    pinfo.cols.info = info .. " malformed PDU"
    return len
  end
  local p = tvb(hlen, pdu_len)
  local pdu_tree = root:add(f.pdu, p)
  pdu_tree:set_text(string.format("PDCP PDU (%d octets)", pdu_len))
  pdu_tree:add(f.pdu_length, pdu_len):set_generated()
  local b0 = tvb(hlen, 1):uint()
  local sdu_type = math.floor(b0 / 32)
  local pgk_index = b0 % 32
  local ptk_id = tvb(hlen + 1, 2):uint()
  local sn = tvb(hlen + 3, 2):uint()
  local st = pdu_tree:add(f.sdu_type, tvb(hlen, 1))
  if sdu_type > 4 then st:add_proto_expert_info(ef_reserved) end
  pdu_tree:add(f.pgk_index, tvb(hlen, 1))
  pdu_tree:add(f.ptk_id, tvb(hlen + 1, 2))
  pdu_tree:add(f.sn, tvb(hlen + 3, 2))
  pdu_tree:add(f.count, tvb(hlen + 1, 4), ptk_id * 65536 + sn):set_generated()
  local ciphered_len = pdu_len - PDCP_HEADER_BYTES
  pdu_tree:add(f.ciphered_length, ciphered_len):set_generated()
  if ciphered_len > 0 then
    pdu_tree:add(f.ciphered, tvb(hlen + PDCP_HEADER_BYTES, ciphered_len))
    if slb.prefs.mac_i and ciphered_len >= MAC_I_BYTES then
      pdu_tree:add(f.mac_i, tvb(len - MAC_I_BYTES, MAC_I_BYTES))
    end
  end
  pinfo.cols.info = string.format("%s %s PGK idx %d PTK %d SN %d len %d", info, SDU_TYPES[sdu_type], pgk_index, ptk_id, sn, pdu_len)
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
