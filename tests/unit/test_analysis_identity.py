"""Analyses are the same before and after issue #14's split of the
caseload-wide rule (not on track's clinic reference cached per client as
each client's share, combined on every load): on the bundled demo and on a
generated caseload, through the engine (the CLI's path) and through the
loader's worker processes (the app's path, cold and from the cache), every
client's tier, reason, why, flags (their interchange JSON), course against
the reference, the reference itself and the supervisee effectiveness rows
equal what the code before the split gave.

``tests/data/analyses_before_14.txt.gz`` was written by the code before
the split (commit e33e083) with this module's ``canonical`` (floats to 10
significant digits: the reference's sums are now correctly rounded, so the
last bits of a float may differ; nothing a person or a script reads does).
A deliberate change of a rule changes it: regenerate with
``.venv/bin/python tests/unit/test_analysis_identity.py --write`` and say
why in the commit.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import shutil
import sys
from datetime import date
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "analyses_before_14.txt.gz"
DEMO = Path(__file__).resolve().parents[2] / "data" / "demo_caseload.json"
TODAY = date(2026, 11, 28)  # the evaluation day (no rule may read the clock here)


def _num(x):
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.10g}"
    return repr(x)


def _value(x):
    if isinstance(x, float):
        return _num(x)
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))) + "}"
    if dataclasses.is_dataclass(x):
        return type(x).__name__ + _value(dataclasses.astuple(x))
    return repr(x)


def _model(m) -> str:
    return _value([m.instrument.id, m.beta0, m.beta1, m.clients, m.pairs, m.enough,
                   [(b.label, b.pairs, b.rms, b.sigma, b.source) for b in m.bands]])


def _lines(analyses, reference, effects) -> list[str]:
    out = [f"reference {iid} {_model(m)}" for iid, m in sorted((reference or {}).items())]
    for a in analyses:
        flags = json.dumps([f.to_json() for f in a.flags], sort_keys=True, ensure_ascii=False)
        tracks = [(iid, t.status, t.expected, t.lower, t.expected_score, t.lower_score, t.detail, t.short)
                  for iid, t in sorted(a.tracks.items())]
        out.append(f"{a.client} tier={a.tier} reason={a.reason!r} why={a.why!r} "
                   f"trigger={a.trigger_session},{a.trigger_date} first={a.first_in_tier} "
                   f"outcomes={_value(a.outcome_statuses)} tracks={_value(tracks)} flags={flags}")
    out.append(f"effects {_value(list(effects))}")
    return out


def canonical(db: Path) -> dict[str, str]:
    """Each path's analyses of the database ``db`` as text (one line a
    client): the engine's (the CLI's) and the loader's (the app's: without
    the cache, writing it, from it)."""
    from supervision_tui.reports.effectiveness import effectiveness_for
    from supervision_tui.rules.engine import analyse_records, known_records, prepare_shared
    from supervision_tui.rules.expected import reference_of
    from supervision_tui.settings import Settings
    from supervision_tui.store.database import Database
    from supervision_tui.ui import loader

    settings = Settings()
    cl = Database(db, read_only=True).load()
    records = known_records(cl)
    shared = prepare_shared(records, settings)  # (what ``analyse_caseload`` does for its callers)
    analyses = analyse_records(records, settings, today=TODAY, shared=shared)
    out = {"engine": _lines(analyses, reference_of(shared), effectiveness_for(records, analyses, settings))}
    for label, use_cache in (("loader without the cache", False), ("loader writing the cache", True),
                             ("loader from the cache", True)):
        req = loader.LoadRequest(str(db), settings, None, use_cache=use_cache, today=TODAY)
        res = loader.receive(loader.spawn(req))
        res.save_cache()
        out[label] = _lines(res.analyses, res.reference, res.effects)
    return {label: "\n".join(lines) + "\n" for label, lines in out.items()}


def _databases(folder: Path) -> list[tuple[str, Path]]:
    from supervision_tui.demo import write_demo

    demo = folder / "demo.json"
    shutil.copy(DEMO, demo)
    generated = write_demo(folder / "generated.json", 2031, n_clients=300, sessions=25)
    return [("demo", demo), ("generated 300 × 25", generated)]


def golden_text(folder: Path) -> str:
    """The engine's text of each database (what the golden file holds)."""
    return "".join(f"== {name}\n{canonical(db)['engine']}" for name, db in _databases(folder))


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERVISION_TUI_CACHE_DIR", str(tmp_path / "cache"))


def test_analyses_are_those_of_the_code_before_the_split(tmp_path, private_cache):
    want = gzip.decompress(GOLDEN.read_bytes()).decode("utf-8").split("== ")[1:]
    dbs = _databases(tmp_path)
    assert [w.split("\n", 1)[0] for w in want] == [name for name, _db in dbs]
    for (name, db), w in zip(dbs, want):
        want_lines = w.split("\n", 1)[1].splitlines()
        for label, text in canonical(db).items():
            got = text.splitlines()
            assert len(got) == len(want_lines), (name, label)
            for g, line in zip(got, want_lines):
                assert g == line, (name, label)  # (the first differing line)


def test_the_canonical_text_sees_what_matters(tmp_path, private_cache):
    """The comparison cannot pass vacuously: the demo's text holds every
    client, flags of several kinds, not-on-track verdicts and a reference."""
    (_name, demo), _ = _databases(tmp_path)
    texts = canonical(demo)
    assert len(texts) == 4
    for text in texts.values():
        assert sum(line.startswith("C-") for line in text.splitlines()) >= 60
        assert "reference ORS" in text and "effects [EffectRow" in text
        for word in ('"kind": "risk"', '"kind": "rupture"', '"kind": "goal"', '"status": "not_on_track"',
                     "'on_track'"):
            assert word in text


if __name__ == "__main__":  # regenerate the golden file (see the module's docstring)
    import os
    import tempfile

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: test_analysis_identity.py --write")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SUPERVISION_TUI_CACHE_DIR"] = str(Path(tmp) / "cache")
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_bytes(gzip.compress(golden_text(Path(tmp)).encode("utf-8"), mtime=0))
    print(f"wrote {GOLDEN}")
