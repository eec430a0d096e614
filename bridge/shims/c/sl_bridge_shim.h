/*
 * sl-bridge stack shim: hands sidelink PDCP PDUs (with their Layer-2 IDs) from a radio stack's
 * PDCP hook to the sl-bridge daemon and delivers the daemon's PDUs back to the stack.
 *
 * Wire contract (the same as the TypeScript stack transport, bridge/transport/zmq-stack.ts):
 *   - one ZMQ_DEALER socket that connects to the daemon's stack endpoint (hw-profile
 *     `transport.endpoint`, the daemon binds) -- or to the medium emulator's ROUTER, where the
 *     shim then takes a UE's place;
 *   - ZMQ_PROBE_ROUTER (an empty "attach" frame on every (re)connection) and ZMQ_IMMEDIATE
 *     (nothing is queued while the daemon is down: such PDUs are dropped and counted);
 *   - each message is one frame holding one slbridge.bridge.v1.PduEnvelope (proto/bridge.proto)
 *     in protobuf binary encoding; empty frames are attach probes and ignored.
 *
 * Threads: the shim runs one I/O thread that owns the ZeroMQ socket. slb_shim_send() may be
 * called from any thread (it encodes the envelope, puts it on a bounded queue and wakes the I/O
 * thread; it never blocks on the network). Received PDUs are handed to the on_receive callback on
 * the I/O thread. Back-pressure: drop and count, never block -- a full send queue, a daemon that
 * is not connected or one at its high-water mark drops the PDU (see slb_shim_counters).
 *
 * Build: make -C bridge/shims/c (needs libzmq3-dev, libprotobuf-c-dev, protobuf-c-compiler).
 * Link: build/libslbridge_shim.a -lzmq -lprotobuf-c -lpthread. Docs: docs/captures-shim.md.
 */
#ifndef SL_BRIDGE_SHIM_H
#define SL_BRIDGE_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLB_SHIM_VERSION "1.0.0"

/* proto CastType: how the PDU is addressed on the sidelink. */
typedef enum {
  SLB_CAST_BROADCAST = 1,
  SLB_CAST_GROUPCAST = 2,
  SLB_CAST_UNICAST = 3
} slb_cast_type;

/* Results of slb_shim_* calls (negative: the PDU was not taken). */
typedef enum {
  SLB_OK = 0,
  SLB_E_INVALID = -1,    /* an argument is out of range (L2 ID over 24 bits, no PDU, bad cast) */
  SLB_E_TOO_LARGE = -2,  /* PDU larger than max_pdu_bytes */
  SLB_E_QUEUE_FULL = -3, /* the send queue is full: the I/O thread does not keep up */
  SLB_E_CLOSED = -4,     /* the shim is closing */
  SLB_E_SYSTEM = -5,     /* out of memory or a libzmq/system call failed (see errno) */
  SLB_E_TIMEOUT = -6     /* slb_shim_wait_connected timed out */
} slb_status;

/* One PDU as received from the daemon. Valid only during the on_receive call. */
typedef struct {
  uint32_t l2_source_id;      /* 24 bits: the sender's GMI for groupcast */
  uint32_t l2_destination_id; /* 24 bits: the Group ID for groupcast */
  slb_cast_type cast_type;
  const uint8_t *pdu;         /* the protected PDCP PDU (header in clear, rest ciphered) */
  size_t pdu_len;             /* >= 1 */
  uint64_t tx_time_ns;        /* when the sender handed it to its transport (Unix epoch ns) */
  uint32_t seq;               /* the sender's per-transport sequence number */
} slb_pdu;

typedef struct slb_shim slb_shim;

/* Called on the shim's I/O thread for every valid PDU from the daemon. Keep it short (copy the
 * PDU into the stack's own queue); it may call slb_shim_send on `shim`, never slb_shim_close. */
typedef void (*slb_receive_fn)(slb_shim *shim, const slb_pdu *pdu, void *user);

typedef struct {
  const char *endpoint;        /* e.g. "tcp://127.0.0.1:5570" or "ipc:///tmp/slb.sock"; required */
  slb_receive_fn on_receive;   /* NULL: received PDUs are counted and discarded */
  void *user;                  /* passed to on_receive */
  size_t max_pdu_bytes;        /* largest PDU sent or accepted (hw-profile pdu.max_bytes); default 65535 */
  size_t send_queue_len;       /* PDUs waiting for the I/O thread; default 1024 */
  int send_hwm;                /* ZMQ_SNDHWM, default 1000 */
  int receive_hwm;             /* ZMQ_RCVHWM, default 1000 */
  int reconnect_ms;            /* ZMQ_RECONNECT_IVL, default 100 */
  int reconnect_max_ms;        /* ZMQ_RECONNECT_IVL_MAX, default 250 */
  int heartbeat_ms;            /* ZMQ_HEARTBEAT_IVL, default 1000 (0: off) */
  int heartbeat_timeout_ms;    /* ZMQ_HEARTBEAT_TIMEOUT, default 3000 */
  int linger_ms;               /* ZMQ_LINGER at close, default 200 */
} slb_shim_config;

/* Live counters (each read atomically; the set is not a snapshot). */
typedef struct {
  uint64_t sent;                /* envelopes handed to libzmq */
  uint64_t received;            /* valid envelopes delivered to on_receive */
  uint64_t malformed;           /* frames that did not decode or were out of range (dropped) */
  uint64_t dropped_invalid;     /* slb_shim_send: SLB_E_INVALID */
  uint64_t dropped_too_large;   /* slb_shim_send: SLB_E_TOO_LARGE */
  uint64_t dropped_queue_full;  /* slb_shim_send: SLB_E_QUEUE_FULL */
  uint64_t dropped_no_peer;     /* libzmq would block with no daemon connected */
  uint64_t dropped_hwm;         /* libzmq would block with the daemon connected (at its HWM) */
  uint64_t dropped_closed;      /* slb_shim_send after close began, or still queued at close */
  uint64_t link_ups;            /* connections to the daemon established */
  uint64_t link_downs;          /* connections lost */
} slb_shim_counters;

/* Fills `cfg` with the defaults above (endpoint NULL, on_receive NULL). */
void slb_shim_config_init(slb_shim_config *cfg);

/* Creates the socket, connects (libzmq keeps reconnecting in the background) and starts the I/O
 * thread. Returns NULL on error with a message in `err` (if not NULL). */
slb_shim *slb_shim_open(const slb_shim_config *cfg, char *err, size_t err_len);

/* Queues one PDU for the daemon, stamping tx_time_ns (CLOCK_REALTIME) and the next seq. Thread
 * safe, never blocks on the network. Returns SLB_OK or a negative slb_status (counted). A PDU that
 * was queued may still be dropped by libzmq later (dropped_no_peer / dropped_hwm). */
int slb_shim_send(slb_shim *shim, uint32_t l2_source_id, uint32_t l2_destination_id, slb_cast_type cast_type,
                  const uint8_t *pdu, size_t pdu_len);

/* 1 while connected to the daemon, else 0. */
int slb_shim_connected(const slb_shim *shim);

/* Waits until connected or `timeout_ms` passes (< 0: forever). SLB_OK or SLB_E_TIMEOUT. */
int slb_shim_wait_connected(slb_shim *shim, int timeout_ms);

/* Copies the counters. */
void slb_shim_get_counters(const slb_shim *shim, slb_shim_counters *out);

/* Stops the I/O thread (sending what is queued, waiting at most linger_ms for it to leave),
 * closes the socket and frees the shim; `final` (may be NULL) receives the last counters. Not from
 * on_receive. Sends racing with a running close are refused (SLB_E_CLOSED); none may start after
 * it returns (the handle is freed). */
void slb_shim_close(slb_shim *shim, slb_shim_counters *final);

/* "ok", "invalid argument", ... for an slb_status. */
const char *slb_status_text(int status);

#ifdef __cplusplus
}
#endif

#endif /* SL_BRIDGE_SHIM_H */
