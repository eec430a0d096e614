/*
 * sl-bridge glue for OAI's NR sidelink PDCP: see sl_bridge_glue.h for the contract, the data path
 * and the L2-prefix departure. No OAI header is included: OAI is reached only through the two
 * nr_pdcp_sl_bridge_deliver_* functions the patch adds to nr_pdcp_oai_api.c.
 */
#define _GNU_SOURCE
#include "sl_bridge_glue.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sl_bridge_shim.h"
#include "slb_app_client.h"

#define MAX_BEARERS 8
#define SDU_TYPE_IP 0
#define DEFAULT_MAX_PDU_BYTES 9015
#define DEFAULT_STATS_INTERVAL_S 10
#define REFUSALS_LOGGED 10

typedef struct {
  uint64_t ue_id;
  int rb_id;
} bearer_t;

/* Glue counters (each atomic; the line is not a snapshot). */
#define GLUE_COUNTERS(X)                                                                                             \
  X(tx_sdus)               /* SDUs from OAI's PDCP transmit hook (nr_pdcp_data_req_drb) */                          \
  X(sdus_to_daemon)        /* queued for the daemon's application socket */                                         \
  X(sdus_dropped)          /* the application client did not take them (queue full, too large, closing) */         \
  X(pdus_from_daemon)      /* protected PDUs the daemon sent to the stack shim */                                   \
  X(pdus_to_rlc)           /* handed to SL RLC with the L2 prefix */                                                \
  X(non_groupcast_dropped) /* envelopes from the daemon that were not groupcast */                                  \
  X(no_bearer_dropped)     /* PDUs / SDUs for which OAI had no DRB (any more) */                                    \
  X(rx_pdus)               /* RLC SDUs from OAI's PDCP receive hook (pdcp_data_ind) */                              \
  X(rx_short)              /* shorter than the L2 prefix + 1 octet (dropped) */                                     \
  X(pdus_to_daemon)        /* queued on the stack shim */                                                           \
  X(pdus_dropped)          /* the shim did not take them (queue full, too large, closing) */                        \
  X(deliveries)            /* verified SDUs from the daemon */                                                      \
  X(deliveries_to_tun)     /* handed to OAI's deliver_sdu (SDAP -> TUN) */                                          \
  X(non_ip_ignored)        /* Deliveries with an SDU type other than IP (not for the TUN) */                         \
  X(other_group_ignored)   /* Deliveries for another group than SLB_GROUP_ID */                                     \
  X(refused)               /* SendRefused from the daemon */

#define DECLARE(name) _Atomic uint64_t name;
static struct {
  GLUE_COUNTERS(DECLARE)
} ctr;
#undef DECLARE

static struct {
  pthread_mutex_t lock; /* start-up and bearer registration */
  int started;          /* the environment was read */
  int on;               /* SLB_STACK_ENDPOINT was set and the glue is running */
  bearer_t bearers[MAX_BEARERS];
  atomic_int n_bearers; /* published after the entry is filled */
  uint32_t group_id;
  char *stack_endpoint, *app_endpoint;
  slb_shim *shim;
  slb_app *app;
  atomic_uint app_seq;
  struct timespec t0;
  int stats_interval_s;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((format(printf, 1, 2), noreturn)) static void fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "sl-bridge glue: error: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (the SL DRB is not run unprotected; unset SLB_STACK_ENDPOINT to run OAI without sl-bridge)\n");
  exit(1);
}

static const bearer_t *find_bearer(uint64_t ue_id, int rb_id) {
  int n = atomic_load_explicit(&g.n_bearers, memory_order_acquire);
  for (int i = 0; i < n; i++)
    if (g.bearers[i].ue_id == ue_id && g.bearers[i].rb_id == rb_id) return &g.bearers[i];
  return NULL;
}

/* The bearer that carries the daemon's output (PDUs to RLC, SDUs to the TUN): the first SL DRB.
 * This branch configures one (slrb 1); with several, the first one carries the group's traffic. */
static const bearer_t *data_bearer(void) {
  return atomic_load_explicit(&g.n_bearers, memory_order_acquire) > 0 ? &g.bearers[0] : NULL;
}

/* ---- counters line ----------------------------------------------------------------------- */

static void print_counters(const char *when) {
  char line[2048];
  size_t n = 0;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double t = (double)(now.tv_sec - g.t0.tv_sec) + (double)(now.tv_nsec - g.t0.tv_nsec) / 1e9;
#define PUT(...)                                                                    \
  do {                                                                              \
    if (n < sizeof line) n += (size_t)snprintf(line + n, sizeof line - n, __VA_ARGS__); \
  } while (0)
  PUT("sl-bridge glue: counters %s t_s=%.1f group=%06" PRIx32 " stack=%s app=%s", when, t, g.group_id,
      slb_shim_connected(g.shim) ? "up" : "down", slb_app_connected(g.app) ? "up" : "down");
#define SHOW(name) PUT(" " #name "=%" PRIu64, atomic_load(&ctr.name));
  GLUE_COUNTERS(SHOW)
#undef SHOW
  slb_shim_counters s;
  slb_shim_get_counters(g.shim, &s);
  PUT(" shim.sent=%" PRIu64 " shim.received=%" PRIu64 " shim.malformed=%" PRIu64 " shim.dropped_queue_full=%" PRIu64
      " shim.dropped_no_peer=%" PRIu64 " shim.dropped_hwm=%" PRIu64 " shim.dropped_too_large=%" PRIu64
      " shim.dropped_invalid=%" PRIu64 " shim.link_ups=%" PRIu64 " shim.link_downs=%" PRIu64,
      s.sent, s.received, s.malformed, s.dropped_queue_full, s.dropped_no_peer, s.dropped_hwm, s.dropped_too_large,
      s.dropped_invalid, s.link_ups, s.link_downs);
  slb_app_counters a;
  slb_app_get_counters(g.app, &a);
  PUT(" app.sent=%" PRIu64 " app.deliveries=%" PRIu64 " app.refusals=%" PRIu64 " app.malformed=%" PRIu64
      " app.dropped_queue_full=%" PRIu64 " app.dropped_no_peer=%" PRIu64 " app.dropped_hwm=%" PRIu64
      " app.dropped_too_large=%" PRIu64 " app.link_ups=%" PRIu64 " app.link_downs=%" PRIu64 "\n",
      a.sent, a.deliveries, a.refusals, a.malformed, a.dropped_queue_full, a.dropped_no_peer, a.dropped_hwm,
      a.dropped_too_large, a.link_ups, a.link_downs);
#undef PUT
  if (n >= sizeof line) {
    n = sizeof line - 1;
    line[n - 1] = '\n';
  }
  /* One write: the line is not interleaved with OAI's own output. */
  if (write(STDERR_FILENO, line, n) < 0) {
  }
}

static void *stats_thread(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "slb_glue_stats");
  for (;;) {
    sleep((unsigned)g.stats_interval_s);
    print_counters("periodic");
  }
  return NULL;
}

/* At exit the shim and the client stay open (OAI's threads may still call the hooks while the
 * process ends); only the final counters are printed. */
static void at_exit(void) { print_counters("exit"); }

/* ---- daemon -> OAI (I/O threads of the shim and of the application client) ----------------- */

/* A protected PDU from the daemon: prefix the L2 IDs and hand it to SL RLC as the entity would. */
static void on_pdu_from_daemon(slb_shim *shim, const slb_pdu *p, void *user) {
  (void)shim;
  (void)user;
  count(&ctr.pdus_from_daemon);
  if (p->cast_type != SLB_CAST_GROUPCAST) {
    count(&ctr.non_groupcast_dropped);
    return;
  }
  const bearer_t *b = data_bearer();
  uint8_t *buf = malloc(SL_BRIDGE_L2_PREFIX_BYTES + p->pdu_len);
  if (b == NULL || buf == NULL) {
    free(buf);
    count(&ctr.no_bearer_dropped);
    return;
  }
  buf[0] = (uint8_t)(p->l2_source_id >> 16);
  buf[1] = (uint8_t)(p->l2_source_id >> 8);
  buf[2] = (uint8_t)p->l2_source_id;
  buf[3] = (uint8_t)(p->l2_destination_id >> 16);
  buf[4] = (uint8_t)(p->l2_destination_id >> 8);
  buf[5] = (uint8_t)p->l2_destination_id;
  memcpy(buf + SL_BRIDGE_L2_PREFIX_BYTES, p->pdu, p->pdu_len);
  if (nr_pdcp_sl_bridge_deliver_pdu(b->ue_id, b->rb_id, buf, (int)(SL_BRIDGE_L2_PREFIX_BYTES + p->pdu_len)))
    count(&ctr.pdus_to_rlc);
  else
    count(&ctr.no_bearer_dropped);
  free(buf);
}

/* A verified SDU from another group member: to the TUN, as OAI's deliver_sdu_drb would. */
static void on_delivery(slb_app *app, const slb_app_delivery *d, void *user) {
  (void)app;
  (void)user;
  count(&ctr.deliveries);
  if (d->sdu_type != SDU_TYPE_IP) {
    count(&ctr.non_ip_ignored);
    return;
  }
  if (d->group_id != g.group_id) {
    count(&ctr.other_group_ignored);
    return;
  }
  const bearer_t *b = data_bearer();
  if (b != NULL && nr_pdcp_sl_bridge_deliver_sdu(b->ue_id, b->rb_id, (uint8_t *)d->sdu, (int)d->sdu_len))
    count(&ctr.deliveries_to_tun);
  else
    count(&ctr.no_bearer_dropped);
}

static void on_refused(slb_app *app, uint32_t app_seq, const char *reason, void *user) {
  (void)app;
  (void)user;
  uint64_t n = atomic_fetch_add(&ctr.refused, 1) + 1;
  if (n <= REFUSALS_LOGGED)
    fprintf(stderr, "sl-bridge glue: daemon refused SDU app_seq=%" PRIu32 " reason=%s%s\n", app_seq, reason,
            n == REFUSALS_LOGGED ? " (further refusals only counted)" : "");
}

/* ---- start ---------------------------------------------------------------------------------- */

static int parse_uint(const char *s, int base, unsigned long max, unsigned long *out) {
  if (s == NULL || *s == '\0') return 0;
  if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, base);
  if (errno != 0 || *end != '\0' || end == s || v > max || s[0] == '-' || s[0] == '+') return 0;
  *out = v;
  return 1;
}

/* Called with g.lock held, once. */
static void start(void) {
  g.started = 1;
  const char *stack = getenv("SLB_STACK_ENDPOINT");
  if (stack == NULL || stack[0] == '\0') return; /* off: OAI as without the patch */
  const char *app = getenv("SLB_APP_ENDPOINT");
  if (app == NULL || app[0] == '\0') fatal("SLB_APP_ENDPOINT: required with SLB_STACK_ENDPOINT=%s", stack);
  unsigned long v;
  const char *group = getenv("SLB_GROUP_ID");
  if (!parse_uint(group, 16, 0xFFFFFF, &v))
    fatal("SLB_GROUP_ID: expected a 24-bit Group ID in hex (e.g. 0x0d0001), got '%s'", group ? group : "(unset)");
  g.group_id = (uint32_t)v;
  size_t max_pdu = DEFAULT_MAX_PDU_BYTES;
  const char *s = getenv("SLB_MAX_PDU_BYTES");
  if (s != NULL) {
    if (!parse_uint(s, 10, 65535, &v) || v == 0) fatal("SLB_MAX_PDU_BYTES: expected 1..65535, got '%s'", s);
    max_pdu = v;
  }
  g.stats_interval_s = DEFAULT_STATS_INTERVAL_S;
  s = getenv("SLB_STATS_INTERVAL_S");
  if (s != NULL) {
    if (!parse_uint(s, 10, 86400, &v)) fatal("SLB_STATS_INTERVAL_S: expected 0..86400 seconds, got '%s'", s);
    g.stats_interval_s = (int)v;
  }

  char err[256];
  slb_shim_config sc;
  slb_shim_config_init(&sc);
  sc.endpoint = stack;
  sc.max_pdu_bytes = max_pdu;
  sc.on_receive = on_pdu_from_daemon;
  g.shim = slb_shim_open(&sc, err, sizeof err);
  if (g.shim == NULL) fatal("stack shim (SLB_STACK_ENDPOINT=%s): %s", stack, err);

  slb_app_config ac;
  slb_app_config_init(&ac);
  ac.endpoint = app;
  ac.on_delivery = on_delivery;
  ac.on_refused = on_refused;
  g.app = slb_app_open(&ac, err, sizeof err);
  if (g.app == NULL) fatal("application client (SLB_APP_ENDPOINT=%s): %s", app, err);

  clock_gettime(CLOCK_MONOTONIC, &g.t0);
  g.on = 1;
  fprintf(stderr,
          "sl-bridge glue: started: SL DRB traffic goes through the sl-bridge daemon (stack %s, application %s, "
          "group %06" PRIx32 ", max PDU %zu octets, L2 prefix %d octets); shim %s\n",
          stack, app, g.group_id, max_pdu, SL_BRIDGE_L2_PREFIX_BYTES, SLB_SHIM_VERSION);
  atexit(at_exit);
  if (g.stats_interval_s > 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, stats_thread, NULL) == 0) pthread_detach(t);
  }
}

/* ---- hooks ---------------------------------------------------------------------------------- */

void sl_bridge_glue_add_drb(uint64_t ue_id, int rb_id, int has_sdap) {
  pthread_mutex_lock(&g.lock);
  if (!g.started) start();
  if (g.on && find_bearer(ue_id, rb_id) == NULL) {
    if (has_sdap) {
      pthread_mutex_unlock(&g.lock);
      fatal("SL DRB %d of UE %" PRIu64 " has an SDAP header: the glue passes PDCP SDUs to the daemon as IP packets and "
            "does not support SDAP headers", rb_id, ue_id);
    }
    int n = atomic_load(&g.n_bearers);
    if (n == MAX_BEARERS) {
      pthread_mutex_unlock(&g.lock);
      fatal("more than %d SL DRBs", MAX_BEARERS);
    }
    g.bearers[n] = (bearer_t){ue_id, rb_id};
    atomic_store_explicit(&g.n_bearers, n + 1, memory_order_release);
    fprintf(stderr, "sl-bridge glue: SL DRB %d of UE %" PRIu64 " goes through sl-bridge%s\n", rb_id, ue_id,
            n == 0 ? " (and carries the daemon's traffic)" : "");
  }
  pthread_mutex_unlock(&g.lock);
}

int sl_bridge_glue_tx_sdu(uint64_t ue_id, int rb_id, const uint8_t *sdu, int size) {
  if (find_bearer(ue_id, rb_id) == NULL) return 0;
  count(&ctr.tx_sdus);
  uint32_t seq = atomic_fetch_add_explicit(&g.app_seq, 1, memory_order_relaxed);
  if (size > 0 && slb_app_send_sdu(g.app, g.group_id, SDU_TYPE_IP, sdu, (size_t)size, seq, realtime_ns()) == 0)
    count(&ctr.sdus_to_daemon);
  else
    count(&ctr.sdus_dropped);
  return 1;
}

int sl_bridge_glue_rx_pdu(uint64_t ue_id, int rb_id, const uint8_t *buf, int size) {
  if (find_bearer(ue_id, rb_id) == NULL) return 0;
  count(&ctr.rx_pdus);
  if (size < SL_BRIDGE_L2_PREFIX_BYTES + 1) {
    count(&ctr.rx_short);
    return 1;
  }
  uint32_t src = (uint32_t)buf[0] << 16 | (uint32_t)buf[1] << 8 | buf[2];
  uint32_t dst = (uint32_t)buf[3] << 16 | (uint32_t)buf[4] << 8 | buf[5];
  if (slb_shim_send(g.shim, src, dst, SLB_CAST_GROUPCAST, buf + SL_BRIDGE_L2_PREFIX_BYTES,
                    (size_t)size - SL_BRIDGE_L2_PREFIX_BYTES) == SLB_OK)
    count(&ctr.pdus_to_daemon);
  else
    count(&ctr.pdus_dropped);
  return 1;
}
