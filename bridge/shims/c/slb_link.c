/*
 * sl-bridge framed DEALER link: see slb_link.h.
 *
 * Structure: the caller's threads only push malloc'd frames on a bounded ring (one mutex, no
 * network call); one I/O thread owns the ZeroMQ DEALER socket, sends what is queued, receives
 * frames and hands them to on_frame, and follows the connection state through a socket monitor.
 * An eventfd wakes the I/O thread when the queue goes from empty to non-empty.
 */
#define _GNU_SOURCE
#include "slb_link.h"

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

struct frame {
  uint8_t *data;
  size_t len;
};

#define SLB_LINK_ATOMIC_(name) _Atomic uint64_t name;

struct slb_link {
  slb_link_config cfg;
  char *endpoint;
  void *ctx;
  void *sock;
  void *monitor;
  int wake_fd;
  pthread_t thread;
  atomic_int thread_started;
  char thread_name[16]; /* "": not named */

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

  SLB_LINK_COUNTERS(SLB_LINK_ATOMIC_)
  atomic_int connected;
};

static void count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

void slb_link_set_err(char *err, size_t err_len, const char *fmt, ...) {
  if (err == NULL || err_len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, err_len, fmt, ap);
  va_end(ap);
}

/* ---- receiving (I/O thread) ---------------------------------------------------------------- */

static void receive_all(slb_link *l) {
  for (;;) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, l->sock, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&msg);
      return; /* EAGAIN: nothing more now */
    }
    if (zmq_msg_more(&msg)) {
      /* The contract is one frame per message: drop the whole multipart message. */
      count(&l->malformed);
      int more = 1;
      while (more) {
        zmq_msg_close(&msg);
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, l->sock, ZMQ_DONTWAIT) < 0) break;
        more = zmq_msg_more(&msg);
      }
      zmq_msg_close(&msg);
      continue;
    }
    size_t len = zmq_msg_size(&msg);
    /* empty: an attach probe */
    if (len > 0 && l->cfg.on_frame(zmq_msg_data(&msg), len, l->cfg.user) != 0) count(&l->malformed);
    zmq_msg_close(&msg);
  }
}

/* ---- connection state (I/O thread) --------------------------------------------------------- */

static void link_change(slb_link *l, int delta) {
  pthread_mutex_lock(&l->lock);
  int before = l->connections;
  l->connections += delta;
  if (l->connections < 0) l->connections = 0; /* a failed handshake reports only the disconnect */
  if (before == 0 && l->connections > 0) count(&l->link_ups);
  if (before > 0 && l->connections == 0) count(&l->link_downs);
  atomic_store(&l->connected, l->connections > 0);
  pthread_cond_broadcast(&l->link_cond);
  pthread_mutex_unlock(&l->lock);
}

static void handle_monitor(slb_link *l) {
  for (;;) {
    zmq_msg_t first;
    zmq_msg_init(&first);
    if (zmq_msg_recv(&first, l->monitor, ZMQ_DONTWAIT) < 0) {
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
      if (zmq_msg_recv(&rest, l->monitor, 0) < 0) {
        zmq_msg_close(&rest);
        break;
      }
      more = zmq_msg_more(&rest);
      zmq_msg_close(&rest);
    }
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) link_change(l, +1);
    else if (event == ZMQ_EVENT_DISCONNECTED) link_change(l, -1);
  }
}

/* ---- sending (I/O thread) ------------------------------------------------------------------ */

/* Sends everything queued; returns 1 when the link is closing (after sending the queue). */
static int drain_queue(slb_link *l) {
  pthread_mutex_lock(&l->lock);
  size_t n = l->count;
  for (size_t i = 0; i < n; i++) l->batch[i] = l->queue[(l->head + i) % l->cfg.send_queue_len];
  l->head = (l->head + n) % l->cfg.send_queue_len;
  l->count = 0;
  int closing = l->closing;
  pthread_mutex_unlock(&l->lock);
  for (size_t i = 0; i < n; i++) {
    if (zmq_send(l->sock, l->batch[i].data, l->batch[i].len, ZMQ_DONTWAIT) >= 0) {
      count(&l->sent);
    } else if (errno == EAGAIN) {
      count(atomic_load(&l->connected) ? &l->dropped_hwm : &l->dropped_no_peer);
    } else {
      count(&l->dropped_closed);
    }
    free(l->batch[i].data);
  }
  return closing;
}

static void *io_thread(void *arg) {
  slb_link *l = arg;
  if (l->thread_name[0] != '\0') pthread_setname_np(pthread_self(), l->thread_name);
  zmq_pollitem_t items[3] = {
      {l->sock, 0, ZMQ_POLLIN, 0},
      {NULL, l->wake_fd, ZMQ_POLLIN, 0},
      {l->monitor, 0, ZMQ_POLLIN, 0},
  };
  for (;;) {
    if (zmq_poll(items, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break; /* ETERM or a broken context: nothing more can be done */
    }
    if (items[2].revents & ZMQ_POLLIN) handle_monitor(l);
    if (items[0].revents & ZMQ_POLLIN) receive_all(l);
    if (items[1].revents & ZMQ_POLLIN) {
      uint64_t v;
      if (read(l->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN) break;
    }
    if (drain_queue(l)) break;
  }
  return NULL;
}

/* ---- API ----------------------------------------------------------------------------------- */

int slb_link_send(slb_link *l, uint8_t *buf, size_t len, slb_link_pack_fn pack, void *arg) {
  pthread_mutex_lock(&l->lock);
  if (l->closing) {
    pthread_mutex_unlock(&l->lock);
    free(buf);
    count(&l->dropped_closed);
    return SLB_E_CLOSED;
  }
  if (l->count == l->cfg.send_queue_len) {
    pthread_mutex_unlock(&l->lock);
    free(buf);
    count(&l->dropped_queue_full);
    return SLB_E_QUEUE_FULL;
  }
  /* seq is taken and the frame queued under one lock, so the daemon sees seq in queue order. */
  if (pack != NULL) len = pack(buf, l->next_seq++, arg);
  int was_empty = l->count == 0;
  l->queue[(l->head + l->count) % l->cfg.send_queue_len] = (struct frame){buf, len};
  l->count++;
  pthread_mutex_unlock(&l->lock);
  /* The I/O thread itself (a reply from on_frame) drains the queue before it polls again. */
  if (was_empty && !(atomic_load(&l->thread_started) && pthread_equal(pthread_self(), l->thread))) {
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN) return SLB_E_SYSTEM;
  }
  return SLB_OK;
}

int slb_link_refuse(slb_link *l, int status) {
  if (status == SLB_E_INVALID) count(&l->dropped_invalid);
  else if (status == SLB_E_TOO_LARGE) count(&l->dropped_too_large);
  return status;
}

int slb_link_connected(const slb_link *l) { return l != NULL && atomic_load(&l->connected); }

int slb_link_wait_connected(slb_link *l, int timeout_ms) {
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
  pthread_mutex_lock(&l->lock);
  while (l->connections == 0) {
    if (timeout_ms < 0) {
      pthread_cond_wait(&l->link_cond, &l->lock);
    } else if (pthread_cond_timedwait(&l->link_cond, &l->lock, &deadline) == ETIMEDOUT) {
      rc = l->connections > 0 ? SLB_OK : SLB_E_TIMEOUT;
      break;
    }
  }
  pthread_mutex_unlock(&l->lock);
  return rc;
}

#define SLB_LINK_LOAD_(name) out->name = atomic_load(&l->name);
void slb_link_get_counters(const slb_link *l, slb_link_counters *out) {
  memset(out, 0, sizeof *out);
  if (l == NULL) return;
  SLB_LINK_COUNTERS(SLB_LINK_LOAD_)
}

static int set_int(void *sock, int option, int value) { return zmq_setsockopt(sock, option, &value, sizeof value); }

static void destroy(slb_link *l) {
  if (l->monitor != NULL) zmq_close(l->monitor);
  if (l->sock != NULL) {
    zmq_socket_monitor(l->sock, NULL, 0);
    zmq_close(l->sock);
  }
  if (l->ctx != NULL) zmq_ctx_term(l->ctx); /* waits at most linger_ms for queued frames */
  if (l->wake_fd >= 0) close(l->wake_fd);
  pthread_cond_destroy(&l->link_cond);
  pthread_mutex_destroy(&l->lock);
  for (size_t i = 0; i < l->count; i++) free(l->queue[(l->head + i) % l->cfg.send_queue_len].data);
  free(l->queue);
  free(l->batch);
  free(l->endpoint);
  free(l);
}

static int fail(slb_link *l, slb_link **out, int status) {
  destroy(l);
  *out = NULL;
  return status;
}

int slb_link_open(slb_link **out, const slb_link_config *cfg, char *err, size_t err_len) {
  *out = NULL;
  if (cfg == NULL || cfg->endpoint == NULL || cfg->endpoint[0] == '\0' || cfg->on_frame == NULL ||
      cfg->send_queue_len == 0) {
    slb_link_set_err(err, err_len, "link: endpoint, on_frame and send_queue_len are required");
    return SLB_E_INVALID;
  }
  const char *name = cfg->name != NULL ? cfg->name : "link";
  slb_link *l = calloc(1, sizeof *l);
  if (l == NULL) {
    slb_link_set_err(err, err_len, "out of memory");
    return SLB_E_SYSTEM;
  }
  l->cfg = *cfg;
  l->wake_fd = -1;
  pthread_mutex_init(&l->lock, NULL);
  pthread_cond_init(&l->link_cond, NULL);
  l->endpoint = strdup(cfg->endpoint);
  l->cfg.endpoint = l->endpoint;
  l->cfg.name = l->cfg.thread_name = NULL; /* the caller's strings are used during open only */
  l->queue = calloc(cfg->send_queue_len, sizeof *l->queue);
  l->batch = calloc(cfg->send_queue_len, sizeof *l->batch);
  l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  l->ctx = zmq_ctx_new();
  if (l->endpoint == NULL || l->queue == NULL || l->batch == NULL || l->wake_fd < 0 || l->ctx == NULL) {
    slb_link_set_err(err, err_len, "cannot allocate the %s: %s", name, strerror(errno));
    return fail(l, out, SLB_E_SYSTEM);
  }
  l->sock = zmq_socket(l->ctx, ZMQ_DEALER);
  if (l->sock == NULL) {
    slb_link_set_err(err, err_len, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    return fail(l, out, SLB_E_SYSTEM);
  }
  /* The options of the TypeScript transport's `connect` role (bridge/transport/zmq-options.ts). */
  int rc = 0;
  rc |= set_int(l->sock, ZMQ_SNDHWM, cfg->send_hwm);
  rc |= set_int(l->sock, ZMQ_RCVHWM, cfg->receive_hwm);
  rc |= set_int(l->sock, ZMQ_RECONNECT_IVL, cfg->reconnect_ms);
  rc |= set_int(l->sock, ZMQ_RECONNECT_IVL_MAX, cfg->reconnect_max_ms);
  rc |= set_int(l->sock, ZMQ_HEARTBEAT_IVL, cfg->heartbeat_ms);
  rc |= set_int(l->sock, ZMQ_HEARTBEAT_TIMEOUT, cfg->heartbeat_timeout_ms);
  rc |= set_int(l->sock, ZMQ_LINGER, cfg->linger_ms);
  rc |= set_int(l->sock, ZMQ_IMMEDIATE, 1);
  rc |= set_int(l->sock, ZMQ_PROBE_ROUTER, 1);
  int64_t max_msg = 1 << 20;
  rc |= zmq_setsockopt(l->sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
  if (rc != 0) {
    slb_link_set_err(err, err_len, "zmq_setsockopt: %s", zmq_strerror(zmq_errno()));
    return fail(l, out, SLB_E_SYSTEM);
  }
  char monitor_ep[96];
  snprintf(monitor_ep, sizeof monitor_ep, "inproc://slb-%.32s-monitor-%p", name, (void *)l);
  if (zmq_socket_monitor(l->sock, monitor_ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0 ||
      (l->monitor = zmq_socket(l->ctx, ZMQ_PAIR)) == NULL || zmq_connect(l->monitor, monitor_ep) != 0) {
    slb_link_set_err(err, err_len, "zmq_socket_monitor: %s", zmq_strerror(zmq_errno()));
    return fail(l, out, SLB_E_SYSTEM);
  }
  if (zmq_connect(l->sock, l->endpoint) != 0) {
    slb_link_set_err(err, err_len, "cannot connect to %s: %s", l->endpoint, zmq_strerror(zmq_errno()));
    return fail(l, out, SLB_E_SYSTEM);
  }
  if (cfg->thread_name != NULL) snprintf(l->thread_name, sizeof l->thread_name, "%s", cfg->thread_name);
  *out = l; /* before the thread starts: on_frame may reach the link through its user pointer */
  if (pthread_create(&l->thread, NULL, io_thread, l) != 0) {
    slb_link_set_err(err, err_len, "pthread_create: %s", strerror(errno));
    return fail(l, out, SLB_E_SYSTEM);
  }
  atomic_store(&l->thread_started, 1);
  return SLB_OK;
}

void slb_link_close(slb_link *l, slb_link_counters *final) {
  if (l == NULL) {
    if (final != NULL) memset(final, 0, sizeof *final);
    return;
  }
  pthread_mutex_lock(&l->lock);
  l->closing = 1;
  pthread_mutex_unlock(&l->lock);
  uint64_t one = 1;
  if (write(l->wake_fd, &one, sizeof one) < 0) { /* the thread also wakes on its own traffic */
  }
  if (atomic_load(&l->thread_started)) pthread_join(l->thread, NULL);
  /* Frames queued after the I/O thread's last drain never reached libzmq. */
  for (size_t i = 0; i < l->count; i++) count(&l->dropped_closed);
  if (final != NULL) slb_link_get_counters(l, final);
  destroy(l);
}
