"""Settings file (interchange.md §7): defaults, validation, save."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from supervision_tui.errors import SettingsError
from supervision_tui.instruments import REGISTRY
from supervision_tui.paths import settings_file as default_settings_path
from supervision_tui.settings import (
    JacobsonTruax,
    Settings,
    load_settings,
    settings_from_dict,
)
from supervision_tui.store.settings_file import save_setting


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "settings.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_are_the_spec():
    s = Settings()
    r, g = s.rupture, s.goals
    assert (r.drop_sd, r.drop_floor, r.repair_window, r.discrepancy) == (1.0, {"SRS": 3.0, "WAI-SR": 5.0}, 6, 0.20)
    assert (r.drop_min_earlier, r.drop_baseline, r.repair_baseline, r.low_cutoff) == (2, 3, 3, {"SRS": 36.0})
    assert (g.stale_sessions, g.stale_days) == (4, 42)
    assert (g.agreed, g.partial, g.rater_gap) == ({"SRS": 9.0, "WAI-SR": 16.0}, {"SRS": 8.0, "WAI-SR": 13.0}, {"WAI-SR": 4.0})
    assert s.outcomes.reliable_change == {"ORS": 5.0, "PHQ-9": 6.0, "GAD-7": 4.0}
    assert s.outcomes.clinical_cutoff == {"ORS": 25.0, "PHQ-9": 10.0, "GAD-7": 8.0}
    assert (s.attendance.disengaging_missed, s.risk.expire_days, s.keys, s.ui.theme) == (2, 0, {}, None)


def test_spec_example_file(tmp_path):
    p = write(tmp_path, """
[rupture]
drop_sd = 2.0
drop_floor = { SRS = 3, "WAI-SR" = 5 }
repair_window = 6

[goals]
stale_sessions = 4
stale_days = 42
""")
    s = load_settings(p)
    assert s.rupture.drop_sd == 2.0 and s.path == p
    assert s.drop_floor_for(REGISTRY["WAI-SR"]) == (5.0, "[our default]")


def test_tables_merge_over_defaults_and_label_clinic_values(tmp_path):
    p = write(tmp_path, """
[rupture]
drop_floor = { SRS = 4 }
low_cutoff = { "WAI-SR" = 40 }
[outcomes]
reliable_change = { "PHQ-9" = 5 }
""")
    s = load_settings(p)
    assert s.rupture.drop_floor == {"SRS": 4.0, "WAI-SR": 5.0}
    assert s.drop_floor_for(REGISTRY["SRS"]) == (4.0, "[clinic setting]")
    assert s.low_cutoff_for(REGISTRY["SRS"]).source == "PCOMS practice threshold, Duncan et al. 2003"
    wai = s.low_cutoff_for(REGISTRY["WAI-SR"])
    assert (wai.value, wai.comparison, wai.published) == (40.0, "<", False)
    rc = s.reliable_change_for(REGISTRY["PHQ-9"])
    assert (rc.points, rc.published) == (5.0, False)
    assert s.reliable_change_for(REGISTRY["ORS"]).source == "Miller et al. 2003"
    assert s.clinical_cutoff_for(REGISTRY["PHQ-9"]).comparison == ">="


def test_keys_and_ui(tmp_path):
    s = load_settings(write(tmp_path, '[keys]\nquit = "ctrl+q"\n"open.client" = "enter"\n[ui]\ntheme = "clinic-light"\n'))
    assert s.keys == {"quit": "ctrl+q", "open.client": "enter"}
    assert s.ui.theme == "clinic-light"


def test_jacobson_truax_settings(tmp_path):
    s = load_settings(write(tmp_path, """
[outcomes.jacobson_truax.ORS]
sd = 7.0
reliability = 0.9
clinical_mean = 19
clinical_sd = 7
functional_mean = 28
functional_sd = 6
"""))
    jt = s.outcomes.jacobson_truax["ORS"]
    assert isinstance(jt, JacobsonTruax)
    assert s.reliable_change_for(REGISTRY["ORS"]).points == pytest.approx(1.96 * 2**0.5 * 7 * 0.1**0.5)
    assert s.clinical_cutoff_for(REGISTRY["ORS"]).value == pytest.approx((7 * 28 + 6 * 19) / 13)


@pytest.mark.parametrize(
    "text, message",
    [
        ('[rupture]\ndrop_sd = "two"\n', "settings.toml: [rupture] drop_sd: expected a number (got 'two')"),
        ("[rupture]\ndrop_sd = true\n", "[rupture] drop_sd: expected a number (got true)"),
        ("[rupture]\ndrop_sd = -1\n", "[rupture] drop_sd: must be ≥ 0 (got -1)"),
        ("[rupture]\nrepair_window = 6.5\n", "[rupture] repair_window: expected an integer (got 6.5)"),
        ("[rupture]\nrepair_window = 0\n", "[rupture] repair_window: must be ≥ 1 (got 0)"),
        ("[rupture]\ndrop_min_earlier = 1\n", "[rupture] drop_min_earlier: must be ≥ 2 (got 1)"),
        ("[rupture]\ndiscrepancy = 1.5\n", "[rupture] discrepancy: must be ≤ 1 (got 1.5)"),
        ("[rupture]\ndrop_sdd = 2\n", "[rupture] drop_sdd: unknown key"),
        ("[rupture]\ndrop_floor = 3\n", "[rupture] drop_floor: expected a table of instrument = value (got 3)"),
        ('[rupture]\ndrop_floor = { WAI_SR = 5 }\n', "[rupture] drop_floor.WAI_SR: unknown alliance instrument (known: SRS, WAI-SR)"),
        ('[rupture]\ndrop_floor = { ORS = 5 }\n', "[rupture] drop_floor.ORS: unknown alliance instrument"),
        ('[rupture]\ndrop_floor = { SRS = "3" }\n', "[rupture] drop_floor.SRS: expected a number (got '3')"),
        ("[goals]\nstale_days = 4.2\n", "[goals] stale_days: expected an integer (got 4.2)"),
        ('[goals]\npartial = { SRS = 9.5 }\n', "[goals] partial.SRS: must be ≤ agreed.SRS (9.5 > 9)"),
        ('[outcomes]\nreliable_change = { ORS = 0 }\n', "[outcomes] reliable_change.ORS: must be > 0 (got 0)"),
        ('[outcomes.jacobson_truax.ORS]\nsd = 7\n', "[outcomes] jacobson_truax.ORS.reliability: missing"),
        ('[outcomes.jacobson_truax.ORS]\nsd = 7\nreliability = 1\n', "jacobson_truax.ORS.reliability: must be < 1 (got 1)"),
        ('[outcomes.jacobson_truax.ORS]\nsd = 7\nreliability = 0.9\nclinical_mean = 19\n', "jacobson_truax.ORS.clinical_sd: missing"),
        ('[outcomes]\nreliable_change = { ORS = 6 }\n[outcomes.jacobson_truax.ORS]\nsd = 7\nreliability = 0.9\n',
         "give either reliable_change.ORS or jacobson_truax"),
        ("[attendance]\ndisengaging_missed = 0\n", "[attendance] disengaging_missed: must be ≥ 1 (got 0)"),
        ("[risk]\nexpire_days = '3'\n", "[risk] expire_days: expected an integer (got '3')"),
        ("[keys]\nquit = 1\n", "[keys] quit: expected a key string"),
        ("[ui]\ntheme = 3\n", "[ui] theme: expected a string (got 3)"),
        ("[ui]\ncolour = 'red'\n", "[ui] colour: unknown key"),
        ("[ruptures]\ndrop_sd = 2\n", "[ruptures]: unknown section"),
        ("rupture = 3\n", "rupture: expected a [rupture] table"),
        ("[rupture\n", "invalid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(SettingsError) as err:
        load_settings(p)
    assert message in str(err.value)
    assert str(err.value).startswith(str(p))


def test_error_message_with_plain_file_name():
    with pytest.raises(SettingsError) as err:
        settings_from_dict({"rupture": {"drop_sd": "two"}})
    assert str(err.value) == "settings.toml: [rupture] drop_sd: expected a number (got 'two')"


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="no such settings file"):
        load_settings(tmp_path / "nope.toml")


def test_default_location(tmp_path, monkeypatch):
    monkeypatch.delenv("SUPERVISION_TUI_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_settings_path() == tmp_path / "supervision-tui" / "settings.toml"
    assert load_settings(None) == Settings()
    (tmp_path / "supervision-tui").mkdir()
    (tmp_path / "supervision-tui" / "settings.toml").write_text("[risk]\nexpire_days = 5\n")
    s = load_settings(None)
    assert s.risk.expire_days == 5 and s.path == tmp_path / "supervision-tui" / "settings.toml"


def test_save_setting_creates_private_file_and_keeps_other_keys(tmp_path):
    p = tmp_path / "conf" / "settings.toml"
    s = save_setting(p, "ui", "theme", "clinic-dark")
    assert s.ui.theme == "clinic-dark"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    save_setting(p, "rupture", "drop_sd", 2.0)
    save_setting(p, "ui", "theme", "clinic-light")
    data = tomllib.loads(p.read_text())
    assert data == {"ui": {"theme": "clinic-light"}, "rupture": {"drop_sd": 2.0}}
    assert load_settings(p).rupture.drop_sd == 2.0
    assert [x.name for x in p.parent.iterdir()] == ["settings.toml"]  # no temp file left


def test_save_setting_refuses_invalid_value_and_leaves_file(tmp_path):
    p = write(tmp_path, '[ui]\ntheme = "a"\n')
    before = p.read_bytes()
    with pytest.raises(SettingsError, match=r"\[rupture\] drop_sd: expected a number"):
        save_setting(p, "rupture", "drop_sd", "two")
    with pytest.raises(SettingsError, match="unknown section"):
        save_setting(p, "nope", "x", 1)
    assert p.read_bytes() == before


def test_save_setting_none_removes_key(tmp_path):
    p = write(tmp_path, '[ui]\ntheme = "a"\n[risk]\nexpire_days = 4\n')
    save_setting(p, "ui", "theme", None)
    assert tomllib.loads(p.read_text()) == {"risk": {"expire_days": 4}}


def test_save_setting_keeps_existing_file_mode_private(tmp_path):
    p = write(tmp_path, '[ui]\ntheme = "a"\n')
    os.chmod(p, 0o644)
    save_setting(p, "ui", "theme", "b")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600


def test_to_toml_dict_round_trips():
    s = Settings()
    again = settings_from_dict(s.to_toml_dict())
    assert again == s


def test_documented_example_is_valid_and_equals_defaults():
    import supervision_tui.settings as mod
    from supervision_tui.settings import UISettings

    doc = mod.__doc__
    block = doc[doc.index("[rupture]"):doc.index("Per-instrument tables")]
    text = "\n".join(line[4:] if line.startswith("    ") else line for line in block.splitlines())
    s = settings_from_dict(tomllib.loads(text))
    assert s == Settings(keys={"quit": "q"}, ui=UISettings("clinic-dark"))


def test_config_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPERVISION_TUI_CONFIG_DIR", str(tmp_path / "cfg"))
    assert default_settings_path() == tmp_path / "cfg" / "settings.toml"


def test_unreadable_settings_path_is_a_settings_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "afile" / "settings.toml")


@pytest.mark.parametrize(
    "value, message",
    [
        (-1, "settings.toml: [risk] expire_days: must be ≥ 0 (got -1)"),
        (1.5, "settings.toml: [risk] expire_days: expected an integer (got 1.5)"),
        ("90", "settings.toml: [risk] expire_days: expected an integer (got '90')"),
        (True, "settings.toml: [risk] expire_days: expected an integer (got true)"),
    ],
)
def test_risk_expire_days_is_validated(value, message):
    with pytest.raises(SettingsError) as err:
        settings_from_dict({"risk": {"expire_days": value}})
    assert str(err.value) == message


@pytest.mark.parametrize("value", [0, 1, 365])
def test_risk_expire_days_accepted(value):
    assert settings_from_dict({"risk": {"expire_days": value}}).risk.expire_days == value


def test_risk_window_of_v1_is_refused_with_a_reason():
    """Spec v2 removed the 3-session risk window: an old file says so instead
    of silently keeping (or silently dropping) an expiry rule."""
    with pytest.raises(SettingsError) as err:
        settings_from_dict({"risk": {"window": 3}})
    msg = str(err.value)
    assert msg.startswith("settings.toml: [risk] window: no longer a setting")
    assert "negative re-screen" in msg and "expire_days" in msg


def test_repair_labels():
    from supervision_tui.settings import RuptureSettings

    assert (Settings().repair_window_label(), Settings().repair_criterion_label()) == ("[our default]", "[our default]")
    s = Settings(rupture=RuptureSettings(repair_window=8, repair_baseline=2))
    assert (s.repair_window_label(), s.repair_criterion_label()) == ("[clinic setting]", "[clinic setting]")


@pytest.mark.parametrize("section, key, inst, bad, edge, message", [
    ("rupture", "low_cutoff", "WAI-SR", 400, 60, "must be within 12–60, the WAI-SR range"),
    ("rupture", "low_cutoff", "SRS", -1, 0, "must be within 0–40, the SRS range"),
    ("rupture", "drop_floor", "SRS", 41, 40, "must be within 0–40, the width of the SRS range"),
    ("goals", "agreed", "WAI-SR", 21, 20, "must be within 4–20, the WAI-SR Goal range"),
    ("goals", "agreed", "SRS", 10.5, 10, "must be within 0–10, the SRS goals item range"),
    ("goals", "partial", "WAI-SR", 3, 4, "must be within 4–20, the WAI-SR Goal range"),
    ("goals", "rater_gap", "WAI-SR", 17, 16, "must be within 0–16, the width of the WAI-SR Goal range"),
    ("outcomes", "reliable_change", "PHQ-9", 28, 27, "must be within 0–27, the width of the PHQ-9 range"),
    ("outcomes", "clinical_cutoff", "ORS", 41, 40, "must be within 0–40, the ORS range"),
])
def test_instrument_values_must_fall_within_the_instrument_scale(section, key, inst, bad, edge, message):
    """A cutoff, floor or threshold outside its instrument's scale is refused
    with the range (a WAI-SR low cutoff of 400 flagged every rating); the
    scale's own ends are accepted."""
    with pytest.raises(SettingsError) as err:
        settings_from_dict({section: {key: {inst: bad}}})
    assert str(err.value) == f"settings.toml: [{section}] {key}.{inst}: {message} (got {bad:g})"
    settings_from_dict({section: {key: {inst: edge}}})  # the end of the scale is fine
