"""Revocation propagation across instances: log out on the first instance, then measure how long
until every other instance refuses the access token.

    python3 bench/propagation.py ADDR_A ADDR_B [ADDR_C ...] --user U --password P [--rounds N] [--path P]

Each round logs in on A, checks that every instance accepts the new access token, then one thread
per other instance polls GET /api/me/ on a keep-alive connection while the main thread sends the
logout to A. The latency of an instance is from the moment the logout request is sent until its
first 401; a round's latency is the slowest instance's. `--path /whoami` polls downstream services
guarded by tessera-guard (bench/downstream.sh) instead of Tessera instances. Prints p50/p90/p99/max in milliseconds as
JSON. Standard library only.
"""
import argparse
import http.client
import json
import statistics
import threading
import time


def request(conn, method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, data


def connect(addr):
    host, port = addr.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=10)


def percentile(values, p):
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("addrs", nargs="+")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--path", default="/api/me/", help="what the other addresses are polled on")
    args = parser.parse_args()
    first, others = args.addrs[0], args.addrs[1:]
    login_conn = connect(first)
    pollers = [connect(addr) for addr in others]
    rounds = []
    for _ in range(args.rounds):
        status, body = request(login_conn, "POST", "/api/token/", body={"username": args.user, "password": args.password})
        assert status == 200, (status, body)
        access = json.loads(body)["access"]
        for conn in pollers:
            status, body = request(conn, "GET", args.path, token=access)
            assert status == 200, ("not accepted before logout", status, body)
        go = threading.Event()
        sent = [0.0]
        seen = [None] * len(pollers)

        def poll(i, conn):
            go.wait()
            while True:
                status, _ = request(conn, "GET", args.path, token=access)
                if status == 401:
                    seen[i] = time.perf_counter()
                    return
                assert status == 200, status
                if time.perf_counter() - sent[0] > 10:
                    raise SystemExit("not revoked within 10 s")

        threads = [threading.Thread(target=poll, args=(i, c)) for i, c in enumerate(pollers)]
        for t in threads:
            t.start()
        sent[0] = time.perf_counter()
        go.set()
        status, body = request(login_conn, "POST", "/api/logout/", token=access)
        assert status == 200, (status, body)
        for t in threads:
            t.join()
        rounds.append(max(seen) - sent[0])
    ms = [r * 1000 for r in rounds]
    print(json.dumps({
        "rounds": len(ms),
        "instances_checked": len(others),
        "p50_ms": round(statistics.median(ms), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }))


if __name__ == "__main__":
    main()
