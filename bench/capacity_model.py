#!/usr/bin/env python3
"""The capacity model behind docs/SCALING.md: today's load (an assumption, stated below) times 10,
100 and 1000, against the capacities measured on this machine (2 cores, BENCHMARKS.md and
bench/scaling.sh). Prints, per resource, the load and how much of one unit of capacity it takes; a
figure above 100% is what breaks. Run: python3 bench/capacity_model.py"""

# Today's load, for a deployment of about 100,000 monthly users (the assumption every row scales).
TODAY = {
    "logins_per_s": 2.0,  # peak
    "refreshes_per_s": 50.0,  # peak; access tokens live 5 minutes
    "revocations_per_day": 20_000,  # logouts, password changes, admin actions
    "revocation_peak_per_s": 10.0,
    "instances": 3,
}

# Measured capacities (one unit each); sources in docs/SCALING.md.
MEASURED = {
    # argon2id at the OWASP cost: 23 logins/s per hashing worker (one per 2-core instance).
    "logins_per_worker": 23.0,
    # Refresh rotations on one PostgreSQL primary sharing 2 cores with everything else.
    "refreshes_per_primary": 2192.0,
    # ...times the audit log's measured cost on the refresh path (0.93).
    "audit_refresh_factor": 0.93,
    # Revocation log replay at start: seconds and MiB per million live entries (1M: 1.94 s, +66 MiB).
    "replay_s_per_million": 1.94,
    "replay_mib_per_million": 66.0,
    # Redis PUBLISH/s with 100 subscribers on the channel (each a delivery per subscriber).
    "publish_per_s_100_subs": 8018.0,
    # The per-second sync transaction (two queries) PostgreSQL answers per second.
    "sync_tx_per_s": 17249.0,
    # Verifications per instance (POST /api/token/verify/, ES256, cached).
    "verify_per_instance": 83081.0,
}

RETENTION_S = 86_400  # a Session entry is kept for the longest token lifetime (1 day)
ACCESS_S = 300 + 60  # what it needs to outlive: access tokens (5 min) and some leeway


def rows(factor):
    logins = TODAY["logins_per_s"] * factor
    refreshes = TODAY["refreshes_per_s"] * factor
    live = TODAY["revocations_per_day"] * factor * RETENTION_S / 86_400
    live_short = TODAY["revocations_per_day"] * factor * ACCESS_S / 86_400
    peak_revocations = TODAY["revocation_peak_per_s"] * factor
    instances = max(TODAY["instances"], int(TODAY["instances"] * factor ** 0.5))
    deliveries = peak_revocations * instances
    # Every announcement wakes every instance, which reads the log: at most one read in flight per
    # instance (a `Notify` coalesces wake-ups), so at most 1 / latency reads a second each.
    read_latency_s = 8 / MEASURED["sync_tx_per_s"]  # pgbench ran 8 clients
    log_reads = instances * min(peak_revocations, 1 / read_latency_s)
    # With announcements and sync rounds at most every 20 ms (the change proposed):
    coalesced = instances * min(peak_revocations, 50)
    refresh_capacity = MEASURED["refreshes_per_primary"] * MEASURED["audit_refresh_factor"]
    return [
        ("logins/s → argon2 workers busy", logins, logins / MEASURED["logins_per_worker"], "%"),
        ("refreshes/s → one PostgreSQL primary", refreshes, refreshes / refresh_capacity, "%"),
        ("live log entries → replay at start", live, live / 1e6 * MEASURED["replay_s_per_million"], "s"),
        ("live log entries → memory per instance", live,
         live / 1e6 * MEASURED["replay_mib_per_million"], "MiB"),
        ("... entries kept 6 min instead of 1 day → replay", live_short,
         live_short / 1e6 * MEASURED["replay_s_per_million"], "s"),
        ("instances (grown with the square root of the load)", instances, None, ""),
        ("revocation deliveries/s → Redis with 100 subscribers", deliveries,
         deliveries / (MEASURED["publish_per_s_100_subs"] * 100), "%"),
        ("log reads/s after announcements → PostgreSQL", log_reads,
         log_reads / MEASURED["sync_tx_per_s"], "%"),
        ("... announcements at most every 20 ms → PostgreSQL", coalesced,
         coalesced / MEASURED["sync_tx_per_s"], "%"),
        ("periodic syncs and key reloads/s → PostgreSQL", instances,
         instances / MEASURED["sync_tx_per_s"], "%"),
    ]


def main():
    print("| resource | 1x | 10x | 100x | 1000x |")
    print("|---|---|---|---|---|")
    table = {f: rows(f) for f in (1, 10, 100, 1000)}
    for i, (name, _, _, _) in enumerate(table[1]):
        cells = []
        for f in (1, 10, 100, 1000):
            _, load, use, unit = table[f][i]
            if use is None:
                cells.append(f"{load:,.0f}")
                continue
            shown = f"{use * 100:.0f}%" if unit == "%" else f"{use:,.2f} {unit}"
            cells.append(f"{load:,.0f} → {shown}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
