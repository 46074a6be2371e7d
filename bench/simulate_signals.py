"""How well do the §10 signal and the §11 intervals do on clinics with a
known truth?

    .venv/bin/python bench/simulate_signals.py          # about a minute

Uses the test simulator (tests/unit/clinic_sim.py, fixed seeds) and prints:

* not on track (§10), per instrument and kind of off-track client: the
  share of off-track clients signalled (sensitivity), the share of those
  not yet reliably deteriorated that are signalled (the early warning),
  and the share of on-track clients signalled (false signals); 20 clinics
  of 300 closed reference clients (10 % non-responders) + 200 on-track and
  40 off-track active clients at 6–12 rated sessions. A clinic of
  responders only shows the nominal false-signal rate (z = 1.28: 10 %).
* supervisee effectiveness (§11): how often the 95 % interval of the
  severity-adjusted effect size covers the true value, over many clinics of
  five supervisees with effects −3, −1.5, 0, +1.5, +3 ORS points; and
  the Wilson intervals' coverage for a few rates.

These are quality figures, not timings; the tests assert the minimums
(≥ 80 % found, ≤ 15 % false, coverage 92–98 %).
"""

from __future__ import annotations

import dataclasses
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from clinic_sim import ORS_COURSE, PHQ_COURSE, simulate_cases, simulate_clinic  # noqa: E402

from supervision_tui.instruments import ORS, PHQ9, REGISTRY  # noqa: E402
from supervision_tui.reports.effectiveness import effectiveness  # noqa: E402
from supervision_tui.rules.expected import assess_track, fit_expected  # noqa: E402
from supervision_tui.rules.stats import wilson  # noqa: E402


def signal_rates(inst, course, seeds, **kw):
    hit = miss = false = quiet = early = early_hit = 0
    for seed in seeds:
        clients = simulate_clinic(seed, inst, course, **{"active_off": 40, **kw})
        model = fit_expected(inst, [c.points for c in clients])
        for c in clients:
            if c.status != "active":
                continue
            r = assess_track(c.points, model, c.status)
            if c.off_track:
                hit += r.not_on_track
                miss += not r.not_on_track
                if r.gain > -inst.reliable_change.points:
                    early += 1
                    early_hit += r.not_on_track
            else:
                false += r.not_on_track
                quiet += not r.not_on_track
    return (hit / max(1, hit + miss), early_hit / max(1, early), early / max(1, hit + miss),
            false / max(1, false + quiet))


def main() -> int:
    print("Not on track (§10): 20 simulated clinics each")
    for inst, course in ((ORS, ORS_COURSE), (PHQ9, PHQ_COURSE)):
        rc = inst.reliable_change.points
        for label, off in ((f"one RC ({rc:g}) worse by s12", course.off_rate),
                           ("half an RC worse by s12", course.off_rate / 2), ("no change", 0.0)):
            c = dataclasses.replace(course, off_rate=off)
            sens, early, early_share, false = signal_rates(inst, c, range(1, 21))
            print(f"  {inst.id:6} off track = {label:26} found {sens:6.1%}  "
                  f"not yet deteriorated: found {early:6.1%} (they are {early_share:4.0%})  false signals {false:5.1%}")
        *_, false = signal_rates(inst, course, range(1, 21), active_off=0, ref_off_share=0.0)
        print(f"  {inst.id:6} responders only: false signals {false:5.1%} (nominal 10 %)")
    print("Effectiveness (§11): coverage of the 95 % interval of the effect size")
    effects = {"T1": -3.0, "T2": -1.5, "T3": 0.0, "T4": 1.5, "T5": 3.0}
    for n in (10, 20, 40):
        rng = random.Random(12)
        cov = tot = 0
        for _ in range(600):
            cases = simulate_cases(rng, {cid: (e, n, 19) for cid, e in effects.items()})
            for r in effectiveness(cases, REGISTRY, clinic=False):
                t = effects[r.clinician] / 6.0
                cov += r.es_low <= t <= r.es_high
                tot += 1
        print(f"  {n:>2} cases per supervisee: {cov / tot:6.1%} of {tot} intervals cover the truth")
    rng = random.Random(1)
    for p in (0.05, 0.3, 0.5):
        for n in (10, 40):
            cov = 0
            for _ in range(4000):
                k = sum(rng.random() < p for _ in range(n))
                _, lo, hi = wilson(k, n)
                cov += lo <= p <= hi
            print(f"  Wilson, rate {p:.0%}, {n} cases: {cov / 4000:6.1%} cover")
    return 0


if __name__ == "__main__":
    sys.exit(main())
