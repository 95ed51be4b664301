"""What a document-level query asks for: a passage that answers it, or a document about it.

A question ("How do I delete a file?") or a full sentence asks which passage answers it; a
phrase ("JSON encoder and decoder", "SMTP server") names what a whole document is about. The
two want different document scores (embedsvc.fusion: PASSAGE_MIX, TOPIC_MIX), so the hybrid
document ranking tells them apart by the query's form alone: a question mark, a first word
that opens a question or speaks of the asker, or a sentence's closing stop.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+")
# First words of questions ("how", "can", "is") and of a problem told as a statement ("I",
# "my"): both expect an answer rather than a page.
_ASKING = frozenset({
    "am", "are", "can", "could", "did", "do", "does", "how", "i", "is", "may", "might", "must",
    "my", "our", "shall", "should", "was", "we", "were", "what", "when", "where", "which",
    "who", "whom", "whose", "why", "will", "would",
})
# Fewer words than this ending in "." reads as an abbreviated title ("Misc. utilities.").
_SENTENCE_WORDS = 5


def asks_for_passage(query: str) -> bool:
    """True for a question or a sentence, False for a phrase naming a topic."""
    text = query.strip()
    if "?" in text:
        return True
    words = _WORD.findall(text.lower())
    if not words:
        return False
    if words[0] in _ASKING:
        return True
    return text[-1] in ".!" and len(words) >= _SENTENCE_WORDS
