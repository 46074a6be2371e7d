"""Rupture markers (clinical-rules.md §2) and the per-client indexed view
the other rules share.

Readings of the spec (where it leaves room):

* Markers come only from rows of *attended* sessions (§2: ratings on a
  row whose session was not attended are ignored by every rule).
* ``low`` and ``drop`` use *client* ratings; a row without a total is
  skipped.
* ``low`` is strict: SRS 36 is not low, 35.9 is. Comparisons allow 1e-9
  of floating-point noise (``instruments.EPS``), never more.
* ``drop``: needs ``drop_min_earlier`` (2) earlier ratings; ``B`` = mean
  of the last (up to) ``drop_baseline`` (3) earlier ratings, ``σ`` =
  sample SD (n−1) of *all* earlier ratings, ``d = B − x``, marker when
  ``d ≥ max(k·σ, floor)`` and ``d > 0`` (the ``d > 0`` guard only matters
  for an instrument registered without a floor: a flat series must never
  flag). For an instrument where lower is better "fall" means a rise.
* ``self_report``: one marker per row of an attended session with
  ``rupture = yes`` (client and therapist each count). Attribution to an
  instrument (§3.2): an alliance row → that instrument; another row (or a
  row without instrument) → the alliance instrument the client rated that
  session (registry order, SRS first), else the first alliance instrument
  the client has any attended rating of, else the first alliance
  instrument with a therapist form (WAI-SR) — the spec's "else SRS if the
  client has any SRS rating, else WAI-SR", written as data.
* ``discrepancy``: both raters rated the same alliance instrument on the
  same attended session and ``therapist index − client index ≥ 0.20``
  (with the 1e-9 tolerance).
"""

from __future__ import annotations

import math
from operator import attrgetter

from supervision_tui.instruments import EPS, Instrument, Registry, fmt
from supervision_tui.model import ClientRecord, Rating, Session, trusted_constructor
from supervision_tui.rules.results import Marker

_new_marker = trusted_constructor(Marker)  # (kind, session, instrument, detail, rater, rupture_type)
from supervision_tui.settings import Settings


class ClientView:
    """One pass over a client's rows, indexed the way every rule reads them.

    ``client_series[instrument]``: attended *client* ratings with a total,
    ascending session (a Rating carries its session's number and date).
    ``client_at`` / ``therapist_at``: attended ratings per instrument per
    session number (totals may be missing only in hand-built data).
    ``rupture_rows``: (session, row) of every row with ``rupture = yes`` on an
    attended session, in session order.
    """

    __slots__ = (
        "record",
        "code",
        "registry",
        "sessions",
        "by_number",
        "latest",
        "client_series",
        "client_at",
        "therapist_at",
        "numbers",
        "rupture_rows",
        "_series_sessions",
    )

    def __init__(self, record: ClientRecord, registry: Registry):
        self.record = record
        self.code = record.code
        self.registry = registry
        sessions = record.sessions
        numbers = [s.number for s in sessions]
        if numbers != sorted(set(numbers)):
            # hand-built records: sort (and keep the first of duplicates)
            seen: dict[int, Session] = {}
            for s in sorted(sessions, key=lambda s: s.number):
                seen.setdefault(s.number, s)
            sessions = tuple(seen.values())
            numbers = [s.number for s in sessions]
        self.sessions: tuple[Session, ...] = sessions
        self.numbers: list[int] = numbers
        self.by_number: dict[int, Session] = dict(zip(numbers, sessions))
        self._series_sessions: dict[str, list[int]] = {}
        self.latest: Session | None = sessions[-1] if sessions else None
        series: dict[str, list[Rating]] = {}
        client_at: dict[str, dict[int, Rating]] = {}
        therapist_at: dict[str, dict[int, Rating]] = {}
        ruptures: list[tuple[Session, Rating]] = []
        for s in sessions:
            if s.attendance != "attended":
                continue
            number = s.number
            for r in s.ratings:
                if r.rupture is True:
                    ruptures.append((s, r))
                inst = r.instrument
                if inst is None:
                    continue
                if r.rater == "client":
                    at = client_at.get(inst)
                    if at is None:
                        at = client_at[inst] = {}
                        series[inst] = []
                    at[number] = r
                    if r.total is not None:
                        series[inst].append(r)
                elif r.rater == "therapist":
                    at = therapist_at.get(inst)
                    if at is None:
                        at = therapist_at[inst] = {}
                    at[number] = r
        for inst in [k for k, v in series.items() if not v]:
            del series[inst]
        self.client_series = series
        self.client_at = client_at
        self.therapist_at = therapist_at
        self.rupture_rows = ruptures

    def series_sessions(self, instrument: str) -> list[int]:
        """Session numbers of ``client_series[instrument]`` (for bisect)."""
        out = self._series_sessions.get(instrument)
        if out is None:
            out = self._series_sessions[instrument] = [p.session for p in self.client_series.get(instrument, ())]
        return out

    @property
    def latest_number(self) -> int | None:
        return self.latest.number if self.latest else None


def low_markers(view: ClientView, inst: Instrument, settings: Settings) -> list[Marker]:
    cutoff = settings.low_cutoff_for(inst)
    if cutoff is None:
        return []
    out = []
    seen: dict[float, str] = {}  # value -> detail
    iid = inst.id
    below = cutoff.comparison == "<"
    edge = cutoff.value - EPS  # same test as Cutoff.flags, inlined
    for p in view.client_series.get(iid, ()):
        v = p.total
        if (v < edge) if below else (v >= edge):
            detail = seen.get(v)
            if detail is None:
                detail = seen[v] = f"{iid} {cutoff.describe(v)} ({cutoff.source})"
            out.append(_new_marker("low", p.session, iid, detail, None, None))
    return out


def drop_markers(view: ClientView, inst: Instrument, settings: Settings) -> list[Marker]:
    """Incremental: running mean/M2 (Welford) for σ, a sliding sum for B —
    O(n) per instrument."""
    series = view.client_series.get(inst.id)
    rs = settings.rupture
    if not series or len(series) <= rs.drop_min_earlier - 1:
        return []
    k = rs.drop_sd
    k_label = settings.drop_sd_label()
    k_label = f" {k_label}" if k_label else ""
    floor, floor_label = settings.drop_floor_for(inst)
    nb = rs.drop_baseline
    nmin = rs.drop_min_earlier
    sign = inst.sign
    word = "below" if inst.higher_is_better else "above"
    values = [p.total * sign for p in series]  # "better" direction: higher is better
    out: list[Marker] = []
    n = 0
    mean = 0.0
    m2 = 0.0
    window_sum = 0.0
    quick = max(floor, 0.0) - EPS  # d below this can never be a drop
    sqrt = math.sqrt
    for j, x in enumerate(values):
        if n >= nmin:
            b = window_sum / (n if n < nb else nb)
            d = b - x
            if d > EPS and d >= quick:
                ksd = k * sqrt(m2 / (n - 1))
                thr = ksd if ksd > floor else floor
                if d >= thr - EPS:
                    p = series[j]
                    out.append(
                        Marker(
                            "drop",
                            p.session,
                            inst.id,
                            f"{inst.id} {fmt(p.total)} is {fmt(d)} {word} baseline {fmt(b * sign)}; "
                            f"threshold {fmt(thr)} = max({fmt(k, 2)} SD {fmt(ksd)}{k_label}, "
                            f"floor {fmt(floor)} {floor_label})",
                        )
                    )
        # update the running statistics with x (Welford; sliding sum for B)
        n += 1
        delta = x - mean
        mean += delta / n
        m2 += delta * (x - mean)
        window_sum += x
        if n > nb:
            window_sum -= values[j - nb]
    return out


def self_report_instrument(view: ClientView, session: Session, row: Rating) -> str | None:
    """The alliance instrument a ``self_report`` on ``row`` belongs to."""
    reg = view.registry
    alliance = reg.alliance()
    if not alliance:
        return None
    inst = reg.get(row.instrument)
    if inst is not None and inst.kind == "alliance":
        return inst.id
    for a in alliance:  # rated by the client that session
        r = view.client_at.get(a.id, {}).get(session.number)
        if r is not None:
            return a.id
    for a in alliance:  # any client rating of it
        if view.client_at.get(a.id):
            return a.id
    for a in alliance:  # the instrument with a therapist form (WAI-SR)
        if "therapist" in a.usual_rater:
            return a.id
    return alliance[0].id


def self_report_markers(view: ClientView) -> list[Marker]:
    out = []
    for s, row in view.rupture_rows:
        inst = self_report_instrument(view, s, row)
        if inst is None:
            continue
        what = f": {row.rupture_type}" if row.rupture_type else ""
        where = f" on the {row.instrument} form" if row.instrument and row.instrument != inst else ""
        out.append(
            Marker(
                "self_report",
                s.number,
                inst,
                f"rupture reported by {row.rater}{what}{where} (Safran & Muran 2000)",
                rater=row.rater,
                rupture_type=row.rupture_type,
            )
        )
    return out


def discrepancy_markers(view: ClientView, inst: Instrument, settings: Settings) -> list[Marker]:
    thr = settings.rupture.discrepancy
    label = settings.discrepancy_label()
    therapist = view.therapist_at.get(inst.id)
    client = view.client_at.get(inst.id)
    if not therapist or not client:
        return []
    out = []
    for number in sorted(therapist):
        t = therapist[number]
        c = client.get(number)
        if c is None or c.total is None or t.total is None:
            continue
        ci, ti = inst.index(c.total), inst.index(t.total)
        gap = ti - ci
        if gap > EPS and gap >= thr - EPS:
            out.append(
                Marker(
                    "discrepancy",
                    number,
                    inst.id,
                    f"client {inst.id} {fmt(c.total)} (index {ci:.3f}) vs therapist {fmt(t.total)} "
                    f"(index {ti:.3f}): {gap:.3f} below, threshold {thr:.2f} {label}",
                )
            )
    return out


def find_markers(view: ClientView, settings: Settings) -> tuple[Marker, ...]:
    """All rupture markers of one client, sorted by session, then
    instrument (registry order), then kind (``MARKER_KINDS`` order), then
    rater."""
    reports: dict[str, list[Marker]] = {}
    for m in self_report_markers(view):
        reports.setdefault(m.instrument, []).append(m)
    out: list[Marker] = []
    for inst in view.registry.alliance():
        # per instrument, in kind order; each list is in session order
        if inst.id in view.client_series:
            out.extend(low_markers(view, inst, settings))
            out.extend(drop_markers(view, inst, settings))
        mine = reports.get(inst.id)
        if mine:
            mine.sort(key=_BY_SESSION_RATER)
            out.extend(mine)
        out.extend(discrepancy_markers(view, inst, settings))
    # stable sort by session keeps instrument and kind order within a session
    out.sort(key=_BY_SESSION)
    return tuple(out)


_BY_SESSION = attrgetter("session")


def _BY_SESSION_RATER(m: Marker) -> tuple[int, str]:
    return (m.session, m.rater or "")
