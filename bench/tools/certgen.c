/* certgen: many self-signed-by-one-key certificates for the many-certificates measure.
 *
 *   certgen DIR N ZONE      DIR/key.pem (one ECDSA P-256 key), DIR/c/NNNNNN.crt for the names
 *                           hNNNNNN.ZONE (SAN = that name), DIR/names.txt; prints the matching
 *                           [[certificate]] TOML entries on stdout.
 *   certgen --one DIR NAME  DIR/one.crt: a fresh certificate for NAME with DIR/key.pem.
 *
 * Built by bench/run.sh with `cc -O2 certgen.c -lcrypto`. Sharing one key keeps generation to a
 * few seconds for 100,000 certificates; the proxy still parses and indexes each one. */
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void fail(const char *what) {
  fprintf(stderr, "certgen: %s\n", what);
  exit(1);
}

static int write_cert(EVP_PKEY *key, const char *name, long serial, const char *path) {
  X509 *x = X509_new();
  if (!x) return 0;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 30L * 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME *subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0);
  X509_set_issuer_name(x, subject);
  char san[300];
  snprintf(san, sizeof san, "DNS:%s", name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
  int ok = ext && X509_add_ext(x, ext, -1) && X509_sign(x, key, EVP_sha256()) > 0;
  X509_EXTENSION_free(ext);
  FILE *f = ok ? fopen(path, "w") : NULL;
  ok = f && PEM_write_X509(f, x);
  if (f) fclose(f);
  X509_free(x);
  return ok;
}

static EVP_PKEY *load_key(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/key.pem", dir);
  FILE *f = fopen(path, "r");
  if (!f) fail("cannot open key.pem");
  EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  if (!key) fail("cannot parse key.pem");
  return key;
}

int main(int argc, char **argv) {
  char path[4096];
  if (argc == 4 && strcmp(argv[1], "--one") == 0) {
    EVP_PKEY *key = load_key(argv[2]);
    snprintf(path, sizeof path, "%s/one.crt", argv[2]);
    if (!write_cert(key, argv[3], 999999999L, path)) fail("cannot write one.crt");
    EVP_PKEY_free(key);
    return 0;
  }
  if (argc != 4) fail("usage: certgen DIR N ZONE | certgen --one DIR NAME");
  const char *dir = argv[1], *zone = argv[3];
  long n = strtol(argv[2], NULL, 10);
  if (n <= 0 || n > 1000000) fail("N must be 1..1000000");

  EVP_PKEY *key = EVP_EC_gen("P-256");
  if (!key) fail("cannot generate the key");
  snprintf(path, sizeof path, "%s/key.pem", dir);
  FILE *kf = fopen(path, "w");
  if (!kf || !PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL)) fail("cannot write key.pem");
  fclose(kf);
  chmod(path, 0600);

  snprintf(path, sizeof path, "%s/c", dir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/names.txt", dir);
  FILE *names = fopen(path, "w");
  if (!names) fail("cannot write names.txt");
  char name[256];
  for (long i = 0; i < n; ++i) {
    snprintf(name, sizeof name, "h%06ld.%s", i, zone);
    snprintf(path, sizeof path, "%s/c/%06ld.crt", dir, i);
    if (!write_cert(key, name, i + 1, path)) fail("cannot write a certificate");
    fprintf(names, "%s\n", name);
    printf("[[certificate]]\ncert_file = \"%s\"\nkey_file = \"%s/key.pem\"\n\n", path, dir);
  }
  fclose(names);
  EVP_PKEY_free(key);
  return 0;
}
