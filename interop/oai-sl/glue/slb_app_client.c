/*
 * sl-bridge application-socket client in C: see slb_app_client.h. The same structure as the stack
 * shim (bridge/shims/c/sl_bridge_shim.c): callers only encode and queue (one mutex, no network
 * call); one I/O thread owns the DEALER, sends the queue, receives and decodes, runs the
 * callbacks, and follows the connection through a socket monitor; an eventfd wakes it.
 */
#define _GNU_SOURCE
#include "slb_app_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "bridge.pb-c.h"

#define MAX_24 0xFFFFFFu
#define MAX_SDU_TYPE 4

struct frame {
  uint8_t *data;
  size_t len;
};

struct slb_app {
  slb_app_config cfg;
  char *endpoint;
  void *ctx, *sock, *monitor;
  int wake_fd;
  pthread_t thread;
  int thread_started;
  pthread_mutex_t lock; /* queue, closing, connections */
  struct frame *queue, *batch;
  size_t head, count;
  int closing, connections;
  _Atomic uint64_t sent, deliveries, refusals, malformed, dropped_invalid, dropped_too_large, dropped_queue_full,
      dropped_no_peer, dropped_hwm, dropped_closed, link_ups, link_downs;
  atomic_int connected;
};

static void count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

static void set_err(char *err, size_t err_len, const char *fmt, ...) {
  if (err == NULL || err_len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, err_len, fmt, ap);
  va_end(ap);
}

void slb_app_config_init(slb_app_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_sdu_bytes = 9000;
  cfg->send_queue_len = 1024;
  cfg->send_hwm = 1000;
  cfg->receive_hwm = 1000;
  cfg->reconnect_ms = 100;
  cfg->reconnect_max_ms = 250;
  cfg->heartbeat_ms = 1000;
  cfg->heartbeat_timeout_ms = 3000;
  cfg->linger_ms = 200;
}

/* ---- I/O thread ---------------------------------------------------------------------------- */

/* Checks like src/wire/app.ts decodeDaemonToApp: 24-bit IDs, SDU type 0..4, an SDU of
 * 1..max_sdu_bytes octets, a non-empty refusal reason. */
static void handle_frame(slb_app *a, const uint8_t *data, size_t len) {
  Slbridge__Bridge__V1__DaemonToApp *m = slbridge__bridge__v1__daemon_to_app__unpack(NULL, len, data);
  if (m == NULL) {
    count(&a->malformed);
    return;
  }
  if (m->body_case == SLBRIDGE__BRIDGE__V1__DAEMON_TO_APP__BODY_DELIVERY && m->delivery != NULL) {
    const Slbridge__Bridge__V1__Delivery *d = m->delivery;
    int type = (int)d->sdu_type;
    if (d->group_id > MAX_24 || d->sender_gmi > MAX_24 || type < 0 || type > MAX_SDU_TYPE || d->sdu.len == 0 ||
        d->sdu.len > a->cfg.max_sdu_bytes) {
      count(&a->malformed);
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
    count(&a->malformed);
  }
  slbridge__bridge__v1__daemon_to_app__free_unpacked(m, NULL);
}

static void receive_all(slb_app *a) {
  for (;;) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, a->sock, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&msg);
      return;
    }
    if (zmq_msg_more(&msg)) { /* one frame per message: drop a multipart message whole */
      count(&a->malformed);
      int more = 1;
      while (more) {
        zmq_msg_close(&msg);
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, a->sock, ZMQ_DONTWAIT) < 0) break;
        more = zmq_msg_more(&msg);
      }
      zmq_msg_close(&msg);
      continue;
    }
    size_t len = zmq_msg_size(&msg);
    if (len > 0) handle_frame(a, zmq_msg_data(&msg), len);
    zmq_msg_close(&msg);
  }
}

static void link_change(slb_app *a, int delta) {
  pthread_mutex_lock(&a->lock);
  int before = a->connections;
  a->connections += delta;
  if (a->connections < 0) a->connections = 0;
  if (before == 0 && a->connections > 0) count(&a->link_ups);
  if (before > 0 && a->connections == 0) count(&a->link_downs);
  atomic_store(&a->connected, a->connections > 0);
  pthread_mutex_unlock(&a->lock);
}

static void handle_monitor(slb_app *a) {
  for (;;) {
    zmq_msg_t first;
    zmq_msg_init(&first);
    if (zmq_msg_recv(&first, a->monitor, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&first);
      return;
    }
    uint16_t event = 0;
    if (zmq_msg_size(&first) >= 2) memcpy(&event, zmq_msg_data(&first), sizeof event);
    int more = zmq_msg_more(&first);
    zmq_msg_close(&first);
    while (more) {
      zmq_msg_t rest;
      zmq_msg_init(&rest);
      if (zmq_msg_recv(&rest, a->monitor, 0) < 0) {
        zmq_msg_close(&rest);
        break;
      }
      more = zmq_msg_more(&rest);
      zmq_msg_close(&rest);
    }
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) link_change(a, +1);
    else if (event == ZMQ_EVENT_DISCONNECTED) link_change(a, -1);
  }
}

static int drain_queue(slb_app *a) {
  pthread_mutex_lock(&a->lock);
  size_t n = a->count;
  for (size_t i = 0; i < n; i++) a->batch[i] = a->queue[(a->head + i) % a->cfg.send_queue_len];
  a->head = (a->head + n) % a->cfg.send_queue_len;
  a->count = 0;
  int closing = a->closing;
  pthread_mutex_unlock(&a->lock);
  for (size_t i = 0; i < n; i++) {
    if (zmq_send(a->sock, a->batch[i].data, a->batch[i].len, ZMQ_DONTWAIT) >= 0) count(&a->sent);
    else if (errno == EAGAIN) count(atomic_load(&a->connected) ? &a->dropped_hwm : &a->dropped_no_peer);
    else count(&a->dropped_closed);
    free(a->batch[i].data);
  }
  return closing;
}

static void *io_thread(void *arg) {
  slb_app *a = arg;
  pthread_setname_np(pthread_self(), "slb_app_io");
  zmq_pollitem_t items[3] = {
      {a->sock, 0, ZMQ_POLLIN, 0},
      {NULL, a->wake_fd, ZMQ_POLLIN, 0},
      {a->monitor, 0, ZMQ_POLLIN, 0},
  };
  for (;;) {
    if (zmq_poll(items, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (items[2].revents & ZMQ_POLLIN) handle_monitor(a);
    if (items[0].revents & ZMQ_POLLIN) receive_all(a);
    if (items[1].revents & ZMQ_POLLIN) {
      uint64_t v;
      if (read(a->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN) break;
    }
    if (drain_queue(a)) break;
  }
  return NULL;
}

/* ---- API ----------------------------------------------------------------------------------- */

int slb_app_send_sdu(slb_app *a, uint32_t group_id, int sdu_type, const uint8_t *sdu, size_t sdu_len, uint32_t app_seq,
                     uint64_t app_time_ns) {
  if (a == NULL) return -1;
  if (group_id > MAX_24 || sdu_type < 0 || sdu_type > MAX_SDU_TYPE || sdu == NULL || sdu_len == 0) {
    count(&a->dropped_invalid);
    return -1;
  }
  if (sdu_len > a->cfg.max_sdu_bytes) {
    count(&a->dropped_too_large);
    return -2;
  }
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

  pthread_mutex_lock(&a->lock);
  if (a->closing) {
    pthread_mutex_unlock(&a->lock);
    free(buf);
    count(&a->dropped_closed);
    return -4;
  }
  if (a->count == a->cfg.send_queue_len) {
    pthread_mutex_unlock(&a->lock);
    free(buf);
    count(&a->dropped_queue_full);
    return -3;
  }
  int was_empty = a->count == 0;
  a->queue[(a->head + a->count) % a->cfg.send_queue_len] = (struct frame){buf, len};
  a->count++;
  pthread_mutex_unlock(&a->lock);
  if (was_empty && !(a->thread_started && pthread_equal(pthread_self(), a->thread))) {
    uint64_t one = 1;
    if (write(a->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN) return -5;
  }
  return 0;
}

int slb_app_connected(const slb_app *a) { return a != NULL && atomic_load(&a->connected); }

void slb_app_get_counters(const slb_app *a, slb_app_counters *o) {
  memset(o, 0, sizeof *o);
  if (a == NULL) return;
  o->sent = atomic_load(&a->sent);
  o->deliveries = atomic_load(&a->deliveries);
  o->refusals = atomic_load(&a->refusals);
  o->malformed = atomic_load(&a->malformed);
  o->dropped_invalid = atomic_load(&a->dropped_invalid);
  o->dropped_too_large = atomic_load(&a->dropped_too_large);
  o->dropped_queue_full = atomic_load(&a->dropped_queue_full);
  o->dropped_no_peer = atomic_load(&a->dropped_no_peer);
  o->dropped_hwm = atomic_load(&a->dropped_hwm);
  o->dropped_closed = atomic_load(&a->dropped_closed);
  o->link_ups = atomic_load(&a->link_ups);
  o->link_downs = atomic_load(&a->link_downs);
}

static int set_int(void *sock, int option, int value) { return zmq_setsockopt(sock, option, &value, sizeof value); }

static void destroy(slb_app *a) {
  if (a->monitor != NULL) zmq_close(a->monitor);
  if (a->sock != NULL) {
    zmq_socket_monitor(a->sock, NULL, 0);
    zmq_close(a->sock);
  }
  if (a->ctx != NULL) zmq_ctx_term(a->ctx);
  if (a->wake_fd >= 0) close(a->wake_fd);
  pthread_mutex_destroy(&a->lock);
  for (size_t i = 0; i < a->count; i++) free(a->queue[(a->head + i) % a->cfg.send_queue_len].data);
  free(a->queue);
  free(a->batch);
  free(a->endpoint);
  free(a);
}

slb_app *slb_app_open(const slb_app_config *cfg, char *err, size_t err_len) {
  if (cfg == NULL || cfg->endpoint == NULL || cfg->endpoint[0] == '\0') {
    set_err(err, err_len, "endpoint: required");
    return NULL;
  }
  if (cfg->max_sdu_bytes == 0 || cfg->send_queue_len == 0) {
    set_err(err, err_len, "max_sdu_bytes and send_queue_len: expected at least 1");
    return NULL;
  }
  slb_app *a = calloc(1, sizeof *a);
  if (a == NULL) {
    set_err(err, err_len, "out of memory");
    return NULL;
  }
  a->cfg = *cfg;
  a->wake_fd = -1;
  pthread_mutex_init(&a->lock, NULL);
  a->endpoint = strdup(cfg->endpoint);
  a->cfg.endpoint = a->endpoint;
  a->queue = calloc(cfg->send_queue_len, sizeof *a->queue);
  a->batch = calloc(cfg->send_queue_len, sizeof *a->batch);
  a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  a->ctx = zmq_ctx_new();
  if (a->endpoint == NULL || a->queue == NULL || a->batch == NULL || a->wake_fd < 0 || a->ctx == NULL) {
    set_err(err, err_len, "cannot allocate the client: %s", strerror(errno));
    destroy(a);
    return NULL;
  }
  a->sock = zmq_socket(a->ctx, ZMQ_DEALER);
  if (a->sock == NULL) {
    set_err(err, err_len, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    destroy(a);
    return NULL;
  }
  /* bridge/transport/zmq-options.ts, role `connect` (zmq-dealer.ts). */
  int rc = 0;
  rc |= set_int(a->sock, ZMQ_SNDHWM, cfg->send_hwm);
  rc |= set_int(a->sock, ZMQ_RCVHWM, cfg->receive_hwm);
  rc |= set_int(a->sock, ZMQ_RECONNECT_IVL, cfg->reconnect_ms);
  rc |= set_int(a->sock, ZMQ_RECONNECT_IVL_MAX, cfg->reconnect_max_ms);
  rc |= set_int(a->sock, ZMQ_HEARTBEAT_IVL, cfg->heartbeat_ms);
  rc |= set_int(a->sock, ZMQ_HEARTBEAT_TIMEOUT, cfg->heartbeat_timeout_ms);
  rc |= set_int(a->sock, ZMQ_LINGER, cfg->linger_ms);
  rc |= set_int(a->sock, ZMQ_IMMEDIATE, 1);
  rc |= set_int(a->sock, ZMQ_PROBE_ROUTER, 1);
  int64_t max_msg = 1 << 20;
  rc |= zmq_setsockopt(a->sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
  if (rc != 0) {
    set_err(err, err_len, "zmq_setsockopt: %s", zmq_strerror(zmq_errno()));
    destroy(a);
    return NULL;
  }
  char monitor_ep[64];
  snprintf(monitor_ep, sizeof monitor_ep, "inproc://slb-app-monitor-%p", (void *)a);
  if (zmq_socket_monitor(a->sock, monitor_ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0 ||
      (a->monitor = zmq_socket(a->ctx, ZMQ_PAIR)) == NULL || zmq_connect(a->monitor, monitor_ep) != 0) {
    set_err(err, err_len, "zmq_socket_monitor: %s", zmq_strerror(zmq_errno()));
    destroy(a);
    return NULL;
  }
  if (zmq_connect(a->sock, a->endpoint) != 0) {
    set_err(err, err_len, "cannot connect to %s: %s", a->endpoint, zmq_strerror(zmq_errno()));
    destroy(a);
    return NULL;
  }
  if (pthread_create(&a->thread, NULL, io_thread, a) != 0) {
    set_err(err, err_len, "pthread_create: %s", strerror(errno));
    destroy(a);
    return NULL;
  }
  a->thread_started = 1;
  return a;
}

void slb_app_close(slb_app *a, slb_app_counters *final) {
  if (a == NULL) {
    if (final != NULL) memset(final, 0, sizeof *final);
    return;
  }
  pthread_mutex_lock(&a->lock);
  a->closing = 1;
  pthread_mutex_unlock(&a->lock);
  uint64_t one = 1;
  if (write(a->wake_fd, &one, sizeof one) < 0) {
  }
  if (a->thread_started) pthread_join(a->thread, NULL);
  for (size_t i = 0; i < a->count; i++) count(&a->dropped_closed);
  if (final != NULL) slb_app_get_counters(a, final);
  destroy(a);
}
