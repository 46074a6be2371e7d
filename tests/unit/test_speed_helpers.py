"""The helpers behind the fast paths build exactly what the slow ones do:
trusted constructors, grouping rows into sessions, pausing the collector."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, fields
from datetime import date

import pytest

from supervision_tui import gc_pause
from supervision_tui.model import (Caseload, Goal, Rating, Session, new_rating, new_session, ratings_of_columns,
                                   sessions_of_columns, trusted_constructor)
from supervision_tui.rules.results import GoalEvidence, Marker


RATING_VALUES = ("C-1", "T1", 3, date(2025, 1, 6), "attended", "WAI-SR", "therapist", 44.0, 13.0, 15.0, 16.0,
                 True, "withdrawal", False)


@pytest.mark.parametrize("cls, values", [
    (Goal, ("C-1", "G1", "", 3, "agreed", "active", None)),
    (GoalEvidence, ("SRS goals item", 4, "partial", "SRS goals 6.5 ≥ 6 and < 8 → partial", "SRS goals 6.5")),
    (Marker, ("self_report", 5, "SRS", "rupture reported by client", "client", "withdrawal")),
])
def test_trusted_constructor_builds_what_the_class_builds(cls, values):
    make = trusted_constructor(cls)
    made, built = make(*values), cls(*values)
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert type(made) is cls
    with pytest.raises(AttributeError):  # still frozen
        setattr(made, fields(cls)[0].name, "x")
    assert [f.name for f in fields(cls)] == list(make.__code__.co_varnames[: len(values)])


def test_the_judge_builds_each_track_as_the_class_does():
    """``rules.expected._new_track`` (the serial step's TrackResult) builds what
    ``TrackResult(...)`` builds, every field in order."""
    from supervision_tui.rules.expected import TrackResult, _new_track

    values = ("ORS", "on_track", 18.0, 25.0, 1, 6, 6, 7.0, 5.2, 1.9, 23.2, 19.9, 40, 210, None, False, False)
    assert [f.name for f in fields(TrackResult)][:3] == ["instrument", "status", "first"]
    made, built = _new_track(*values), TrackResult(*values)
    assert made == built and repr(made) == repr(built) and type(made) is TrackResult


def test_trusted_constructor_refuses_classes_it_cannot_serve():
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (NoSlots, Checked):
        with pytest.raises(TypeError):
            trusted_constructor(cls)


def test_module_constructors_match_their_classes():
    assert new_rating is Rating and new_session is Session


def test_ratings_built_from_columns_are_the_ratings_of_their_rows():
    """``ratings_of_columns`` (the loader's decode: one list per field) builds
    what ``Rating(...)`` builds, row by row: equal, same hash and repr, a
    ``Rating``, immutable, every field in its place."""
    other = ("C-2", "T2", 4, date(2025, 1, 13), "no_show", None, "client", None, None, None, None, None, None, None)
    columns = [list(col) for col in zip(RATING_VALUES, other)]
    made = ratings_of_columns(*columns)
    built = [Rating(*RATING_VALUES), Rating("C-2", "T2", 4, date(2025, 1, 13), "no_show")]
    assert made == built and [hash(r) for r in made] == [hash(r) for r in built]
    assert [repr(r) for r in made] == [repr(r) for r in built]
    assert all(type(r) is Rating for r in made)
    assert made[0].bond == 16.0 and made[0].rupture_type == "withdrawal" and made[1].attended is False
    assert made[0].key == ("C-1", 3, "WAI-SR", "therapist")
    with pytest.raises(AttributeError):  # immutable
        made[0].total = 1.0
    assert Rating._fields[:4] == ("client", "clinician", "session", "date") and len(Rating._fields) == 14
    assert ratings_of_columns(*[[] for _ in Rating._fields]) == []


def test_sessions_built_from_columns_are_the_sessions_of_their_values():
    """``sessions_of_columns`` (the loader's ``client_record``) builds what
    ``Session(...)`` builds: equal, same hash and repr, a ``Session``,
    immutable, its properties and methods intact."""
    r = Rating(*RATING_VALUES)
    made = sessions_of_columns(["C-1", "C-1"], ["T1", "T2"], [3, 4], [date(2025, 1, 6), date(2025, 1, 13)],
                               ["attended", "no_show"], [(r,), ()])
    built = [Session("C-1", "T1", 3, date(2025, 1, 6), "attended", (r,)),
             Session("C-1", "T2", 4, date(2025, 1, 13), "no_show")]
    assert made == built and [hash(s) for s in made] == [hash(s) for s in built]
    assert [repr(s) for s in made] == [repr(s) for s in built] and all(type(s) is Session for s in made)
    assert made[0].attended and not made[1].attended and made[1].ratings == ()
    assert made[0].rating("WAI-SR", "therapist") is r and made[0].rating("WAI-SR") is None
    with pytest.raises(AttributeError):  # immutable
        made[0].number = 5
    assert Session._fields == ("client", "clinician", "number", "date", "attendance", "ratings")
    assert sessions_of_columns([], [], [], [], [], []) == []


def test_sessions_keep_rows_in_instrument_then_rater_order_whatever_the_input():
    day = date(2025, 1, 6)
    rows = [
        Rating("C-1", "T1", 1, day, "attended", "WAI-SR", "therapist", 44.0),
        Rating("C-1", "T1", 1, day, "attended", "ORS", "client", 20.0),
        Rating("C-1", "T1", 1, day, "attended", None, "client"),  # no instrument: first
        Rating("C-1", "T1", 1, day, "attended", "WAI-SR", "client", 40.0),
        Rating("C-1", "T1", 2, day, "attended", "SRS", "client", 36.0),
        Rating("C-1", "T1", 2, day, "attended", "ORS", "client", 21.0),
    ]
    (record,) = Caseload(ratings=rows[::-1]).records()
    assert [(r.instrument, r.rater) for r in record.sessions[0].ratings] == [
        (None, "client"), ("ORS", "client"), ("WAI-SR", "client"), ("WAI-SR", "therapist")]
    assert [r.instrument for r in record.sessions[1].ratings] == ["ORS", "SRS"]
    assert [s.number for s in record.sessions] == [1, 2]


def test_gc_pauses_nest_and_restore_the_collector():
    assert gc.isenabled()
    with gc_pause.gc_paused():
        assert not gc.isenabled()
        with gc_pause.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()  # a caller's own choice is kept
    try:
        with gc_pause.gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_pauses_overlapping_in_threads_end_with_the_last():
    started, release = threading.Event(), threading.Event()

    def batch():
        with gc_pause.gc_paused():
            started.set()
            release.wait(5)

    t = threading.Thread(target=batch)
    with gc_pause.gc_paused():
        t.start()
        started.wait(5)
    assert not gc.isenabled()  # the thread's batch is still running
    release.set()
    t.join(5)
    assert gc.isenabled()


def test_start_up_pause_ends_once_and_outlasts_batches():
    gc_pause.pause_for_startup()
    try:
        assert not gc.isenabled()
        with gc_pause.gc_paused():
            pass
        assert not gc.isenabled()  # a batch ending does not end the start-up pause
        with gc_pause.gc_paused():
            gc_pause.end_startup()
            assert not gc.isenabled()  # ... and the start-up's end waits for the batch
        assert gc.isenabled()
        gc_pause.end_startup()  # again: nothing
        assert gc.isenabled()
    finally:
        gc_pause.end_startup()
        gc.enable()


def test_an_analysis_replaced_fast_is_the_one_dataclasses_replace_makes():
    """``engine._replaced`` (every client of a load goes through it in
    ``finish_client``) equals ``dataclasses.replace``, field by field, and
    refuses a field the analysis does not have."""
    from dataclasses import replace

    from supervision_tui.demo import generate_demo
    from supervision_tui.rules import engine

    analyses = engine.analyse_caseload(generate_demo(2026, n_clients=6, sessions=10))
    a = analyses[0]
    for changes in ({}, {"tier": 2}, {"flags": (), "reason": "x", "tier": 5}, {"client": "C-9"}):
        made = engine._replaced(a, changes)
        assert made == replace(a, **changes) and type(made) is type(a)
        for f in fields(type(a)):  # every other field is the very same object
            if f.name not in changes:
                assert getattr(made, f.name) is getattr(a, f.name)
    assert engine._replaced(a, {"tier": a.tier + 1}).tier == a.tier + 1
    with pytest.raises(TypeError):
        engine._replaced(a, {"no_such_field": 1})
