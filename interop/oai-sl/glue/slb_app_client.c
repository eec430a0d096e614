/*
 * sl-bridge application-socket client in C: see slb_app_client.h. The transport (DEALER, I/O
 * thread, bounded send queue with eventfd wake-up, socket monitor, drop-and-count) is the stack
 * shim's framed link (bridge/shims/c/slb_link.{h,c}, copied in with the shim); this file is the
 * AppToDaemon / DaemonToApp codec on top of it.
 */
#define _GNU_SOURCE
#include "slb_app_client.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.pb-c.h"
#include "slb_link.h"

#define MAX_24 0xFFFFFFu
#define MAX_SDU_TYPE 4

struct slb_app {
  slb_app_config cfg; /* endpoint NULL: the link keeps its own copy */
  slb_link *link;
  _Atomic uint64_t deliveries, refusals; /* the codec's counters; the link counts the rest */
};

static void count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

void slb_app_config_init(slb_app_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_sdu_bytes = 9000;
  SLB_LINK_SET_DEFAULTS(cfg);
}

/* ---- the link's I/O thread ----------------------------------------------------------------- */

/* Checks like src/wire/app.ts decodeDaemonToApp: 24-bit IDs, SDU type 0..4, an SDU of
 * 1..max_sdu_bytes octets, a non-empty refusal reason. Non-zero: malformed (the link counts it). */
static int handle_frame(const uint8_t *data, size_t len, void *user) {
  slb_app *a = user;
  Slbridge__Bridge__V1__DaemonToApp *m = slbridge__bridge__v1__daemon_to_app__unpack(NULL, len, data);
  if (m == NULL) return -1;
  int rc = 0;
  if (m->body_case == SLBRIDGE__BRIDGE__V1__DAEMON_TO_APP__BODY_DELIVERY && m->delivery != NULL) {
    const Slbridge__Bridge__V1__Delivery *d = m->delivery;
    int type = (int)d->sdu_type;
    if (d->group_id > MAX_24 || d->sender_gmi > MAX_24 || type < 0 || type > MAX_SDU_TYPE || d->sdu.len == 0 ||
        d->sdu.len > a->cfg.max_sdu_bytes) {
      rc = -1;
    } else {
      count(&a->deliveries);
      if (a->cfg.on_delivery != NULL) {
        slb_app_delivery out = {
            .group_id = d->group_id,
            .sdu_type = type,
            .sdu = d->sdu.data,
            .sdu_len = d->sdu.len,
            .sender_gmi = d->sender_gmi,
            .tx_time_ns = d->tx_time_ns,
            .rx_time_ns = d->rx_time_ns,
            .delivered_time_ns = d->delivered_time_ns,
            .envelope_seq = d->envelope_seq,
        };
        a->cfg.on_delivery(a, &out, a->cfg.user);
      }
    }
  } else if (m->body_case == SLBRIDGE__BRIDGE__V1__DAEMON_TO_APP__BODY_REFUSED && m->refused != NULL &&
             m->refused->reason != NULL && m->refused->reason[0] != '\0') {
    count(&a->refusals);
    if (a->cfg.on_refused != NULL) a->cfg.on_refused(a, m->refused->app_seq, m->refused->reason, a->cfg.user);
  } else {
    rc = -1;
  }
  slbridge__bridge__v1__daemon_to_app__free_unpacked(m, NULL);
  return rc;
}

/* ---- API ----------------------------------------------------------------------------------- */

int slb_app_send_sdu(slb_app *a, uint32_t group_id, int sdu_type, const uint8_t *sdu, size_t sdu_len, uint32_t app_seq,
                     uint64_t app_time_ns) {
  if (a == NULL) return -1;
  if (group_id > MAX_24 || sdu_type < 0 || sdu_type > MAX_SDU_TYPE || sdu == NULL || sdu_len == 0) {
    return slb_link_refuse(a->link, SLB_E_INVALID); /* -1 */
  }
  if (sdu_len > a->cfg.max_sdu_bytes) return slb_link_refuse(a->link, SLB_E_TOO_LARGE); /* -2 */
  Slbridge__Bridge__V1__SendSdu send = SLBRIDGE__BRIDGE__V1__SEND_SDU__INIT;
  send.group_id = group_id;
  send.sdu_type = (Slbridge__Bridge__V1__SduType)sdu_type;
  send.sdu.data = (uint8_t *)sdu;
  send.sdu.len = sdu_len;
  send.app_seq = app_seq;
  send.app_time_ns = app_time_ns;
  Slbridge__Bridge__V1__AppToDaemon m = SLBRIDGE__BRIDGE__V1__APP_TO_DAEMON__INIT;
  m.body_case = SLBRIDGE__BRIDGE__V1__APP_TO_DAEMON__BODY_SEND;
  m.send = &send;
  size_t len = slbridge__bridge__v1__app_to_daemon__get_packed_size(&m);
  uint8_t *buf = malloc(len);
  if (buf == NULL) return -5;
  slbridge__bridge__v1__app_to_daemon__pack(&m, buf);
  /* The link's results are the slb_status values -3 (queue full), -4 (closing), -5 (system); the
   * codes above are SLB_E_INVALID and SLB_E_TOO_LARGE. */
  return slb_link_send(a->link, buf, len, NULL, NULL);
}

int slb_app_connected(const slb_app *a) { return a != NULL && slb_link_connected(a->link); }

static void fill_counters(const slb_app *a, const slb_link_counters *link, slb_app_counters *o) {
  memset(o, 0, sizeof *o);
  if (a == NULL) return;
  SLB_LINK_COPY_COUNTERS(o, link);
  o->deliveries = atomic_load(&a->deliveries);
  o->refusals = atomic_load(&a->refusals);
}

void slb_app_get_counters(const slb_app *a, slb_app_counters *o) {
  slb_link_counters link;
  slb_link_get_counters(a != NULL ? a->link : NULL, &link);
  fill_counters(a, &link, o);
}

slb_app *slb_app_open(const slb_app_config *cfg, char *err, size_t err_len) {
  if (cfg == NULL || cfg->endpoint == NULL || cfg->endpoint[0] == '\0') {
    slb_link_set_err(err, err_len, "endpoint: required");
    return NULL;
  }
  if (cfg->max_sdu_bytes == 0 || cfg->send_queue_len == 0) {
    slb_link_set_err(err, err_len, "max_sdu_bytes and send_queue_len: expected at least 1");
    return NULL;
  }
  slb_app *a = calloc(1, sizeof *a);
  if (a == NULL) {
    slb_link_set_err(err, err_len, "out of memory");
    return NULL;
  }
  a->cfg = *cfg;
  a->cfg.endpoint = NULL;
  slb_link_config lc = {
      .endpoint = cfg->endpoint, .name = "client", .thread_name = "slb_app_io", .on_frame = handle_frame, .user = a};
  SLB_LINK_COPY_OPTIONS(&lc, cfg);
  if (slb_link_open(&a->link, &lc, err, err_len) != 0) {
    free(a);
    return NULL;
  }
  return a;
}

void slb_app_close(slb_app *a, slb_app_counters *final) {
  slb_link_counters link;
  slb_link_close(a != NULL ? a->link : NULL, &link);
  if (final != NULL) fill_counters(a, &link, final);
  free(a);
}
