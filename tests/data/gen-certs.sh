#!/bin/sh
# Generates the test PKI with the openssl CLI: a root CA, an intermediate, and leaves signed by the
# intermediate (see README.md in this folder for each identity). Writes into the directory given
# as the only argument, never into the source tree: certificates are made fresh for every run so
# none expires in the repository and no private key is ever committed.
#
#   tests/data/gen-certs.sh /tmp/portcullis-certs
#
# Output per identity: <name>.crt (leaf first, then the intermediate), <name>.key (PKCS#8, 0600).
# The root is root-ca.crt / root-ca.key; the intermediate intermediate.crt / intermediate.key.
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTPUT_DIR" >&2
  exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$(realpath -m "$1")
case "$out/" in
  "$repo"/*)
    echo "$0: refusing to write into the source tree ($out); pick a directory outside $repo" >&2
    exit 2 ;;
esac

mkdir -p "$out"
umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-gen-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/newcerts"
: > "$work/index.txt"

cat > "$work/ca.cnf" <<CNF
[ ca ]
default_ca = test_ca

[ test_ca ]
database = $work/index.txt
new_certs_dir = $work/newcerts
serial = $work/serial
default_md = sha256
policy = any_subject
unique_subject = no
email_in_dn = no
copy_extensions = none
default_days = 90

[ any_subject ]
commonName = supplied

[ intermediate_ext ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ ec_leaf_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = \${ENV::SAN}

# RSA key exchange (TLS 1.2 without ECDHE) needs keyEncipherment as well.
[ rsa_leaf_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = \${ENV::SAN}
CNF

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# sign NAME ISSUER EXTENSIONS SERIAL_HEX START END CN: signs $work/NAME.csr with ISSUER.{crt,key}.
sign() {
  echo "$4" > "$work/serial"
  openssl ca -batch -notext -config "$work/ca.cnf" \
    -cert "$out/$2.crt" -keyfile "$out/$2.key" -in "$work/$1.csr" -out "$work/$1.crt" \
    -extensions "$3" -startdate "$5" -enddate "$6" -subj "/CN=$7" 2>"$work/ca.log" ||
    { cat "$work/ca.log" >&2; exit 1; }
}

now=$(date -u +%Y%m%d%H%M%SZ)
year_from_now=$(date -u -d '+365 days' +%Y%m%d%H%M%SZ)
five_years=$(date -u -d '+1825 days' +%Y%m%d%H%M%SZ)

# Root CA: self-signed, ten years.
ec_key "$out/root-ca.key"
openssl req -x509 -new -key "$out/root-ca.key" -subj "/CN=Portcullis Test Root CA" -days 3650 -sha256 \
  -addext "basicConstraints=critical,CA:true" \
  -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  -out "$out/root-ca.crt"

# Intermediate CA, signed by the root.
ec_key "$out/intermediate.key"
openssl req -new -key "$out/intermediate.key" -subj "/CN=Portcullis Test Intermediate" -out "$work/intermediate.csr"
SAN="DNS:unused.invalid" sign intermediate root-ca intermediate_ext 1000 "$now" "$five_years" "Portcullis Test Intermediate"
cp "$work/intermediate.crt" "$out/intermediate.crt"

# leaf NAME KEYTYPE SERIAL START END CN SAN
leaf() {
  "$2_key" "$out/$1.key"
  openssl req -new -key "$out/$1.key" -subj "/CN=$6" -out "$work/$1.csr"
  SAN="$7" sign "$1" intermediate "$2_leaf_ext" "$3" "$4" "$5" "$6"
  cat "$work/$1.crt" "$out/intermediate.crt" > "$out/$1.crt"
}

leaf app.example.com      ec  1001 "$now" "$year_from_now" app.example.com "DNS:app.example.com"
leaf wildcard.example.com ec  1002 "$now" "$year_from_now" "*.example.com" "DNS:*.example.com"
leaf fallback             ec  1003 "$now" "$year_from_now" "*.edge.example.net" "DNS:*.edge.example.net"
leaf expired.example.com  ec  1004 20200101000000Z 20200401000000Z expired.example.com "DNS:expired.example.com"
leaf rsa.example.com      rsa 1005 "$now" "$year_from_now" rsa.example.com "DNS:rsa.example.com"

chmod 0600 "$out"/*.key
chmod 0644 "$out"/*.crt
echo "test certificates written to $out"
