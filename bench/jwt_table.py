#!/usr/bin/env python3
"""Turns criterion's results for `cargo bench -p tessera-jwt --bench jwt` into the BENCHMARKS.md table.

Reads target/criterion/{sign,verify}_<ALG>/<impl>/new/estimates.json (median point estimates) and prints
one Markdown row per algorithm with the ratios the issue asks for.
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA"]


def median_us(group, impl):
    path = ROOT / group / impl / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"] / 1000.0


def fmt(value):
    if value is None:
        return "n/a"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def ratio(a, b):
    return "n/a" if a is None or b is None else f"{a / b:.2f}x"


print("| alg | sign tessera (µs) | sign jsonwebtoken | sign jwt-simple | verify tessera (µs) | verify jsonwebtoken | verify jwt-simple | aws-lc-rs floor | jsonwebtoken / tessera | tessera / floor |")
print("|---|---|---|---|---|---|---|---|---|---|")
for alg in ALGS:
    s = {i: median_us(f"sign_{alg}", i) for i in ["tessera", "jsonwebtoken", "jwt-simple"]}
    v = {i: median_us(f"verify_{alg}", i) for i in ["tessera", "jsonwebtoken", "jwt-simple", "aws-lc-rs floor"]}
    print(f"| {alg} | {fmt(s['tessera'])} | {fmt(s['jsonwebtoken'])} | {fmt(s['jwt-simple'])} | "
          f"{fmt(v['tessera'])} | {fmt(v['jsonwebtoken'])} | {fmt(v['jwt-simple'])} | {fmt(v['aws-lc-rs floor'])} | "
          f"{ratio(v['jsonwebtoken'], v['tessera'])} | {ratio(v['tessera'], v['aws-lc-rs floor'])} |")
