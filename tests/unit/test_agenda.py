"""The weekly agenda (clinical-rules.md §8): section order, "new since",
clinician scope, reviews and action items, privacy of both formats."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from supervision_tui.model import Caseload, Client, Clinician, Goal, Rating
from supervision_tui.reports.agenda import SECTION_KEYS, build_agenda, render
from supervision_tui.rules.engine import analyse_caseload
from supervision_tui.settings import Settings
from supervision_tui.store.database import Database
from supervision_tui.store.reviews import ReviewStore

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 3, 2)
NOTE = "NOTE-MARKER-71ad"
ACTION = "ACTION-MARKER-0c3e"
GOAL = "GOAL-MARKER-5c4e sleep better"
TITLES = ["Safety and risk", "Deteriorated", "Ruptures", "Goals and engagement", "Patterns per supervisee",
          "Action items carried over"]
REVIEWED_AT = "2026-02-27T10:00:00+00:00"  # reviews of the fixture: before AS_OF (--as-of shows what was known)


def store_at(db, user: str = "sup01", at: str = REVIEWED_AT) -> ReviewStore:
    return ReviewStore(db, user=user, clock=lambda: at)


def weekly(code: str, clinician: str, last: date, sessions: list[dict]) -> list[Rating]:
    """Weekly sessions, the last one on ``last``. Each dict: ``att`` and
    instrument -> total or dict of Rating fields."""
    rows = []
    n_total = len(sessions)
    for n, spec in enumerate(sessions, start=1):
        spec = dict(spec)
        d = last - timedelta(days=7 * (n_total - n))
        att = spec.pop("att", "attended")
        if not spec:
            rows.append(Rating(code, clinician, n, d, att))
        for inst, v in spec.items():
            fields = dict(v) if isinstance(v, dict) else {"total": float(v)}
            if inst == "SRS":
                fields.setdefault("goal", 9.5)
            rows.append(Rating(code, clinician, n, d, att, inst, **fields))
    return rows


def srs(*values: float) -> list[dict]:
    return [{"SRS": v} for v in values]


def agenda_caseload() -> Caseload:
    r = []
    r += weekly("R-1", "T1", AS_OF, srs(38, 38, 38)[:3] + [{"SRS": 38, "PHQ-9": {"total": 12, "risk": True}}])
    r += weekly("D-1", "T2", AS_OF - timedelta(days=6),
                [{"SRS": 38, "ORS": 30}, {"SRS": 38, "ORS": 27}, {"SRS": 38, "ORS": 24}, {"SRS": 38, "ORS": 20}])
    r += weekly("N-1", "T1", AS_OF - timedelta(days=3), srs(38, 38.5, 39, 30))  # new rupture at s4
    r += weekly("U-1", "T2", AS_OF - timedelta(days=1), srs(38, 38.5, 39, 30, *[36.5] * 6))  # unrepaired
    r += weekly("O-1", "T1", AS_OF - timedelta(days=1), srs(38, 38.5, 39, 30, 36.5))  # open, s4 on 02-22
    r += weekly("G-1", "T2", AS_OF - timedelta(days=20), srs(38, 38, 38))
    r += weekly("A-1", "T1", AS_OF - timedelta(days=4), srs(38, 38) + [{"att": "no_show"}, {"att": "cancelled"}])
    r += weekly("X-1", "T2", date(2025, 12, 1), srs(38, 38) + [{"SRS": 38, "PHQ-9": {"total": 9, "risk": True}}])
    r += weekly("F-1", "T1", AS_OF - timedelta(days=2), srs(38, 38, 38))  # nothing to review
    clients = {c: Client(c, clin) for c, clin in [("R-1", "T1"), ("D-1", "T2"), ("N-1", "T1"), ("U-1", "T2"),
                                                  ("O-1", "T1"), ("G-1", "T2"), ("A-1", "T1"), ("F-1", "T1")]}
    clients["X-1"] = Client("X-1", "T2", "closed")
    return Caseload(
        clients=clients,
        clinicians={"T1": Clinician("T1", "trainee"), "T2": Clinician("T2", "staff"),
                    "S1": Clinician("S1", "supervisor")},
        ratings=r,
        goals=[Goal("G-1", "G1", GOAL, 1, "disagreed", "active", 3)],
        name="agenda test",
    )


@pytest.fixture
def db(tmp_path) -> Database:
    d = Database(tmp_path / "caseload.json")
    d.replace_caseload(agenda_caseload())
    store = store_at(d)
    flags = {f.identity: f for a in analyse_caseload(d.load(), as_of=AS_OF) for f in a.flags}
    unrep = flags["U-1|rupture|4|SRS"]
    assert unrep.status == "unrepaired"
    # reviewed last week while it was still open
    store.set_review(dataclasses.replace(unrep, status="open"), "discussed", note=NOTE)
    store.set_review(flags["D-1|outcome||ORS"], "action", note=NOTE + " two")
    store.add_action("O-1", ACTION, owner="T1", due=AS_OF - timedelta(days=3))  # overdue
    store.add_action("D-1", ACTION + " second", owner="T2", due=AS_OF + timedelta(days=10))
    done = store.add_action("U-1", "finished item", owner="T2")
    store.set_action_done(done.id)
    return d


def agenda(db, **kw):
    kw.setdefault("as_of", AS_OF)
    return build_agenda(db, Settings(), **kw)


def clients_of(section) -> list[str]:
    return [i.client for i in section.items]


def group(a, key: str, title_start: str):
    (g,) = [g for g in a.section(key).groups if (g.title or "").startswith(title_start)]
    return [i.client for i in g.items]


# --- content and order ---------------------------------------------------------------------------


def test_sections_in_the_order_of_clinical_rules_8(db):
    a = agenda(db)
    assert [s.key for s in a.sections] == list(SECTION_KEYS)
    assert [s.title for s in a.sections] == TITLES
    md = render(a, "md")
    heads = re.findall(r"^## \d\. (.+)$", md, re.M)
    assert heads == TITLES
    page = render(a, "html")
    assert re.findall(r'<section id="([a-z_]+)">', page) == list(SECTION_KEYS)
    assert [re.sub(r"^\d\. ", "", h) for h in re.findall(r"<h2>(.*?)</h2>", page)] == TITLES


def test_what_each_section_holds(db):
    a = agenda(db)
    assert a.since == AS_OF - timedelta(days=7)
    assert group(a, "safety", "Active risk") == ["R-1", "X-1"]  # closed clients' risk is never hidden
    assert a.section("safety").items[1].client_status == "closed"
    assert group(a, "safety", "Re-screened negative since the last meeting (2026-02-23)") == []
    assert clients_of(a.section("not_on_track")) == ["D-1"]
    # each episode under the status it has now; NEW marks the one that started since the last meeting
    assert [g.title for g in a.section("ruptures").groups] == ["Unrepaired", "Open", "Repaired since 2026-02-23"]
    assert group(a, "ruptures", "Unrepaired") == ["U-1"]
    assert group(a, "ruptures", "Open") == ["N-1", "O-1"]
    assert [i.new for i in a.section("ruptures").groups[1].items] == [True, False]
    assert sorted(clients_of(a.section("goals_engagement"))) == ["A-1", "G-1"]
    pats = {p.clinician: p for p in a.section("patterns").patterns}
    assert set(pats) == {"T1", "T2"}  # the supervisor without clients is left out
    # closed X-1 is counted: its active risk keeps it triaged (clinical-rules §6, v2)
    assert pats["T1"].clients == 5 and pats["T2"].clients == 4
    assert pats["T2"].ruptures_unrepaired == 1 and pats["T1"].ruptures_open == 2
    acts = a.section("actions").actions
    assert [x.item.client for x in acts] == ["O-1", "D-1"]  # oldest first, done item left out
    assert [x.overdue for x in acts] == [True, False]

    md = render(a, "md")
    line = next(ln for ln in md.splitlines() if "**U-1**" in ln)
    assert "review: discussed by sup01" in line and "changed since reviewed" in line
    assert "status open → unrepaired" in line
    line = next(ln for ln in md.splitlines() if "**R-1**" in ln)
    assert line.startswith("- **NEW**") and "T1" in line and "review: new" in line and "PHQ-9" in line
    assert "**OVERDUE**" in next(ln for ln in md.splitlines() if "**O-1**" in ln and "owner T1" in ln)
    assert "closed" in next(ln for ln in md.splitlines() if "**X-1**" in ln)


def test_new_since_follows_the_triggering_session_date(db):
    a = agenda(db)
    new = {i.client for s in a.sections for i in s.items if i.new}
    # R-1 risk 03-02, D-1 outcome 02-24, N-1 rupture 02-27, A-1 attendance 02-26, U-1 unrepaired episode
    # started long ago -> not new; O-1's episode started 02-22 < since 02-23
    assert new == {"R-1", "D-1", "N-1", "A-1"}

    earlier = agenda(db, since=date(2026, 2, 22))
    assert group(earlier, "ruptures", "Open") == ["N-1", "O-1"]
    assert [i.new for i in earlier.section("ruptures").groups[1].items] == [True, True]
    assert "new since 2026-02-22" in render(earlier, "md")

    later = agenda(db, since=date(2026, 2, 28))
    assert sorted(group(later, "ruptures", "Open")) == ["N-1", "O-1"]
    assert not any(i.new for s in later.sections for i in s.items if i.client in ("D-1", "N-1", "A-1"))


def test_as_of_moves_the_default_since_and_hides_later_sessions(db):
    a = agenda(db, as_of=date(2026, 2, 27))
    assert a.since == date(2026, 2, 20)
    assert clients_of(a.section("safety")) == ["X-1"]  # R-1's risk session is after as_of
    assert group(a, "ruptures", "Open") == ["N-1", "O-1", "U-1"]  # U-1 was still within its window then
    assert group(a, "ruptures", "Unrepaired") == []


def test_clinician_scope(db):
    a = agenda(db, clinician="T1")
    items = [i for s in a.sections for i in s.items]
    assert items and {i.clinician for i in items} == {"T1"}
    assert [p.clinician for p in a.section("patterns").patterns] == ["T1"]
    assert [x.item.client for x in a.section("actions").actions] == ["O-1"]
    for text in (render(a, "md", include_notes=True), render(a, "html", include_notes=True)):
        for other in ("D-1", "U-1", "G-1", "X-1"):
            assert other not in text
        assert "clinician T1" in text
    b = agenda(db, clinician="T2")
    assert {i.client for s in b.sections for i in s.items} == {"D-1", "U-1", "G-1", "X-1"}
    assert [x.item.client for x in b.section("actions").actions] == ["D-1"]


# --- privacy -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_no_private_text_without_include_notes(db, fmt):
    text = render(agenda(db), fmt)
    for marker in ("NOTE-MARKER", "ACTION-MARKER", "GOAL-MARKER"):
        assert marker not in text
    assert "(action item, text hidden)" in text
    assert "owner T1" in text and "due 2026-02-27" in text
    # neutral wording: the same file comes from the CLI and from the app's export key
    assert "goal descriptions) left out; export with notes to include it" in text.replace("\n", " ")
    assert "--include-notes" not in text
    full = render(agenda(db), fmt, include_notes=True)
    for marker in (NOTE, NOTE + " two", ACTION, ACTION + " second", GOAL):
        assert marker in full
    assert "(action item, text hidden)" not in full


CLIENT_NOTE = "CLIENT-NOTE-MARKER-9f2b"


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_client_note_is_exported_also_when_the_flag_itself_was_reviewed(db, fmt):
    """A note on the client as a whole belongs to every item of that client
    (as the app's agenda panel shows it), reviewed flag or not."""
    store = store_at(db)
    store.set_client_review("R-1", "new", note=CLIENT_NOTE, latest_session=4)
    (risk,) = [f for a in analyse_caseload(db.load(), as_of=AS_OF) if a.client == "R-1"
               for f in a.flags if f.kind == "risk"]
    unreviewed = render(agenda(db), fmt, include_notes=True)
    assert f"client note: {CLIENT_NOTE}" in unreviewed
    store.set_review(risk, "discussed")
    a = agenda(db)
    (item,) = [i for i in a.section("safety").items if i.client == "R-1"]
    assert item.review.review is not None  # the flag itself is reviewed now
    assert f"client note: {CLIENT_NOTE}" in render(a, fmt, include_notes=True)
    assert CLIENT_NOTE not in render(a, fmt)  # private: only with notes


def test_cli_agenda_client_note_after_flag_review(db):
    """The newcomer's repro, through the CLI."""
    def run(*args):
        r = subprocess.run([sys.executable, "-m", "supervision_tui", *args], capture_output=True, text=True,
                           cwd=ROOT)
        assert r.returncode == 0, r.stderr
        return r.stdout

    run("review", str(db.path), "R-1", "--status", "new", "--note", CLIENT_NOTE, "--user", "sup01")
    run("review", str(db.path), "R-1", "--kind", "risk", "--status", "discussed", "--user", "sup01")
    # written now: shown without --as-of (what is known today), not as of a day before the review
    assert f"client note: {CLIENT_NOTE}" in run("agenda", str(db.path), "--include-notes")
    assert CLIENT_NOTE not in run("agenda", str(db.path))
    assert CLIENT_NOTE not in run("agenda", str(db.path), "--as-of", "2026-03-02", "--include-notes")


def test_goal_text_inside_an_engine_detail_is_scrubbed(db):
    a = agenda(db)
    item = a.section("goals_engagement").items[0]
    leaky = dataclasses.replace(item, flag=dataclasses.replace(item.flag, detail=f"goal '{GOAL}' disagreed"))
    sec = a.section("goals_engagement")
    grp = dataclasses.replace(sec.groups[0], items=(leaky,))
    a2 = dataclasses.replace(a, sections=tuple(dataclasses.replace(s, groups=(grp,)) if s is sec else s
                                               for s in a.sections))
    for fmt in ("md", "html"):
        assert "GOAL-MARKER" not in render(a2, fmt)
        assert "GOAL-MARKER" in render(a2, fmt, include_notes=True)


def test_html_is_self_contained_and_escaped(db):
    store = store_at(db, user="<b>sup</b>")
    store.add_action("N-1", '<script>alert("x")</script> & <img src=x onerror=1>', owner="T1")
    for include in (False, True):
        page = render(agenda(db), "html", include_notes=include)
        assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
        low = page.lower()
        for bad in ("http://", "https://", "<script", "<script src", "<link", "@import", "url("):
            assert bad not in low, bad
        assert re.search(r"<(img|iframe|object|embed|base|meta http-equiv)\b", low) is None
        assert re.search(r"<[^>]*\s(src|href|on\w+)=", low) is None  # no tag loads or runs anything
        assert "<style>" in page and "@media print" in page
        assert "&lt;b&gt;sup&lt;/b&gt;" in page  # the user name, escaped
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in page


def test_markdown_escapes_free_text(db):
    store = store_at(db)
    store.add_action("N-1", "**bold** [link](javascript:x) <b>tag</b> # head", owner="T1")
    md = render(agenda(db), "md", include_notes=True)
    line = next(ln for ln in md.splitlines() if "bold" in ln)
    assert r"\*\*bold\*\*" in line and r"\[link\]" in line and r"\<b\>" in line
    assert "<b>" not in md


# --- CLI ------------------------------------------------------------------------------------------------


def test_cli_agenda_writes_a_private_file(db, tmp_path):
    out = tmp_path / "agenda.html"
    r = subprocess.run([sys.executable, "-m", "supervision_tui", "agenda", str(db.path), "--as-of", "2026-03-02",
                        "--format", "html", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert (os.stat(out).st_mode & 0o777) == 0o600
    page = out.read_text("utf-8")
    assert "NOTE-MARKER" not in page and "R-1" in page
    r = subprocess.run([sys.executable, "-m", "supervision_tui", "agenda", str(db.path), "--as-of", "2026-03-02",
                        "--since", "2026-02-22", "--clinician", "T1", "--include-notes"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "ACTION-MARKER" in r.stdout and "D-1" not in r.stdout and "new since 2026-02-22" in r.stdout


@pytest.mark.parametrize(("name", "extra", "html_expected"), [
    ("agenda.html", [], True),
    ("agenda.HTM", [], True),
    ("agenda.md", [], False),
    ("agenda.txt", [], False),
    ("agenda.html", ["--format", "md"], False),  # the user's explicit choice is kept
    ("agenda.md", ["--format", "html"], True),
])
def test_cli_agenda_format_follows_the_out_suffix_unless_given(db, tmp_path, name, extra, html_expected):
    from click.testing import CliRunner

    from supervision_tui.cli import cli

    out = tmp_path / name
    r = CliRunner().invoke(cli, ["agenda", str(db.path), "--as-of", "2026-03-02", "--out", str(out), *extra])
    assert r.exit_code == 0, r.output
    text = out.read_text("utf-8")
    assert text.startswith("<!DOCTYPE html>") is html_expected
    assert text.startswith("# Supervision agenda") is (not html_expected)



# --- spec v2: each client once, re-screened risk, as-of reviews ------------------------------------


def _v2_db(tmp_path) -> Database:
    r = []
    # two unrepaired episodes, goal disagreed and disengaging: one item per subsection
    r += weekly("M-1", "T1", AS_OF, srs(38, 38.5, 39, 30, *[36.5] * 6, 38, 38.5, 30, *[36.5] * 6)
                + [{"WAI-SR": {"total": 40, "goal": 11, "task": 15, "bond": 14}}, {"att": "no_show"},
                   {"att": "cancelled"}])
    # risk two weeks ago, re-screened negative this week (since the last meeting)
    r += weekly("S-1", "T1", AS_OF, [{"SRS": 38, "PHQ-9": {"total": 14, "risk": True}}, {"SRS": 38},
                                     {"SRS": 38, "PHQ-9": {"total": 9, "risk": False}}])
    # re-screened long ago: not on this week's agenda
    r += weekly("S-2", "T2", AS_OF, [{"SRS": 38, "PHQ-9": {"total": 14, "risk": True}},
                                     {"SRS": 38, "PHQ-9": {"total": 9, "risk": False}}, *srs(38, 38, 38)])
    # dropped out after a risk session: active risk, listed first, its rupture listed too
    r += weekly("Q-1", "T2", AS_OF - timedelta(days=14),
                srs(38, 38.5, 39, 30) + [{"SRS": 31, "PHQ-9": {"total": 16, "risk": True}}, {"att": "no_show"}])
    clients = {"M-1": Client("M-1", "T1"), "S-1": Client("S-1", "T1"), "S-2": Client("S-2", "T2"),
               "Q-1": Client("Q-1", "T2", "dropped_out")}
    d = Database(tmp_path / "v2.json")
    d.replace_caseload(Caseload(clients=clients, clinicians={"T1": Clinician("T1", "trainee"),
                                                            "T2": Clinician("T2", "staff")},
                                ratings=r, name="v2"))
    return d


def test_each_subsection_lists_each_client_once(tmp_path):
    a = agenda(_v2_db(tmp_path))
    unrep = [i for i in a.section("ruptures").items if i.client == "M-1"]
    assert len(unrep) == 1 and unrep[0].flag.status == "unrepaired" and len(unrep[0].more) == 1
    assert unrep[0].more[0].flag.status == "unrepaired" and unrep[0].flag.session > unrep[0].more[0].flag.session
    (engage,) = [i for i in a.section("goals_engagement").items if i.client == "M-1"]
    assert (engage.flag.kind, [m.flag.kind for m in engage.more]) == ("goal", ["attendance"])  # tier 4 leads
    for s in a.sections:
        for g in s.groups:
            clients = [i.client for i in g.items]
            assert len(clients) == len(set(clients)), (s.key, g.title)
    md = render(a, "md")
    assert md.count("**M-1**") == 2  # once under Unrepaired, once under goals and engagement
    assert "  - also: rupture unrepaired · s4 " in md and "  - also: **NEW** · attendance disengaging · s22 " in md
    assert "None unrepaired" not in md
    html_page = render(a, "html")
    assert html_page.count('<span class="client">M-1</span>') == 2
    assert 'also: <span class="tag">NEW</span> attendance disengaging' in html_page


def test_rescreened_risk_is_listed_once_after_the_rescreen(tmp_path):
    db = _v2_db(tmp_path)
    a = agenda(db)
    assert group(a, "safety", "Active risk") == ["Q-1"]  # dropped out, not seen since: still active
    (item,) = a.section("safety").groups[1].items
    assert a.section("safety").groups[1].title == "Re-screened negative since the last meeting (2026-02-23)"
    # dated by the re-screen; not NEW: the risk itself (s1) was known before the last meeting
    assert (item.client, item.flag.status, item.date, item.new) == ("S-1", "rescreened", AS_OF, False)
    md = render(a, "md")
    assert "risk re-screened negative · s3 2026-03-02 · " in md and "S-2" not in md.split("## 2.")[0]
    assert item.session == 3 and item.flag.session == 1  # dated by the re-screen; the flag names the risk session
    # the week after: no longer on the agenda (listed once)
    later = agenda(db, since=AS_OF + timedelta(days=1), as_of=AS_OF + timedelta(days=7))
    assert later.section("safety").groups[1].items == ()
    assert "None re-screened since 2026-03-03." in render(later, "md")
    # the dropped-out client's other flags are on the agenda too (an active risk keeps it triaged)
    assert "Q-1" in clients_of(a.section("ruptures"))


def test_section_2_title_says_not_on_track_only_where_the_signal_is_computed(db):
    """clinical-rules §8/§10: "Deteriorated" where the clinic has too little
    data for an expected course (and the section says so with the counts),
    "Not on track and deteriorated" where it has enough."""
    from supervision_tui.settings import NotOnTrackSettings

    small = agenda(db).section("not_on_track")
    assert small.title == "Deteriorated"
    assert small.note == ("Not on track is not computed (too little clinic data for an expected course): "
                          "ORS 1 of 30 clients, 3 of 100 ratings after intake.")
    assert small.subtitle == "outcome reliably deteriorated"
    # one ORS client is not a reference of 2 either: the minimums are settings
    two = build_agenda(db, Settings(not_on_track=NotOnTrackSettings(min_clients=2, min_pairs=2)), as_of=AS_OF)
    assert two.section("not_on_track").title == "Deteriorated"
    assert "1 of 2 clients" in two.section("not_on_track").note


def test_section_2_with_an_expected_course(tmp_path):
    from supervision_tui.settings import NotOnTrackSettings

    rows = []
    for i in range(4):  # four ORS clients improving steadily: the reference
        rows += weekly(f"E-{i}", "T1", AS_OF - timedelta(days=1), [{"ORS": 15 + i}, {"ORS": 18 + i}, {"ORS": 21 + i},
                                                                   {"ORS": 23 + i}, {"ORS": 25 + i}])
    # a client who stays where it started: not on track, not deteriorated
    rows += weekly("F-1", "T2", AS_OF - timedelta(days=2), [{"ORS": 16}, {"ORS": 16}, {"ORS": 15}, {"ORS": 16},
                                                            {"ORS": 15}])
    cl = Caseload(name="expected")
    for r in rows:
        cl.clients.setdefault(r.client, Client(r.client, r.clinician, "active"))
    cl.ratings.extend(rows)
    d = Database(tmp_path / "c.json")
    d.replace_caseload(cl)
    a = build_agenda(d, Settings(not_on_track=NotOnTrackSettings(min_clients=5, min_pairs=15)), as_of=AS_OF)
    s2 = a.section("not_on_track")
    assert s2.title == "Not on track and deteriorated"
    assert s2.subtitle.startswith("outcome below the clinic's expected course")
    assert [(i.client, i.flag.status) for i in s2.items] == [("F-1", "not_on_track")]
    assert "not on track [clinic reference: 5 clients, 20 ratings]" in s2.items[0].detail
    assert s2.note is None
    md = render(a, "md")
    assert "## 2. Not on track and deteriorated" in md and "F-1" in md
    # effectiveness in the patterns section: too few cases here, said so, with the reminder
    assert "too few to compare (10 needed)" in md
    assert "Overlapping intervals are not a difference. Never a ranking." in md
    html_text = render(a, "html")
    assert '<pre class="effects">' in html_text and "too few to compare" in html_text


def test_as_of_shows_reviews_and_action_items_as_they_were(db):
    """--as-of is what we knew then: a review made after the day is not shown as made."""
    before = agenda(db)
    (u,) = [i for i in before.section("ruptures").items if i.client == "U-1"]
    assert u.review.status == "discussed"
    # a later review (after AS_OF) of the same flag, and a later action item; the old action done later
    late = store_at(db, at="2026-03-10T09:00:00+00:00")
    flags = {f.identity: f for a in analyse_caseload(db.load(), as_of=AS_OF) for f in a.flags}
    late.set_review(flags["U-1|rupture|4|SRS"], "resolved", note="LATER-NOTE")
    late.set_review(flags["N-1|rupture|4|SRS"], "dismissed")
    late.add_action("N-1", "LATER-ACTION", owner="T1")
    (first,) = [x for x in late.open_actions() if x.client == "O-1"]
    late.set_action_done(first.id)

    then = agenda(db)  # as of AS_OF
    (u,) = [i for i in then.section("ruptures").items if i.client == "U-1"]
    assert (u.review.status, u.review.review.at) == ("discussed", REVIEWED_AT)  # the review as it stood
    (n,) = [i for i in then.section("ruptures").items if i.client == "N-1"]
    assert n.review.status == "new" and n.review.review is None  # made later: not shown as made
    assert [x.item.client for x in then.section("actions").actions] == ["O-1", "D-1"]  # done later: still open
    full = render(then, "md", include_notes=True)
    assert "LATER" not in full and NOTE in full

    now = agenda(db, as_of=None, since=AS_OF - timedelta(days=7))
    (u,) = [i for i in now.section("ruptures").items if i.client == "U-1"]
    assert u.review.status == "resolved"
    assert [x.item.client for x in now.section("actions").actions] == ["D-1", "N-1"]


def test_safety_lists_clients_not_seen_since_their_risk_session_first():
    """As in triage: the unseen-since-risk clients lead the safety section,
    however recent another client's risk session is (the bundled demo)."""
    from supervision_tui.demo import generate_demo, scenario_clients
    from supervision_tui.reports.agenda import build_agenda_from

    cl, st = generate_demo(), scenario_clients()
    a = build_agenda_from(cl, analyse_caseload(cl, as_of=date(2026, 11, 20)), None, as_of=date(2026, 11, 20))
    assert group(a, "safety", "Active risk") == [st["risk_unseen"], st["risk_dropped"], st["risk"]]
    assert group(a, "safety", "Re-screened negative since the last meeting") == [st["risk_rescreened"]]


def test_a_repair_since_the_last_meeting_is_not_new_when_the_rupture_started_before(tmp_path):
    """NEW means the flag started since the last meeting (review finding: a
    repaired rupture listed as 'repaired since' was tagged NEW by its repair date)."""
    d = Database(tmp_path / "repaired.json")
    # P-1: rupture at s4 (8 days before AS_OF, before `since`), repaired at s5 (yesterday)
    rows = weekly("P-1", "T1", AS_OF - timedelta(days=1), srs(38, 38.5, 39, 30, 39))
    d.replace_caseload(Caseload(clients={"P-1": Client("P-1", "T1")},
                                clinicians={"T1": Clinician("T1", "trainee")}, ratings=rows, goals=[], name="t"))
    a = agenda(d, since=AS_OF - timedelta(days=7))
    (rep,) = [g for g in a.section("ruptures").groups if (g.title or "").startswith("Repaired since")]
    assert [(i.client, i.new) for i in rep.items] == [("P-1", False)]
    assert "**NEW**" not in next(ln for ln in render(a, "md").splitlines() if "**P-1**" in ln)


@pytest.mark.parametrize("last_phq, last_gad", [(20.0, 18.0), (18.0, 20.0)])
def test_a_client_item_leads_with_the_flag_the_caseload_names(tmp_path, last_phq, last_gad):
    """Two outcomes reliably worse at the same session: the agenda's item for
    the client leads with the flag the caseload's "Why" names (the
    instrument first in the registry, PHQ-9 before GAD-7, whatever the
    sizes), the other under it: the same headline on every screen."""
    r = weekly("W-1", "T1", AS_OF - timedelta(days=1),
               [{"SRS": 38, "PHQ-9": 5, "GAD-7": 3}, {"SRS": 38, "PHQ-9": 6, "GAD-7": 3},
                {"SRS": 38, "PHQ-9": last_phq, "GAD-7": last_gad}])
    d = Database(tmp_path / "w.json")
    d.replace_caseload(Caseload(clients={"W-1": Client("W-1", "T1")},
                                clinicians={"T1": Clinician("T1", "trainee")}, ratings=r, name="w"))
    (analysis,) = analyse_caseload(d.load(), as_of=AS_OF)
    worse = [f for f in analysis.flags if f.kind == "outcome"]
    assert sorted(f.extra["instrument"] for f in worse) == ["GAD-7", "PHQ-9"]
    (item,) = [i for i in agenda(d).section("not_on_track").items if i.client == "W-1"]
    assert item.flag.extra["instrument"] == "PHQ-9" and [m.flag.extra["instrument"] for m in item.more] == ["GAD-7"]
    assert analysis.why.startswith(item.flag.hint.why)  # the caseload's "Why" names the same flag
