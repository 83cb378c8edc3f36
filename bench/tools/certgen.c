/* certgen: many self-signed-by-one-key certificates for the many-certificates measure.
 *
 *   certgen DIR N ZONE      DIR/key.pem (one ECDSA P-256 key), DIR/c/NNNNNN.crt for the names
 *                           hNNNNNN.ZONE (SAN = that name), DIR/names.txt; prints the matching
 *                           [[certificate]] TOML entries on stdout.
 *   certgen --dir DIR N ZONE  the same names as one combined PEM (certificate, then the key) per
 *                           name, DIR/certs/NNNNNN.pem: a certificate folder; prints its
 *                           [[certificate_dir]] TOML entry on stdout.
 *   certgen --one DIR NAME [SERIAL]  DIR/one.crt: a fresh certificate for NAME with DIR/key.pem
 *                           (serial 999999999 unless given), and DIR/one.pem: it and the key.
 *   certgen --store DIR N ZONE DAYS  the names hNNNNNN.ZONE valid for DAYS days, for filling a
 *                           certificate store (bench/tools/store_fill.py): DIR/key.pem, every
 *                           certificate in DIR/store.pem in order, DIR/store.txt with one line per
 *                           certificate "name serial_hex not_before not_after issuer_cn" (unix
 *                           seconds; the facts a stored row keeps beside its PEM), and
 *                           DIR/names.txt.
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
#include <time.h>

static void fail(const char *what) {
  fprintf(stderr, "certgen: %s\n", what);
  exit(1);
}

static int write_pem(X509 *x, EVP_PKEY *key, const char *path, int with_key) {
  FILE *f = fopen(path, "w");
  int ok = f && PEM_write_X509(f, x);
  if (ok && with_key) ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
  if (f && fclose(f) != 0) ok = 0;
  if (ok && with_key) chmod(path, 0600);
  return ok;
}

/* A self-signed certificate for `name` with `key`, valid from an hour ago for `days` days. */
static X509 *make_cert(EVP_PKEY *key, const char *name, long serial, long days) {
  X509 *x = X509_new();
  if (!x) return NULL;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), days * 24 * 3600);
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
  if (!ok) {
    X509_free(x);
    return NULL;
  }
  return x;
}

/* Seconds since the epoch of an ASN1_TIME, or -1. */
static long long unix_time(const ASN1_TIME *t) {
  struct tm tm;
  if (ASN1_TIME_to_tm(t, &tm) != 1) return -1;
  return (long long)timegm(&tm);
}

/* Writes the certificate to `path` (the private key after it when with_key), and the certificate
 * alone to `cert_only` when not NULL: the same certificate, as ECDSA signatures differ per signing. */
static int write_cert(EVP_PKEY *key, const char *name, long serial, const char *path, int with_key,
                      const char *cert_only) {
  X509 *x = make_cert(key, name, serial, 30);
  if (!x) return 0;
  int ok = write_pem(x, key, path, with_key);
  if (ok && cert_only) ok = write_pem(x, key, cert_only, 0);
  X509_free(x);
  return ok;
}

/* The one P-256 key every generated certificate shares, written to DIR/key.pem (0600). */
static EVP_PKEY *shared_key(const char *dir) {
  char path[4096];
  EVP_PKEY *key = EVP_EC_gen("P-256");
  if (!key) fail("cannot generate the key");
  snprintf(path, sizeof path, "%s/key.pem", dir);
  FILE *kf = fopen(path, "w");
  if (!kf || !PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL)) fail("cannot write key.pem");
  fclose(kf);
  chmod(path, 0600);
  return key;
}

/* certgen --store DIR N ZONE DAYS (see the top of this file). */
static int store_mode(const char *dir, long n, const char *zone, long days) {
  char path[4096];
  EVP_PKEY *key = shared_key(dir);
  snprintf(path, sizeof path, "%s/store.pem", dir);
  FILE *pem = fopen(path, "w");
  snprintf(path, sizeof path, "%s/store.txt", dir);
  FILE *facts = fopen(path, "w");
  snprintf(path, sizeof path, "%s/names.txt", dir);
  FILE *names = fopen(path, "w");
  if (!pem || !facts || !names) fail("cannot write store.pem, store.txt or names.txt");
  char name[256];
  for (long i = 0; i < n; ++i) {
    snprintf(name, sizeof name, "h%06ld.%s", i, zone);
    X509 *x = make_cert(key, name, i + 1, days);
    if (!x || !PEM_write_X509(pem, x)) fail("cannot write a certificate");
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (!hex) fail("cannot read a serial number");
    char issuer[256];
    if (X509_NAME_get_text_by_NID(X509_get_issuer_name(x), NID_commonName, issuer, sizeof issuer) <= 0 ||
        strchr(issuer, ' ') != NULL)
      fail("cannot read the issuer's common name (or it holds a space)");
    fprintf(facts, "%s %s %lld %lld %s\n", name, hex, unix_time(X509_get0_notBefore(x)),
            unix_time(X509_get0_notAfter(x)), issuer);
    fprintf(names, "%s\n", name);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
  }
  if (fclose(pem) != 0 || fclose(facts) != 0 || fclose(names) != 0) fail("cannot finish the output files");
  EVP_PKEY_free(key);
  return 0;
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
  if ((argc == 4 || argc == 5) && strcmp(argv[1], "--one") == 0) {
    EVP_PKEY *key = load_key(argv[2]);
    long serial = argc == 5 ? strtol(argv[4], NULL, 10) : 999999999L;
    char crt[4096];
    snprintf(crt, sizeof crt, "%s/one.crt", argv[2]);
    snprintf(path, sizeof path, "%s/one.pem", argv[2]);
    if (!write_cert(key, argv[3], serial, path, 1, crt)) fail("cannot write one.pem and one.crt");
    EVP_PKEY_free(key);
    return 0;
  }
  if (argc == 6 && strcmp(argv[1], "--store") == 0) {
    long n = strtol(argv[3], NULL, 10), days = strtol(argv[5], NULL, 10);
    if (n <= 0 || n > 1000000) fail("N must be 1..1000000");
    if (days <= 0 || days > 3650) fail("DAYS must be 1..3650");
    return store_mode(argv[2], n, argv[4], days);
  }
  int folder = argc == 5 && strcmp(argv[1], "--dir") == 0;
  if (argc != 4 && !folder) {
    fail("usage: certgen [--dir] DIR N ZONE | certgen --one DIR NAME [SERIAL] | certgen --store DIR N ZONE DAYS");
  }
  const char *dir = argv[1 + folder], *zone = argv[3 + folder];
  long n = strtol(argv[2 + folder], NULL, 10);
  if (n <= 0 || n > 1000000) fail("N must be 1..1000000");

  EVP_PKEY *key = shared_key(dir);

  snprintf(path, sizeof path, "%s/%s", dir, folder ? "certs" : "c");
  mkdir(path, folder ? 0700 : 0755);
  snprintf(path, sizeof path, "%s/names.txt", dir);
  FILE *names = fopen(path, "w");
  if (!names) fail("cannot write names.txt");
  char name[256];
  for (long i = 0; i < n; ++i) {
    snprintf(name, sizeof name, "h%06ld.%s", i, zone);
    if (folder) {
      snprintf(path, sizeof path, "%s/certs/%06ld.pem", dir, i);
    } else {
      snprintf(path, sizeof path, "%s/c/%06ld.crt", dir, i);
    }
    if (!write_cert(key, name, i + 1, path, folder, NULL)) fail("cannot write a certificate");
    fprintf(names, "%s\n", name);
    if (!folder) printf("[[certificate]]\ncert_file = \"%s\"\nkey_file = \"%s/key.pem\"\n\n", path, dir);
  }
  if (folder) printf("[[certificate_dir]]\npath = \"%s/certs\"\n\n", dir);
  fclose(names);
  EVP_PKEY_free(key);
  return 0;
}
