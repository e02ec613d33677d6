#!/usr/bin/env python3
"""Generate assets/administrative-units.json: Vietnam's administrative units
(34 provinces/centrally-run cities and their 3,321 communes/wards/special zones)
as they stand after the 1 July 2025 reorganisation.

Source: PyPI package vietnam-provinces 2025.10.1, file
vietnam_provinces/data/nested-divisions.json (General Statistics Office codes).

How to rerun (needs Python >= 3.11 for this package version):

    python3 -m venv /tmp/vnprov
    /tmp/vnprov/bin/pip install vietnam-provinces==2025.10.1
    /tmp/vnprov/bin/python scripts/generate-administrative-units.py

or pass the JSON explicitly and/or choose the output file:

    python3 scripts/generate-administrative-units.py \
        --input path/to/nested-divisions.json \
        --output assets/administrative-units.json

Transformations applied to the source data:
  * codes rendered as zero-padded strings (provinces 2 digits, communes 5 digits),
    which is the official GSO format; the source stores them as integers;
  * the source names provinces without the "Tỉnh" prefix ("Lào Cai") while
    centrally-run cities carry "Thành phố" ("Thành phố Hà Nội"); `name` is the
    full official name (prefix added for provinces), `short_name` has no prefix;
  * all strings are NFC-normalised and runs of whitespace collapsed to one space
    (a few source names contain a double space, e.g. "Xã  Xuân Giang");
  * `kind` is derived from the source's `division_type`;
  * provinces and communes are sorted by code.
"""

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

SOURCE_DESCRIPTION = (
    "PyPI package vietnam-provinces 2025.10.1, file "
    "vietnam_provinces/data/nested-divisions.json (General Statistics Office "
    "codes, after the 1 July 2025 reorganisation)"
)
GENERATED_BY = "scripts/generate-administrative-units.py"

PROVINCE_KINDS = {
    "tỉnh": ("province", "Tỉnh"),
    "thành phố trung ương": ("city", "Thành phố"),
}
COMMUNE_KINDS = {
    "xã": "commune",
    "phường": "ward",
    "đặc khu": "special_zone",
}

EXPECTED_PROVINCES = 34
EXPECTED_COMMUNES = 3321


def clean(text):
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"\s+", " ", text).strip()


def fmt_code(code, width):
    if isinstance(code, int):
        return str(code).zfill(width)
    code = clean(str(code))
    if not code.isdigit():
        raise ValueError(f"unexpected code {code!r}")
    return code.zfill(width)


def find_source():
    try:
        import vietnam_provinces  # noqa: F401
    except ImportError:
        sys.exit(
            "vietnam_provinces is not installed; run "
            "`pip install vietnam-provinces==2025.10.1` or pass --input"
        )
    path = Path(vietnam_provinces.__file__).parent / "data" / "nested-divisions.json"
    if not path.is_file():
        sys.exit(f"{path} not found in the installed package")
    return path


def convert(data):
    provinces = []
    for p in data:
        dtype = clean(p["division_type"]).lower()
        if dtype not in PROVINCE_KINDS:
            raise ValueError(f"unknown province division_type {p['division_type']!r}")
        kind, prefix = PROVINCE_KINDS[dtype]
        src_name = clean(p["name"])
        if src_name.startswith(prefix + " "):
            short_name = src_name[len(prefix) + 1:]
        else:
            short_name = src_name
        name = f"{prefix} {short_name}"

        communes = []
        for w in p["wards"]:
            wtype = clean(w["division_type"]).lower()
            if wtype not in COMMUNE_KINDS:
                raise ValueError(f"unknown commune division_type {w['division_type']!r}")
            communes.append([fmt_code(w["code"], 5), clean(w["name"]), COMMUNE_KINDS[wtype]])
        communes.sort(key=lambda c: c[0])

        provinces.append({
            "code": fmt_code(p["code"], 2),
            "name": name,
            "short_name": short_name,
            "kind": kind,
            "communes": communes,
        })
    provinces.sort(key=lambda p: p["code"])
    return provinces


def render(provinces):
    """Compact JSON: one province object per line."""
    commune_count = sum(len(p["communes"]) for p in provinces)
    dump = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    lines = [
        "{",
        f'"source":{dump(SOURCE_DESCRIPTION)},',
        f'"generated_by":{dump(GENERATED_BY)},',
        f'"province_count":{len(provinces)},',
        f'"commune_count":{commune_count},',
        '"provinces":[',
    ]
    for i, p in enumerate(provinces):
        lines.append(dump(p) + ("," if i < len(provinces) - 1 else ""))
    lines.append("]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, help="path to nested-divisions.json "
                    "(default: the one inside the installed vietnam_provinces package)")
    ap.add_argument("--output", type=Path, default=root / "assets" / "administrative-units.json")
    args = ap.parse_args()

    src = args.input or find_source()
    with open(src, encoding="utf-8") as f:
        data = json.load(f)
    provinces = convert(data)

    codes = [c[0] for p in provinces for c in p["communes"]]
    if len(set(codes)) != len(codes):
        raise ValueError("duplicate commune codes")
    n_communes = len(codes)
    if len(provinces) != EXPECTED_PROVINCES or n_communes != EXPECTED_COMMUNES:
        print(f"warning: got {len(provinces)} provinces / {n_communes} communes, "
              f"expected {EXPECTED_PROVINCES} / {EXPECTED_COMMUNES}", file=sys.stderr)

    text = render(provinces)
    json.loads(text)  # sanity check
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {len(provinces)} provinces, {n_communes} communes, "
          f"{len(text.encode('utf-8'))} bytes")


if __name__ == "__main__":
    main()
