/*
 * sl-bridge-shim-example: a minimal "stack" on the sl-bridge shim, for trying the shim and for the
 * CI test that runs it as a real peer of the daemon's stack transport.
 *
 *   sl-bridge-shim-example --endpoint EP [--src HEX6 --dst HEX6] [--cast groupcast]
 *                          [--send HEX]... [--stdin] [--echo] [--receive N] [--timeout-ms MS]
 *
 * It connects, waits for the daemon (--timeout-ms), sends the PDUs given with --send and, with
 * --stdin, one per stdin line ("HEX" with --src/--dst, or "SRC DST HEX"), then prints every PDU it
 * receives as a line
 *   rx src=00a001 dst=12ab34 cast=groupcast seq=3 tx_time_ns=1767225600000000000 pdu=2700...
 * --echo sends every received PDU back unchanged (a loop-back stack). It exits after --receive N
 * PDUs (status 3 if they do not all arrive within --timeout-ms), after sending when neither
 * --receive nor --echo is given, or on SIGINT/SIGTERM. Counters go to stderr at exit.
 * Exit status: 0 ok, 1 usage or set-up error, 2 no connection within --timeout-ms, 3 fewer PDUs
 * than --receive N, 4 a send was refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_bridge_shim.h"

struct app {
  int echo;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  uint64_t received;
  int echo_failures;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static const char *cast_name(slb_cast_type c) {
  switch (c) {
    case SLB_CAST_BROADCAST: return "broadcast";
    case SLB_CAST_GROUPCAST: return "groupcast";
    case SLB_CAST_UNICAST: return "unicast";
  }
  return "?";
}

static void on_receive(slb_shim *shim, const slb_pdu *p, void *user) {
  struct app *app = user;
  /* One line, written at once, so lines never interleave with other output. */
  size_t size = 128 + 2 * p->pdu_len;
  char *line = malloc(size);
  if (line != NULL) {
    int n = snprintf(line, size, "rx src=%06" PRIx32 " dst=%06" PRIx32 " cast=%s seq=%" PRIu32 " tx_time_ns=%" PRIu64 " pdu=",
                     p->l2_source_id, p->l2_destination_id, cast_name(p->cast_type), p->seq, p->tx_time_ns);
    for (size_t i = 0; i < p->pdu_len; i++) n += snprintf(line + n, size - (size_t)n, "%02x", p->pdu[i]);
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stdout);
    fflush(stdout);
    free(line);
  }
  int failed = 0;
  if (app->echo) failed = slb_shim_send(shim, p->l2_source_id, p->l2_destination_id, p->cast_type, p->pdu, p->pdu_len) != SLB_OK;
  pthread_mutex_lock(&app->lock);
  app->received++;
  app->echo_failures += failed;
  pthread_cond_broadcast(&app->cond);
  pthread_mutex_unlock(&app->lock);
}

static int parse_hex(const char *text, uint8_t **out, size_t *len) {
  size_t n = strlen(text);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) n--;
  if (n == 0 || n % 2 != 0) return -1;
  uint8_t *buf = malloc(n / 2);
  if (buf == NULL) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    char pair[3] = {text[2 * i], text[2 * i + 1], 0};
    if (strspn(pair, "0123456789abcdefABCDEF") != 2 || sscanf(pair, "%2x", &v) != 1) {
      free(buf);
      return -1;
    }
    buf[i] = (uint8_t)v;
  }
  *out = buf;
  *len = n / 2;
  return 0;
}

static int parse_id24(const char *text, uint32_t *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 16);
  if (errno != 0 || end == text || *end != '\0' || v > 0xFFFFFFul) return -1;
  *out = (uint32_t)v;
  return 0;
}

static int parse_cast(const char *text, slb_cast_type *out) {
  if (strcmp(text, "broadcast") == 0) *out = SLB_CAST_BROADCAST;
  else if (strcmp(text, "groupcast") == 0) *out = SLB_CAST_GROUPCAST;
  else if (strcmp(text, "unicast") == 0) *out = SLB_CAST_UNICAST;
  else return -1;
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: sl-bridge-shim-example --endpoint EP [--src HEX6 --dst HEX6] [--cast groupcast|broadcast|unicast]\n"
          "                              [--send HEX]... [--stdin] [--echo] [--receive N] [--timeout-ms MS]\n"
          "                              [--max-pdu-bytes N]\n");
}

static int send_one(slb_shim *shim, uint32_t src, uint32_t dst, slb_cast_type cast, const char *hex) {
  uint8_t *pdu;
  size_t len;
  if (parse_hex(hex, &pdu, &len) != 0) {
    fprintf(stderr, "sl-bridge-shim-example: not an even number of hex digits: %s\n", hex);
    return -1;
  }
  int rc = slb_shim_send(shim, src, dst, cast, pdu, len);
  free(pdu);
  if (rc != SLB_OK) fprintf(stderr, "sl-bridge-shim-example: send refused: %s\n", slb_status_text(rc));
  return rc == SLB_OK ? 0 : -1;
}

static void print_counters(const slb_shim_counters *counters) {
  slb_shim_counters c = *counters;
  fprintf(stderr,
          "counters sent=%" PRIu64 " received=%" PRIu64 " malformed=%" PRIu64 " dropped_invalid=%" PRIu64
          " dropped_too_large=%" PRIu64 " dropped_queue_full=%" PRIu64 " dropped_no_peer=%" PRIu64 " dropped_hwm=%" PRIu64
          " dropped_closed=%" PRIu64 " link_ups=%" PRIu64 " link_downs=%" PRIu64 "\n",
          c.sent, c.received, c.malformed, c.dropped_invalid, c.dropped_too_large, c.dropped_queue_full, c.dropped_no_peer,
          c.dropped_hwm, c.dropped_closed, c.link_ups, c.link_downs);
}

int main(int argc, char **argv) {
  slb_shim_config cfg;
  slb_shim_config_init(&cfg);
  uint32_t src = 0, dst = 0;
  int have_ids = 0;
  slb_cast_type cast = SLB_CAST_GROUPCAST;
  const char **sends = calloc((size_t)argc, sizeof *sends);
  int nsends = 0, use_stdin = 0;
  long receive = 0, timeout_ms = 10000;
  struct app app = {0};
  pthread_mutex_init(&app.lock, NULL);
  pthread_cond_init(&app.cond, NULL);

  static const struct option options[] = {
      {"endpoint", required_argument, 0, 'e'}, {"src", required_argument, 0, 's'},
      {"dst", required_argument, 0, 'd'},      {"cast", required_argument, 0, 'c'},
      {"send", required_argument, 0, 'p'},     {"stdin", no_argument, 0, 'i'},
      {"echo", no_argument, 0, 'E'},           {"receive", required_argument, 0, 'r'},
      {"timeout-ms", required_argument, 0, 't'}, {"max-pdu-bytes", required_argument, 0, 'm'},
      {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    char *end;
    switch (opt) {
      case 'e': cfg.endpoint = optarg; break;
      case 's':
        if (parse_id24(optarg, &src) != 0) goto bad;
        have_ids |= 1;
        break;
      case 'd':
        if (parse_id24(optarg, &dst) != 0) goto bad;
        have_ids |= 2;
        break;
      case 'c':
        if (parse_cast(optarg, &cast) != 0) goto bad;
        break;
      case 'p': sends[nsends++] = optarg; break;
      case 'i': use_stdin = 1; break;
      case 'E': app.echo = 1; break;
      case 'r':
        receive = strtol(optarg, &end, 10);
        if (*end != '\0' || receive < 0) goto bad;
        break;
      case 't':
        timeout_ms = strtol(optarg, &end, 10);
        if (*end != '\0' || timeout_ms < 0 || timeout_ms > 3600000) goto bad;
        break;
      case 'm':
        cfg.max_pdu_bytes = (size_t)strtoul(optarg, &end, 10);
        if (*end != '\0') goto bad;
        break;
      case 'h': usage(); return 0;
      default: goto bad;
    }
  }
  if (cfg.endpoint == NULL || optind != argc || (nsends > 0 && have_ids != 3)) goto bad;
  cfg.on_receive = on_receive;
  cfg.user = &app;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  char err[256];
  slb_shim *shim = slb_shim_open(&cfg, err, sizeof err);
  if (shim == NULL) {
    fprintf(stderr, "sl-bridge-shim-example: %s\n", err);
    return 1;
  }
  int status = 0;
  if (slb_shim_wait_connected(shim, (int)timeout_ms) != SLB_OK) {
    fprintf(stderr, "sl-bridge-shim-example: no connection to %s within %ld ms\n", cfg.endpoint, timeout_ms);
    status = 2;
    goto done;
  }
  fprintf(stderr, "connected %s\n", cfg.endpoint);
  for (int i = 0; i < nsends; i++)
    if (send_one(shim, src, dst, cast, sends[i]) != 0) status = 4;
  if (use_stdin) {
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0) {
      char a[16], b[16], hex[2 * 65536 + 8];
      uint32_t lsrc = src, ldst = dst;
      if (line[0] == '\n' || line[0] == '#') continue;
      int fields = sscanf(line, "%15s %15s %131079s", a, b, hex);
      const char *pdu_hex = line;
      if (fields == 3) {
        if (parse_id24(a, &lsrc) != 0 || parse_id24(b, &ldst) != 0) {
          fprintf(stderr, "sl-bridge-shim-example: bad L2 IDs in line: %s", line);
          status = 4;
          continue;
        }
        pdu_hex = hex;
      } else if (fields != 1) {
        fprintf(stderr, "sl-bridge-shim-example: expected \"HEX\" or \"SRC DST HEX\": %s", line);
        status = 4;
        continue;
      } else if (have_ids != 3) {
        fprintf(stderr, "sl-bridge-shim-example: line without L2 IDs needs --src and --dst: %s", line);
        status = 4;
        continue;
      }
      if (send_one(shim, lsrc, ldst, cast, pdu_hex) != 0) status = 4;
    }
    free(line);
  }

  if (receive > 0 || app.echo) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&app.lock);
    while (!stop_requested && (receive == 0 || app.received < (uint64_t)receive)) {
      /* Wake every 50 ms to notice signals. Echo-only peers run until a signal. */
      struct timespec step;
      clock_gettime(CLOCK_REALTIME, &step);
      step.tv_nsec += 50000000L;
      if (step.tv_nsec >= 1000000000L) {
        step.tv_sec++;
        step.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&app.cond, &app.lock, &step);
      if (receive > 0 && (step.tv_sec > deadline.tv_sec || (step.tv_sec == deadline.tv_sec && step.tv_nsec >= deadline.tv_nsec)))
        break;
    }
    if (receive > 0 && app.received < (uint64_t)receive) {
      fprintf(stderr, "sl-bridge-shim-example: received %" PRIu64 " of %ld PDUs\n", app.received, receive);
      if (status == 0) status = 3;
    }
    if (app.echo_failures > 0 && status == 0) status = 4;
    pthread_mutex_unlock(&app.lock);
  }

done:;
  slb_shim_counters final;
  slb_shim_close(shim, &final);
  print_counters(&final);
  free(sends);
  return status;

bad:
  usage();
  free(sends);
  return 1;
}
