"""Catalog files are checked whole, with line numbers; cleanup steps are visible and switchable."""

from __future__ import annotations

import pytest

from embedsvc.errors import InvalidArgument
from embedsvc.titles.catalog import parse_csv, parse_jsonl
from embedsvc.titles.cleanup import clean_title


def test_jsonl_and_csv_give_the_same_entries():
    jsonl = parse_jsonl(
        '{"id": "1", "title": "Sales Managers", "alt_labels": ["Area Sales Manager"], '
        '"skills": ["negotiation", "forecasting"]}\n\n{"id": "2", "title": "Cashiers"}\n'
    )
    csv = parse_csv("id,title,alt_labels,skills,description\n"
                    "1,Sales Managers,Area Sales Manager,negotiation|forecasting,\n"
                    "2,Cashiers,,,\n")
    assert jsonl == csv
    assert jsonl[0].skills == ("negotiation", "forecasting")


@pytest.mark.parametrize(("text", "message"), [
    ('{"id": "1", "title": "A"}\n{"id": "2", "title": \n', "catalog:2: not JSON"),
    ('{"id": "1", "title": "A"}\n\n{"id": "2"}\n', "catalog:3 ('2'): title is empty"),
    ('{"id": "1", "title": "A"}\n{"id": "1", "title": "B"}\n', "already used at catalog:1"),
    ('{"id": "1", "title": "A", "alt_labels": "B"}\n', "catalog:1: alt_labels must be a list"),
    ('{"id": "1", "title": "A", "colour": "red"}\n', "catalog:1: unknown fields colour"),
    ("", "the catalog has no entries"),
])
def test_a_bad_line_refuses_the_file_naming_its_line(text, message):
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_jsonl(text)


def test_csv_without_a_title_column_is_refused():
    with pytest.raises(InvalidArgument, match="no title column"):
        parse_csv("id,name\n1,x\n")


@pytest.mark.parametrize(("raw", "text", "attributes"), [
    ("Sr. Java Dev (m/f/d) – Berlin", "java developer",
     {"gender_tag": ["m/f/d"], "location": ["Berlin"], "seniority": ["senior"]}),
    ("Mgr, Area Sales", "area sales manager", {}),
    ("Engineer, maintenance, aircraft", "aircraft maintenance engineer", {}),
    ("Staff Nurse - Part-time", "staff nurse", {"employment": ["part-time"]}),
    ("Kellner (m/w/d) in München", "kellner", {"gender_tag": ["m/w/d"], "location": ["München"]}),
    ("Bookkeeping, accounting, and auditing clerks",
     "bookkeeping accounting and auditing clerks", {}),
])
def test_cleanup_keeps_what_it_takes_out_as_attributes(raw, text, attributes):
    cleaned = clean_title(raw)
    assert (cleaned.text, cleaned.attributes) == (text, attributes)


def test_cleanup_can_be_switched_off_step_by_step():
    assert clean_title("Sr. Java Dev (m/f/d)", steps=()).text == "sr. java dev (m/f/d)"
    kept = clean_title("Sr. Java Dev (m/f/d)", steps=("gender", "punctuation"))
    assert kept.text == "sr java dev" and kept.steps == ("gender", "punctuation")
    with pytest.raises(InvalidArgument, match="unknown cleanup steps"):
        clean_title("x", steps=("spelling",))
