"""Abbreviations defined in a mention's context, Schwartz & Hearst style: "long form (SF)".

Schwartz & Hearst (PSB 2003): a short form of 2-10 characters in parentheses, starting with a
letter or digit, is matched right to left against the words before it; its first character
must start a word, and the long form has at most min(|SF| + 5, 2 |SF|) words.
"""

from __future__ import annotations

import re

_PARENTHESIS = re.compile(r"\(([^()]{2,10})\)")


def definitions(context: str) -> dict[str, str]:
    """Short form -> long form for each "long form (SF)" in ``context``."""
    found: dict[str, str] = {}
    for match in _PARENTHESIS.finditer(context):
        short = match.group(1).strip()
        if not _is_short_form(short):
            continue
        words = context[: match.start()].split()
        window = words[-min(len(short) + 5, 2 * len(short)):]
        long_form = _long_form(short, " ".join(window))
        if long_form:
            found.setdefault(short, long_form)
    return found


def expand(mention: str, context: str) -> str:
    """The long form of ``mention`` when the context defines it, else ''."""
    return definitions(context).get(mention.strip(), "") if context else ""


def _is_short_form(candidate: str) -> bool:
    return (
        candidate[0].isalnum() and any(char.isalpha() for char in candidate)
        and len(candidate.split()) <= 2
    )


def _long_form(short: str, text: str) -> str:
    """The shortest tail of ``text`` whose characters cover ``short`` from right to left."""
    short_index, long_index = len(short) - 1, len(text) - 1
    while short_index >= 0:
        char = short[short_index].lower()
        if not char.isalnum():
            short_index -= 1
            continue
        while long_index >= 0 and (
            text[long_index].lower() != char
            or (short_index == 0 and long_index > 0 and text[long_index - 1].isalnum())
        ):
            long_index -= 1
        if long_index < 0:
            return ""
        short_index -= 1
        long_index -= 1
    start = text.rfind(" ", 0, long_index + 1) + 1
    long_form = text[start:].strip(" ,;:")
    return long_form if len(long_form) > len(short) else ""
