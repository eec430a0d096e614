/*
 * A small C client for the sl-bridge daemon's application socket (proto/bridge.proto AppToDaemon /
 * DaemonToApp), for the OAI glue (sl_bridge_glue.c): what bridge/transport/zmq-app-client.ts is
 * for TypeScript applications.
 *
 * Wire: one ZMQ_DEALER that connects to the daemon's application ROUTER
 * (bridge/transport/zmq-app-server.ts), with ZMQ_PROBE_ROUTER (the empty attach frame, which the
 * daemon's hub takes as "application attached", so Deliveries reach us before we send anything;
 * sent again on every reconnection after a daemon restart) and ZMQ_IMMEDIATE (nothing queued while
 * the daemon is away: such SDUs are dropped and counted). One frame per message, protobuf binary.
 *
 * Threads, like the stack shim (and on the same transport code, the shim's framed link
 * bridge/shims/c/slb_link.{h,c}): slb_app_send_sdu() may be called from any thread; it encodes,
 * puts the frame on a bounded queue and wakes the I/O thread (never blocks on the network). The
 * callbacks run on the I/O thread.
 */
#ifndef SLB_APP_CLIENT_H
#define SLB_APP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct slb_app slb_app;

/* One Delivery (valid during the callback only). */
typedef struct {
  uint32_t group_id;
  int sdu_type; /* proto SduType: 0 IP, 1 non-IP, 2 Ethernet, 3 unstructured, 4 ARP */
  const uint8_t *sdu;
  size_t sdu_len; /* >= 1 */
  uint32_t sender_gmi;
  uint64_t tx_time_ns, rx_time_ns, delivered_time_ns;
  uint32_t envelope_seq;
} slb_app_delivery;

typedef void (*slb_app_delivery_fn)(slb_app *app, const slb_app_delivery *d, void *user);
typedef void (*slb_app_refused_fn)(slb_app *app, uint32_t app_seq, const char *reason, void *user);

typedef struct {
  const char *endpoint;          /* required, e.g. ipc:///run/sl-bridge/ue1.sock */
  slb_app_delivery_fn on_delivery; /* NULL: counted, discarded */
  slb_app_refused_fn on_refused;   /* NULL: counted, discarded */
  void *user;
  size_t max_sdu_bytes;  /* default 9000 (TS 38.323) */
  size_t send_queue_len; /* default 1024 */
  int send_hwm, receive_hwm;                /* default 1000 */
  int reconnect_ms, reconnect_max_ms;       /* default 100, 250 */
  int heartbeat_ms, heartbeat_timeout_ms;   /* default 1000, 3000 */
  int linger_ms;                            /* default 200 */
} slb_app_config;

typedef struct {
  uint64_t sent;               /* SendSdu frames handed to libzmq */
  uint64_t deliveries;         /* valid Delivery messages received */
  uint64_t refusals;           /* valid SendRefused messages received */
  uint64_t malformed;          /* frames that did not decode or were out of range */
  uint64_t dropped_invalid;    /* slb_app_send_sdu: bad argument */
  uint64_t dropped_too_large;  /* slb_app_send_sdu: SDU over max_sdu_bytes */
  uint64_t dropped_queue_full; /* slb_app_send_sdu: queue full */
  uint64_t dropped_no_peer;    /* libzmq would block, daemon not connected */
  uint64_t dropped_hwm;        /* libzmq would block, daemon connected */
  uint64_t dropped_closed;
  uint64_t link_ups, link_downs;
} slb_app_counters;

void slb_app_config_init(slb_app_config *cfg);
slb_app *slb_app_open(const slb_app_config *cfg, char *err, size_t err_len);
/* 0 queued; < 0 dropped (counted): -1 invalid, -2 too large, -3 queue full, -4 closing, -5 system. */
int slb_app_send_sdu(slb_app *app, uint32_t group_id, int sdu_type, const uint8_t *sdu, size_t sdu_len,
                     uint32_t app_seq, uint64_t app_time_ns);
int slb_app_connected(const slb_app *app);
void slb_app_get_counters(const slb_app *app, slb_app_counters *out);
/* Stops the I/O thread (queued frames get linger_ms to leave) and frees; not from a callback. */
void slb_app_close(slb_app *app, slb_app_counters *final);

#ifdef __cplusplus
}
#endif

#endif /* SLB_APP_CLIENT_H */
