"""Cleanup of raw job titles, step by step, each one visible in the answer and switchable.

Job ads and coding indexes write the same title many ways: "Sr. Java Dev (m/f/d) – Berlin",
"Mgr, Area Sales", "Engineer, maintenance, aircraft". The steps take out what does not name the
occupation (gender tags, locations, seniority and employment-type words; the last three are
kept as attributes), expand common abbreviations, undo the inverted "noun, modifier" form of
official indexes, and fold punctuation and case. Catalog labels go through the same steps, so
both sides of a match are written alike.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from embedsvc.errors import InvalidArgument
from embedsvc.titles.types import CleanTitle

STEPS = ("gender", "location", "abbreviations", "inversion", "employment", "seniority",
         "punctuation")

_GENDER_LETTERS = r"[mfwdhxnia*]"
_GENDER_TAG = re.compile(
    rf"[(\[]\s*(?:{_GENDER_LETTERS}\s*[/|,]\s*)+{_GENDER_LETTERS}\s*[)\]]"
    r"|[(\[]\s*(?:all genders|gn|genderneutral|w/m/d|m/w/d)\s*[)\]]"
    rf"|(?<![\w/]){_GENDER_LETTERS}/{_GENDER_LETTERS}(?:/{_GENDER_LETTERS})?(?![\w/])",
    re.IGNORECASE,
)
# Work places and modes that ads append to titles, e.g. "- Berlin", "(Remote)", "in London".
_PLACE_SEPARATOR = re.compile(r"\s+(?:[-–—|@]|in|at)\s+(?=[A-Z(])|\s*[|@]\s*")
_WORK_MODES = {"remote", "hybrid", "onsite", "on-site", "on site", "home office", "homeoffice",
               "work from home", "wfh"}
ABBREVIATIONS = {
    "sr": "senior", "snr": "senior", "jr": "junior", "jnr": "junior", "mgr": "manager",
    "mngr": "manager", "dev": "developer", "devs": "developers", "eng": "engineer",
    "engr": "engineer", "asst": "assistant", "asst.": "assistant", "assoc": "associate",
    "admin": "administrator", "coord": "coordinator", "dir": "director", "exec": "executive",
    "rep": "representative", "reps": "representatives", "spec": "specialist",
    "tech": "technician", "techs": "technicians", "supv": "supervisor", "supvr": "supervisor",
    "mgmt": "management", "mktg": "marketing", "ops": "operations", "svc": "service",
    "svcs": "services", "acct": "accounting", "acctg": "accounting", "maint": "maintenance",
    "dept": "department", "vp": "vice president", "hr": "human resources",
    "qa": "quality assurance", "sw": "software", "sys": "systems", "temp": "temporary",
}
EMPLOYMENT = ("full time", "full-time", "fulltime", "part time", "part-time", "parttime",
              "temporary", "permanent", "contract", "contractor", "freelance", "freelancer",
              "seasonal", "per diem", "internship", "ft", "pt", "fixed term", "fixed-term",
              "remote", "hybrid", "on-site", "onsite")
SENIORITY = ("entry level", "entry-level", "mid level", "mid-level", "mid-senior", "senior",
             "junior", "lead", "principal", "staff", "trainee", "apprentice", "graduate",
             "i", "ii", "iii", "iv", "v", "level 1", "level 2", "level 3")
# A word that an employment or seniority word must not be taken from: "staff nurse" stays.
_KEEP_BEFORE = {"staff": {"nurse", "accountant", "pharmacist", "writer", "sergeant"},
                "lead": {"abatement", "worker", "burner", "poisoning"},
                "principal": {"dancer"}}


def clean_title(raw: str, steps: Collection[str] = STEPS) -> CleanTitle:
    """``raw`` through the named cleanup ``steps`` (all by default; none = only case folding
    and white space)."""
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise InvalidArgument(
            f"unknown cleanup steps {', '.join(sorted(unknown))}; use {', '.join(STEPS)}",
            "cleanup_steps",
        )
    text = " ".join(raw.split())
    attributes: dict[str, list[str]] = {}
    applied = []

    def keep(kind: str, value: str) -> None:
        value = " ".join(value.strip(" ()[]-–—,|").split())
        if value:
            attributes.setdefault(kind, []).append(value)

    if "gender" in steps:
        text, found = _take(_GENDER_TAG, text)
        for tag in found:
            keep("gender_tag", tag)
        applied += ["gender"] if found else []
    if "location" in steps:
        text, places = _take_places(text)
        for place in places:
            keep("location", place)
        applied += ["location"] if places else []
    if "abbreviations" in steps:
        text, changed = _expand(text)
        applied += ["abbreviations"] if changed else []
    for kind, words in (("employment", EMPLOYMENT), ("seniority", SENIORITY)):
        if kind in steps:
            text, found = _take_words(text, words)
            for word in found:
                keep(kind, word)
            applied += [kind] if found else []
    if "inversion" in steps:
        text, changed = _uninvert(text)
        applied += ["inversion"] if changed else []
    text = _fold(text) if "punctuation" in steps else text.lower()
    if "punctuation" in steps:
        applied.append("punctuation")
    text = " ".join(text.split())
    if not text:  # the title was nothing but attributes ("Senior", "Intern (m/f/d)")
        text = _fold(raw) or raw.strip().lower()
    return CleanTitle(text, attributes, tuple(applied))


def _take(pattern: re.Pattern[str], text: str) -> tuple[str, list[str]]:
    found = [match.group(0) for match in pattern.finditer(text)]
    return pattern.sub(" ", text), found


def _take_places(text: str) -> tuple[str, list[str]]:
    """Trailing "- Place", "| Place", "@ Place", "in Place" segments and work modes."""
    places = []
    for match in re.finditer(r"[(\[]([^()\[\]]*)[)\]]", text):
        if match.group(1).strip().lower() in _WORK_MODES:
            places.append(match.group(1))
            text = text.replace(match.group(0), " ")
    while True:
        parts = _PLACE_SEPARATOR.split(text)
        if len(parts) < 2:
            break
        tail = parts[-1].strip()
        # A tail of a few capitalized words is a place; "Sales - Key Accounts" would be one too,
        # which is why only the last segment is taken, and only after the title itself.
        if not tail or len(tail.split()) > 4 or not (tail[0].isupper() or tail[0] == "("):
            break
        if tail.lower() in EMPLOYMENT:  # "- Part-time" is left for the employment step
            break
        places.append(tail)
        text = text[: len(text) - len(parts[-1])]
        text = re.sub(r"\s*(?:[-–—|@]|\bin|\bat)\s*$", "", text)
    return text, places


_WORD = re.compile(r"[A-Za-z]+\.?")


def _expand(text: str) -> tuple[str, bool]:
    changed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal changed
        word = match.group(0)
        key = word.rstrip(".").lower()
        if key in ABBREVIATIONS and (word.endswith(".") or word.lower() == key):
            # Only whole words: "Dev" and "Dev." expand, "Devops" does not.
            changed = True
            return ABBREVIATIONS[key] + (" " if word.endswith(".") else "")
        return word

    return _WORD.sub(replace, text), changed


def _uninvert(text: str) -> tuple[str, bool]:
    """"Manager, sales, area" -> "area sales manager", the form of official coding indexes.

    Lists ("Bookkeeping, accounting, and auditing clerks") and titles with a qualifier after
    the comma that is a full title of its own are left alone.
    """
    if "," not in text:
        return text, False
    text = " ".join(text.split())
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if len(parts) < 2 or len(parts) > 4:
        return text, False
    if any(re.match(r"(?i)(and|or|&|nor)\b", part) for part in parts[1:]):
        return text, False
    if len(parts[0].split()) > 2 or any(len(part.split()) > 3 for part in parts[1:]):
        return text, False
    return " ".join(reversed(parts)), True


def _fold(text: str) -> str:
    """Lower case; punctuation becomes space, except in names such as C++, C# and .NET."""
    text = text.lower().replace("&", " and ")
    text = re.sub(r"[^\w+#.']+|(?<!\w)'|'(?!\w)|\.(?!net\b)", " ", text)
    return " ".join(text.split())


def _take_words(text: str, words: Collection[str]) -> tuple[str, list[str]]:
    found = []
    for phrase in sorted(words, key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])(\s+\w+)?",
                             re.IGNORECASE)

        def take(match: re.Match[str], phrase: str = phrase) -> str:
            following = (match.group(1) or "").strip().lower()
            if following in _KEEP_BEFORE.get(phrase, set()):
                return match.group(0)
            found.append(phrase)
            return " " + (match.group(1) or "")

        text = pattern.sub(take, text)
    return text, found
