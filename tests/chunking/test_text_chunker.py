"""Sentence-block chunking of prose: segmentation, budget, headings, overlap, coverage."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedsvc.chunking import chunk_document
from embedsvc.chunking.text import chunk_text, sentence_spans

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAGMENTS = [
    "Dr. Smith paid $3.50 for 2.5 kg of apples at 9 a.m. on Jan. 5th.",
    'He said: "Wow!" Then he left, e.g. to the U.S.A. It was fine... Really?',
    "1. First item\n2. Second item.\n3) third",
    "- bullet one\n- bullet two",
    "# Heading",
    "## Sub heading ##",
    "Title\n=====",
    "Section\n-------",
    "=====\nOverlined\n=====",
    "```python\n# not a heading\nx = 1\n```",
    "😀🎉👍🏽🇫🇷",
    "日本語の文。これは文です。中文句子！",
    "supercalifragilisticexpialidocious" * 8,
    "a" * 400,
    "\n\n\n\n\n",
    "x=f(a.b.c);y=[1,2,3];z={'k':v.w}",
    "See https://example.com/a.b?c=d.e now.",
    "naïve café ﬁne Ⅻ 𝔘 ß İstanbul",
    "\u200b\u200d\ufeff\x00\x01\x7f",
    "∯ ♨ ȸ &ᓰ& ⚑ ☉",
    "...",
    "?!?!",
    "\t \r\n",
    "v1.2.3 e.g. i.e. etc. vs. No. 5",
]

documents = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS),
        st.text(max_size=60),
        st.text(alphabet="ab .\n#=-", max_size=40),
    ),
    max_size=20,
).flatmap(lambda parts: st.sampled_from(["", " ", "\n", "\n\n"]).map(lambda sep: sep.join(parts)))


@SETTINGS
@given(source=documents, max_tokens=st.integers(4, 64), overlap=st.integers(0, 2))
def test_blocks_never_exceed_budget_and_cover_everything(
    tokenizer, check_chunks, source, max_tokens, overlap
):
    chunks = chunk_text(source, tokenizer, max_tokens, overlap_sentences=overlap)
    check_chunks(chunks, source, max_tokens)


@SETTINGS
@given(
    word=st.text(alphabet=st.characters(exclude_categories=["Cs", "Zs", "Cc"]), min_size=50),
    repeat=st.integers(1, 20),
    max_tokens=st.integers(4, 32),
)
def test_long_words_without_spaces_are_split_not_dropped(
    tokenizer, check_chunks, word, repeat, max_tokens
):
    source = word * repeat
    check_chunks(chunk_text(source, tokenizer, max_tokens), source, max_tokens)


def test_token_count_includes_special_tokens(tokenizer, count_tokens):
    [chunk] = chunk_text("Hello world.", tokenizer, 32)
    assert chunk.token_count == count_tokens("Hello world.") == 3 + 2  # hello world . + CLS SEP


def test_abbreviations_and_decimals_do_not_end_sentences():
    source = (
        "Dr. Smith paid $3.50 for 2.5 kg of apples at 9 a.m. on Jan. 5th. "
        "Mr. Jones, e.g. his neighbour, did not. The U.S.A. is big."
    )
    assert [source[a:b] for a, b in sentence_spans(source)] == [
        "Dr. Smith paid $3.50 for 2.5 kg of apples at 9 a.m. on Jan. 5th.",
        "Mr. Jones, e.g. his neighbour, did not.",
        "The U.S.A. is big.",
    ]


def test_list_items_and_soft_wrapped_lines():
    source = (
        "Shopping list:\n1. Eggs\n2. Milk, 3.5% fat\n- Bread\n\n"
        "This sentence is wrapped\nover two lines. Code like os.path.join() stays whole."
    )
    assert [source[a:b] for a, b in sentence_spans(source)] == [
        "Shopping list:",
        "1. Eggs",
        "2. Milk, 3.5% fat",
        "- Bread",
        "This sentence is wrapped\nover two lines.",
        "Code like os.path.join() stays whole.",
    ]


def test_sentences_are_packed_whole(tokenizer, count_tokens):
    sentences = [
        "The first sentence is short.",
        "The second one is a little longer than the first one.",
        "A third.",
        "And the fourth sentence closes the paragraph for good.",
    ]
    source = " ".join(sentences)
    budget = max(count_tokens(s) for s in sentences) + 3
    chunks = chunk_text(source, tokenizer, budget)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text in source
        assert chunk.text.startswith(tuple(sentences))
        assert chunk.text.endswith(tuple(sentences))


def test_over_long_sentence_is_split_at_token_boundaries(tokenizer, check_chunks, count_tokens):
    sentence = " ".join(f"word{i}" for i in range(300)) + "."
    chunks = chunk_text(sentence, tokenizer, 40)
    check_chunks(chunks, sentence, 40)
    assert len(chunks) > 1
    assert all(not c.text.startswith("#") for c in chunks)  # cut between words, not inside them
    assert " ".join(c.text for c in chunks) == sentence


def test_markdown_and_rst_headings_become_context(tokenizer, check_chunks):
    source = (
        "Guide\n=====\n\nIntro sentence.\n\n"
        "Install\n-------\n\nRun the installer. Then reboot.\n\n"
        "# Usage\n\n## Advanced *mode*\n\nFlags go here.\n\n"
        "```sh\n# a comment, not a heading\nrun --fast\n```\n"
    )
    chunks = chunk_text(source, tokenizer, 64)
    check_chunks(chunks, source, 64)
    by_text = {c.text.split("\n")[0]: c.context for c in chunks}
    assert by_text["Guide"] == "Guide"
    assert by_text["Install"] == "Guide > Install"
    assert by_text["# Usage"] == "Usage"
    assert by_text["## Advanced *mode*"] == "Usage > Advanced *mode*"
    assert all("a comment" not in c.context for c in chunks)


def test_rst_overlined_title_and_levels_by_first_appearance(tokenizer):
    source = (
        "#####\nManual\n#####\n\nChapter\n*******\n\nText one.\n\n"
        "Part\n====\n\nText two.\n\nOther chapter\n*************\n\nText three.\n"
    )
    contexts = [c.context for c in chunk_text(source, tokenizer, 24)]
    assert "Manual > Chapter > Part" in contexts
    assert contexts[-1] == "Manual > Other chapter"


def test_context_is_shortened_to_fit(tokenizer, check_chunks):
    title = " ".join(f"very{i} long heading" for i in range(80))
    source = f"# Top\n\n## {title}\n\nBody sentence one. Body sentence two.\n"
    chunks = chunk_text(source, tokenizer, 32)
    check_chunks(chunks, source, 32)
    assert chunks[-1].context and not chunks[-1].context.startswith("Top")


def test_overlap_repeats_trailing_sentences(tokenizer, count_tokens):
    sentences = [f"Sentence number {n} is here." for n in range(12)]
    source = " ".join(sentences)
    budget = 2 + 3 * (count_tokens(sentences[0]) - 2)
    chunks = chunk_text(source, tokenizer, budget, overlap_sentences=1)
    for before, after in itertools.pairwise(chunks):
        last_sentence = before.text.rsplit(". ", 1)[-1]
        assert after.text.startswith(last_sentence.rstrip("."))
    assert chunks[-1].text.endswith(sentences[-1])


def test_line_span_is_of_first_and_last_character(tokenizer):
    source = "\n\nFirst line here.\nSecond line.\n\n\nThird paragraph.\n\n"
    [chunk] = chunk_text(source, tokenizer, 64)
    assert (chunk.start_line, chunk.end_line) == (3, 7)
    assert chunk.text == source.strip()


def test_blank_input_and_bad_budget(tokenizer):
    assert chunk_text(" \n\t\n", tokenizer, 16) == []
    with pytest.raises(ValueError):
        chunk_text("text", tokenizer, 2)
    with pytest.raises(ValueError):
        chunk_text("text", tokenizer, 16, overlap_sentences=-1)


def test_dispatcher_sends_prose_to_the_text_chunker(tokenizer):
    source = "# Notes\n\ndef f(): pass. Just prose.\n"
    for chunks in (
        chunk_document(source, tokenizer, 64),
        chunk_document(source, tokenizer, 64, path="notes.md"),
        chunk_document(source, tokenizer, 64, path="notes.py", language="markdown"),
    ):
        assert {c.kind for c in chunks} == {"text"}
        assert chunks[0].context == "Notes"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=documents, max_tokens=st.integers(8, 64), overlap=st.integers(0, 2))
def test_budget_holds_for_a_non_additive_tokenizer(
    byte_bpe_tokenizer, check_bpe_chunks, source, max_tokens, overlap
):
    chunks = chunk_text(source, byte_bpe_tokenizer, max_tokens, overlap_sentences=overlap)
    check_bpe_chunks(chunks, source, max_tokens)


def test_huge_unbroken_word_is_counted_exactly(tokenizer, check_chunks):
    source = "start " + "x" * 200_000 + " end."  # tokenized in pieces: one cut inside the word
    check_chunks(chunk_text(source, tokenizer, 16), source, 16)
