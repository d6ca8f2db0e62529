"""The documentation's tables of settings say what firmware/gullwing/schema.py declares: every setting
once, with its default and its range as declared, and no key that is not a setting.

A settings table is one whose header starts `| setting | default | range |`; a row names the setting by
its dotted key (`doors.<side>.min_us` for both doors), gives the default first in its cell (a remark may
follow) and the range as an error message words it (`800..2000 us`, `true or false`, `ap\\|sta\\|off`,
`"" or 4..8 digits`); a text's default is in backquotes, `""` when it has none."""

import re

from host_tools import ROOT
from host_tools.kit import firmware_config

DOCS = ROOT / "docs"
HEADER = re.compile(r"^\| setting \| default \| range \|")
SIDES = ("left", "right")


def _cells(line):
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def documented():
    """{dotted key: [(file, default cell, range cell)]} over every settings table in docs/*.md."""
    found = {}
    for path in sorted(DOCS.glob("*.md")):
        rows = None
        for line in path.read_text().splitlines():
            if HEADER.match(line):
                rows = []
            elif rows is not None and line.startswith("|"):
                rows.append(line)
            elif rows is not None:
                _add_rows(found, path.name, rows)
                rows = None
        if rows is not None:
            _add_rows(found, path.name, rows)
    return found


def _add_rows(found, name, rows):
    for line in rows:
        key, default, span = _cells(line)[:3]
        if set(key) <= set("-: "):  # the line under the header
            continue
        assert key.startswith("`") and key.endswith("`"), name + ": " + line
        for one in _expanded(key.strip("`")):
            found.setdefault(one, []).append((name, default, span))


def _expanded(key):
    return [key.replace("<side>", side) for side in SIDES] if "<side>" in key else [key]


def declared():
    """{dotted key: (default, range as the check words it)} from schema.py's declarations."""
    config = firmware_config()
    schema = config.schema
    out = {}
    for key, (table, name, _) in config.DECLARED.items():
        default, low, high, unit = table[name]
        if isinstance(default, bool):
            out[key] = ("true" if default else "false", "true or false")
        elif isinstance(default, str):
            out[key] = ("`" + default + "`" if default else '`""`', schema.words(default, low, high, unit))
        else:
            out[key] = (str(default), schema.span(low, high, unit))
    return out


def test_every_setting_is_documented_once_with_its_default_and_range_as_declared():
    docs, schema = documented(), declared()
    assert sorted(set(schema) - set(docs)) == [], "settings no table documents"
    assert sorted(set(docs) - set(schema)) == [], "documented keys that are no setting"
    for key, places in docs.items():
        assert len(places) == 1, key + " is documented in more than one place: " + str(places)
        name, default, span = places[0]
        want_default, want_span = schema[key]
        assert default.split()[0] == want_default, name + ": " + key + " default " + default + ", declared " + \
            want_default
        assert span == want_span, name + ": " + key + " range " + span + ", declared " + want_span


def test_the_error_messages_the_docs_quote_carry_the_declared_range():
    # `doors.stagger_ms must be 0..5000 ms, got 9000`: a key's own range, not narrowed by another key
    schema = declared()
    quoted = re.compile(r"([a-z_]+(?:\.[a-z_]+)+) must be (-?\d+\.\.-?\d+(?: [\w/%]+)?), got")
    found = 0
    for path in sorted(DOCS.glob("*.md")):
        for key, span in quoted.findall(path.read_text()):
            if key in schema:
                found += 1
                assert span == schema[key][1], path.name + ": " + key + " must be " + span
    assert found, "the docs quote at least one such error"
