"""Settings: every threshold of clinical-rules.md, overridable from TOML.

File format (interchange.md §7)::

    [rupture]
    drop_sd = 1.0                          # k in d ≥ max(k·σ, floor); 2.0 = strict
    drop_floor = { SRS = 3, "WAI-SR" = 5 } # points [our default]
    drop_min_earlier = 2                   # earlier ratings a drop needs
    drop_baseline = 3                      # B = mean of the last (up to) N earlier
    repair_window = 6                      # sessions after the last marker
    repair_baseline = 3                    # P = mean of the last (up to) N before start
    discrepancy = 0.20                     # client index below therapist index
    low_cutoff = { SRS = 36 }              # add e.g. "WAI-SR" = 40 for a clinic cutoff

    [goals]
    stale_sessions = 4
    stale_days = 42
    agreed = { SRS = 9, "WAI-SR" = 16 }    # goal component ≥ → agreed
    partial = { SRS = 8, "WAI-SR" = 13 }   # goal component ≥ → partial, else disagreed
    rater_gap = { "WAI-SR" = 4 }           # client vs therapist Goal differ by ≥

    [outcomes]
    reliable_change = { ORS = 5, "PHQ-9" = 6, "GAD-7" = 4 }
    clinical_cutoff = { ORS = 25, "PHQ-9" = 10, "GAD-7" = 8 }

    # Jacobson & Truax (1991) from a clinic's own norms, *instead of* the
    # instrument's reliable_change / clinical_cutoff entries (giving both is
    # an error): sd and reliability give RC; the four norms, optional, the cutoff.
    # [outcomes.jacobson_truax.ORS]
    # sd = 7.0
    # reliability = 0.9
    # clinical_mean = 19
    # clinical_sd = 7
    # functional_mean = 28
    # functional_sd = 6

    [attendance]
    disengaging_missed = 2

    [risk]
    expire_days = 0                        # 0 = never (default); N: a risk flag ends N days
                                           # after its risk session [clinic setting]

    [not_on_track]                         # clinical-rules §10 [our default]s
    z = 1.28                               # signal below E[g] − z·σ(t): the worst tenth
    min_clients = 30                       # reference clients (≥ 3 ratings) an instrument needs
    min_pairs = 100                        # reference ratings after intake it needs

    [effectiveness]                        # clinical-rules §11
    min_cases = 10                         # fewer: "too few to compare" [our default]

    [keys]                                 # binding id -> key
    quit = "q"

    [ui]
    theme = "clinic-dark"

Per-instrument tables (``drop_floor``, ``low_cutoff``, ``agreed``, ...)
are merged key by key over the defaults: ``drop_floor = { SRS = 4 }``
keeps WAI-SR at 5. Their keys must be registered instruments of the right
kind. Values equal to the registry's default keep the registry's source
label; any other value is labelled ``[clinic setting]`` in explanations.

``[fhir.codes]`` (interchange.md §8) names, for the FHIR import, the
Observation codes of instruments that have no LOINC code, as
``"SYSTEM|CODE"`` or a list of them: ``ORS = "http://clinic.example/codes|ors"``.
One code belongs to one instrument; the LOINC codes the import reads
already (PHQ-9, GAD-7) cannot be declared.

An unknown section or key, a wrong type or an out-of-range value raises
``SettingsError`` naming the file, section and key, e.g.
``settings.toml: [rupture] drop_sd: expected a number (got 'two')``.

UI-free: no Textual import.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

from supervision_tui.errors import SettingsError
from supervision_tui.instruments import (
    CLINIC_SETTING,
    OUR_DEFAULT,
    REGISTRY,
    Cutoff,
    Instrument,
    Registry,
    ReliableChange,
)
from supervision_tui.paths import SETTINGS_FILE, settings_file

# --- defaults from the registry -------------------------------------------------


def _alliance_map(attr: str, registry: Registry = REGISTRY) -> dict[str, float]:
    out: dict[str, float] = {}
    for inst in registry.alliance():
        if attr == "drop_floor" and inst.drop_floor is not None:
            out[inst.id] = float(inst.drop_floor)
        elif attr == "low_cutoff" and inst.cutoff is not None:
            out[inst.id] = float(inst.cutoff.value)
    return out


def _goal_map(attr: str, registry: Registry = REGISTRY) -> dict[str, float]:
    out: dict[str, float] = {}
    for inst in registry:
        comp = inst.goal_component
        if comp is not None and getattr(comp, attr) is not None:
            out[inst.id] = float(getattr(comp, attr))
    return out


def _outcome_map(attr: str, registry: Registry = REGISTRY) -> dict[str, float]:
    out: dict[str, float] = {}
    for inst in registry.outcome():
        if attr == "reliable_change" and inst.reliable_change is not None:
            out[inst.id] = float(inst.reliable_change.points)
        elif attr == "clinical_cutoff" and inst.cutoff is not None:
            out[inst.id] = float(inst.cutoff.value)
    return out


# --- the settings dataclasses ---------------------------------------------------


@dataclass(frozen=True)
class JacobsonTruax:
    """A clinic's own norms for one outcome instrument (Jacobson & Truax 1991)."""

    sd: float
    reliability: float
    clinical_mean: float | None = None
    clinical_sd: float | None = None
    functional_mean: float | None = None
    functional_sd: float | None = None

    @property
    def rc(self) -> float:
        """``RC = 1.96 · √2 · SD · √(1 − r)``."""
        return 1.96 * math.sqrt(2) * self.sd * math.sqrt(1 - self.reliability)

    @property
    def cutoff(self) -> float | None:
        """``c = (SD_clin·M_func + SD_func·M_clin) / (SD_clin + SD_func)``."""
        if None in (self.clinical_mean, self.clinical_sd, self.functional_mean, self.functional_sd):
            return None
        return (self.clinical_sd * self.functional_mean + self.functional_sd * self.clinical_mean) / (
            self.clinical_sd + self.functional_sd
        )


@dataclass(frozen=True)
class RuptureSettings:
    drop_sd: float = 1.0
    drop_floor: dict[str, float] = field(default_factory=lambda: _alliance_map("drop_floor"))
    drop_min_earlier: int = 2
    drop_baseline: int = 3
    repair_window: int = 6
    repair_baseline: int = 3
    discrepancy: float = 0.20
    low_cutoff: dict[str, float] = field(default_factory=lambda: _alliance_map("low_cutoff"))


@dataclass(frozen=True)
class GoalSettings:
    stale_sessions: int = 4
    stale_days: int = 42
    agreed: dict[str, float] = field(default_factory=lambda: _goal_map("agreed_min"))
    partial: dict[str, float] = field(default_factory=lambda: _goal_map("partial_min"))
    rater_gap: dict[str, float] = field(default_factory=lambda: _goal_map("rater_gap"))


@dataclass(frozen=True)
class OutcomeSettings:
    reliable_change: dict[str, float] = field(default_factory=lambda: _outcome_map("reliable_change"))
    clinical_cutoff: dict[str, float] = field(default_factory=lambda: _outcome_map("clinical_cutoff"))
    jacobson_truax: dict[str, JacobsonTruax] = field(default_factory=dict)


@dataclass(frozen=True)
class AttendanceSettings:
    disengaging_missed: int = 2


@dataclass(frozen=True)
class RiskSettings:
    """clinical-rules.md §6: a risk flag stays active until a negative
    re-screen. ``expire_days`` > 0 lets a clinic end it that many days after
    the risk session's date instead (0, the default: never)."""

    expire_days: int = 0


@dataclass(frozen=True)
class NotOnTrackSettings:
    """clinical-rules.md §10: the signal fires below ``E[g] − z·σ(t)``
    (z = 1.28: the worst tenth), computed only where the clinic's reference
    for the instrument has ``min_clients`` clients and ``min_pairs`` ratings
    after intake [our default]s."""

    z: float = 1.28
    min_clients: int = 30
    min_pairs: int = 100


@dataclass(frozen=True)
class EffectivenessSettings:
    """clinical-rules.md §11: below ``min_cases`` cases a supervisee's
    effect size and rates are "too few to compare" [our default]."""

    min_cases: int = 10


@dataclass(frozen=True)
class UISettings:
    theme: str | None = None


@dataclass(frozen=True)
class FhirSettings:
    """``[fhir.codes]``: instrument id -> the ``"SYSTEM|CODE"`` strings of the
    Observations that carry its total (interchange.md §8)."""

    codes: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """All settings. ``Settings()`` is the spec's defaults.

    The per-instrument accessors (``drop_floor_for`` and friends) fall back
    to the instrument registry for instruments the tables do not name, so
    a newly registered instrument works without a settings change.
    """

    rupture: RuptureSettings = field(default_factory=RuptureSettings)
    goals: GoalSettings = field(default_factory=GoalSettings)
    outcomes: OutcomeSettings = field(default_factory=OutcomeSettings)
    attendance: AttendanceSettings = field(default_factory=AttendanceSettings)
    risk: RiskSettings = field(default_factory=RiskSettings)
    not_on_track: NotOnTrackSettings = field(default_factory=NotOnTrackSettings)
    effectiveness: EffectivenessSettings = field(default_factory=EffectivenessSettings)
    keys: dict[str, str] = field(default_factory=dict)
    ui: UISettings = field(default_factory=UISettings)
    fhir: FhirSettings = field(default_factory=FhirSettings)
    path: Path | None = None  # the file these were loaded from, if any

    # -- effective per-instrument values, with their source labels --------

    def drop_floor_for(self, inst: Instrument) -> tuple[float, str]:
        """(floor, label) — label ``[our default]`` or ``[clinic setting]``."""
        default = inst.drop_floor
        value = self.rupture.drop_floor.get(inst.id, default)
        if value is None:
            return 0.0, OUR_DEFAULT
        return float(value), _label(value, default, inst.drop_floor_source)

    def low_cutoff_for(self, inst: Instrument) -> Cutoff | None:
        """The alliance `low` cutoff (None: no `low` marker for it)."""
        return _cutoff(inst, self.rupture.low_cutoff.get(inst.id))

    def clinical_cutoff_for(self, inst: Instrument) -> Cutoff | None:
        jt = self.outcomes.jacobson_truax.get(inst.id)
        if jt is not None and jt.cutoff is not None:
            comparison = inst.cutoff.comparison if inst.cutoff else ("<" if inst.higher_is_better else ">=")
            return Cutoff(jt.cutoff, comparison, "Jacobson & Truax 1991, clinic norms", published=False)
        return _cutoff(inst, self.outcomes.clinical_cutoff.get(inst.id))

    def reliable_change_for(self, inst: Instrument) -> ReliableChange | None:
        jt = self.outcomes.jacobson_truax.get(inst.id)
        if jt is not None:
            return ReliableChange(jt.rc, "Jacobson & Truax 1991, clinic SD and reliability", published=False)
        default = inst.reliable_change
        value = self.outcomes.reliable_change.get(inst.id)
        if value is None:
            return default
        if default is not None and _same(value, default.points):
            return default
        return ReliableChange(float(value), CLINIC_SETTING, published=False)

    def goal_thresholds_for(self, inst: Instrument) -> tuple[float, float, str] | None:
        """(agreed_min, partial_min, label) for the instrument's goal component."""
        comp = inst.goal_component
        agreed = self.goals.agreed.get(inst.id, comp.agreed_min if comp else None)
        partial = self.goals.partial.get(inst.id, comp.partial_min if comp else None)
        if comp is None or agreed is None or partial is None:
            return None
        same = _same(agreed, comp.agreed_min) and _same(partial, comp.partial_min)
        return float(agreed), float(partial), (comp.source if same else CLINIC_SETTING)

    def rater_gap_for(self, inst: Instrument) -> tuple[float, str] | None:
        comp = inst.goal_component
        default = comp.rater_gap if comp else None
        value = self.goals.rater_gap.get(inst.id, default)
        if comp is None or value is None:
            return None
        return float(value), _label(value, default, comp.source)

    def discrepancy_label(self) -> str:
        return OUR_DEFAULT if _same(self.rupture.discrepancy, 0.20) else CLINIC_SETTING

    def drop_sd_label(self) -> str:
        """``""`` for the default k = 1 (clinical-rules §2: the 1 SD level of
        Gumz et al. 2012, shown as "1 SD" with no label, as the spec's own
        example), ``[clinic setting]`` for any other k (2.0 = strict)."""
        return "" if _same(self.rupture.drop_sd, RuptureSettings().drop_sd) else CLINIC_SETTING

    def repair_window_label(self) -> str:
        """The repair window (6 sessions) is a product choice (clinical-rules §3)."""
        return OUR_DEFAULT if self.rupture.repair_window == RuptureSettings().repair_window else CLINIC_SETTING

    def repair_criterion_label(self) -> str:
        """The repair criterion (back to the mean of the last 3 ratings before
        the episode) is a product choice (clinical-rules §3)."""
        return OUR_DEFAULT if self.rupture.repair_baseline == RuptureSettings().repair_baseline else CLINIC_SETTING

    def risk_expiry_label(self) -> str:
        return CLINIC_SETTING

    def stale_label(self) -> str:
        d = GoalSettings()
        same = self.goals.stale_sessions == d.stale_sessions and self.goals.stale_days == d.stale_days
        return OUR_DEFAULT if same else CLINIC_SETTING

    def to_toml_dict(self) -> dict[str, Any]:
        """Everything as a TOML-able dict (e.g. to show effective settings)."""
        out: dict[str, Any] = {}
        for section in _SECTIONS:
            value = getattr(self, section)
            if section == "keys":
                out[section] = dict(value)
                continue
            d: dict[str, Any] = {}
            for f in fields(value):
                v = getattr(value, f.name)
                if v is None:
                    continue
                if f.name == "jacobson_truax":
                    v = {k: {kk: vv for kk, vv in vars(jt).items() if vv is not None} for k, jt in v.items()}
                if f.name == "codes":
                    v = {k: list(codes) for k, codes in v.items()}
                d[f.name] = dict(v) if isinstance(v, dict) else v
            out[section] = d
        return out


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9


def _label(value: float, default: float | None, default_label: str) -> str:
    return default_label if _same(value, default) else CLINIC_SETTING


def _cutoff(inst: Instrument, value: float | None) -> Cutoff | None:
    default = inst.cutoff
    if value is None:
        # a table that does not name the instrument: the registry's cutoff
        return default
    if default is not None and _same(value, default.value):
        return default
    comparison = default.comparison if default else ("<" if inst.higher_is_better else ">=")
    return Cutoff(float(value), comparison, CLINIC_SETTING, published=False)


# --- validation -------------------------------------------------------------------


class _Bad(Exception):
    """A validation problem at a key path below the section."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False):
    def check(v: Any, path: str = "") -> float:
        if not _is_number(v):
            raise _Bad(path, f"expected a number (got {_show(v)})")
        if lo is not None and (v <= lo if lo_open else v < lo):
            raise _Bad(path, f"must be {'>' if lo_open else '≥'} {lo:g} (got {_show(v)})")
        if hi is not None and (v >= hi if hi_open else v > hi):
            raise _Bad(path, f"must be {'<' if hi_open else '≤'} {hi:g} (got {_show(v)})")
        return float(v)

    return check


def _integer(lo: int):
    def check(v: Any, path: str = "") -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Bad(path, f"expected an integer (got {_show(v)})")
        if v < lo:
            raise _Bad(path, f"must be ≥ {lo} (got {_show(v)})")
        return v

    return check


def _string(v: Any, path: str = "") -> str:
    if not isinstance(v, str):
        raise _Bad(path, f"expected a string (got {_show(v)})")
    return v


def _instrument_table(value_check: Callable, allowed: Callable[[Registry], tuple[str, ...]], what: str,
                      scale: Callable[[Instrument], tuple[float, float, str]] | None = None):
    """A table keyed by instrument id; merged over the defaults. ``scale``:
    the range a value must fall in for that instrument (a cutoff of 400 on
    WAI-SR's 12–60 would flag every rating) and its words."""

    def check(v: Any, path: str, registry: Registry) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise _Bad(path, f"expected a table of instrument = value (got {_show(v)})")
        known = allowed(registry)
        out: dict[str, Any] = {}
        for k, item in v.items():
            if k not in known:
                raise _Bad(f"{path}.{k}", f"unknown {what} (known: {', '.join(known) or 'none'})")
            out[k] = value_check(item, f"{path}.{k}")
            inst = registry.get(k)
            if scale is not None and inst is not None and isinstance(out[k], float):
                lo, hi, words = scale(inst)
                if not lo <= out[k] <= hi:
                    raise _Bad(f"{path}.{k}", f"must be within {lo:g}–{hi:g}, {words} (got {_show(item)})")
        return out

    check.is_table = True  # type: ignore[attr-defined]
    return check


def _total_scale(inst: Instrument) -> tuple[float, float, str]:
    return inst.min, inst.max, f"the {inst.id} range"


def _span_scale(inst: Instrument) -> tuple[float, float, str]:
    return 0.0, inst.max - inst.min, f"the width of the {inst.id} range"


def _goal_scale(inst: Instrument) -> tuple[float, float, str]:
    comp = inst.goal_component
    assert comp is not None  # (the table's keys are instruments with a goal component)
    return comp.min, comp.max, f"the {inst.id} {comp.label} range"


def _goal_span_scale(inst: Instrument) -> tuple[float, float, str]:
    lo, hi, _words = _goal_scale(inst)
    return 0.0, hi - lo, f"the width of the {inst.id} {inst.goal_component.label} range"  # type: ignore[union-attr]


def _alliance_ids(registry: Registry) -> tuple[str, ...]:
    return tuple(i.id for i in registry.alliance())


def _outcome_ids(registry: Registry) -> tuple[str, ...]:
    return tuple(i.id for i in registry.outcome())


def _goal_ids(registry: Registry) -> tuple[str, ...]:
    return tuple(i.id for i in registry if i.goal_component is not None)


def _jt(v: Any, path: str = "") -> JacobsonTruax:
    if not isinstance(v, dict):
        raise _Bad(path, f"expected a table {{ sd = ..., reliability = ... }} (got {_show(v)})")
    allowed = {
        "sd": _number(0, lo_open=True),
        "reliability": _number(0, 1, hi_open=True),
        "clinical_mean": _number(),
        "clinical_sd": _number(0, lo_open=True),
        "functional_mean": _number(),
        "functional_sd": _number(0, lo_open=True),
    }
    out: dict[str, float] = {}
    for k, item in v.items():
        if k not in allowed:
            raise _Bad(f"{path}.{k}", f"unknown key (known: {', '.join(allowed)})")
        out[k] = allowed[k](item, f"{path}.{k}")
    for need in ("sd", "reliability"):
        if need not in out:
            raise _Bad(f"{path}.{need}", "missing (sd and reliability are both required)")
    norms = ("clinical_mean", "clinical_sd", "functional_mean", "functional_sd")
    given = [k for k in norms if k in out]
    if given and len(given) != len(norms):
        missing = [k for k in norms if k not in out]
        raise _Bad(f"{path}.{missing[0]}", f"missing (give all of {', '.join(norms)} or none)")
    return JacobsonTruax(**out)


def _fhir_codes(v: Any, path: str = "") -> tuple[str, ...]:
    """``"SYSTEM|CODE"`` or a list of them (a clinic may have used several codes)."""
    items = v if isinstance(v, list) else [v]
    if not items:
        raise _Bad(path, "expected \"SYSTEM|CODE\" or a list of them (got an empty array)")
    out = []
    for item in items:
        if not isinstance(item, str) or item.count("|") != 1 or not all(p.strip() for p in item.split("|")):
            raise _Bad(path, f"expected \"SYSTEM|CODE\", e.g. \"http://clinic.example/codes|ors\" (got {_show(item)})")
        system, code = (p.strip() for p in item.split("|"))
        if system == "http://loinc.org" and code in ("44261-6", "70274-6", "44260-8"):
            raise _Bad(path, f"LOINC {code} is read by the import already (got {_show(item)})")
        out.append(f"{system}|{code}")
    return tuple(out)


_SCHEMA: dict[str, dict[str, Callable]] = {
    "rupture": {
        "drop_sd": _number(0),
        "drop_floor": _instrument_table(_number(0), _alliance_ids, "alliance instrument", _span_scale),
        "drop_min_earlier": _integer(2),
        "drop_baseline": _integer(1),
        "repair_window": _integer(1),
        "repair_baseline": _integer(1),
        "discrepancy": _number(0, 1),
        "low_cutoff": _instrument_table(_number(), _alliance_ids, "alliance instrument", _total_scale),
    },
    "goals": {
        "stale_sessions": _integer(0),
        "stale_days": _integer(0),
        "agreed": _instrument_table(_number(), _goal_ids, "instrument with a goal component", _goal_scale),
        "partial": _instrument_table(_number(), _goal_ids, "instrument with a goal component", _goal_scale),
        "rater_gap": _instrument_table(_number(0, lo_open=True), _goal_ids, "instrument with a goal component",
                                    _goal_span_scale),
    },
    "outcomes": {
        "reliable_change": _instrument_table(_number(0, lo_open=True), _outcome_ids, "outcome instrument", _span_scale),
        "clinical_cutoff": _instrument_table(_number(), _outcome_ids, "outcome instrument", _total_scale),
        "jacobson_truax": _instrument_table(_jt, _outcome_ids, "outcome instrument"),
    },
    "attendance": {"disengaging_missed": _integer(1)},
    "risk": {"expire_days": _integer(0)},
    "not_on_track": {"z": _number(0, lo_open=True), "min_clients": _integer(2), "min_pairs": _integer(2)},
    "effectiveness": {"min_cases": _integer(2)},
    "ui": {"theme": _string},
    "fhir": {"codes": _instrument_table(_fhir_codes, lambda registry: registry.ids(), "instrument")},
}
#: Keys of earlier versions, with what to do instead (an unknown key is an
#: error; these say why).
_REMOVED = {
    ("risk", "window"): "no longer a setting (clinical rules v2: a risk flag stays active until a negative "
                        "re-screen, whatever the number of sessions); remove it, or set expire_days "
                        "for a clinic expiry in days",
}
_SECTIONS = ("rupture", "goals", "outcomes", "attendance", "risk", "not_on_track", "effectiveness", "keys", "ui",
             "fhir")
_SECTION_TYPES = {
    "rupture": RuptureSettings,
    "goals": GoalSettings,
    "outcomes": OutcomeSettings,
    "attendance": AttendanceSettings,
    "risk": RiskSettings,
    "not_on_track": NotOnTrackSettings,
    "effectiveness": EffectivenessSettings,
    "ui": UISettings,
    "fhir": FhirSettings,
}


def settings_from_dict(
    data: dict[str, Any], source: str = SETTINGS_FILE, registry: Registry | None = None, path: Path | None = None
) -> Settings:
    """Validate a parsed TOML document and build ``Settings``.

    ``source`` names the file in error messages.
    """
    registry = registry if registry is not None else REGISTRY
    parts: dict[str, Any] = {}
    for section, body in data.items():
        if section not in _SECTIONS:
            raise SettingsError(f"{source}: [{section}]: unknown section (known: {', '.join(_SECTIONS)})")
        if not isinstance(body, dict):
            raise SettingsError(f"{source}: {section}: expected a [{section}] table (got {_show(body)})")
        if section == "keys":
            keys: dict[str, str] = {}
            for k, v in body.items():
                if not isinstance(v, str) or not v.strip():
                    raise SettingsError(f"{source}: [keys] {k}: expected a key string such as \"ctrl+q\" (got {_show(v)})")
                keys[k] = v
            parts["keys"] = keys
            continue
        schema = _SCHEMA[section]
        cls = _SECTION_TYPES[section]
        defaults = cls()
        values: dict[str, Any] = {}
        for key, raw in body.items():
            check = schema.get(key)
            if check is None and (section, key) in _REMOVED:
                raise SettingsError(f"{source}: [{section}] {key}: {_REMOVED[(section, key)]}")
            if check is None:
                raise SettingsError(f"{source}: [{section}] {key}: unknown key (known: {', '.join(schema)})")
            try:
                if getattr(check, "is_table", False):
                    merged = dict(getattr(defaults, key))
                    merged.update(check(raw, key, registry))
                    values[key] = merged
                else:
                    values[key] = check(raw, key)
            except _Bad as bad:
                raise SettingsError(f"{source}: [{section}] {bad.path}: {bad.message}") from None
        parts[section] = replace(defaults, **values)
        if section == "goals":
            g = parts[section]
            for inst_id in set(g.agreed) | set(g.partial):
                a, p = g.agreed.get(inst_id), g.partial.get(inst_id)
                if a is not None and p is not None and p > a:
                    raise SettingsError(
                        f"{source}: [goals] partial.{inst_id}: must be ≤ agreed.{inst_id} ({p:g} > {a:g})"
                    )
        if section == "fhir":
            owner: dict[str, str] = {}
            for inst_id, codes in parts[section].codes.items():
                for code in codes:
                    if code in owner:
                        raise SettingsError(f"{source}: [fhir] codes.{inst_id}: {code} is also the code of "
                                            f"{owner[code]}")
                    owner[code] = inst_id
        if section == "outcomes":
            both = set(body.get("reliable_change", {}) or {}) & set(body.get("jacobson_truax", {}) or {})
            if both:
                inst_id = sorted(both)[0]
                raise SettingsError(
                    f"{source}: [outcomes] jacobson_truax.{inst_id}: give either reliable_change.{inst_id} "
                    "or jacobson_truax for it, not both"
                )
            both = set(body.get("clinical_cutoff", {}) or {}) & {
                k for k, jt in parts[section].jacobson_truax.items() if jt.cutoff is not None
            }
            if both:
                inst_id = sorted(both)[0]
                raise SettingsError(
                    f"{source}: [outcomes] jacobson_truax.{inst_id}: give either clinical_cutoff.{inst_id} "
                    "or clinical norms in jacobson_truax, not both"
                )
    return Settings(**parts, path=path)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such settings file") from None
    except IsADirectoryError:
        raise SettingsError(f"{path}: is a directory, not a settings file") from None
    except PermissionError:
        raise SettingsError(f"{path}: permission denied") from None
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{path}: invalid TOML: {err}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: not UTF-8 text") from None
    except OSError as err:  # e.g. a folder in the path is a file
        raise SettingsError(f"{path}: cannot read: {err.strerror or err}") from None


def load_settings(path: str | os.PathLike | None = None, registry: Registry | None = None) -> Settings:
    """Load settings from ``path``; with None, from the user config file
    (``settings_file()``) if it exists, else the defaults.

    A given ``path`` that does not exist is an error (a typo in --config
    must not silently fall back to defaults).
    """
    if path is None:
        candidate = settings_file()
        if not candidate.is_file():
            return Settings()
        path = candidate
    path = Path(path)
    return settings_from_dict(read_toml(path), source=str(path), registry=registry, path=path)
