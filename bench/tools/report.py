#!/usr/bin/env python3
"""Turns the harness's raw samples (raw.csv: round,proxy,measure,value) into summary.csv and a
markdown table: per proxy and measure the median over rounds, min–max, and the ratio to nginx's
median. Rows that a proxy never produced show "n/a" (not built, failed to start, or skipped).

Usage: report.py RESULTS_DIR   (reads RESULTS_DIR/raw.csv and RESULTS_DIR/meta.txt, writes
summary.csv and table.md there, prints table.md)
"""
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

PROXIES = [("portcullis", "Portcullis"), ("nginx", "nginx"), ("haproxy", "HAProxy"), ("caddy", "Caddy")]

# (key, label, unit formatter, higher_is_better)
def k_fmt(v):
    return f"{v / 1000:.1f}k" if v >= 10_000 else f"{v:,.0f}"


def ms_fmt(v):
    return f"{v:.2f} ms"


def kib_fmt(v):
    return f"{v:.1f} KiB"


def int_fmt(v):
    return f"{v:,.0f}"


MAIN = [
    ("ka_rps", "keep-alive HTTPS req/s, 1 core (wrk -t1 -c50, 100-byte body, TLS 1.3)", k_fmt, True),
    ("ka_p50_ms", "… p50 latency", ms_fmt, False),
    ("ka_p99_ms", "… p99 latency", ms_fmt, False),
    ("hs_ecdsa_cpu", "full TLS 1.3 handshakes per proxy core-second (X25519 + ECDSA P-256, 1 request each, no resumption)", int_fmt, True),
    ("hs_rsa_cpu", "RSA-2048 full handshakes per proxy core-second (X25519 + RSA-2048, 1 request each)", int_fmt, True),
    ("mem_kib_conn", "idle memory per TLS connection (held after one request; RSS delta / connections)", kib_fmt, False),
]

# Portcullis-only measures (section 5 of bench/README.md); absent until the binary supports them.
EXTRA = [
    ("swap_rps", "keep-alive req/s with a certificate hot swap every second", k_fmt),
    ("swap_failed", "… failed requests during the swaps (must be 0)", int_fmt),
    ("swap_publish_ms_p50", "… swap publish time, p50 (signal → new certificate served)", ms_fmt),
    ("swap_publish_ms_max", "… swap publish time, max", ms_fmt),
    ("many_certs", "certificates loaded", int_fmt),
    ("many_load_s", "… time from start to serving", lambda v: f"{v:.1f} s"),
    ("many_rss_mib", "… RSS with them loaded", lambda v: f"{v:,.0f} MiB"),
    ("many_hs_p50_ms", "… handshake latency p50, random SNI among them", ms_fmt),
    ("many_hs_p99_ms", "… handshake latency p99, random SNI among them", ms_fmt),
    ("many_hs_max_ms", "… longest of those handshakes (the C client's floor for the swap's stall figure)", ms_fmt),
    ("many_hs_max_less_wait_ms", "… the same less the client's own wait for a CPU during it", ms_fmt),
    ("one_hs_p50_ms", "… same client, one certificate (baseline), p50", ms_fmt),
    ("many_sni_wrong", "… handshakes that got a certificate not matching the SNI (must be 0)", int_fmt),
    ("many_swap_publish_ms", "… swap publish time with them loaded", ms_fmt),
    ("many_swap_hs_max_ms", "… longest handshake during the swaps (random names, C client)", ms_fmt),
    ("many_swap_hs_max_less_wait_ms", "… the same less the client's own wait for a CPU during it", ms_fmt),
    ("store_certs", "endpoints with their managed certificate in the SQLite store (ACME on, local Pebble)", int_fmt),
    ("store_load_s", "… time from start to the first correct handshake for a random stored name", lambda v: f"{v:.2f} s"),
    ("store_verified_s", "… background verification of every stored certificate (\"certificates verified\")",
     lambda v: f"{v:.2f} s"),
    ("store_verify_failed", "… certificates that failed that verification (must be 0)", int_fmt),
    ("store_rss_mib", "… RSS with them loaded and verified", lambda v: f"{v:,.0f} MiB"),
    ("store_hs_p50_ms", "… handshake latency p50, random SNI among them", ms_fmt),
    ("store_hs_p99_ms", "… handshake latency p99, random SNI among them", ms_fmt),
    ("store_hs_max_ms", "… longest of those handshakes (the C client's floor for the stall figure below)", ms_fmt),
    ("store_hs_max_less_wait_ms", "… the same less the client's own wait for a CPU during it", ms_fmt),
    ("store_sni_wrong", "… handshakes that got a certificate not matching the SNI (must be 0)", int_fmt),
    ("store_published", "… endpoints created through the admin API whose certificate was issued and served", int_fmt),
    ("store_publish_ms", "… one issued certificate published: stored (\"issued\" logged) → first handshake served it (5 ms polls), median", ms_fmt),
    ("store_publish_ms_worst", "… the same, worst", ms_fmt),
    ("store_publish_step_ms", "… the publish step on the control thread, SNI index and timeline (publish_ms), median", ms_fmt),
    ("store_publish_step_ms_worst", "… the same, worst", ms_fmt),
    ("store_publish_request_ms", "… admin API request → certificate served (includes the issuance), median", ms_fmt),
    ("store_publish_request_ms_worst", "… the same, worst", ms_fmt),
    ("store_publish_hs_max_ms", "… longest handshake, random stored names, during one issuance and publish, median", ms_fmt),
    ("store_publish_hs_max_ms_worst", "… the same, worst", ms_fmt),
    ("store_publish_hs_max_less_wait_ms", "… longest handshake less the client's own wait for a CPU during it, median", ms_fmt),
    ("store_publish_hs_max_less_wait_ms_worst", "… the same, worst", ms_fmt),
    ("store_create_hs_max_ms", "… longest handshake during the whole creation (admin API request → served), median", ms_fmt),
    ("store_create_hs_max_ms_worst", "… the same, worst", ms_fmt),
    ("storm_endpoints", "renewal storm: managed endpoints due at once (local Pebble)", int_fmt),
    ("storm_issued", "… certificates issued", int_fmt),
    ("storm_failed_attempts", "… failed issuance attempts", int_fmt),
    ("storm_all_issued_s", "… time from start until all were issued", lambda v: f"{v:.1f} s"),
    ("storm_lag_p50_ms", "… control loop lag p50 during the storm", ms_fmt),
    ("storm_lag_p99_ms", "… control loop lag p99 during the storm", ms_fmt),
    ("storm_lag_max_ms", "… control loop lag max during the storm", ms_fmt),
    ("dns01_served_ms", "DNS-01 issuance: reload adding the endpoint → its certificate served (Pebble → Unbound → Knot CNAME → our DNS)", ms_fmt),
    ("dns01_issuance_ms", "… the issuance alone, as logged (challenge choice to certificate published)", ms_fmt),
    ("dns01_visible_ms", "… published TXT value visible through the resolver", ms_fmt),
    ("dns01_issued", "… certificates served (of DNS01_ISSUANCES)", int_fmt),
    ("dns_qps", "DNS queries/s, 1 core (dnsperf, UDP, platform zone of 1,000 endpoints)", k_fmt),
    ("dns_knot_qps", "… Knot DNS serving the same zone, same run", k_fmt),
    ("dns_qps_ratio", "… ratio Portcullis / Knot (median of the rounds' ratios)", lambda v: f"×{v:.2f}"),
]


# Scale targets, shown beside the figure they bound: (limit, unit text).
TARGETS = {
    "many_load_s": (5, "≤ 5 s"),
    "store_load_s": (5, "≤ 5 s"),
    "store_publish_ms": (50, "≤ 50 ms"),
    "store_publish_ms_worst": (50, "≤ 50 ms"),
    "store_publish_hs_max_ms": (10, "≤ 10 ms"),
    "store_publish_hs_max_ms_worst": (10, "≤ 10 ms"),
    "many_swap_hs_max_ms": (10, "≤ 10 ms"),
    "storm_lag_p99_ms": (20, "≤ 20 ms"),
}


# Stall figures and the same client's longest handshake with nothing happening (its floor): the
# target is judged only when the floor is below it, and the floor is shown beside the verdict.
FLOORS = {
    "store_publish_hs_max_ms": "store_hs_max_ms",
    "store_publish_hs_max_ms_worst": "store_hs_max_ms",
    "many_swap_hs_max_ms": "many_hs_max_ms",
}


def target_cell(key, value, floor=None):
    """"≤ 5 s ✓" or "≤ 5 s ✗" for a bounded measure, "" otherwise. For a stall figure, its client's
    floor beside it, and no verdict when the floor is above the target."""
    if key not in TARGETS:
        return ""
    limit, text = TARGETS[key]
    if key in FLOORS and floor is not None:
        if floor > limit:
            return f"{text}: not measurable, the client's floor is {floor:.2f} ms"
        return f"{text} {'✓' if value <= limit else '✗'} (client floor {floor:.2f} ms)"
    return f"{text} {'✓' if value <= limit else '✗'}"


def bare(text):
    """A range's ends without the unit, which the median beside them already gives."""
    return text.rsplit(" ", 1)[0] if text.endswith((" ms", " KiB", " MiB", " s")) else text


def load(raw_path):
    samples = defaultdict(list)  # (proxy, measure) -> [values]
    with open(raw_path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                samples[(row["proxy"], row["measure"])].append(float(row["value"]))
            except ValueError:
                continue
    return samples


def main():
    out = Path(sys.argv[1])
    samples = load(out / "raw.csv")
    meta = (out / "meta.txt").read_text() if (out / "meta.txt").exists() else ""

    def stats(proxy, measure):
        vals = samples.get((proxy, measure))
        if not vals:
            return None
        return statistics.median(vals), min(vals), max(vals), len(vals)

    rows = []
    for key, _, _, _ in MAIN:
        ref = stats("nginx", key)
        for proxy, _ in PROXIES:
            s = stats(proxy, key)
            if s is None:
                continue
            ratio = s[0] / ref[0] if ref and ref[0] else None
            rows.append([key, proxy, f"{s[0]:.4g}", f"{s[1]:.4g}", f"{s[2]:.4g}", s[3],
                         f"{ratio:.3f}" if ratio is not None else ""])
    for key, _, _ in EXTRA:
        s = stats("portcullis", key)
        if s is not None:
            rows.append([key, "portcullis", f"{s[0]:.4g}", f"{s[1]:.4g}", f"{s[2]:.4g}", s[3], ""])
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["measure", "proxy", "median", "min", "max", "rounds", "ratio_to_nginx"])
        w.writerows(rows)

    header_names = []
    for proxy, name in PROXIES:
        version = ""
        for line in meta.splitlines():
            if line.startswith(f"version.{proxy}="):
                version = line.split("=", 1)[1].strip()
        header_names.append(f"{name} {version}".strip())

    lines = ["| measure | " + " | ".join(header_names) + " |",
             "|---|" + "---|" * len(PROXIES)]
    for key, label, fmt, _ in MAIN:
        ref = stats("nginx", key)
        cells = []
        for proxy, _ in PROXIES:
            s = stats(proxy, key)
            if s is None:
                cells.append("n/a")
                continue
            cell = fmt(s[0])
            if s[3] > 1:
                cell += f" ({bare(fmt(s[1]))}–{bare(fmt(s[2]))})"
            if ref and ref[0] and proxy != "nginx":
                cell += f" ×{s[0] / ref[0]:.2f}"
            if key == "ka_rps":
                errs = stats(proxy, "ka_errors")
                if errs and errs[2] > 0:
                    cell += f" ⚠ {errs[2]:.0f} errors"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    extra_lines = []
    for key, label, fmt in EXTRA:
        s = stats("portcullis", key)
        if s is None:
            continue
        cell = fmt(s[0]) + (f" ({bare(fmt(s[1]))}–{bare(fmt(s[2]))})" if s[3] > 1 else "")
        floor = stats("portcullis", FLOORS[key]) if key in FLOORS else None
        extra_lines.append(f"| {label} | {cell} | {target_cell(key, s[0], floor[0] if floor else None)} |")
    skipped = [l.split("=", 1)[1] for l in meta.splitlines() if l.startswith("skipped=")]

    text = "\n".join(lines) + "\n"
    text += "\nCells: median of the rounds (min–max) ×ratio to nginx's median. Latency and memory: lower is better.\n"
    if extra_lines:
        text += "\n| Portcullis only | value | target |\n|---|---|---|\n" + "\n".join(extra_lines) + "\n"
    if skipped:
        for s in skipped:
            text += f"\n- skipped: {s}"
        text += "\n"
    (out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
