/*
 * sl-bridge framed DEALER link: the transport under the stack shim (sl_bridge_shim.c, PduEnvelope
 * frames to the daemon's stack socket) and under the OAI glue's application client
 * (interop/oai-sl/glue/slb_app_client.c, AppToDaemon / DaemonToApp frames to the daemon's
 * application socket). It knows frames, not messages: each user brings its own codec and callbacks.
 * Not part of the shim's public API (sl_bridge_shim.h); built into libslbridge_shim.a and copied
 * into OAI with the shim.
 *
 * Wire (bridge/transport/zmq-options.ts, role `connect`): one ZMQ_DEALER that connects to the
 * daemon's ROUTER, with ZMQ_PROBE_ROUTER (an empty "attach" frame on every (re)connection),
 * ZMQ_IMMEDIATE (nothing is queued while the daemon is down: such frames are dropped and counted),
 * HWMs, reconnect and heartbeat intervals, ZMQ_MAXMSGSIZE 1 MiB. One frame per message; empty
 * frames are attach probes and ignored; multipart messages are dropped whole (counted malformed).
 *
 * Threads: one I/O thread owns the socket, sends what is queued, receives and hands each frame to
 * on_frame, and follows the connection through a socket monitor; an eventfd wakes it when the
 * bounded send queue goes from empty to non-empty. slb_link_send() may be called from any thread
 * (one mutex, no network call). Back-pressure: drop and count, never block.
 */
#ifndef SLB_LINK_H
#define SLB_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "sl_bridge_shim.h" /* slb_status */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct slb_link slb_link;

/* I/O thread: one non-empty single-frame message (valid during the call only). Returns 0 when the
 * frame was valid, non-zero to count it as malformed. */
typedef int (*slb_link_frame_fn)(const uint8_t *data, size_t len, void *user);

/* Called under the queue lock with the frame's link sequence number (0, 1, ... in queue order,
 * taken only by frames that are queued): writes the frame into buf (as large as slb_link_send's
 * `len`) and returns its length. */
typedef size_t (*slb_link_pack_fn)(uint8_t *buf, uint32_t seq, void *arg);

/* The transport options, under the same names in slb_shim_config, slb_app_config and here: the
 * macros below set their defaults and copy them between configs. */
#define SLB_LINK_OPTIONS(X)                                                                        \
  X(send_queue_len, 1024) /* frames waiting for the I/O thread */                                  \
  X(send_hwm, 1000)       /* ZMQ_SNDHWM */                                                         \
  X(receive_hwm, 1000)    /* ZMQ_RCVHWM */                                                         \
  X(reconnect_ms, 100)    /* ZMQ_RECONNECT_IVL */                                                  \
  X(reconnect_max_ms, 250) /* ZMQ_RECONNECT_IVL_MAX */                                             \
  X(heartbeat_ms, 1000)   /* ZMQ_HEARTBEAT_IVL (0: off) */                                         \
  X(heartbeat_timeout_ms, 3000) /* ZMQ_HEARTBEAT_TIMEOUT */                                        \
  X(linger_ms, 200)       /* ZMQ_LINGER at close */
#define SLB_LINK_DEFAULT_(name, value) cfg_->name = value;
#define SLB_LINK_SET_DEFAULTS(cfg)                                                                 \
  do {                                                                                             \
    __typeof__(cfg) cfg_ = (cfg);                                                                  \
    SLB_LINK_OPTIONS(SLB_LINK_DEFAULT_)                                                            \
  } while (0)
#define SLB_LINK_COPY_(name, value) dst_->name = src_->name;
#define SLB_LINK_COPY_OPTIONS(dst, src)                                                            \
  do {                                                                                             \
    __typeof__(dst) dst_ = (dst);                                                                  \
    __typeof__(src) src_ = (src);                                                                  \
    SLB_LINK_OPTIONS(SLB_LINK_COPY_)                                                               \
  } while (0)

typedef struct {
  const char *endpoint;    /* required */
  const char *name;        /* in error messages and the monitor's inproc name, e.g. "shim" */
  const char *thread_name; /* the I/O thread's name (pthread_setname_np); NULL: not named */
  slb_link_frame_fn on_frame;
  void *user;              /* passed to on_frame */
  size_t send_queue_len;
  int send_hwm, receive_hwm, reconnect_ms, reconnect_max_ms, heartbeat_ms, heartbeat_timeout_ms, linger_ms;
} slb_link_config;

/* The link's share of the users' counters (same names there; each read atomically). */
#define SLB_LINK_COUNTERS(X)                                                                       \
  X(sent)               /* frames handed to libzmq */                                              \
  X(malformed)          /* multipart messages and frames on_frame refused */                       \
  X(dropped_invalid)    /* slb_link_refuse(SLB_E_INVALID): the codec refused the arguments */      \
  X(dropped_too_large)  /* slb_link_refuse(SLB_E_TOO_LARGE): over the codec's size limit */        \
  X(dropped_queue_full) /* slb_link_send: SLB_E_QUEUE_FULL */                                      \
  X(dropped_no_peer)    /* libzmq would block with no daemon connected */                          \
  X(dropped_hwm)        /* libzmq would block with the daemon connected (at its HWM) */            \
  X(dropped_closed)     /* slb_link_send after close began, or still queued at close */            \
  X(link_ups)           /* connections to the daemon established */                                \
  X(link_downs)         /* connections lost */
#define SLB_LINK_FIELD_(name) uint64_t name;
typedef struct {
  SLB_LINK_COUNTERS(SLB_LINK_FIELD_)
} slb_link_counters;
#undef SLB_LINK_FIELD_
#define SLB_LINK_COPY_COUNTER_(name) dst_->name = src_->name;
#define SLB_LINK_COPY_COUNTERS(dst, src)                                                           \
  do {                                                                                             \
    __typeof__(dst) dst_ = (dst);                                                                  \
    const slb_link_counters *src_ = (src);                                                         \
    SLB_LINK_COUNTERS(SLB_LINK_COPY_COUNTER_)                                                      \
  } while (0)

/* Creates the socket, connects (libzmq keeps reconnecting in the background) and starts the I/O
 * thread. *out is set before the thread starts (so on_frame may use it). SLB_OK, or a negative
 * slb_status with a message in `err` (if not NULL) and *out NULL. */
int slb_link_open(slb_link **out, const slb_link_config *cfg, char *err, size_t err_len);

/* Queues one frame of `len` octets; takes `buf` (malloc'd) in every case. With `pack`, the frame is
 * written into buf under the queue lock (see slb_link_pack_fn) and may be shorter than len. Thread
 * safe, never blocks on the network. SLB_OK, SLB_E_QUEUE_FULL or SLB_E_CLOSED (counted), or
 * SLB_E_SYSTEM (the wake-up failed; the frame stays queued). */
int slb_link_send(slb_link *link, uint8_t *buf, size_t len, slb_link_pack_fn pack, void *arg);

/* Counts a send the codec refused before queueing (SLB_E_INVALID: dropped_invalid,
 * SLB_E_TOO_LARGE: dropped_too_large) and returns `status`. */
int slb_link_refuse(slb_link *link, int status);

/* 1 while connected to the daemon, else 0. */
int slb_link_connected(const slb_link *link);

/* Waits until connected or `timeout_ms` passes (< 0: forever). SLB_OK or SLB_E_TIMEOUT. */
int slb_link_wait_connected(slb_link *link, int timeout_ms);

/* Copies the counters (all zero for NULL). */
void slb_link_get_counters(const slb_link *link, slb_link_counters *out);

/* Stops the I/O thread (sending what is queued, waiting at most linger_ms for it to leave), closes
 * the socket and frees the link; `final` (may be NULL) receives the last counters. Not from
 * on_frame. */
void slb_link_close(slb_link *link, slb_link_counters *final);

/* snprintf into `err` (nothing if err is NULL or err_len 0): the error messages of the *_open calls. */
__attribute__((format(printf, 3, 4))) void slb_link_set_err(char *err, size_t err_len, const char *fmt, ...);

#ifdef __cplusplus
}
#endif

#endif /* SLB_LINK_H */
