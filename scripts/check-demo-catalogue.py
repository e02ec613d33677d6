#!/usr/bin/env python3
"""Validate assets/demo/catalogue.json, the OCOP Market demo catalogue.

Usage:
    scripts/check-demo-catalogue.py [--divisions PATH/TO/nested-divisions.json]
                                    [--catalogue PATH] [--categories PATH] [--today YYYY-MM-DD]

Commune codes are checked against the post-July-2025 administrative units published in the
PyPI package `vietnam-provinces` (file vietnam_provinces/data/nested-divisions.json; version
2025.10.1 was used to build the catalogue). Give the file with --divisions, or install the
package in the Python that runs this script:

    python3 -m venv /tmp/vnprov && /tmp/vnprov/bin/pip install vietnam-provinces==2025.10.1
    /tmp/vnprov/bin/python scripts/check-demo-catalogue.py

Exits 0 when every check passes, 1 when the catalogue has problems, 2 when an input cannot be
found or read. Only the standard library is needed.
"""
import argparse
import datetime as dt
import importlib.util
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTE = ("Demo data for OCOP Market, drawn from the articles in shared/seeds (Lào Cai, Sơn La). "
        "Names of people, phone numbers, registration and bank account numbers are fictitious.")
BANK_BINS = {"970405": "Agribank", "970436": "Vietcombank", "970418": "BIDV",
             "970415": "VietinBank", "970422": "MB", "970407": "Techcombank"}
PROVINCES = {"Lào Cai", "Sơn La"}
GIA_PHU = ("Lào Cai", "Xã Gia Phú")
COOP_KEYS = ["key", "registration_number", "name", "commune_code", "address", "contact_phone",
             "contact_email", "description", "bank_bin", "bank_account_number",
             "bank_account_holder", "status"]
PRODUCT_KEYS = ["cooperative", "name", "short_name", "category", "description", "unit",
                "price_vnd", "stock", "gtin", "published", "certificate"]
CERT_KEYS = ["stars", "number", "level", "issued_on", "expires_on", "status"]

errors = []


def fail(msg):
    errors.append(msg)


def die(msg):
    print(f"check-demo-catalogue: {msg}", file=sys.stderr)
    sys.exit(2)


def find_divisions(arg):
    if arg:
        p = Path(arg)
        if not p.is_file():
            die(f"cannot read the divisions file {p}")
        return p
    spec = importlib.util.find_spec("vietnam_provinces")
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            p = Path(loc) / "data" / "nested-divisions.json"
            if p.is_file():
                return p
    for p in sorted(Path("/tmp").glob("vnprov*/lib/python3*/site-packages/vietnam_provinces/data/nested-divisions.json")):
        return p
    die("cannot find vietnam_provinces/data/nested-divisions.json. Pass it with --divisions, or "
        "install the package: python3 -m venv /tmp/vnprov && "
        "/tmp/vnprov/bin/pip install vietnam-provinces==2025.10.1, then run this script with "
        "/tmp/vnprov/bin/python.")


def load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        die(f"cannot read {what} {path}: {e}")
    except json.JSONDecodeError as e:
        die(f"{what} {path} is not valid JSON: {e}")


def load_communes(path):
    data = load_json(path, "divisions file")
    if not isinstance(data, list) or not all(isinstance(p, dict) and "wards" in p for p in data):
        die(f"{path} does not look like nested-divisions.json (a list of provinces with 'wards')")
    communes = {}
    for prov in data:
        pname = prov["name"].removeprefix("Tỉnh ").removeprefix("Thành phố ")
        for w in prov["wards"]:
            # The package stores codes as integers; the official code is the zero-padded string.
            code = w["code"]
            code = f"{code:05d}" if isinstance(code, int) else str(code)
            communes[code] = (pname, w["name"])
    return data, communes


def gtin_ok(g):
    if not (isinstance(g, str) and re.fullmatch(r"\d{13}", g)):
        return False
    s = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(g[:12]))
    return (10 - s % 10) % 10 == int(g[12])


def date_of(s, where):
    if not isinstance(s, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        fail(f"{where}: date {s!r} is not YYYY-MM-DD")
        return None
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        fail(f"{where}: {s!r} is not a real date")
        return None


def add_months(d, months):
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue


def sentences(text):
    return len([s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s])


def walk_strings(o, path="$"):
    if isinstance(o, str):
        yield path, o
    elif isinstance(o, list):
        for i, x in enumerate(o):
            yield from walk_strings(x, f"{path}[{i}]")
    elif isinstance(o, dict):
        for k, v in o.items():
            yield from walk_strings(v, f"{path}.{k}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("divisions_pos", nargs="?", help="path to nested-divisions.json (same as --divisions)")
    ap.add_argument("--divisions")
    ap.add_argument("--catalogue", default=str(ROOT / "assets/demo/catalogue.json"))
    ap.add_argument("--categories", default=str(ROOT / "assets/ocop-categories.json"))
    ap.add_argument("--today", default="2026-11-22", help="date against which certificates are judged")
    args = ap.parse_args()
    today = dt.date.fromisoformat(args.today)

    div_path = find_divisions(args.divisions or args.divisions_pos)
    _, communes = load_communes(div_path)
    cats_doc = load_json(args.categories, "categories file")
    categories = {c["code"] for g in cats_doc["groups"] for c in g["categories"]}
    raw = Path(args.catalogue).read_bytes() if Path(args.catalogue).is_file() else die(
        f"cannot read the catalogue {args.catalogue}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        die(f"catalogue is not UTF-8: {e}")
    doc = json.loads(text)

    # ── document
    if set(doc) != {"note", "cooperatives", "products"}:
        fail(f"top-level keys are {sorted(doc)}, expected note, cooperatives, products")
    if doc.get("note") != NOTE:
        fail("note differs from the agreed text")
    for path, s in walk_strings(doc):
        if unicodedata.normalize("NFC", s) != s:
            fail(f"{path}: string is not NFC")
        if s != s.strip() or not s:
            fail(f"{path}: empty or padded string")

    coops = doc.get("cooperatives", [])
    products = doc.get("products", [])

    # ── cooperatives
    by_key = {}
    regs, phones, accts = Counter(), Counter(), Counter()
    for i, c in enumerate(coops):
        w = f"cooperatives[{i}] {c.get('key')}"
        if list(c) != COOP_KEYS:
            fail(f"{w}: keys {list(c)} differ from {COOP_KEYS}")
            continue
        if not re.fullmatch(r"htx-[a-z0-9]+(-[a-z0-9]+)*", c["key"]):
            fail(f"{w}: key must be lower-case ascii 'htx-...'")
        if c["key"] in by_key:
            fail(f"{w}: duplicate key")
        by_key[c["key"]] = c
        if not re.fullmatch(r"\d{10}", c["registration_number"]):
            fail(f"{w}: registration_number must be 10 digits")
        regs[c["registration_number"]] += 1
        if not c["name"].startswith("Hợp tác xã "):
            fail(f"{w}: name should start with 'Hợp tác xã '")
        code = c["commune_code"]
        if not (isinstance(code, str) and re.fullmatch(r"\d{5}", code)):
            fail(f"{w}: commune_code {code!r} is not a 5-digit string")
        elif code not in communes:
            fail(f"{w}: commune_code {code} does not exist in {div_path.name}")
        else:
            prov, cname = communes[code]
            if prov not in PROVINCES:
                fail(f"{w}: commune {code} {cname} is in {prov}, not Lào Cai or Sơn La")
            bare = re.sub(r"^(Xã|Phường) ", "", cname)
            if bare.lower() not in c["address"].lower():
                fail(f"{w}: address {c['address']!r} does not name {cname}")
        if not re.fullmatch(r"0[35789]\d{8}", c["contact_phone"]):
            fail(f"{w}: contact_phone {c['contact_phone']!r} is not a 10-digit Vietnamese mobile")
        phones[c["contact_phone"]] += 1
        e = c["contact_email"]
        if e is not None and not re.fullmatch(r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+", e):
            fail(f"{w}: contact_email {e!r} is invalid")
        if not 2 <= sentences(c["description"]) <= 4:
            fail(f"{w}: description has {sentences(c['description'])} sentences, want 2-4")
        if c["bank_bin"] not in BANK_BINS:
            fail(f"{w}: bank_bin {c['bank_bin']} is not one of {sorted(BANK_BINS)}")
        if not re.fullmatch(r"\d{8,19}", c["bank_account_number"]):
            fail(f"{w}: bank_account_number must be 8-19 digits")
        accts[(c["bank_bin"], c["bank_account_number"])] += 1
        h = c["bank_account_holder"]
        if not re.fullmatch(r"[A-Z0-9 ]+", h) or len(h) > 70:
            fail(f"{w}: bank_account_holder {h!r} must be upper-case ASCII without diacritics")
        if c["status"] not in ("verified", "pending"):
            fail(f"{w}: status {c['status']!r}")
    for what, counter in (("registration_number", regs), ("contact_phone", phones),
                          ("bank account", accts)):
        for v, n in counter.items():
            if n > 1:
                fail(f"duplicate {what} {v} ({n} times)")

    # ── products
    names = Counter()
    gtins = Counter()
    stats = Counter()
    gia_phu_three = 0
    for i, p in enumerate(products):
        w = f"products[{i}] {p.get('name')!r}"
        if list(p) != PRODUCT_KEYS:
            fail(f"{w}: keys {list(p)} differ from {PRODUCT_KEYS}")
            continue
        coop = by_key.get(p["cooperative"])
        if coop is None:
            fail(f"{w}: unknown cooperative {p['cooperative']!r}")
            continue
        names[(p["cooperative"], p["name"])] += 1
        if len(p["short_name"]) > 24:
            fail(f"{w}: short_name {p['short_name']!r} is {len(p['short_name'])} chars (> 24)")
        if p["category"] not in categories:
            fail(f"{w}: category {p['category']!r} is not in ocop-categories.json")
        n = sentences(p["description"])
        if not 2 <= n <= 5:
            fail(f"{w}: description has {n} sentences, want 2-5")
        if not p["unit"]:
            fail(f"{w}: empty unit")
        price = p["price_vnd"]
        if type(price) is not int or price % 1000 or not 10_000 <= price <= 5_000_000:
            fail(f"{w}: price_vnd {price!r} must be whole thousands of đồng, 10 000 to 5 000 000")
        if type(p["stock"]) is not int or not 0 <= p["stock"] <= 500:
            fail(f"{w}: stock {p['stock']!r} must be an integer 0-500")
        g = p["gtin"]
        if g is not None:
            if not gtin_ok(g) or not g.startswith("893"):
                fail(f"{w}: gtin {g!r} is not a 13-digit 893… GTIN with a correct check digit")
            gtins[g] += 1
            stats["gtin"] += 1
        if type(p["published"]) is not bool:
            fail(f"{w}: published must be true or false")
        if coop["status"] == "pending" and p["published"]:
            fail(f"{w}: published although its cooperative is pending")
        if not p["published"]:
            stats["draft"] += 1
            if coop["status"] == "verified":
                stats["draft_of_verified"] += 1
        if p["stock"] == 0:
            stats["sold_out"] += 1

        cert = p["certificate"]
        if cert is None:
            stats["no_cert"] += 1
            continue
        if list(cert) != CERT_KEYS:
            fail(f"{w}: certificate keys {list(cert)} differ from {CERT_KEYS}")
            continue
        stars = cert["stars"]
        if stars not in (3, 4, 5):
            fail(f"{w}: stars {stars!r}")
        if cert["level"] not in ("province", "national"):
            fail(f"{w}: level {cert['level']!r}")
        elif (stars == 5) != (cert["level"] == "national"):
            fail(f"{w}: {stars}-star certificate at {cert['level']} level (5 stars are national, 3-4 provincial)")
        if not re.fullmatch(r"\d{1,5}/QĐ-[A-ZĐ-]+", cert["number"]):
            fail(f"{w}: certificate number {cert['number']!r} is not like 1234/QĐ-UBND")
        issued = date_of(cert["issued_on"], w)
        expires = date_of(cert["expires_on"], w)
        if issued and expires:
            if issued > today:
                fail(f"{w}: certificate issued in the future ({issued})")
            if expires != add_months(issued, 36):
                fail(f"{w}: expires_on {expires} is not issued_on + 36 months ({add_months(issued, 36)})")
        if cert["status"] not in ("verified", "pending"):
            fail(f"{w}: certificate status {cert['status']!r}")
        stats[f"stars_{stars}"] += 1
        expired = bool(expires and expires < today)
        if expired:
            stats["expired"] += 1
        if cert["status"] == "pending":
            stats["cert_pending"] += 1
        if (communes.get(coop["commune_code"]) == GIA_PHU and stars == 3 and
                cert["status"] == "verified" and not expired):
            gia_phu_three += 1
            if not p["published"]:
                fail(f"{w}: Gia Phú 3-star product is not published")
    for (k, name), n in names.items():
        if n > 1:
            fail(f"duplicate product name {name!r} in {k}")
    for g, n in gtins.items():
        if n > 1:
            fail(f"duplicate GTIN {g}")

    # ── counts the demo relies on
    nc, npd = len(coops), len(products)
    gia_phu_coops = [c for c in coops if communes.get(c["commune_code"]) == GIA_PHU]
    used_communes = {c["commune_code"] for c in coops}
    by_province = Counter(communes.get(c["commune_code"], ("?",))[0] for c in coops)
    pending_coops = sum(c["status"] == "pending" for c in coops)
    checks = [
        (40 <= nc <= 60, f"{nc} cooperatives, want about 45-55"),
        (150 <= npd <= 170, f"{npd} products, want 150-170"),
        (by_province["Lào Cai"] > by_province["Sơn La"] > 0, f"cooperatives by province {dict(by_province)}: most in Lào Cai, some in Sơn La"),
        (15 <= len(used_communes) <= 30, f"{len(used_communes)} communes used, want about 20"),
        (len(gia_phu_coops) == 6, f"{len(gia_phu_coops)} cooperatives in Xã Gia Phú, want exactly 6"),
        (gia_phu_three == 9, f"{gia_phu_three} verified, valid 3-star products in Gia Phú, want exactly 9"),
        (stats["stars_5"] >= 2, f"{stats['stars_5']} five-star products, want at least 2"),
        (stats["stars_4"] >= 3, f"{stats['stars_4']} four-star products, want a few"),
        (stats["stars_3"] > stats["stars_4"] + stats["stars_5"], "3 stars should be the most common rating"),
        (5 <= stats["expired"] <= 15, f"{stats['expired']} expired certificates, want about 10"),
        (2 <= stats["cert_pending"] <= 10, f"{stats['cert_pending']} pending certificates, want a few"),
        (10 <= stats["no_cert"] <= 20, f"{stats['no_cert']} products without certificate, want about 15"),
        (1 <= pending_coops <= 6, f"{pending_coops} pending cooperatives, want a few"),
        (1 <= stats["draft_of_verified"] <= 10, f"{stats['draft_of_verified']} drafts of verified cooperatives, want a handful"),
        (0.35 <= stats["gtin"] / max(npd, 1) <= 0.65, f"{stats['gtin']} of {npd} products have a GTIN, want about half"),
        (1 <= stats["sold_out"] <= 12, f"{stats['sold_out']} products with stock 0, want a few"),
    ]
    for ok, msg in checks:
        if not ok:
            fail(msg)
    for k, c in by_key.items():
        if not any(p["cooperative"] == k for p in products):
            fail(f"cooperative {k} has no products")

    print(f"divisions: {div_path}")
    print(f"cooperatives: {nc} ({dict(by_province)}; {pending_coops} pending) in {len(used_communes)} communes")
    print(f"products: {npd}; stars 3/4/5: {stats['stars_3']}/{stats['stars_4']}/{stats['stars_5']}; "
          f"expired {stats['expired']}; certificate pending {stats['cert_pending']}; "
          f"no certificate {stats['no_cert']}")
    print(f"unpublished: {stats['draft']} ({stats['draft_of_verified']} of verified cooperatives); "
          f"with GTIN: {stats['gtin']}; sold out: {stats['sold_out']}")
    print(f"Gia Phú: {len(gia_phu_coops)} cooperatives, {gia_phu_three} verified valid 3-star products (all published)")
    if errors:
        print(f"\nFAILED: {len(errors)} problem(s)")
        for e in errors:
            print(f"  - {e}")
        return 1
    print("OK: catalogue passes all checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
