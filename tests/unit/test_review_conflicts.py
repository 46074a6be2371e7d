"""Two people saving at once (store and service, no UI): a note is saved
only over the note its edit began from (compare-and-set under the lock,
``expect_note``), a status alone is never refused for it, marking a client
is all or nothing, and a held lock makes the dashboard's save give up
quickly as "busy" (``DASHBOARD_LOCK_TIMEOUT``) while a short wait still
succeeds. Every second writer here is real: another store on the same
file, or a lock held by another thread or process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import date

import pytest

from supervision_tui.demo import write_demo
from supervision_tui.rules.engine import analyse_caseload
from supervision_tui.service.reviews import DASHBOARD_LOCK_TIMEOUT, ReviewService
from supervision_tui.store.database import Database, LockBusy
from supervision_tui.store.reviews import NoteChanged, ReviewStore, client_key

AS_OF = date(2026, 11, 20)
THEIRS = "THEIR-NOTE-7c1d safety plan checked"  # private texts: never in a message
MINE = "MY-NOTE-2b9e call the GP"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("conflicts") / "demo.json"
    write_demo(path, seed=2026, n_clients=18)
    return path


@pytest.fixture
def db(demo, tmp_path):
    path = tmp_path / "clinic.json"
    path.write_bytes(demo.read_bytes())
    return path


def _flagged(db):
    caseload = Database(db, read_only=True).load()
    return next(a for a in analyse_caseload(caseload, as_of=AS_OF) if len(a.flags) >= 2)


def _sidecar(db) -> bytes:
    return Database(db).sidecar_path.read_bytes()


# --- the store: compare-and-set of a note ------------------------------------------------------------------


def test_a_stale_note_is_refused_and_nothing_is_written(db):
    a = _flagged(db)
    flag = a.flags[0]
    mine, theirs = ReviewStore(Database(db), user="A"), ReviewStore(Database(db), user="B")
    started = mine.review_for(flag).review  # A opens the note dialog: no note yet
    assert started is None
    theirs.set_review(flag, note=THEIRS)  # B saves a note meanwhile
    before = _sidecar(db)
    with pytest.raises(NoteChanged) as info:
        mine.set_review(flag, note=MINE, expect_note=None)
    assert _sidecar(db) == before  # not a byte written
    err = info.value
    assert (err.current, err.by, err.key) == (THEIRS, "B", flag.identity)
    assert err.at and "B" in str(err) and err.at[:10] in str(err)
    assert THEIRS not in str(err) and MINE not in str(err) and THEIRS not in repr(err)  # private text
    # the refusal refreshed the snapshot: the views show B's note at once
    assert mine.review_for(flag).review.note == THEIRS
    # the second save expects the note now stored: saved, and the audit has both
    merged = f"{THEIRS}\n{MINE}"
    assert mine.set_review(flag, note=merged, expect_note=err.current).note == merged
    last = ReviewStore(Database(db)).history(flag)[-1]
    assert (last.user, last.action, last.before["note"], last.after["note"]) == ("A", "review.note", THEIRS, merged)


def test_a_status_alone_is_never_refused_for_a_note_changed_meanwhile(db):
    a = _flagged(db)
    flag = a.flags[0]
    mine, theirs = ReviewStore(Database(db), user="A"), ReviewStore(Database(db), user="B")
    theirs.set_review(flag, note=THEIRS)
    review = mine.set_review(flag, "discussed", expect_note="what A saw")  # no note given: not checked
    assert (review.status, review.note) == ("discussed", THEIRS)
    review = mine.set_client_review(a.client, "action", expect_note="anything")
    assert review.status == "action"


def test_the_same_note_or_the_expected_one_goes_through(db):
    a = _flagged(db)
    mine, theirs = ReviewStore(Database(db), user="A"), ReviewStore(Database(db), user="B")
    theirs.set_client_review(a.client, note=THEIRS)
    # both typed the same words: no conflict (nothing to merge)
    assert mine.set_client_review(a.client, note=THEIRS, expect_note="").note == THEIRS
    # the note A started from is still there: saved
    assert mine.set_client_review(a.client, note=MINE, expect_note=THEIRS).note == MINE
    # clearing a note someone else changed meanwhile is refused as well
    theirs.set_client_review(a.client, note=THEIRS)
    with pytest.raises(NoteChanged):
        mine.set_client_review(a.client, note="", expect_note=MINE)
    # without expect_note (the CLI's review --note) a note is written as given
    assert mine.set_client_review(a.client, note=MINE).note == MINE
    # a cleared note: the conflict says who cleared it
    theirs.set_client_review(a.client, note="")
    with pytest.raises(NoteChanged) as info:
        mine.set_client_review(a.client, note="again", expect_note=MINE)
    assert (info.value.current, info.value.by) == ("", "B")


def test_marking_a_client_with_a_stale_note_changes_no_flag(db):
    a = _flagged(db)
    mine, theirs = ReviewStore(Database(db), user="A"), ReviewStore(Database(db), user="B")
    theirs.set_client_review(a.client, note=THEIRS)
    before = _sidecar(db)
    with pytest.raises(NoteChanged):
        mine.mark_client(a.client, "discussed", MINE, flags=a.flags, latest_session=a.latest_session,
                         expect_note=None)
    assert _sidecar(db) == before
    assert all(mine.review_for(f).status == "new" for f in a.flags)
    # all or nothing the other way too: one transaction, one audit entry per review, flags first
    mine.mark_client(a.client, "discussed", MINE, flags=a.flags, latest_session=a.latest_session,
                     expect_note=THEIRS)
    doc = json.loads(_sidecar(db))
    new = doc["audit"][-(len(a.flags) + 1):]
    assert [e["target"] for e in new] == [f.identity for f in a.flags] + [client_key(a.client)]
    assert len({e["at"] for e in new}) == 1 and doc["reviews"][client_key(a.client)]["note"] == MINE


def test_the_service_reports_a_conflict_with_the_other_note(db):
    a = _flagged(db)
    svc = ReviewService(db, user="A")
    svc.start()
    ReviewStore(Database(db), user="B").set_client_review(a.client, note=THEIRS)
    outcome = svc.set_review(a, None, None, MINE, expect_note=None)
    assert outcome.value is None and outcome.conflict is not None and not outcome.busy
    assert outcome.conflict.current == THEIRS and outcome.touched == frozenset({a.client})
    assert outcome.notice.message.startswith("Not saved: the note was changed by B")
    assert THEIRS not in outcome.notice.message and MINE not in outcome.notice.message
    assert svc.state(a).client.review.note == THEIRS  # the screens refresh to their note
    outcome = svc.mark_client(a, "discussed", MINE, expect_note=None)
    assert outcome.conflict is not None and svc.state(a).status == "new"
    outcome = svc.mark_client(a, "discussed", MINE, expect_note=THEIRS)
    assert outcome.notice is None and svc.state(a).client.review.note == MINE


# --- a held lock: the dashboard gives up quickly, a short wait succeeds -------------------------------------

HOLD = """\
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1]); lock.acquire(); print("holding", flush=True); time.sleep(float(sys.argv[2]))
"""


def test_a_held_lock_is_busy_for_the_dashboard_nothing_written(db):
    a = _flagged(db)
    svc = ReviewService(db, user="A", lock_timeout=DASHBOARD_LOCK_TIMEOUT)
    svc.start()
    lock = Database(db).sidecar.lock_path
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        for outcome in (svc.mark_client(a), svc.set_review(a, a.flags[0], None, MINE, expect_note=None),
                        svc.add_action(a.client, MINE, None, None)):
            assert outcome.busy and outcome.value is None and outcome.conflict is None
            assert outcome.notice.message.startswith("Busy: not saved, try again.")
            assert "for more than 0.25 s" in outcome.notice.message and MINE not in outcome.notice.message
        assert holder.poll() is None  # each gave up while the lock was still held
        assert not Database(db).sidecar_path.exists()
    finally:
        holder.kill()
        holder.wait()
    assert svc.mark_client(a).notice is None  # the lock is free again: saved


def test_the_cli_still_waits_its_ten_seconds(db):
    svc = ReviewService(db)
    assert svc.store._store.timeout == 10.0
    assert ReviewService(db, lock_timeout=0.25).store._store.timeout == 0.25


def test_a_short_wait_for_the_lock_still_succeeds(db):
    """Another writer holding the lock a few milliseconds (a normal save)
    is waited for, within the dashboard's timeout."""
    from filelock import FileLock

    a = _flagged(db)
    svc = ReviewService(db, user="A", lock_timeout=DASHBOARD_LOCK_TIMEOUT)
    svc.start()
    held, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with FileLock(Database(db).sidecar.lock_path):
            held.set()
            time.sleep(0.02)  # a normal save's time
        release.set()

    t = threading.Thread(target=other_writer)
    t.start()
    assert held.wait(10)
    outcome = svc.mark_client(a)  # starts while the lock is held
    t.join()
    assert outcome.notice is None and not outcome.busy and release.is_set()


def test_lock_busy_is_a_database_error_with_the_old_message(tmp_path):
    from filelock import FileLock

    from supervision_tui.errors import DatabaseError

    store = Database(tmp_path / "x.json").sidecar
    store.timeout = 0.05
    with FileLock(store.lock_path):
        with pytest.raises(LockBusy, match=r"busy: another process has held its lock \(x\.workflow\.json\.lock\) "
                                           r"for more than 0\.05 s") as info:
            with store.transaction():
                pass
    assert isinstance(info.value, DatabaseError) and info.value.timeout == 0.05


def test_the_time_of_the_other_change_is_never_raw_file_text(db):
    """A second read: the "changed at" of the refusal came from the file as it was; a damaged or
    hand-made workflow file could put an escape sequence there, shown in the notification."""
    a = _flagged(db)
    flag = a.flags[0]
    mine, theirs = ReviewStore(Database(db), user="A"), ReviewStore(Database(db), user="B")
    theirs.set_review(flag, note=THEIRS)
    sidecar = Database(db).sidecar_path
    doc = json.loads(sidecar.read_text())
    doc["audit"][-1]["at"] = "\x1b]0;pwned\x07 2026"
    sidecar.write_text(json.dumps(doc))
    try:
        mine.set_review(flag, note=MINE, expect_note=None)
    except NoteChanged as err:
        assert err.at is None and "\x1b" not in str(err) and "\x07" not in str(err)
    except Exception as err:  # a file the store refuses as damaged is also fine: nothing shown from it
        assert "\x1b" not in str(err) and "\x07" not in str(err)
    else:
        raise AssertionError("the stale note was saved")
