"""The per-client analysis cache (store/analysis_cache.py) and the loader
(supervision_tui/ui/loader.py): what must and must not make a client be
analysed again, and that a cached result is exactly the engine's."""

from __future__ import annotations

import os
import pickle
import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from supervision_tui.ui import loader
from supervision_tui.model import Caseload, Rating
from supervision_tui.rules.engine import analyse_caseload
from supervision_tui.settings import Settings
from supervision_tui.store import analysis_cache as ac
from supervision_tui.store import columnar
from supervision_tui.store.csv_io import export_csv, parse_files
from supervision_tui.store.database import Database
from supervision_tui.demo import generate_demo
from supervision_tui.store.reviews import ReviewStore

from v1_helpers import write_v1


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SUPERVISION_TUI_CACHE_DIR", str(folder))
    return folder


def inline_load(db: Path, settings=None, as_of=None, workers: int = 2, use_cache: bool = True):
    """The loader's workers run in threads of this process (so monkeypatches
    apply), their messages read by ``loader.receive`` as in the app; the
    cache written as the app writes it."""
    req = loader.LoadRequest(str(db), settings, as_of, use_cache=use_cache, workers=workers)
    fds, threads = inline_workers(req, workers)
    result = loader.receive(loader.LoadHandle(req, fds))
    for t in threads:
        t.join()
    result.save_cache()
    return result


def inline_workers(req, workers: int, request_of=None) -> tuple[list[int], list[threading.Thread]]:
    """Start the loader's workers in threads; ``request_of(part)``: the
    request worker ``part`` runs (default: ``req``). The pipes' read ends
    and the threads."""
    fds, threads = [], []
    for part in range(workers):
        r, w = os.pipe()

        def run(part=part, w=w):
            try:
                loader.run_worker(request_of(part) if request_of else req, part, workers, w)
            finally:
                os.close(w)

        t = threading.Thread(target=run)
        t.start()
        fds.append(r)
        threads.append(t)
    return fds, threads


def caseload(n: int = 40) -> Caseload:
    return generate_demo(2026, n_clients=n, sessions=12)


def make_db(tmp_path: Path, cl: Caseload) -> Path:
    db = Database(tmp_path / "caseload.json")
    db.replace_caseload(cl)
    return db.path


def fresh(db: Path, settings=None, as_of=None) -> list:
    return analyse_caseload(Database(db, read_only=True).load(), settings, as_of)


def test_a_second_load_analyses_nothing_and_gives_the_same_results(tmp_path):
    cl = caseload()
    db = make_db(tmp_path, cl)
    first = inline_load(db)
    assert first.stats["analysed"] == first.stats["clients"] == len(cl.clients)
    assert first.analyses == fresh(db)
    second = inline_load(db)
    assert second.stats["analysed"] == 0
    assert second.analyses == first.analyses  # the cached analyses are the engine's, equal in every field
    assert second.extras == first.extras
    assert second.docs == first.docs


def test_what_must_not_make_a_client_be_analysed_again(tmp_path):
    db = make_db(tmp_path, caseload())
    inline_load(db)
    d = Database(db)
    # a review save, and another reviewer's note (another process writes the same workflow file)
    flag = next(f for a in fresh(db) for f in a.flags)
    ReviewStore(d, user="A").set_review(flag, "discussed", note="talked it through")
    ReviewStore(Database(db), user="B").set_review(flag, "action", note="colleague's note")
    assert d.sidecar_path.exists()
    assert inline_load(db).stats["analysed"] == 0
    # display-only settings: theme, keys
    s = Settings()
    display = replace(s, keys={"quit": "x"}, ui=replace(s.ui, theme="clinic-light"))
    assert ac.cache_file(db, display, None) == ac.cache_file(db, s, None)
    assert inline_load(db, display).stats["analysed"] == 0


def test_an_import_of_one_client_s_new_session_analyses_that_client_only(tmp_path):
    cl = caseload()
    db = make_db(tmp_path, cl)
    inline_load(db)
    code = sorted(cl.clients)[7]
    last = max((r for r in cl.ratings if r.client == code), key=lambda r: r.session)
    new = Rating(code, last.clinician, last.session + 1, date(2027, 1, 4), "attended", "SRS", "client", 12.0)
    export_csv(Caseload(ratings=[new]), tmp_path / "csv")
    Database(db).import_parsed(parse_files(tmp_path / "csv" / "measures.csv"))
    result = inline_load(db)
    assert result.stats["analysed"] == 1
    assert result.analyses == fresh(db)  # and the caseload is in triage order with the new result
    assert next(a for a in result.analyses if a.client == code).latest_session == last.session + 1


def test_what_must_make_clients_be_analysed_again(tmp_path, monkeypatch):
    cl = caseload()
    db = make_db(tmp_path, cl)
    inline_load(db)
    s = Settings()
    # a threshold setting
    stricter = replace(s, risk=replace(s.risk, expire_days=30))
    n = len(cl.clients)
    r = inline_load(db, stricter)
    assert r.stats["analysed"] == n and r.analyses == fresh(db, stricter)
    # an as-of date
    r = inline_load(db, None, date(2025, 6, 1))
    assert r.stats["analysed"] == n and r.analyses == fresh(db, None, date(2025, 6, 1))
    # a data change of one client (a score corrected in place)
    code = sorted(cl.clients)[3]
    target = next(x for x in cl.ratings if x.client == code and x.instrument is not None)
    changed = Caseload(cl.clients, cl.clinicians, [x._replace(total=(x.total or 0) - 1) if x is target else x
                                                   for x in cl.ratings], cl.goals, cl.name)
    Database(db).replace_caseload(changed)
    r = inline_load(db)
    assert r.stats["analysed"] == 1 and r.analyses == fresh(db)
    # a new program version, or a result type with another shape
    inline_load(db)
    monkeypatch.setattr(ac, "__version__", "99.0")
    assert inline_load(db).stats["analysed"] == n
    monkeypatch.setattr(ac, "results_fingerprint", lambda: "another shape")
    assert inline_load(db).stats["analysed"] == n
    # changed code with the same version number (a rule's wording fixed in a checkout): the
    # fingerprint of the package's modules is part of the key, so no stale analysis is shown
    assert inline_load(db).stats["analysed"] == 0
    import supervision_tui.store.triage_cache as tc

    monkeypatch.setattr(tc, "code_fingerprint", lambda: "other code")
    assert inline_load(db).stats["analysed"] == n


def test_the_code_fingerprint_follows_the_modules(tmp_path):
    """The fingerprint changes when a module of the package changes (its
    size or modification time), and only then (on a copy of the package:
    the installed one is never touched)."""
    import os
    import shutil

    from supervision_tui.store.triage_cache import code_fingerprint, package_fingerprint

    real = Path(ac.__file__).resolve().parent.parent
    assert code_fingerprint() == package_fingerprint(real)
    copy = tmp_path / "supervision_tui"
    shutil.copytree(real, copy, ignore=shutil.ignore_patterns("__pycache__"), copy_function=shutil.copy2)
    before = package_fingerprint(copy)
    assert package_fingerprint(copy) == before
    (copy / "ui" / "app.tcss").write_text("changed")  # not a module: no change
    assert package_fingerprint(copy) == before
    module = copy / "wording.py"
    st = module.stat()
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert package_fingerprint(copy) != before
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert package_fingerprint(copy) == before
    module.write_text(module.read_text() + "\n# a fix\n")
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))  # same time, other size
    assert package_fingerprint(copy) != before


def test_a_format_1_file_is_read_by_one_worker_and_cached_alike(tmp_path):
    cl = caseload()
    path = write_v1(tmp_path / "old.json", cl)
    before = path.read_bytes()
    r = inline_load(path)
    assert r.format == 1 and r.analyses == fresh(path) and r.stats["analysed"] == len(cl.clients)
    assert inline_load(path).stats["analysed"] == 0
    assert path.read_bytes() == before  # read-only: never migrated by reading


def test_a_damaged_cache_is_ignored(tmp_path, cache_dir):
    cl = caseload(10)
    db = make_db(tmp_path, cl)
    inline_load(db)
    (path,) = cache_dir.glob("analysis-*.bin")
    good = path.read_bytes()
    for damaged in (b"", good[:-1], good[:-40] + bytes(40), b"x" + good[1:], good[: len(good) // 2]):
        path.write_bytes(damaged)
        assert ac.read_cache(path) == {}
        r = inline_load(db)
        assert r.stats["analysed"] == len(cl.clients) and r.analyses == fresh(db)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(cache_dir).st_mode & 0o777 == 0o700


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_tampered_entry_cannot_run_code_and_is_analysed_again(tmp_path, cache_dir, monkeypatch):
    db = make_db(tmp_path, caseload(10))
    inline_load(db)
    (path,) = cache_dir.glob("analysis-*.bin")
    entries = ac.read_cache(path)
    key = next(iter(entries))
    with pytest.raises(ac.BadEntry):
        ac.load_entry(pickle.dumps(("C-1", Boom(), {})))
    with pytest.raises(ac.BadEntry):
        ac.load_entry(pickle.dumps(("C-1", "not an analysis", {})))
    with pytest.raises(ac.BadEntry):
        ac.load_entry(pickle.dumps(("C-1", None, {}, "not shares", [])))
    with pytest.raises(ac.BadEntry):
        ac.load_entry(pickle.dumps(("C-1", None, {}, None, "not cases")))
    entries[key] = pickle.dumps(("C-1", Boom(), {}))  # with a valid checksum: as if written by an attacker
    ac.write_cache(path, entries)
    calls = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd))
    respawned = []
    real_spawn = loader.spawn
    monkeypatch.setattr(loader, "spawn", lambda req: respawned.append(req) or real_spawn(req))
    r = inline_load(db)
    assert calls == []
    # the entry is refused when the app reads it: the load starts again without the cache
    assert [q.use_cache for q in respawned] == [False]
    assert r.stats["analysed"] >= 1
    assert r.analyses == fresh(db)


def test_entries_round_trip_exactly():
    """What the loader caches per client: the analysis by the per-client
    rules, its shares of the caseload-wide rules and its effectiveness cases."""
    from supervision_tui.instruments import REGISTRY
    from supervision_tui.reports.effectiveness import client_cases
    from supervision_tui.rules.engine import analyse_part

    s = Settings()
    n_shares = 0
    for record in generate_demo().records():
        a, shares = analyse_part(record, s)
        cases = client_cases(record, s, REGISTRY, a.outcomes)
        code, back, extras, back_shares, back_cases = ac.load_entry(ac.dump_entry(a.client, a, {"spark": "▁▂"},
                                                                                  shares, cases))
        assert (code, back, extras, back_shares, back_cases) == (a.client, a, {"spark": "▁▂"}, shares, cases)
        assert [type(f) for f in back.flags] == [type(f) for f in a.flags]
        n_shares += shares is not None
    assert n_shares > 50


def test_the_content_hash_is_the_client_s_content():
    cl = caseload(5)
    docs = columnar.client_docs(cl.clients, cl.ratings, cl.goals)
    keys = [columnar.content_hash(columnar.dumps(d)) for d in docs]
    assert len(set(keys)) == len(keys)
    again = columnar.client_docs(cl.clients, list(reversed(cl.ratings)), cl.goals)  # another row order, same content
    assert [columnar.content_hash(columnar.dumps(d)) for d in again] == keys


def test_a_caseload_wide_rule_re_analyses_the_changed_client_only(tmp_path, monkeypatch):
    """A caseload-wide rule (``CaseloadRule``: a value over the whole
    caseload, e.g. the fitted reference of not on track) makes every
    client's verdict depend on every client. Its per-client share is cached
    with the client's analysis, so a change of one client analyses that
    client only, and yet every client is judged against the new combined
    value (the same as a fresh analysis of the whole caseload)."""
    from supervision_tui.rules import engine
    from supervision_tui.rules.context import CaseloadRule

    shared_seen = []

    def share(view):
        return len(view.sessions)

    def combine(shares, settings, registry):
        return sum(shares)  # (a stand-in for a caseload-wide fit)

    def judge(analysis, client_share, value):
        shared_seen.append(value)
        return [], {}

    monkeypatch.setattr(engine, "CASELOAD_RULES", [*engine.CASELOAD_RULES, CaseloadRule("caseload-wide", share,
                                                                                        combine, judge)])
    cl = caseload(20)
    db = make_db(tmp_path, cl)
    first = inline_load(db)
    total = sum(len(r.sessions) for r in cl.records())
    assert first.stats["analysed"] == len(cl.clients)
    assert shared_seen == [total] * len(cl.clients)  # every client judged against the whole caseload's value
    assert first.analyses == fresh(db)
    shared_seen.clear()
    assert inline_load(db).stats["analysed"] == 0
    assert shared_seen == [total] * len(cl.clients)  # (from the cached shares)
    # one client's new session changes the caseload-wide value: that client is analysed again, everyone judged
    code = sorted(cl.clients)[2]
    last = max((r for r in cl.ratings if r.client == code), key=lambda r: r.session)
    export_csv(Caseload(ratings=[Rating(code, last.clinician, last.session + 1, date(2027, 1, 4), "attended", "SRS",
                                        "client", 30.0)]), tmp_path / "csv")
    Database(db).import_parsed(parse_files(tmp_path / "csv" / "measures.csv"))
    shared_seen.clear()
    again = inline_load(db)
    assert again.stats["analysed"] == 1
    assert shared_seen == [total + 1] * len(cl.clients)
    assert again.analyses == fresh(db)


def test_one_client_s_import_moves_the_clinic_reference_for_everyone(tmp_path):
    """The real caseload-wide rule (not on track, clinical-rules §10): one
    client's new rating is analysed alone, the reference is refitted from
    every client's cached share, and every client's course is judged against
    the new reference: the results equal a fresh analysis of the whole
    caseload, flags and reference included."""
    from supervision_tui.rules.expected import reference_of

    cl = generate_demo(2026, n_clients=120, sessions=12)
    db = make_db(tmp_path, cl)
    first = inline_load(db)
    assert first.reference is not None and any(m.enough for m in first.reference.values())
    code = next(a.client for a in first.analyses if "ORS" in a.tracks and a.status == "active")
    last = max((r for r in cl.ratings if r.client == code), key=lambda r: r.session)
    export_csv(Caseload(ratings=[Rating(code, last.clinician, last.session + 1, date(2027, 1, 4), "attended", "ORS",
                                        "client", 3.0)]), tmp_path / "csv")
    Database(db).import_parsed(parse_files(tmp_path / "csv" / "measures.csv"))
    again = inline_load(db)
    assert again.stats["analysed"] == 1
    shared: dict = {}
    expected = analyse_caseload(Database(db, read_only=True).load(), None, None, shared=shared)
    assert again.analyses == expected
    from supervision_tui.reports.effectiveness import effectiveness_for

    assert again.effects == effectiveness_for(Database(db, read_only=True).load().records(), expected)
    ref, ref_fresh = again.reference["ORS"], reference_of(shared)["ORS"]
    assert (ref.beta0, ref.beta1, ref.pairs) == (ref_fresh.beta0, ref_fresh.beta1, ref_fresh.pairs)
    assert ref.pairs == first.reference["ORS"].pairs + 1  # the new rating is one more pair of the reference
    changed = [a for a, b in zip(sorted(first.analyses, key=lambda a: a.client),
                                 sorted(again.analyses, key=lambda a: a.client))
               if a.client != code and a.tracks.get("ORS") is not None and a.tracks["ORS"].expected
               != b.tracks["ORS"].expected]
    assert changed, "every other client is judged against the refitted reference"
    mine = next(a for a in again.analyses if a.client == code)
    assert mine.tracks["ORS"].latest == 3.0


def test_the_cache_holds_no_private_text(tmp_path, cache_dir):
    """Goal descriptions are private free text: the analysis cache (like the
    triage cache) never holds one."""
    from supervision_tui.model import Goal

    cl = caseload(10)
    code = sorted(cl.clients)[0]
    cl.goals.append(Goal(code, "G9", "PRIVATE-words-of-the-client", 1, "partial"))
    db = make_db(tmp_path, cl)
    r = inline_load(db)
    assert any(g.description == "PRIVATE-words-of-the-client" for g in r_goals(r))  # (loaded: the app has it)
    (path,) = cache_dir.glob("analysis-*.bin")
    assert b"PRIVATE-words" not in path.read_bytes()
    assert os.stat(path).st_mode & 0o777 == 0o600


def r_goals(result):
    return loader.LoadedCaseload(result.name, result.clinicians, result.docs).goals


def test_the_loader_s_missing_measures_are_the_records_ones(tmp_path):
    """The clinicians screen counts clients without recent alliance ratings
    from the loader's per-client flag (the app keeps no rating objects):
    the same counts as from the records."""
    from supervision_tui.reports.patterns import clinician_patterns

    db = make_db(tmp_path, generate_demo(9, n_clients=80, sessions=12))
    r = inline_load(db)
    records = loader.LazyRecords(r.docs, None)
    missing = {a.client: r.extras[a.client]["missing_recent"] for a in r.analyses}
    from_records = clinician_patterns(r.analyses, records, r.clinicians)
    assert clinician_patterns(r.analyses, records, r.clinicians, missing_recent=missing) == from_records
    assert any(p.missing_recent for p in from_records) and not all(missing.values())  # (both cases occur)





def test_the_app_keeps_each_client_s_document_compressed_and_exactly(tmp_path):
    """The loader hands the app every client's document compressed
    (``loader.compress_doc``, LZ4: a few µs a client in the workers, where
    zlib took a tenth of their time); decompressed, each is the file's own
    document, and the records rebuilt from them are the database's."""
    db = make_db(tmp_path, generate_demo(11, n_clients=60, sessions=12))
    r = inline_load(db)
    in_file = {columnar.loads(raw)["code"]: raw for _i, raw in columnar.split_checked(db.read_bytes()).docs}
    assert set(r.docs) == set(in_file)
    for code, kept in r.docs.items():
        assert len(kept) < len(in_file[code])  # (compressed)
        assert loader.decompress_doc(kept) == in_file[code]
    records = loader.LazyRecords(r.docs, None)
    assert {code: records[code] for code in records} == {rec.code: rec for rec in Database(db, read_only=True).load().records()}


def test_a_worker_keeps_only_its_own_clients_entries(tmp_path, cache_dir):
    """``read_cache(wanted=…)``: each loader worker keeps the entries of its
    half of the clients, not the whole file (memory at 5 000 clients)."""
    db = make_db(tmp_path, caseload(10))
    inline_load(db)
    (path,) = cache_dir.glob("analysis-*.bin")
    everything = ac.read_cache(path)
    keys = sorted(everything)
    some = set(keys[:3]) | {b"\0" * 16}  # (a key the file does not have is simply not there)
    assert ac.read_cache(path, wanted=some) == {k: everything[k] for k in keys[:3]}
    assert ac.read_cache(path, wanted=set()) == {}


@pytest.mark.parametrize("block", [1, 7, 100, 1 << 20])
def test_the_cache_is_read_a_block_at_a_time_alike(tmp_path, cache_dir, monkeypatch, block):
    """``read_cache`` reads the file in blocks (a worker's memory is the
    entries it keeps, not the file): any block size gives the same entries,
    entries longer than a block included, and a file damaged anywhere, cut
    inside an entry or in its checksum, still gives nothing."""
    db = make_db(tmp_path, caseload(10))
    inline_load(db)
    (path,) = cache_dir.glob("analysis-*.bin")
    everything = ac.read_cache(path)
    good = path.read_bytes()
    monkeypatch.setattr(ac, "_READ_BLOCK", block)
    assert ac.read_cache(path) == everything and len(everything) == 10
    assert max(map(len, everything.values())) > 100
    keys = sorted(everything)[:4]
    assert ac.read_cache(path, wanted=set(keys)) == {k: everything[k] for k in keys}
    for damaged in (good[:-1], good[: len(good) // 3], good[:-20] + bytes(4) + good[-16:],
                    good[:40] + bytes([good[40] ^ 1]) + good[41:], good + b"x"):
        path.write_bytes(damaged)
        assert ac.read_cache(path) == {}, len(damaged)


def test_a_damaged_share_in_a_valid_file_means_a_load_without_the_cache(tmp_path, cache_dir, monkeypatch):
    """An entry of the right shape whose share of the clinic reference is
    not (written by hand into the private cache, checksum and all) fails the
    caseload step: the load starts again without the cache and gives the
    results of a fresh analysis; it never fails or shows a wrong reference."""
    db = make_db(tmp_path, generate_demo(2026, n_clients=60, sessions=12))
    inline_load(db)
    (path,) = cache_dir.glob("analysis-*.bin")
    entries = ac.read_cache(path)
    key, blob = next((k, b) for k, b in entries.items() if ac.load_entry(b)[3])
    code, analysis, extras, _shares, cases = ac.load_entry(blob)
    entries[key] = ac.dump_entry(code, analysis, extras, {"not_on_track": {"ORS": (1, 2.0)}}, cases)
    ac.write_cache(path, entries)
    respawned = []
    real_spawn = loader.spawn
    monkeypatch.setattr(loader, "spawn", lambda req: respawned.append(req) or real_spawn(req))
    r = inline_load(db)
    assert [q.use_cache for q in respawned] == [False]
    shared: dict = {}
    assert r.analyses == analyse_caseload(Database(db, read_only=True).load(), shared=shared)
    assert r.reference["ORS"].pairs == shared["not_on_track"]["ORS"].pairs


def test_one_clinician_s_load_judges_against_the_whole_clinic(tmp_path):
    """``--clinician``: the loader reads every client (the clinic reference
    and the effectiveness fit are the whole clinic's) and gives that
    clinician's effectiveness rows."""
    from supervision_tui.reports.effectiveness import effectiveness_for

    cl = generate_demo(2026, n_clients=80, sessions=12)
    db = make_db(tmp_path, cl)
    req = loader.LoadRequest(str(db), None, None, scope="T02")
    r = loader.receive(loader.spawn(req))
    whole = Database(db, read_only=True).load()
    shared: dict = {}
    analyses = analyse_caseload(whole, shared=shared)
    assert r.analyses == analyses  # every client (the app shows T02's)
    assert r.effects == effectiveness_for(whole.records(), analyses, clinician="T02")
    assert r.effects and {e.clinician for e in r.effects} <= {"T02", None}


def test_both_workers_analyse_their_half_of_a_cold_load(tmp_path):
    """With not on track's clinic reference in the rules, each loader worker
    still reads and analyses only its own half of the clients (the client
    lines that start in its half of the file's bytes; before the
    split into shares one worker had to read everyone), and the app's
    reference is the whole clinic's."""
    cl = caseload(60)
    db = make_db(tmp_path, cl)
    r = inline_load(db, use_cache=False)
    analysed = sorted(w["analysed"] for w in r.stats["workers"])
    n = len(cl.clients)
    # (the halves are of the file's bytes: as many clients give or take a few)
    assert sum(analysed) == n and analysed[0] >= n // 3
    shared: dict = {}
    analyse_caseload(Database(db, read_only=True).load(), shared=shared)
    assert r.reference["ORS"].pairs == shared["not_on_track"]["ORS"].pairs > 0


@pytest.mark.parametrize("fmt", [2, 1])
def test_a_load_reports_how_many_clients_are_in_of_how_many(tmp_path, fmt):
    """Each worker counts its share before it sends any client, so the app
    can say "n of N clients" while a cold load runs (a format-1 file: the
    first worker reads it whole, the other counts none)."""
    cl = caseload(60)
    db = make_db(tmp_path, cl) if fmt == 2 else write_v1(tmp_path / "old.json", cl)
    req = loader.LoadRequest(str(db), use_cache=False)
    fds, threads = inline_workers(req, 2)
    seen: list[tuple[int, int | None]] = []
    r = loader.receive(loader.LoadHandle(req, fds), progress=lambda n, total: seen.append((n, total)))
    for t in threads:
        t.join()
    n = len(cl.clients)
    assert r.stats["clients"] == n and seen[-1] == (n, n)
    received = [k for k, _t in seen]
    assert received == sorted(received) and received[0] == 0  # (a count comes before any client)
    assert {t for _k, t in seen} - {None} == {n}  # (None until both workers have counted)
    assert all(k <= n for k in received)


def _cache_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_cold_load_writes_its_cache_as_clients_arrive_and_keeps_no_copy(tmp_path, cache_dir, monkeypatch):
    """Cold (no cache file): each client's entry goes to the new file's
    temporary as it arrives, the app keeps none of them (memory: 17 MB at
    5,000 clients were held until the end), and ``save_cache`` puts the file
    in place: the same entries as the file written whole."""
    cl = caseload(30)
    db = make_db(tmp_path, cl)
    added: list[int] = []
    real_add = ac.CacheWriter.add
    monkeypatch.setattr(ac.CacheWriter, "add", lambda self, k, b: added.append(len(b)) or real_add(self, k, b))
    req = loader.LoadRequest(str(db), None, None)
    r = loader.receive(loader.spawn(req))
    pending = r.cache
    assert pending is not None and pending.stream is not None and pending.fresh == {} and pending.cached == []
    assert len(added) == 30  # written during the load, before save_cache
    assert [n for n in _cache_files(cache_dir) if n.startswith(".analysis-")]  # (the temporary, not yet in place)
    path = r.save_cache()
    assert path is not None and path.exists() and len(ac.read_cache(path)) == 30
    assert _cache_files(cache_dir) == sorted([path.name] + [n for n in _cache_files(cache_dir) if n.startswith("triage")])
    assert os.stat(path).st_mode & 0o777 == 0o600
    again = loader.receive(loader.spawn(req))
    assert again.stats["analysed"] == 0 and again.cache is None  # nothing changed: nothing to write
    assert again.analyses == r.analyses == fresh(db)


@pytest.mark.parametrize("flush_bytes", [1, 100, 1 << 20])
def test_the_cache_writer_writes_its_entries_in_pieces_and_a_failed_write_leaves_no_file(tmp_path, monkeypatch,
                                                                                        flush_bytes):
    """``CacheWriter`` writes entries a piece at a time (``FLUSH_BYTES``, not
    two writes a client): the file reads back the same whatever the piece;
    a write that fails drops the file and its temporary, never raises."""
    from supervision_tui.store import files

    monkeypatch.setattr(ac.CacheWriter, "FLUSH_BYTES", flush_bytes)
    entries = {bytes([i]) * 16: bytes([i]) * (37 * i + 1) for i in range(40)}
    path = tmp_path / "c" / "analysis-x.bin"
    assert ac.write_cache(path, entries) == path and ac.read_cache(path) == entries

    real = files.PrivateFileWriter.write
    calls = []

    def failing(self, data):
        calls.append(len(data))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(files.PrivateFileWriter, "write", failing)
    other = tmp_path / "d" / "analysis-y.bin"
    assert ac.write_cache(other, entries) is None
    assert not other.parent.exists() or list(other.parent.iterdir()) == []


def test_after_one_client_changes_only_its_entry_is_kept_until_saved(tmp_path, cache_dir):
    """A cache file already there: a load keeps only the entries analysed
    afresh (one client changed: one entry) and ``save_cache`` writes the new
    file from the old file's entries of the cached clients and the fresh
    one: the same entries as a cold load of the changed caseload."""
    cl = caseload(30)
    db = make_db(tmp_path, cl)
    inline_load(db)
    target = next(r for r in cl.ratings if r.total is not None and r.instrument == "SRS")
    changed = Caseload(cl.clients, cl.clinicians, [x._replace(total=(x.total or 0) - 1) if x is target else x
                                                  for x in cl.ratings], cl.goals, cl.name)
    Database(db).replace_caseload(changed)
    r = loader.receive(loader.spawn(loader.LoadRequest(str(db), None, None)))
    assert r.stats["analysed"] == 1
    assert r.cache.stream is None and len(r.cache.fresh) == 1 and len(r.cache.cached) == 29
    path = r.save_cache()
    saved = ac.read_cache(path)
    for p in cache_dir.glob("analysis-*.bin"):
        p.unlink()
    cold = loader.receive(loader.spawn(loader.LoadRequest(str(db), None, None)))
    assert cold.save_cache() == path
    entries = lambda blobs: {k: ac.load_entry(b) for k, b in blobs.items()}  # noqa: E731 (as values: a
    assert entries(ac.read_cache(path)) == entries(saved) and len(saved) == 30  # pickle's bytes may differ)
    assert cold.analyses == r.analyses


def test_a_load_that_does_not_finish_leaves_no_cache_behind(tmp_path, cache_dir):
    """Cancelled, or failed: the temporary the entries were going to is
    removed, and no cache file appears."""
    db = make_db(tmp_path, caseload(20))
    calls = []

    def cancel_after_some() -> bool:
        calls.append(1)
        return len(calls) > 3

    assert loader.receive(loader.spawn(loader.LoadRequest(str(db), None, None)), cancel_after_some) is None
    assert not [n for n in _cache_files(cache_dir) if "analysis" in n]
    bad = tmp_path / "bad.json"
    bad.write_bytes(db.read_bytes().replace(b'"attendance":["attended"', b'"attendance":["maybe"', 1))
    with pytest.raises(loader.LoaderError):
        loader.receive(loader.spawn(loader.LoadRequest(str(bad), None, None)))
    assert not [n for n in _cache_files(cache_dir) if "analysis" in n]


def test_workers_that_read_different_versions_of_the_file_load_again_in_one_process(tmp_path, cache_dir):
    """The database replaced (a save, an import) between the two workers
    opening it: their byte ranges are of different files, and clients would
    come twice or not at all. Each worker says which file it read; the
    shares do not fit together, so the load is done again in one process,
    and the result is the caseload's, every client once."""
    from dataclasses import replace as dc_replace

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    cl = caseload(12)
    Database(a).replace_caseload(cl)
    first = sorted(cl.clients)[:3]  # the same clients, three with a long goal description: the lines move
    edited = Caseload(cl.clients, cl.clinicians, cl.ratings,
                      [dc_replace(g, description="x" * 3000) if g.client in first else g for g in cl.goals], cl.name)
    Database(b).replace_caseload(edited)
    req = loader.LoadRequest(str(a), None, None, use_cache=False)
    seen: list = []
    # worker 1 opened the file after it was replaced
    fds, threads = inline_workers(req, 2, lambda part: dc_replace(req, db_path=str((a, b)[part])))
    result = loader.receive(loader.LoadHandle(req, fds), each=lambda a_, e, p=None: seen.append(a_.client))
    for t in threads:
        t.join()
    codes = [x.client for x in result.analyses]
    assert len(codes) == len(set(codes)) == len(fresh(a))
    assert result.analyses == fresh(a)
    assert len(seen) > len(codes)  # (the first attempt's clients came, then the second's)
    assert [d.get("file") for d in result.stats["workers"]] != [None]  # one worker, which says what it read


def test_a_load_the_app_refuses_leaves_no_cache_file_behind(tmp_path, cache_dir):
    """A finished load the app then refuses (an --as-of before any data, an
    unknown --clinician) drops the cache file it was writing: no temporary
    left in the cache folder, no descriptor left open."""
    from supervision_tui.errors import UserError
    from supervision_tui.ui.app import SupervisionApp

    db = make_db(tmp_path, caseload(8))

    def open_cache_fds() -> list[str]:
        out = []
        for n in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{n}")
            except OSError:
                continue
            if "analysis" in target:
                out.append(target)
        return out

    for kw in (dict(as_of=date(2000, 1, 1)), dict(clinician="NOBODY")):
        app = SupervisionApp(db, **kw)
        with pytest.raises(UserError):
            app._load_from_processes(lambda: False)
        assert not [n for n in _cache_files(cache_dir) if "analysis" in n], kw
        assert open_cache_fds() == [], kw
