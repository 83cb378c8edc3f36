/* ssl_idle_mem: how many heap bytes OpenSSL keeps per idle server-side TLS 1.3 connection, with no
 * proxy around it: N connections over socketpairs (ECDSA P-256, X25519, SSL_MODE_RELEASE_BUFFERS,
 * one session ticket, as Portcullis configures its SSL_CTX), one 100-byte request and response
 * each, then the client ends freed; prints the in-use heap (mallinfo2) per server SSL left.
 *
 *   cc -O2 -o ssl_idle_mem ssl_idle_mem.c -lssl -lcrypto && ./ssl_idle_mem [N=1000]
 *
 * That is the floor for any OpenSSL 3 based server on this machine; RSS per connection adds
 * allocator fragmentation on top. */
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "ssl_idle_mem: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

static int pump(SSL *s) {  /* 1 done, 0 again, -1 error */
  int r = SSL_do_handshake(s);
  if (r == 1) return 1;
  int e = SSL_get_error(s, r);
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  if (!key || !x) die("key");
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"bench", -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  if (!X509_sign(x, key, EVP_sha256())) die("sign");

  SSL_CTX *sctx = SSL_CTX_new(TLS_server_method()), *cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_mode(sctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_CTX_set_session_cache_mode(sctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(sctx, 1);
  SSL_CTX_set1_groups_list(sctx, "X25519:P-256");
  SSL_CTX_set1_groups_list(cctx, "X25519");
  SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
  if (SSL_CTX_use_certificate(sctx, x) != 1 || SSL_CTX_use_PrivateKey(sctx, key) != 1) die("cert");

  SSL **servers = calloc((size_t)n, sizeof *servers);
  char buf[256];
  struct mallinfo2 before = mallinfo2();
  for (int i = 0; i < n; ++i) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) die("socketpair (raise ulimit -n?)");
    SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
    SSL_set_fd(s, fds[0]);
    SSL_set_fd(c, fds[1]);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    int sd = 0, cd = 0;
    for (int k = 0; k < 100 && !(sd == 1 && cd == 1); ++k) {
      if (cd != 1 && (cd = pump(c)) < 0) die("client handshake");
      if (sd != 1 && (sd = pump(s)) < 0) die("server handshake");
    }
    if (!(sd == 1 && cd == 1)) die("handshake did not finish");
    memset(buf, 'a', 100);
    size_t w = 0, rd = 0;
    if (!SSL_write_ex(c, buf, 100, &w)) die("client write");
    while (!SSL_read_ex(s, buf, sizeof buf, &rd)) {
      if (SSL_get_error(s, 0) != SSL_ERROR_WANT_READ) die("server read");
    }
    if (!SSL_write_ex(s, buf, 100, &w)) die("server write");
    while (!SSL_read_ex(c, buf, sizeof buf, &rd)) { /* the ticket, then the response */
      if (SSL_get_error(c, 0) != SSL_ERROR_WANT_READ) die("client read");
    }
    SSL_free(c);
    close(fds[1]);
    servers[i] = s;
  }
  struct mallinfo2 after = mallinfo2();
  printf("%d idle server connections: %.2f KiB of heap in use each (OpenSSL %s)\n", n,
         (double)(after.uordblks - before.uordblks) / n / 1024.0, OpenSSL_version(OPENSSL_VERSION));
  for (int i = 0; i < n; ++i) SSL_free(servers[i]);
  return 0;
}
