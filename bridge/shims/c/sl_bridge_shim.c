/*
 * sl-bridge stack shim: see sl_bridge_shim.h for the contract and docs/captures-shim.md for where
 * a stack calls it.
 *
 * Structure: the transport (DEALER socket, I/O thread, bounded send queue with eventfd wake-up,
 * socket monitor, drop-and-count) is the framed link of slb_link.{h,c}, shared with the OAI glue's
 * application client; this file is the PduEnvelope codec on top of it: the caller's threads check
 * and encode envelopes (seq taken in queue order), the link's I/O thread hands received frames to
 * handle_frame, which checks them and runs on_receive.
 */
#define _GNU_SOURCE
#include "sl_bridge_shim.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.pb-c.h"
#include "slb_link.h"

#define MAX_L2_ID 0xFFFFFFu
#define ENVELOPE_MAX_PDU_BYTES 65535u

typedef Slbridge__Bridge__V1__PduEnvelope envelope_t;

struct slb_shim {
  slb_shim_config cfg; /* endpoint NULL: the link keeps its own copy */
  slb_link *link;
  _Atomic uint64_t received; /* the codec's counter; the link counts the rest (slb_link_counters) */
};

static void count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void slb_shim_config_init(slb_shim_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_pdu_bytes = ENVELOPE_MAX_PDU_BYTES;
  SLB_LINK_SET_DEFAULTS(cfg);
}

const char *slb_status_text(int status) {
  switch (status) {
    case SLB_OK: return "ok";
    case SLB_E_INVALID: return "invalid argument";
    case SLB_E_TOO_LARGE: return "PDU larger than max_pdu_bytes";
    case SLB_E_QUEUE_FULL: return "send queue full";
    case SLB_E_CLOSED: return "shim closing";
    case SLB_E_SYSTEM: return "system error";
    case SLB_E_TIMEOUT: return "timed out";
    default: return "unknown status";
  }
}

/* ---- receiving (the link's I/O thread) ----------------------------------------------------- */

/* Decodes and checks one envelope like the TypeScript decoder (src/wire/envelope.ts): 24-bit L2
 * IDs, a cast type, a PDU of 1..max_pdu_bytes octets. Invalid frames are counted and dropped. */
static int handle_frame(const uint8_t *data, size_t len, void *user) {
  slb_shim *s = user;
  envelope_t *env = slbridge__bridge__v1__pdu_envelope__unpack(NULL, len, data);
  if (env == NULL) return -1; /* counted as malformed by the link */
  int cast = (int)env->cast_type;
  if (env->l2_source_id > MAX_L2_ID || env->l2_destination_id > MAX_L2_ID || cast < SLB_CAST_BROADCAST ||
      cast > SLB_CAST_UNICAST || env->pdu.len == 0 || env->pdu.len > s->cfg.max_pdu_bytes) {
    slbridge__bridge__v1__pdu_envelope__free_unpacked(env, NULL);
    return -1;
  }
  count(&s->received);
  if (s->cfg.on_receive != NULL) {
    slb_pdu pdu = {
        .l2_source_id = env->l2_source_id,
        .l2_destination_id = env->l2_destination_id,
        .cast_type = (slb_cast_type)cast,
        .pdu = env->pdu.data,
        .pdu_len = env->pdu.len,
        .tx_time_ns = env->tx_time_ns,
        .seq = env->seq,
    };
    s->cfg.on_receive(s, &pdu, s->cfg.user);
  }
  slbridge__bridge__v1__pdu_envelope__free_unpacked(env, NULL);
  return 0;
}

/* ---- public API ---------------------------------------------------------------------------- */

/* Writes the envelope with the link's seq (under its queue lock, so seq follows queue order). */
static size_t pack_envelope(uint8_t *buf, uint32_t seq, void *arg) {
  envelope_t *env = arg;
  env->seq = seq;
  return slbridge__bridge__v1__pdu_envelope__pack(env, buf);
}

int slb_shim_send(slb_shim *s, uint32_t src, uint32_t dst, slb_cast_type cast, const uint8_t *pdu, size_t pdu_len) {
  if (s == NULL) return SLB_E_INVALID;
  if (src > MAX_L2_ID || dst > MAX_L2_ID || (int)cast < SLB_CAST_BROADCAST || (int)cast > SLB_CAST_UNICAST || pdu == NULL ||
      pdu_len == 0) {
    return slb_link_refuse(s->link, SLB_E_INVALID);
  }
  if (pdu_len > s->cfg.max_pdu_bytes) return slb_link_refuse(s->link, SLB_E_TOO_LARGE);
  envelope_t env = SLBRIDGE__BRIDGE__V1__PDU_ENVELOPE__INIT;
  env.l2_source_id = src;
  env.l2_destination_id = dst;
  env.cast_type = (Slbridge__Bridge__V1__CastType)cast;
  env.pdu.data = (uint8_t *)pdu;
  env.pdu.len = pdu_len;
  env.tx_time_ns = realtime_ns();
  env.seq = UINT32_MAX; /* the largest varint, so the buffer fits any seq */
  size_t cap = slbridge__bridge__v1__pdu_envelope__get_packed_size(&env);
  uint8_t *buf = malloc(cap);
  if (buf == NULL) return SLB_E_SYSTEM;
  return slb_link_send(s->link, buf, cap, pack_envelope, &env);
}

int slb_shim_connected(const slb_shim *s) { return s != NULL && slb_link_connected(s->link); }

int slb_shim_wait_connected(slb_shim *s, int timeout_ms) { return slb_link_wait_connected(s->link, timeout_ms); }

static void fill_counters(const slb_shim *s, const slb_link_counters *link, slb_shim_counters *out) {
  memset(out, 0, sizeof *out);
  if (s == NULL) return;
  SLB_LINK_COPY_COUNTERS(out, link);
  out->received = atomic_load(&s->received);
}

void slb_shim_get_counters(const slb_shim *s, slb_shim_counters *out) {
  slb_link_counters link;
  slb_link_get_counters(s != NULL ? s->link : NULL, &link);
  fill_counters(s, &link, out);
}

slb_shim *slb_shim_open(const slb_shim_config *cfg, char *err, size_t err_len) {
  if (cfg == NULL || cfg->endpoint == NULL || cfg->endpoint[0] == '\0') {
    slb_link_set_err(err, err_len, "config.endpoint: required (e.g. tcp://127.0.0.1:5570)");
    return NULL;
  }
  if (cfg->max_pdu_bytes == 0 || cfg->max_pdu_bytes > ENVELOPE_MAX_PDU_BYTES) {
    slb_link_set_err(err, err_len, "config.max_pdu_bytes: expected 1..%u, got %zu", ENVELOPE_MAX_PDU_BYTES, cfg->max_pdu_bytes);
    return NULL;
  }
  if (cfg->send_queue_len == 0) {
    slb_link_set_err(err, err_len, "config.send_queue_len: expected at least 1");
    return NULL;
  }
  slb_shim *s = calloc(1, sizeof *s);
  if (s == NULL) {
    slb_link_set_err(err, err_len, "out of memory");
    return NULL;
  }
  s->cfg = *cfg;
  s->cfg.endpoint = NULL;
  slb_link_config lc = {.endpoint = cfg->endpoint, .name = "shim", .on_frame = handle_frame, .user = s};
  SLB_LINK_COPY_OPTIONS(&lc, cfg);
  if (slb_link_open(&s->link, &lc, err, err_len) != SLB_OK) {
    free(s);
    return NULL;
  }
  return s;
}

void slb_shim_close(slb_shim *s, slb_shim_counters *final) {
  slb_link_counters link;
  slb_link_close(s != NULL ? s->link : NULL, &link);
  if (final != NULL) fill_counters(s, &link, final);
  free(s);
}
