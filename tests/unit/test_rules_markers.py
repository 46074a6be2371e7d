"""Rupture markers, clinical-rules.md §2 — table-driven boundaries."""

from __future__ import annotations

import statistics

import pytest

from rules_helpers import Case, srs_case
from supervision_tui.instruments import REGISTRY
from supervision_tui.rules.markers import ClientView, find_markers
from supervision_tui.settings import RuptureSettings, Settings


def markers(case: Case, settings: Settings | None = None):
    view = ClientView(case.record(), REGISTRY)
    return find_markers(view, settings or Settings())


def kinds_at(case: Case, session: int, settings: Settings | None = None) -> set[str]:
    return {m.kind for m in markers(case, settings) if m.session == session}


def with_rupture(**kw) -> Settings:
    return Settings(rupture=RuptureSettings(**kw))


# --- low ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "score, low",
    [(36, False), (35.9, True), (36.1, False), (0, True), (40, False), (35.999999, True)],
)
def test_srs_low_is_strictly_below_36(score, low):
    got = kinds_at(Case().s(1, SRS=score), 1)
    assert ("low" in got) is low


def test_low_detail_names_cutoff_and_source():
    (m,) = [m for m in markers(Case().s(1, SRS=31)) if m.kind == "low"]
    assert m.detail == "SRS 31 < cutoff 36 (PCOMS practice threshold, Duncan et al. 2003)"
    assert m.instrument == "SRS"


def test_wai_sr_has_no_low_marker_unless_clinic_sets_cutoff():
    case = Case().s(1, WAI=20)  # the lowest possible alliance
    assert "low" not in kinds_at(case, 1)
    clinic = with_rupture(low_cutoff={"SRS": 36.0, "WAI-SR": 40.0})
    (m,) = [m for m in markers(case, clinic) if m.kind == "low"]
    assert m.detail == "WAI-SR 20 < cutoff 40 ([clinic setting])"


def test_low_ignores_therapist_and_unattended_rows():
    case = Case().s(1, tSRS=20).s(2, att="cancelled", SRS=10)
    assert markers(case) == ()


# --- drop ---------------------------------------------------------------------


def _drop(values, settings=None):
    ms = [m for m in markers(srs_case(values), settings) if m.kind == "drop"]
    return {m.session for m in ms}, ms


@pytest.mark.parametrize(
    "values, drops",
    [
        # needs 2 earlier ratings: a fall at the 2nd rating never counts
        ([39, 30], set()),
        ([39, 39, 30], {3}),
        # floor 3 (σ = 0): d = 3 is a drop, d = 2.9 is not
        ([39, 39, 39, 36], {4}),
        ([39, 39, 39, 36.1], set()),
        # σ = 2 (earlier 36, 40, 38; B = 38) is below the floor: floor decides
        ([36, 40, 38, 35], {4}),
        ([36, 40, 38, 35.1], set()),
    ],
)
def test_drop_boundaries_default_k(values, drops):
    got, _ = _drop(values)
    assert got == drops


@pytest.mark.parametrize(
    "x, drop",
    [
        (34, True),  # d = 4 = k·σ with k = 2, σ = 2 (stricter than floor 3)
        (34.1, False),  # d = 3.9 ≥ floor 3 but < k·σ 4: σ governs
    ],
)
def test_drop_k_sigma_above_floor(x, drop):
    got, _ = _drop([36, 40, 38, x], with_rupture(drop_sd=2.0))
    assert (4 in got) is drop


@pytest.mark.parametrize(
    "floor, x, drop",
    [
        (5.0, 33, True),  # d = 5 ≥ max(k·σ 2, floor 5)
        (5.0, 33.1, False),  # d = 4.9 ≥ k·σ but < floor: floor governs
    ],
)
def test_drop_floor_above_k_sigma(floor, x, drop):
    settings = with_rupture(drop_floor={"SRS": floor, "WAI-SR": 5.0})
    got, _ = _drop([36, 40, 38, x], settings)
    assert (4 in got) is drop


def test_drop_baseline_is_mean_of_last_three_and_sigma_uses_all_earlier():
    values = [20, 39, 38, 40, 36]
    earlier = values[:4]
    b = statistics.mean(earlier[-3:])  # 39
    sd = statistics.stdev(earlier)  # large because of the first 20
    assert b - 36 == 3 and sd > 3
    got, _ = _drop(values)
    assert got == set()  # σ over ALL earlier (≈ 9.3) blocks it
    got, _ = _drop(values[1:])  # without the 20: σ = 1 → floor 3 → drop
    assert got == {4}


def test_drop_detail_format():
    ms = [m for m in markers(Case().series("WAI", [52, 53, 52, 44])) if m.kind == "drop"]
    assert [m.session for m in ms] == [4]
    assert ms[0].detail == (
        "WAI-SR 44 is 8.3 below baseline 52.3; threshold 5 = max(1 SD 0.6, floor 5 [our default])"
    )


def test_drop_floor_label_changes_for_clinic_value():
    settings = with_rupture(drop_floor={"SRS": 4.0, "WAI-SR": 5.0})
    _, (m,) = _drop([39, 39, 39, 35], settings)
    assert "floor 4 [clinic setting]" in m.detail
    assert "[our default]" not in m.detail


@pytest.mark.parametrize(("k", "expected"), [
    (2.0, "threshold 3 = max(2 SD 1.2 [clinic setting], floor 3 [our default])"),
    (1.5, "threshold 3 = max(1.5 SD 0.9 [clinic setting], floor 3 [our default])"),
    (1.0, "threshold 3 = max(1 SD 0.6, floor 3 [our default])"),  # the default k stays unlabelled
])
def test_drop_sd_label_says_when_k_is_a_clinic_setting(k, expected):
    (m,) = [m for m in markers(srs_case([38, 39, 38, 34]), with_rupture(drop_sd=k)) if m.kind == "drop"]
    assert m.detail == f"SRS 34 is 4.3 below baseline 38.3; {expected}"


def test_drop_sd_from_a_settings_file_is_labelled(tmp_path):
    from supervision_tui.settings import load_settings

    path = tmp_path / "settings.toml"
    path.write_text("[rupture]\ndrop_sd = 2.0\n", encoding="utf-8")
    (m,) = [m for m in markers(srs_case([38, 39, 38, 34]), load_settings(path)) if m.kind == "drop"]
    assert "max(2 SD 1.2 [clinic setting], floor 3 [our default])" in m.detail


def test_drop_rise_is_not_a_drop():
    got, _ = _drop([30, 30, 30, 40])
    assert got == set()


def test_drop_skips_unattended_sessions():
    case = Case().s(1, SRS=39).s(2, SRS=39).s(3, att="no_show", SRS=20).s(4, SRS=39)
    assert [m for m in markers(case) if m.kind == "drop"] == []


# --- self_report --------------------------------------------------------------


def test_self_report_by_either_rater_on_attended_sessions_only():
    case = (
        Case()
        .s(1, SRS=dict(total=38, rupture=True, rupture_type="withdrawal"))
        .s(2, tWAI=dict(total=50, rupture=True, rupture_type="confrontation"), SRS=38)
        .s(3, att="no_show", SRS=dict(total=38, rupture=True))
    )
    ms = [m for m in markers(case) if m.kind == "self_report"]
    assert [(m.session, m.instrument, m.rater, m.rupture_type) for m in ms] == [
        (1, "SRS", "client", "withdrawal"),
        (2, "WAI-SR", "therapist", "confrontation"),
    ]
    assert "withdrawal" in ms[0].detail
    # the source is cited with its year, as every other source is (clinical-rules §2)
    assert ms[0].detail == "rupture reported by client: withdrawal (Safran & Muran 2000)"


def test_marker_kinds_read_as_words_and_stay_tokens_in_json():
    """People read "self-report" (screens, reports, the episode's detail);
    the JSON ``markers`` keep the interchange.md §5 tokens."""
    from supervision_tui.reports.tables import EXTRA_WORDS
    from supervision_tui.rules.results import MARKER_KINDS, marker_word, marker_words

    assert [marker_word(k) for k in MARKER_KINDS] == ["low", "drop", "self-report", "discrepancy"]
    assert marker_words(["drop", "low", "self_report"]) == "drop, low, self-report"
    assert EXTRA_WORDS["markers"](None, ["drop", "self_report"]) == "drop, self-report"


@pytest.mark.parametrize(
    "case, expected",
    [
        # on an ORS row: the alliance instrument the client rated that session
        (Case().s(1, ORS=dict(total=20, rupture=True), WAI=45), "WAI-SR"),
        # both rated that session: SRS first
        (Case().s(1, ORS=dict(total=20, rupture=True), WAI=45, SRS=38), "SRS"),
        # none that session, but the client has SRS ratings elsewhere
        (Case().s(1, SRS=38).s(2, ORS=dict(total=20, rupture=True)), "SRS"),
        # no SRS at all: WAI-SR
        (Case().s(1, ORS=dict(total=20, rupture=True)), "WAI-SR"),
        (Case().s(1, WAI=50).s(2, PHQ=dict(total=5, rupture=True)), "WAI-SR"),
    ],
)
def test_self_report_attribution(case, expected):
    (m,) = [m for m in markers(case) if m.kind == "self_report"]
    assert m.instrument == expected


# --- discrepancy --------------------------------------------------------------


@pytest.mark.parametrize(
    "client, therapist, flagged",
    [
        # WAI-SR 12–60: index (x−12)/48; 0.20 = 9.6 points
        (40, 49.6, True),  # exactly 0.20 below (float noise tolerated)
        (40, 49.5, False),
        (40, 55, True),
        (55, 40, False),  # therapist lower: not the case that matters
    ],
)
def test_discrepancy_boundary(client, therapist, flagged):
    case = Case().s(1, WAI=client, tWAI=therapist)
    assert ("discrepancy" in kinds_at(case, 1)) is flagged


def test_discrepancy_srs_exact_boundary():
    # SRS 0–40: 0.20 = 8 points; 30 vs 38 is 0.95 − 0.75 = 0.19999999999999996 in floats
    assert "discrepancy" in kinds_at(Case().s(1, SRS=30, tSRS=38), 1)
    assert "discrepancy" not in kinds_at(Case().s(1, SRS=30, tSRS=37.9), 1)


def test_discrepancy_needs_same_session():
    case = Case().s(1, WAI=40).s(2, tWAI=60)
    assert "discrepancy" not in {m.kind for m in markers(case)}


def test_markers_sorted_by_session_instrument_kind():
    case = Case().s(1, SRS=38, WAI=50).s(2, SRS=38, WAI=50).s(3, SRS=dict(total=30, rupture=True), WAI=30)
    ms = markers(case, with_rupture(low_cutoff={"SRS": 36.0, "WAI-SR": 36.0}))
    assert [(m.session, m.instrument, m.kind) for m in ms] == [
        (3, "SRS", "low"),
        (3, "SRS", "drop"),
        (3, "SRS", "self_report"),
        (3, "WAI-SR", "low"),
        (3, "WAI-SR", "drop"),
    ]
