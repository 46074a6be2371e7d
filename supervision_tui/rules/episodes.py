"""Rupture episodes and repair (clinical-rules.md §3).

One stream per client, across instruments, walking the client's sessions
in number order (attended or not; a no-show is a session that passed).
With ``W`` = ``repair_window`` (6) and ``L`` = the open episode's last
marker session, each later session ``n``:

1. ``n > L + W`` — nothing up to ``L + W`` repaired it: the episode is
   **unrepaired**; session ``n`` is then looked at afresh (it may start a
   new episode).
2. ``n`` carries a marker — it joins the episode (``L = n``, so the
   window is extended).
3. ``n`` is attended and its client rating of the primary instrument is
   ≥ ``P`` (in the instrument's "better" direction) — **repaired** at
   ``n``. When ``P`` is undefined any attended session without a marker
   repairs.
4. otherwise, if ``n == L + W`` — **unrepaired** (that session was the
   last chance).

After the last session an episode still open is **unrepaired** when the
client's status is ``closed`` or ``dropped_out``, else **open**.

Readings of the spec:

* A marker session inside the window joins the episode and extends the
  last marker session, so the deadline moves to the new ``L + W``; a
  session carrying a marker never repairs (it "carries a marker").
* "Any later session without a marker" (``P`` undefined) still means an
  *attended* one: a no-show cannot repair a rupture.
* ``P`` is computed from attended client ratings of the primary
  instrument before the episode's start; with none it is the instrument's
  effective ``low`` cutoff (SRS 36, or a cutoff the clinic set for WAI-SR),
  else undefined.
* The primary instrument is that of the first marker; when several
  alliance instruments carry a marker on the start session, the first in
  registry order wins (SRS before WAI-SR).
* The explanation labels the repair window and the repair criterion
  "[our default]" (a clinic's other values "[clinic setting]"): they are
  this product's choices, not published deadlines (clinical-rules §3).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from supervision_tui.instruments import EPS, Instrument, fmt
from supervision_tui.model import ENDED_STATUSES
from supervision_tui.rules.context import Rule, RuleContext
from supervision_tui.rules.markers import ClientView, find_markers
from supervision_tui.rules.results import Episode, Flag, Marker, TriageHint, marker_words
from supervision_tui.settings import Settings


class _Open:
    __slots__ = ("instrument", "start", "last", "sessions", "markers", "baseline", "baseline_text")

    def __init__(self, instrument: str, start: int, markers: list[Marker]):
        self.instrument = instrument
        self.start = start
        self.last = start
        self.sessions = [start]
        self.markers = list(markers)
        self.baseline: float | None = None
        self.baseline_text = ""


def pre_episode_baseline(view: ClientView, inst: Instrument, start: int, settings: Settings) -> tuple[float | None, str]:
    """``P`` and how it was obtained (for the detail line)."""
    series = view.client_series.get(inst.id, [])
    n = settings.rupture.repair_baseline
    end = bisect_left(view.series_sessions(inst.id), start)
    earlier = [p.total for p in series[max(0, end - n):end]]
    if earlier:
        p = sum(earlier) / len(earlier)
        return p, f"baseline {fmt(p)} = mean of {len(earlier)} before s{start}"
    cutoff = settings.low_cutoff_for(inst)
    if cutoff is not None:
        return float(cutoff.value), f"baseline {fmt(cutoff.value)} = cutoff, no earlier rating"
    return None, "no baseline: no earlier rating, no cutoff"


def _marker_summary(markers: list[Marker]) -> str:
    if len(markers) == 1:
        m = markers[0]
        return f"s{m.session}: {m.detail}"
    by_session: dict[int, list[str]] = {}
    for m in markers:
        by_session.setdefault(m.session, []).append(m.detail)
    return " | ".join(f"s{s}: " + "; ".join(ds) for s, ds in by_session.items())


def _primary(view: ClientView, markers: list[Marker]) -> str:
    first = markers[0].instrument
    if len(markers) == 1:
        return first
    return min((m.instrument for m in markers), key=view.registry.order)


def find_episodes(view: ClientView, markers: tuple[Marker, ...], settings: Settings) -> tuple[Episode, ...]:
    window = settings.rupture.repair_window
    at: dict[int, list[Marker]] = {}
    for m in markers:
        at.setdefault(m.session, []).append(m)
    if not at:
        return ()
    out: list[Episode] = []
    ep: _Open | None = None
    client = view.code

    def close(e: _Open, status: str, repaired_at: int | None, why: str) -> None:
        kinds = marker_words(sorted({m.kind for m in e.markers}))  # words
        span = f"s{e.start}" if e.start == e.last else f"s{e.start}–s{e.last}"
        if status == "open":
            head = f"open since s{e.start} ({kinds})"
        elif status == "repaired":
            head = f"repaired at s{repaired_at} ({kinds}, {span})"
        else:
            head = f"unrepaired since s{e.start} ({kinds}, {span})"
        detail = f"{head}: {why}. {_marker_summary(e.markers)}"
        out.append(
            Episode(
                client=client,
                instrument=e.instrument,
                start=e.start,
                last_marker=e.last,
                marker_sessions=tuple(e.sessions),
                markers=tuple(e.markers),
                status=status,
                repaired_at=repaired_at,
                baseline=e.baseline,
                detail=detail,
            )
        )

    # clinical-rules §3: the window and the criterion are product choices, labelled so on screen
    window_text = f"repair window {window} sessions after the last marker {settings.repair_window_label()}"
    criterion_label = settings.repair_criterion_label()

    def criterion(e: _Open) -> str:
        if e.baseline is None:
            return f"repair = any attended session without a marker, {e.baseline_text} {criterion_label}"
        return f"repair = back to {e.baseline_text} {criterion_label}"

    reg = view.registry
    sessions = view.sessions
    numbers = view.numbers
    marker_numbers = sorted(at)
    total = len(sessions)
    i = bisect_left(numbers, marker_numbers[0])  # nothing happens before the first marker
    while i < total:
        s = sessions[i]
        n = s.number
        here = at.get(n)
        if ep is None:
            if here is None:
                # skip ahead to the next marker session
                k = bisect_right(marker_numbers, n)
                if k == len(marker_numbers):
                    break
                i = bisect_left(numbers, marker_numbers[k], i)
                continue
            ep = _Open(_primary(view, here), n, here)
            inst = reg[ep.instrument]
            ep.baseline, ep.baseline_text = pre_episode_baseline(view, inst, n, settings)
            primary_at = view.client_at.get(ep.instrument, {})
            sign = inst.sign
            i += 1
            continue
        deadline = ep.last + window
        if n > deadline:
            close(ep, "unrepaired", None, f"no repair by s{deadline} ({window_text}; {criterion(ep)})")
            ep = None
            continue  # look at this session afresh: it may start a new episode
        i += 1
        if here:
            ep.last = n
            ep.sessions.append(n)
            ep.markers.extend(here)
            continue
        repaired = False
        if s.attendance == "attended":
            if ep.baseline is None:
                repaired = True
                why = f"first attended session without a marker (no baseline; {criterion_label} repair criterion)"
            else:
                r = primary_at.get(n)
                if r is not None and r.total is not None and (r.total - ep.baseline) * sign >= -EPS:
                    repaired = True
                    cmp = "≥" if inst.higher_is_better else "≤"
                    why = f"{ep.instrument} {fmt(r.total)} {cmp} {ep.baseline_text} ({criterion_label} repair criterion)"
        if repaired:
            close(ep, "repaired", n, why)
            ep = None
        elif n == deadline:
            close(ep, "unrepaired", None, f"no repair by s{deadline} ({window_text}; {criterion(ep)})")
            ep = None
    if ep is not None:
        status = view.record.client.status
        if status in ENDED_STATUSES:
            close(ep, "unrepaired", None, f"treatment ended ({status.replace('_', ' ')}) without repair")
        else:
            close(ep, "open", None, f"no repair yet; window to s{ep.last + window} ({window_text}; {criterion(ep)})")
    return tuple(out)


def rupture_flags(view: ClientView, episodes: tuple[Episode, ...]) -> list[Flag]:
    """A ``rupture`` flag per episode (repaired ones too: a supervisor
    reviews repairs); open and unrepaired ones triage (tier 3) at their last
    marker session."""
    code, clinician = view.code, view.record.client.clinician
    out = []
    for ep in episodes:
        hint = None
        if ep.status in ("open", "unrepaired"):
            kinds = marker_words(ep.marker_kinds)  # words, not JSON tokens
            last = view.by_number.get(ep.last_marker)
            hint = TriageHint(f"rupture {ep.status}", f"{ep.status} since s{ep.start} ({kinds})", ep.last_marker,
                              last.date if last is not None else None)
        out.append(Flag(code, clinician, "rupture", ep.start, ep.status, ep.detail,
                        {"instrument": ep.instrument, "markers": ep.marker_kinds, "repaired_at": ep.repaired_at},
                        hint))
    return out


def run(ctx: RuleContext) -> list[Flag]:
    """Markers (§2), then episodes and repair (§3)."""
    ctx.markers = find_markers(ctx.view, ctx.settings)
    ctx.episodes = find_episodes(ctx.view, ctx.markers, ctx.settings)
    return rupture_flags(ctx.view, ctx.episodes)


RULE = Rule("rupture", run)
