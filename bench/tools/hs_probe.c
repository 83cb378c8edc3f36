/* hs_probe: full TLS 1.3 handshakes back to back against 127.0.0.1:PORT, each on a new connection
 * (no session resumption), with an SNI drawn at random from a names file; the background client of
 * the publish and swap measures, and the handshake-latency client of the Portcullis-only measures.
 *
 *   hs_probe --port P --names FILE [--count N] [--duration S] [--log FILE]
 *
 * Stops after N handshakes (default 1,000,000), S seconds (default 10), or SIGTERM/SIGINT, whichever
 * comes first. With --log, one line per handshake, written as it ends:
 *     START_EPOCH MS COVERS WAIT_MS
 * START_EPOCH: the wall-clock time (seconds, CLOCK_REALTIME) the connection was started; MS: from
 * the connect() to the end of the handshake, in milliseconds (CLOCK_MONOTONIC); COVERS: 1 when the
 * served certificate covers the SNI (X509_check_host: its subjectAltName, wildcards included), 0
 * when it does not, -1 when the connection or the handshake failed (MS is then the time until the
 * failure, at most the 5 s timeout); WAIT_MS: how long this client itself was runnable but waiting
 * for a CPU during that handshake (the run_delay of /proc/self/schedstat; -1 where the kernel does
 * not expose it): a long handshake with a small WAIT_MS was slow on the server's side, one whose
 * WAIT_MS makes up most of it was the client's own (a neighbour on its CPU). Prints a summary on
 * stdout at the end:
 *     {"count": handshakes done, "failed": .., "wrong_cert": .., "p50_ms": .., "p99_ms": .., "max_ms": ..,
 *      "max_less_wait_ms": ..}
 * (failures not in the percentiles; max_less_wait_ms: the largest MS - WAIT_MS). Exit status 0 when at least one handshake succeeded.
 *
 * Built by bench/run.sh with `cc -O2 -o hs_probe hs_probe.c -lssl -lcrypto`. Its own cost per
 * handshake is OpenSSL's client side (an X25519 key share, no certificate verification) and two
 * system calls per round trip: far below the 10 ms stall it is there to show. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 5000
#define MAX_NAMES 10000000L

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static void usage(void) {
  fprintf(stderr, "usage: hs_probe --port P --names FILE [--count N] [--duration S] [--log FILE]\n");
  exit(2);
}

static double now(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state;
static uint64_t next_random(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Waits until fd is ready for `events` or the monotonic deadline passes: 1 ready, 0 timeout or
 * stopped, -1 error. */
static int wait_fd(int fd, short events, double deadline) {
  for (;;) {
    int left = (int)((deadline - now(CLOCK_MONOTONIC)) * 1000);
    if (left <= 0 || stopping) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, left);
    if (r > 0) return 1;
    if (r == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

/* One handshake: 1 the certificate covers `name`, 0 it does not, -1 failed, -2 stopped. */
static int handshake(SSL_CTX *ctx, const struct sockaddr_in *addr, const char *name) {
  double deadline = now(CLOCK_MONOTONIC) + TIMEOUT_MS / 1000.0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1, result = -1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL *ssl = NULL;
  if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) {
    if (errno != EINPROGRESS) goto done;
    int r = wait_fd(fd, POLLOUT, deadline), err = 0;
    socklen_t len = sizeof err;
    if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      if (stopping) result = -2;
      goto done;
    }
  }
  ssl = SSL_new(ctx);
  if (!ssl || !SSL_set_fd(ssl, fd) || !SSL_set_tlsext_host_name(ssl, name)) goto done;
  for (;;) {
    int r = SSL_connect(ssl);
    if (r == 1) break;
    int e = SSL_get_error(ssl, r);
    short events = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (!events || wait_fd(fd, events, deadline) <= 0) {
      if (stopping) result = -2;
      goto done;
    }
  }
  X509 *cert = SSL_get0_peer_certificate(ssl);
  result = cert && X509_check_host(cert, name, strlen(name), 0, NULL) == 1 ? 1 : 0;
done:
  ERR_clear_error();
  SSL_free(ssl); /* no close_notify: the server sees the connection end as any client's */
  close(fd);
  return result;
}

/* This thread's total time waiting on a run queue, in ns (the second field of
 * /proc/self/schedstat), or -1. */
static long long run_delay_ns(int fd) {
  char buf[128];
  if (fd < 0) return -1;
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = 0;
  unsigned long long cpu = 0, delay = 0;
  return sscanf(buf, "%llu %llu", &cpu, &delay) == 2 ? (long long)delay : -1;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  long port = 0, count = 1000000;
  double duration = 10;
  const char *names_path = NULL, *log_path = NULL;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 >= argc) usage();
    const char *opt = argv[i], *val = argv[++i];
    if (!strcmp(opt, "--port")) port = strtol(val, NULL, 10);
    else if (!strcmp(opt, "--names")) names_path = val;
    else if (!strcmp(opt, "--count")) count = strtol(val, NULL, 10);
    else if (!strcmp(opt, "--duration")) duration = strtod(val, NULL);
    else if (!strcmp(opt, "--log")) log_path = val;
    else usage();
  }
  if (port <= 0 || port > 65535 || !names_path || count <= 0 || !(duration > 0)) usage();

  FILE *nf = fopen(names_path, "r");
  if (!nf) { perror(names_path); return 2; }
  char **names = NULL, line[512];
  long n = 0, cap = 0;
  while (n < MAX_NAMES && fgets(line, sizeof line, nf)) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 1024;
      names = realloc(names, (size_t)cap * sizeof *names);
      if (!names) { fprintf(stderr, "hs_probe: out of memory\n"); return 2; }
    }
    if (!(names[n++] = strdup(line))) { fprintf(stderr, "hs_probe: out of memory\n"); return 2; }
  }
  fclose(nf);
  if (n == 0) { fprintf(stderr, "hs_probe: no names in %s\n", names_path); return 2; }

  FILE *log = NULL;
  if (log_path) {
    if (!(log = fopen(log_path, "w"))) { perror(log_path); return 2; }
    setvbuf(log, NULL, _IOLBF, 0); /* each line as it ends: the harness reads it while we run */
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a blocked poll() returns at once */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) { fprintf(stderr, "hs_probe: SSL_CTX_new failed\n"); return 2; }
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  rng_state = ((uint64_t)getpid() << 32) ^ (uint64_t)(now(CLOCK_REALTIME) * 1e6) ^ 0x9E3779B97F4A7C15ULL;
  if (!rng_state) rng_state = 1;
  double *ms = malloc((size_t)(count < 1000000 ? count : 1000000) * sizeof *ms);
  long done = 0, ok = 0, failed = 0, wrong = 0, kept = count < 1000000 ? count : 1000000;
  double max_less_wait = 0;
  if (!ms) { fprintf(stderr, "hs_probe: out of memory\n"); return 2; }
  int schedstat = open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC);
  double end = now(CLOCK_MONOTONIC) + duration;
  while (!stopping && done < count && now(CLOCK_MONOTONIC) < end) {
    const char *name = names[next_random() % (uint64_t)n];
    long long waited0 = run_delay_ns(schedstat);
    double began = now(CLOCK_REALTIME), t0 = now(CLOCK_MONOTONIC);
    int r = handshake(ctx, &addr, name);
    double took = (now(CLOCK_MONOTONIC) - t0) * 1000;
    long long waited1 = run_delay_ns(schedstat);
    double waited = waited0 >= 0 && waited1 >= waited0 ? (double)(waited1 - waited0) / 1e6 : -1;
    if (r == -2) break;
    ++done;
    if (r < 0) ++failed;
    else {
      if (r == 0) ++wrong;
      if (ok < kept) ms[ok] = took;
      if (took - (waited > 0 ? waited : 0) > max_less_wait) max_less_wait = took - (waited > 0 ? waited : 0);
      ++ok;
    }
    if (log) fprintf(log, "%.6f %.3f %d %.3f\n", began, took, r, waited);
  }
  if (log) fclose(log);
  if (schedstat >= 0) close(schedstat);
  long m = ok < kept ? ok : kept;
  qsort(ms, (size_t)m, sizeof *ms, by_value);
  double p50 = m ? ms[m / 2] : 0, p99 = m ? ms[(long)(0.99 * (double)m) < m ? (long)(0.99 * (double)m) : m - 1] : 0;
  printf("{\"count\": %ld, \"failed\": %ld, \"wrong_cert\": %ld, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, "
         "\"max_less_wait_ms\": %.3f}\n",
         ok, failed, wrong, p50, p99, m ? ms[m - 1] : 0.0, max_less_wait);
  SSL_CTX_free(ctx);
  return ok > 0 ? 0 : 1;
}
