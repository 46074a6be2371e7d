"""Glyph sets: the console set draws only with characters every common
Linux console font has, replacements keep the width, TERM picks the set."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervision_tui import glyphs
from supervision_tui.glyphs import CONSOLE, CONSOLE_MAP, CONSOLE_SAFE, UNICODE, cell_width, to_console
from supervision_tui.rules.kinds import TIERS


def test_every_replacement_is_safe_and_as_wide_as_what_it_replaces():
    for char, replacement in CONSOLE_MAP.items():
        assert char not in CONSOLE_SAFE, char  # an entry for a safe character would be dead
        assert set(replacement) <= CONSOLE_SAFE, (char, replacement)
        assert cell_width(replacement) == cell_width(char), (char, replacement)


def test_the_console_set_draws_only_with_safe_characters():
    for field in ("sparkline", "eighths", "enter", "ellipsis", "minus", "bullet", "check", "warning", "axis"):
        assert set(getattr(CONSOLE, field)) <= CONSOLE_SAFE, field
    for marker in (*CONSOLE.series_markers, *CONSOLE.series_legend):
        assert set(marker) <= CONSOLE_SAFE, marker
    for tier in TIERS.values():
        assert set(CONSOLE.tier_symbol(tier)) <= CONSOLE_SAFE, tier


def test_both_sets_have_the_same_shape():
    assert len(UNICODE.eighths) == len(CONSOLE.eighths) == 9
    assert len(CONSOLE.sparkline) >= 3  # low, middle, high stay apart
    assert len(set(CONSOLE.sparkline)) == len(CONSOLE.sparkline)
    assert len(CONSOLE.series_markers) == len(UNICODE.series_markers) == len(CONSOLE.series_legend)
    assert len(set(CONSOLE.series_markers)) == len(CONSOLE.series_markers)  # series differ by marker


@pytest.mark.parametrize("char", list("▀▄▌▐▓▁▇⏎◆○✓⚠▬⠶▖▝"))
def test_glyphs_missing_from_console_fonts_are_not_safe(char):
    """Measured on the fonts (module docstring): these are missing from at
    least one of them (the half blocks from every console-setup font)."""
    assert char not in CONSOLE_SAFE
    assert to_console(char) in CONSOLE_SAFE


def test_console_text_of_the_screens_usual_characters():
    assert to_console("╭─ Caseload ─╮") == "┌─ Caseload ─┐"
    assert to_console("ORS −7.1 since s1 (deteriora…") == "ORS -7.1 since s1 (deteriora»"
    assert to_console("⚠ RISK · PHQ-9 ≥ 8 → review") == "! RISK · PHQ-9 ≥ 8 → review"
    assert to_console("⏎ Open") == "¬ Open"
    assert to_console("🔎 Search") == ">  Search"
    assert to_console("plain ascii") == "plain ascii"


@given(st.text(alphabet=st.characters(categories=("L", "N", "P", "S", "Zs")), max_size=40))
def test_to_console_keeps_the_width_and_leaves_only_safe_characters(text):
    out = to_console(text)
    assert cell_width(out) == cell_width(text)
    assert glyphs.missing(out) == set()


@pytest.mark.parametrize(("term", "expected"), [
    ("linux", "console"), ("linux-16color", "console"), ("vt100", "console"), ("vt220", "console"),
    ("xterm-256color", "unicode"), ("screen", "unicode"), ("tmux-256color", "unicode"), ("", "unicode"),
])
def test_term_picks_the_set(term, expected):
    assert glyphs.detect({"TERM": term}).name == expected


def test_flags_win_over_term():
    assert glyphs.choose(True, {"TERM": "xterm-256color"}) is CONSOLE
    assert glyphs.choose(False, {"TERM": "linux"}) is UNICODE
    assert glyphs.choose(None, {"TERM": "linux"}) is CONSOLE


def test_text_is_untouched_in_the_unicode_set():
    assert UNICODE.text("╭…⚠") == "╭…⚠"
    assert CONSOLE.text("╭…⚠") == "┌»!"


def test_console_tiers_read_as_the_registry_says():
    for tier in TIERS.values():
        label = f"{tier.symbol}{tier.number}"
        if tier.symbol.strip():
            assert to_console(label) == f"{CONSOLE.tier_symbol(tier)}{tier.number}" or \
                to_console(label) == label  # a symbol consoles have ("·") stays


def test_console_tier_symbols_are_not_outcome_or_review_verdicts():
    """On a Linux console the tier column's symbols must not read as the
    Outcome column's verdicts (newcomer finding: tier 4's "+" beside the
    Outcome "+" for improved)."""
    from supervision_tui.glyphs import to_console
    from supervision_tui.rules.kinds import TIERS
    from supervision_tui.ui.widgets.caseload_table import OUTCOME_SYMBOLS

    verdicts = {to_console(s.split(" ")[0]) for s in OUTCOME_SYMBOLS.values()}
    tiers = [t.ascii for t in TIERS.values() if t.ascii.strip()]
    assert len(set(tiers)) == len(tiers)  # six distinct symbols (tier 7 has none)
    # "!" is both risk ("!1 risk", always with its number and word) and not on track ("ORS !", always
    # after a measure): an alarm either way; no other tier symbol is a verdict
    assert verdicts & set(tiers) == {"!"}
