/*
 * sl-bridge stack shim: see sl_bridge_shim.h for the contract and docs/captures-shim.md for where
 * a stack calls it.
 *
 * Structure: the caller's threads only encode envelopes and push them on a bounded queue (one
 * mutex, no network call); one I/O thread owns the ZeroMQ DEALER socket, sends what is queued,
 * receives and decodes envelopes and runs the callback, and follows the connection state through
 * a socket monitor. An eventfd wakes the I/O thread when the queue goes from empty to non-empty.
 */
#define _GNU_SOURCE
#include "sl_bridge_shim.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bridge.pb-c.h"

#define MAX_L2_ID 0xFFFFFFu
#define ENVELOPE_MAX_PDU_BYTES 65535u

typedef Slbridge__Bridge__V1__PduEnvelope envelope_t;

struct frame {
  uint8_t *data;
  size_t len;
};

struct slb_shim {
  slb_shim_config cfg;
  char *endpoint;
  void *ctx;
  void *sock;
  void *monitor;
  int wake_fd;
  pthread_t thread;
  int thread_started;

  /* Guards the queue, next_seq, closing and connections; link_cond signals connection changes. */
  pthread_mutex_t lock;
  pthread_cond_t link_cond;
  struct frame *queue; /* ring of cfg.send_queue_len */
  struct frame *batch; /* the I/O thread's private copy of what it takes from the ring */
  size_t head;
  size_t count;
  uint32_t next_seq;
  int closing;
  int connections;

  _Atomic uint64_t sent, received, malformed, dropped_invalid, dropped_too_large, dropped_queue_full,
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

static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void slb_shim_config_init(slb_shim_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_pdu_bytes = ENVELOPE_MAX_PDU_BYTES;
  cfg->send_queue_len = 1024;
  cfg->send_hwm = 1000;
  cfg->receive_hwm = 1000;
  cfg->reconnect_ms = 100;
  cfg->reconnect_max_ms = 250;
  cfg->heartbeat_ms = 1000;
  cfg->heartbeat_timeout_ms = 3000;
  cfg->linger_ms = 200;
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

/* ---- receiving (I/O thread) ---------------------------------------------------------------- */

/* Decodes and checks one envelope like the TypeScript decoder (src/wire/envelope.ts): 24-bit L2
 * IDs, a cast type, a PDU of 1..max_pdu_bytes octets. Invalid frames are counted and dropped. */
static void handle_frame(slb_shim *s, const uint8_t *data, size_t len) {
  envelope_t *env = slbridge__bridge__v1__pdu_envelope__unpack(NULL, len, data);
  if (env == NULL) {
    count(&s->malformed);
    return;
  }
  int cast = (int)env->cast_type;
  if (env->l2_source_id > MAX_L2_ID || env->l2_destination_id > MAX_L2_ID || cast < SLB_CAST_BROADCAST ||
      cast > SLB_CAST_UNICAST || env->pdu.len == 0 || env->pdu.len > s->cfg.max_pdu_bytes) {
    count(&s->malformed);
    slbridge__bridge__v1__pdu_envelope__free_unpacked(env, NULL);
    return;
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
}

static void receive_all(slb_shim *s) {
  for (;;) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s->sock, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&msg);
      return; /* EAGAIN: nothing more now */
    }
    if (zmq_msg_more(&msg)) {
      /* The contract is one frame per message: drop the whole multipart message. */
      count(&s->malformed);
      int more = 1;
      while (more) {
        zmq_msg_close(&msg);
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s->sock, ZMQ_DONTWAIT) < 0) break;
        more = zmq_msg_more(&msg);
      }
      zmq_msg_close(&msg);
      continue;
    }
    size_t len = zmq_msg_size(&msg);
    if (len > 0) handle_frame(s, zmq_msg_data(&msg), len); /* empty: an attach probe */
    zmq_msg_close(&msg);
  }
}

/* ---- connection state (I/O thread) --------------------------------------------------------- */

static void link_change(slb_shim *s, int delta) {
  pthread_mutex_lock(&s->lock);
  int before = s->connections;
  s->connections += delta;
  if (s->connections < 0) s->connections = 0; /* a failed handshake reports only the disconnect */
  if (before == 0 && s->connections > 0) count(&s->link_ups);
  if (before > 0 && s->connections == 0) count(&s->link_downs);
  atomic_store(&s->connected, s->connections > 0);
  pthread_cond_broadcast(&s->link_cond);
  pthread_mutex_unlock(&s->lock);
}

static void handle_monitor(slb_shim *s) {
  for (;;) {
    zmq_msg_t first;
    zmq_msg_init(&first);
    if (zmq_msg_recv(&first, s->monitor, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&first);
      return;
    }
    uint16_t event = 0;
    if (zmq_msg_size(&first) >= 2) memcpy(&event, zmq_msg_data(&first), sizeof event);
    int more = zmq_msg_more(&first);
    zmq_msg_close(&first);
    while (more) { /* the second frame is the peer address */
      zmq_msg_t rest;
      zmq_msg_init(&rest);
      if (zmq_msg_recv(&rest, s->monitor, 0) < 0) {
        zmq_msg_close(&rest);
        break;
      }
      more = zmq_msg_more(&rest);
      zmq_msg_close(&rest);
    }
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) link_change(s, +1);
    else if (event == ZMQ_EVENT_DISCONNECTED) link_change(s, -1);
  }
}

/* ---- sending (I/O thread) ------------------------------------------------------------------ */

/* Sends everything queued; returns 1 when the shim is closing (after sending the queue). */
static int drain_queue(slb_shim *s) {
  pthread_mutex_lock(&s->lock);
  size_t n = s->count;
  for (size_t i = 0; i < n; i++) s->batch[i] = s->queue[(s->head + i) % s->cfg.send_queue_len];
  s->head = (s->head + n) % s->cfg.send_queue_len;
  s->count = 0;
  int closing = s->closing;
  pthread_mutex_unlock(&s->lock);
  for (size_t i = 0; i < n; i++) {
    if (zmq_send(s->sock, s->batch[i].data, s->batch[i].len, ZMQ_DONTWAIT) >= 0) {
      count(&s->sent);
    } else if (errno == EAGAIN) {
      count(atomic_load(&s->connected) ? &s->dropped_hwm : &s->dropped_no_peer);
    } else {
      count(&s->dropped_closed);
    }
    free(s->batch[i].data);
  }
  return closing;
}

static void *io_thread(void *arg) {
  slb_shim *s = arg;
  zmq_pollitem_t items[3] = {
      {s->sock, 0, ZMQ_POLLIN, 0},
      {NULL, s->wake_fd, ZMQ_POLLIN, 0},
      {s->monitor, 0, ZMQ_POLLIN, 0},
  };
  for (;;) {
    if (zmq_poll(items, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break; /* ETERM or a broken context: nothing more can be done */
    }
    if (items[2].revents & ZMQ_POLLIN) handle_monitor(s);
    if (items[0].revents & ZMQ_POLLIN) receive_all(s);
    if (items[1].revents & ZMQ_POLLIN) {
      uint64_t v;
      if (read(s->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN) break;
    }
    if (drain_queue(s)) break;
  }
  return NULL;
}

/* ---- public API ---------------------------------------------------------------------------- */

int slb_shim_send(slb_shim *s, uint32_t src, uint32_t dst, slb_cast_type cast, const uint8_t *pdu, size_t pdu_len) {
  if (s == NULL) return SLB_E_INVALID;
  if (src > MAX_L2_ID || dst > MAX_L2_ID || (int)cast < SLB_CAST_BROADCAST || (int)cast > SLB_CAST_UNICAST || pdu == NULL ||
      pdu_len == 0) {
    count(&s->dropped_invalid);
    return SLB_E_INVALID;
  }
  if (pdu_len > s->cfg.max_pdu_bytes) {
    count(&s->dropped_too_large);
    return SLB_E_TOO_LARGE;
  }
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

  pthread_mutex_lock(&s->lock);
  if (s->closing) {
    pthread_mutex_unlock(&s->lock);
    free(buf);
    count(&s->dropped_closed);
    return SLB_E_CLOSED;
  }
  if (s->count == s->cfg.send_queue_len) {
    pthread_mutex_unlock(&s->lock);
    free(buf);
    count(&s->dropped_queue_full);
    return SLB_E_QUEUE_FULL;
  }
  /* seq is taken and the frame queued under one lock, so the daemon sees seq in queue order. */
  env.seq = s->next_seq++;
  size_t len = slbridge__bridge__v1__pdu_envelope__pack(&env, buf);
  int was_empty = s->count == 0;
  s->queue[(s->head + s->count) % s->cfg.send_queue_len] = (struct frame){buf, len};
  s->count++;
  pthread_mutex_unlock(&s->lock);
  /* The I/O thread itself (a reply from on_receive) drains the queue before it polls again. */
  if (was_empty && !(s->thread_started && pthread_equal(pthread_self(), s->thread))) {
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN) return SLB_E_SYSTEM;
  }
  return SLB_OK;
}

int slb_shim_connected(const slb_shim *s) { return s != NULL && atomic_load(&s->connected); }

int slb_shim_wait_connected(slb_shim *s, int timeout_ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  if (timeout_ms >= 0) {
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  int rc = SLB_OK;
  pthread_mutex_lock(&s->lock);
  while (s->connections == 0) {
    if (timeout_ms < 0) {
      pthread_cond_wait(&s->link_cond, &s->lock);
    } else if (pthread_cond_timedwait(&s->link_cond, &s->lock, &deadline) == ETIMEDOUT) {
      rc = s->connections > 0 ? SLB_OK : SLB_E_TIMEOUT;
      break;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

void slb_shim_get_counters(const slb_shim *s, slb_shim_counters *out) {
  memset(out, 0, sizeof *out);
  if (s == NULL) return;
  out->sent = atomic_load(&s->sent);
  out->received = atomic_load(&s->received);
  out->malformed = atomic_load(&s->malformed);
  out->dropped_invalid = atomic_load(&s->dropped_invalid);
  out->dropped_too_large = atomic_load(&s->dropped_too_large);
  out->dropped_queue_full = atomic_load(&s->dropped_queue_full);
  out->dropped_no_peer = atomic_load(&s->dropped_no_peer);
  out->dropped_hwm = atomic_load(&s->dropped_hwm);
  out->dropped_closed = atomic_load(&s->dropped_closed);
  out->link_ups = atomic_load(&s->link_ups);
  out->link_downs = atomic_load(&s->link_downs);
}

static int set_int(void *sock, int option, int value) { return zmq_setsockopt(sock, option, &value, sizeof value); }

static void destroy(slb_shim *s) {
  if (s->monitor != NULL) zmq_close(s->monitor);
  if (s->sock != NULL) {
    zmq_socket_monitor(s->sock, NULL, 0);
    zmq_close(s->sock);
  }
  if (s->ctx != NULL) zmq_ctx_term(s->ctx); /* waits at most linger_ms for queued frames */
  if (s->wake_fd >= 0) close(s->wake_fd);
  pthread_cond_destroy(&s->link_cond);
  pthread_mutex_destroy(&s->lock);
  for (size_t i = 0; i < s->count; i++) free(s->queue[(s->head + i) % s->cfg.send_queue_len].data);
  free(s->queue);
  free(s->batch);
  free(s->endpoint);
  free(s);
}

slb_shim *slb_shim_open(const slb_shim_config *cfg, char *err, size_t err_len) {
  if (cfg == NULL || cfg->endpoint == NULL || cfg->endpoint[0] == '\0') {
    set_err(err, err_len, "config.endpoint: required (e.g. tcp://127.0.0.1:5570)");
    return NULL;
  }
  if (cfg->max_pdu_bytes == 0 || cfg->max_pdu_bytes > ENVELOPE_MAX_PDU_BYTES) {
    set_err(err, err_len, "config.max_pdu_bytes: expected 1..%u, got %zu", ENVELOPE_MAX_PDU_BYTES, cfg->max_pdu_bytes);
    return NULL;
  }
  if (cfg->send_queue_len == 0) {
    set_err(err, err_len, "config.send_queue_len: expected at least 1");
    return NULL;
  }
  slb_shim *s = calloc(1, sizeof *s);
  if (s == NULL) {
    set_err(err, err_len, "out of memory");
    return NULL;
  }
  s->cfg = *cfg;
  s->wake_fd = -1;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->link_cond, NULL);
  s->endpoint = strdup(cfg->endpoint);
  s->cfg.endpoint = s->endpoint;
  s->queue = calloc(cfg->send_queue_len, sizeof *s->queue);
  s->batch = calloc(cfg->send_queue_len, sizeof *s->batch);
  s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  s->ctx = zmq_ctx_new();
  if (s->endpoint == NULL || s->queue == NULL || s->batch == NULL || s->wake_fd < 0 || s->ctx == NULL) {
    set_err(err, err_len, "cannot allocate the shim: %s", strerror(errno));
    destroy(s);
    return NULL;
  }
  s->sock = zmq_socket(s->ctx, ZMQ_DEALER);
  if (s->sock == NULL) {
    set_err(err, err_len, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    destroy(s);
    return NULL;
  }
  /* The options of the TypeScript transport's `connect` role (bridge/transport/zmq-options.ts). */
  int rc = 0;
  rc |= set_int(s->sock, ZMQ_SNDHWM, cfg->send_hwm);
  rc |= set_int(s->sock, ZMQ_RCVHWM, cfg->receive_hwm);
  rc |= set_int(s->sock, ZMQ_RECONNECT_IVL, cfg->reconnect_ms);
  rc |= set_int(s->sock, ZMQ_RECONNECT_IVL_MAX, cfg->reconnect_max_ms);
  rc |= set_int(s->sock, ZMQ_HEARTBEAT_IVL, cfg->heartbeat_ms);
  rc |= set_int(s->sock, ZMQ_HEARTBEAT_TIMEOUT, cfg->heartbeat_timeout_ms);
  rc |= set_int(s->sock, ZMQ_LINGER, cfg->linger_ms);
  rc |= set_int(s->sock, ZMQ_IMMEDIATE, 1);
  rc |= set_int(s->sock, ZMQ_PROBE_ROUTER, 1);
  int64_t max_msg = 1 << 20;
  rc |= zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
  if (rc != 0) {
    set_err(err, err_len, "zmq_setsockopt: %s", zmq_strerror(zmq_errno()));
    destroy(s);
    return NULL;
  }
  char monitor_ep[64];
  snprintf(monitor_ep, sizeof monitor_ep, "inproc://slb-shim-monitor-%p", (void *)s);
  if (zmq_socket_monitor(s->sock, monitor_ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0 ||
      (s->monitor = zmq_socket(s->ctx, ZMQ_PAIR)) == NULL || zmq_connect(s->monitor, monitor_ep) != 0) {
    set_err(err, err_len, "zmq_socket_monitor: %s", zmq_strerror(zmq_errno()));
    destroy(s);
    return NULL;
  }
  if (zmq_connect(s->sock, s->endpoint) != 0) {
    set_err(err, err_len, "cannot connect to %s: %s", s->endpoint, zmq_strerror(zmq_errno()));
    destroy(s);
    return NULL;
  }
  if (pthread_create(&s->thread, NULL, io_thread, s) != 0) {
    set_err(err, err_len, "pthread_create: %s", strerror(errno));
    destroy(s);
    return NULL;
  }
  s->thread_started = 1;
  return s;
}

void slb_shim_close(slb_shim *s, slb_shim_counters *final) {
  if (s == NULL) {
    if (final != NULL) memset(final, 0, sizeof *final);
    return;
  }
  pthread_mutex_lock(&s->lock);
  s->closing = 1;
  pthread_mutex_unlock(&s->lock);
  uint64_t one = 1;
  if (write(s->wake_fd, &one, sizeof one) < 0) { /* the thread also wakes on its own traffic */
  }
  if (s->thread_started) pthread_join(s->thread, NULL);
  /* Frames queued after the I/O thread's last drain never reached libzmq. */
  for (size_t i = 0; i < s->count; i++) count(&s->dropped_closed);
  if (final != NULL) slb_shim_get_counters(s, final);
  destroy(s);
}
