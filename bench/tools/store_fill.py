#!/usr/bin/env python3
"""Fills a Portcullis certificate store (<data_dir>/portcullis.db) with endpoints and their managed
certificates, the rows a platform's store holds after the admin API created the endpoints and each
was issued its certificate, for the store_start measure of bench/run.sh.

  store_fill.py --db FILE --certs DIR --upstream HOST:PORT [--id-prefix st-] [--without-facts]

DIR is the output of `certgen --store DIR N ZONE DAYS` (bench/tools/certgen.c): key.pem, store.pem
(the certificates in order) and store.txt ("name serial_hex not_before not_after issuer_cn" per
line).

Writes schema version 7 (certstore/sqlite_storage.cpp), exactly the columns the code writes:
- endpoints (SqliteStorage::put_endpoint, from the admin API's create): id, hostnames, scope
  "external", upstreams, ip_allowlist "", managed_https 1, created, updated;
- certificates (acme::Issuer::issue → put_certificate): name_key = endpoint_id = the endpoint's id,
  source "managed", names, chain_pem, key_pem (a BLOB), serial_hex (OpenSSL's BN_bn2hex),
  not_after, created, removed 0, and the facts a start indexes the row by without parsing its PEM
  (StoredCertificate::set_facts): cert_names (the certificate's SAN, lower-cased as
  CertBundle::names() gives it), not_before, issuer_cn (NULL with --without-facts: the rows as
  written before schema version 6, whose facts a start reads from the PEM);
- renewal_state (the scheduler's write after a success): next_attempt at two thirds of the
  lifetime (acme.renew_before_ratio's default 1/3 left), no failures, last_success = issuance;
- certificate_swaps (the certificate timeline's record of the issuance): one "issued" swap per
  endpoint, so a start finds nothing changed.
The file must have been created by Portcullis itself (a first start on an empty data_dir) at that
schema version; any other user_version, or a table whose columns differ, is refused. Portcullis
must not be running on it.
"""
import argparse
import sqlite3
import sys
import time

SCHEMA_VERSION = 7

COLUMNS = {
    "endpoints": ["id", "hostnames", "scope", "upstreams", "ip_allowlist", "managed_https", "created", "updated"],
    "certificates": ["name_key", "endpoint_id", "source", "names", "chain_pem", "key_pem", "serial_hex",
                     "not_after", "created", "removed", "cert_names", "not_before", "issuer_cn"],
    "renewal_state": ["endpoint_id", "next_attempt", "consecutive_failures", "last_error", "last_success"],
    "certificate_swaps": ["seq", "endpoint_id", "hostnames", "source", "serial_hex", "not_after", "at", "reason"],
}

END = "-----END CERTIFICATE-----\n"


def fail(message):
    print(f"store_fill: {message}", file=sys.stderr)
    sys.exit(1)


def read_certs(path):
    text = open(path).read()
    parts = text.split(END)
    if parts and not parts[-1].strip():
        parts.pop()
    return [p.lstrip("\n") + END for p in parts]


def cert_names(name):
    """The certificate's one SAN as CertBundle::names() gives it: ASCII lower-case, no trailing dot."""
    name = name[:-1] if name.endswith(".") else name
    return name.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--certs", required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--id-prefix", default="st-")
    p.add_argument("--without-facts", action="store_true")
    args = p.parse_args()

    key_pem = open(f"{args.certs}/key.pem", "rb").read()
    certs = read_certs(f"{args.certs}/store.pem")
    facts = [line.split() for line in open(f"{args.certs}/store.txt") if line.strip()]
    if len(certs) != len(facts) or not certs:
        fail(f"{args.certs}: {len(certs)} certificates in store.pem but {len(facts)} lines in store.txt")
    if any(len(f) != 5 for f in facts):
        fail(f"{args.certs}/store.txt: expected \"name serial_hex not_before not_after issuer_cn\" per line "
             "(rebuild bench/tools/certgen.c)")

    db = sqlite3.connect(args.db, isolation_level=None)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        fail(f"{args.db}: schema version {version}, this script writes version {SCHEMA_VERSION} "
             "(certstore/sqlite_storage.cpp changed: update bench/tools/store_fill.py to match)")
    for table, expected in COLUMNS.items():
        found = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        if found != expected:
            fail(f"{args.db}: table {table} has columns {found}, expected {expected}")
    if db.execute("SELECT COUNT(*) FROM endpoints").fetchone()[0] or \
            db.execute("SELECT COUNT(*) FROM certificates").fetchone()[0]:
        fail(f"{args.db}: already holds endpoints or certificates; fill a fresh store")

    now = int(time.time())
    db.execute("PRAGMA synchronous=OFF")  # one transaction of a throw-away store
    db.execute("BEGIN IMMEDIATE")
    for i, (cert, (name, serial_hex, not_before, not_after, issuer_cn)) in enumerate(zip(certs, facts)):
        endpoint = f"{args.id_prefix}{i:06d}"
        not_before, not_after = int(not_before), int(not_after)
        cert_name = None if args.without_facts else cert_names(name)
        if args.without_facts:
            not_before_col, issuer_col = None, None
        else:
            not_before_col, issuer_col = not_before, issuer_cn
        next_attempt = not_before + (not_after - not_before) * 2 // 3
        db.execute("INSERT INTO endpoints (id, hostnames, scope, upstreams, ip_allowlist, managed_https, created, "
                   "updated) VALUES (?, ?, 'external', ?, '', 1, ?, ?)", (endpoint, name, args.upstream, now, now))
        db.execute("INSERT INTO certificates (name_key, endpoint_id, source, names, chain_pem, key_pem, serial_hex, "
                   "not_after, created, removed, cert_names, not_before, issuer_cn) "
                   "VALUES (?, ?, 'managed', ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                   (endpoint, endpoint, name, cert, key_pem, serial_hex, not_after, now, cert_name, not_before_col,
                    issuer_col))
        db.execute("INSERT INTO renewal_state (endpoint_id, next_attempt, consecutive_failures, last_error, "
                   "last_success) VALUES (?, ?, 0, '', ?)", (endpoint, next_attempt, now))
        db.execute("INSERT INTO certificate_swaps (endpoint_id, hostnames, source, serial_hex, not_after, at, reason) "
                   "VALUES (?, ?, 'managed', ?, ?, ?, 'issued')", (endpoint, name, serial_hex, not_after, now))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    print(len(certs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
