"""Command line: ``supervision-tui [DB]`` opens the dashboard; subcommands
import, validate, export, flags, summary, effectiveness, agenda, demo,
serve.

Exit status (interchange.md §4): 0 success, 1 invalid input, 2 wrong usage.
No user error ever prints a Python traceback: every ``UserError`` is shown
as its message. Heavy modules are imported inside commands so that
``--help`` and the CLI-only commands start fast.
"""

from __future__ import annotations

import calendar
import os
import re
import sys
from datetime import date, datetime
from pathlib import Path

import click

from supervision_tui.errors import UserError, ValidationFailed
from supervision_tui.rules.kinds import REGISTRY as FLAG_KINDS  # (light: dataclasses only)
from supervision_tui.wording import count


class IsoDate(click.ParamType):
    """A ``YYYY-MM-DD`` date. A date that does not exist (``2026-02-30``)
    is reported as such, not as "does not match the format"."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        if isinstance(value, date):
            return value
        text = str(value).strip()
        match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
        if not match:
            self.fail(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-02-28", param, ctx)
        year, month, day = (int(g) for g in match.groups())
        if not 1 <= month <= 12:
            self.fail(f"{text!r} is not a real date: there is no month {month}", param, ctx)
        days = calendar.monthrange(year, month)[1]
        if not 1 <= day <= days:
            self.fail(f"{text!r} is not a real date: {calendar.month_name[month]} {year} has {days} days",
                      param, ctx)
        return date(year, month, day)


DATE = IsoDate()


class PathProblem(click.ClickException):
    """A path argument naming the wrong kind of thing (a folder where a file
    is expected). Shown like every other file error, ``PATH: problem`` with
    exit status 1 (as a missing file is), not as a usage error."""

    exit_code = 1

    def show(self, file=None) -> None:  # noqa: ARG002 - always stderr, no "Error:" prefix
        click.echo(self.format_message(), err=True)


class FilePath(click.Path):
    """A file path (``pathlib.Path``); a folder is a :class:`PathProblem`."""

    def __init__(self, what: str = "file") -> None:
        # (readable=False: an unreadable file is the reader's plain error, status 1, not Click's usage error)
        super().__init__(path_type=Path, readable=False)
        self.what = what

    def convert(self, value, param, ctx):
        path = super().convert(value, param, ctx)
        if path.is_dir():
            raise PathProblem(f"{path}: is a folder, not {self.what}")
        return path


class FolderPath(click.Path):
    """A folder path (``pathlib.Path``; it may not exist yet); an existing
    file is a :class:`PathProblem`."""

    def __init__(self) -> None:
        super().__init__(path_type=Path)

    def convert(self, value, param, ctx):
        path = super().convert(value, param, ctx)
        if path.exists() and not path.is_dir():
            raise PathProblem(f"{path}: is a file, not a folder")
        return path


DB_FILE = FilePath("a database file")
CSV_FILE = FilePath("a CSV file")
TOML_FILE = FilePath("a settings file")
OUT_FILE = FilePath("a file name to write")


class _DefaultGroup(click.Group):
    """A group whose first argument may be a database path instead of a
    command: ``supervision-tui caseload.json`` means ``open caseload.json``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["open", *args]
        elif not args:
            args = ["open"]
        return super().parse_args(ctx, args)


def _as_date(value) -> date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value


def _fail(err: UserError) -> None:
    from supervision_tui.store.sanitize import printable

    # a file name or value quoted in the message reaches the terminal as text, never as a control sequence
    click.echo(printable(str(err), newlines=True), err=True)
    sys.exit(err.exit_code)


def _os_error(err: OSError) -> UserError:
    """An unexpected OSError (permission denied, disk full...) as a user
    error naming the file, so it is shown without a traceback."""
    name = f"{err.filename}: " if err.filename else ""
    return UserError(f"{name}{err.strerror or err}")


def _load_settings(config: Path | None):
    from supervision_tui.settings import load_settings

    return load_settings(config)


def _open_db(path: Path, read_only: bool = True):
    from supervision_tui.store.database import Database

    return Database(path, read_only=read_only)




def _check_clinician(db: Path, caseload, clinician: str | None) -> None:
    """``--clinician`` must name a clinician of the caseload (``rules.engine.check_clinician``,
    the dashboard's check too)."""
    from supervision_tui.rules.engine import check_clinician

    check_clinician(caseload, clinician, db)


@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="supervision-tui")
def cli() -> None:
    """Terminal dashboard for clinical supervision caseload review.

    Run without arguments to open a private copy of the bundled demo
    caseload; give a database path to open your own.
    """


@cli.command("open")
@click.argument("db", required=False, type=DB_FILE)
@click.option("--config", type=TOML_FILE, help="Settings TOML file.")
@click.option("--theme", help="Theme name (see README: Themes).")
@click.option("--present", is_flag=True, help="Start in presentation mode (private text hidden).")
@click.option("--read-only", is_flag=True,
              help="Open without any write path to the database or its workflow file (only the private "
                   "triage cache in your cache folder is written).")
@click.option("--clinician", help="Show only this clinician's clients.")
@click.option("--as-of", type=DATE,
              help="What was known on this date: later sessions ignored, later reviews not shown as made.")
@click.option("--ssh/--no-ssh", default=None, help="Force SSH mode on/off (default: detect).")
@click.option("--all", "show_all", is_flag=True, help="Also list closed and dropped-out clients.")
@click.option("--ascii/--unicode", "ascii_glyphs", default=None,
              help="Draw only with characters a Linux console font has (default: with TERM=linux).")
def open_cmd(db, config, theme, present, read_only, clinician, as_of, ssh, show_all, ascii_glyphs) -> None:
    """Open the dashboard on DB (default: a private copy of the demo)."""
    try:
        settings = _load_settings(config)
        if db is None:
            from supervision_tui.demo import private_demo_copy

            db, created = private_demo_copy()
            click.echo(f"Opening the demo caseload: {db}" + (" (new private copy)" if created else ""), err=True)
        else:
            from supervision_tui.store.database import resolve_database_path

            db = resolve_database_path(db)  # once: the app, its workflow file and its locks all use this path
            if not db.exists():
                raise UserError(f"{db}: no such database. Create one with: supervision-tui import {db} MEASURES.csv")
        # the caseload is read and analysed by worker processes forked now, before Textual
        # is imported and any thread exists, while the app starts (supervision_tui/ui/loader.py)
        from supervision_tui.ui import loader

        request = loader.LoadRequest(str(db), settings, _as_date(as_of), scope=clinician or None)
        preload = loader.take_early(request)  # (started by launch.py, first thing, when it could tell)
        if preload is None:
            loader.trace("cli forks")
            preload = loader.prestart(request)
        from supervision_tui.ui.terminal import apply_terminal_env

        apply_terminal_env(ssh)  # before Textual is imported: frame rate, animations
        from supervision_tui.ui.app import run_app

        run_app(
            db,
            preload=preload,
            settings=settings,
            config_path=config,
            theme=theme,
            present=present,
            read_only=read_only,
            clinician=clinician,
            as_of=_as_date(as_of),
            ssh=ssh,
            show_all=show_all,
            ascii_glyphs=ascii_glyphs,
        )
    except UserError as err:
        _fail(err)


def _no_folders(files) -> None:
    """CSV inputs are files: a folder is the same plain error as a missing file."""
    for f in files:
        if Path(f).is_dir():
            raise UserError(f"{f}: is a folder, not a CSV file (folders of FHIR files are read with --fhir)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except (OSError, RuntimeError):  # (RuntimeError: a symlink loop, Python 3.11's resolve(); the store says it)
        return False


def _check_import_target(db: Path, inputs: list[tuple[str, Path | None]]) -> None:
    """Refuse, before any lock file is made, a DB that is one of the CSV
    files or an existing file that is not a JSON database (``import m.csv
    m.csv``, or the arguments swapped): the import would fail under the
    lock and leave ``m.csv.lock`` behind."""
    for what, path in inputs:
        if path is not None and _same_file(db, path):
            raise UserError(f"{db}: the database and the {what} file are the same file; nothing was written "
                            f"(usage: supervision-tui import DB.json MEASURES.csv)")
    if db.is_file():
        try:
            with db.open("rb") as handle:
                head = handle.read(64).lstrip()
        except OSError as err:
            raise _os_error(err) from None
        if head and not head.startswith(b"{"):
            raise UserError(f"{db}: not a supervision-tui database (not a JSON file); nothing was written "
                            f"(usage: supervision-tui import DB.json MEASURES.csv)")


_FHIR_HELP = "FILEs are FHIR R4 JSON: Bundles, single resources, Bulk Data NDJSON files, or folders of them."
_CLIENT_SYSTEM_HELP = ("With --fhir: the Patient identifier system whose value is the client code "
                       "(default: each Patient's first identifier, only when all Patients' first identifiers come from one "
                       "system that is not a national number; otherwise the import asks for this option).")
_CLINICIAN_SYSTEM_HELP = ("With --fhir: the Practitioner identifier system whose value is the clinician id "
                          "(default: the first identifier).")
_MAP_HELP = ("FILEs are a vendor's CSV export, read through MAPPING: a mapping TOML file, or the name of a "
             "bundled one (see data/mappings/README.md).")
_CONFIG_HELP = "Settings TOML file; with --fhir its [fhir.codes] name the codes of ORS, SRS, WAI-SR."


def _import_usage(files, fhir, mapping, client_system, clinician_system, clients=None, goals=None) -> None:
    """Wrong combinations of the import/validate options: usage errors (exit 2)."""
    if fhir and mapping:
        raise click.UsageError("give --fhir or --map, not both")
    if (client_system or clinician_system) and not fhir:
        raise click.UsageError("--client-system and --clinician-system go with --fhir")
    if fhir and (clients or goals):
        raise click.UsageError("--clients and --goals are CSV files: import them without --fhir")


def _read_other(files, fhir, mapping, client_system, clinician_system, config, clients=None, goals=None, db=None):
    """FHIR files or mapped vendor CSVs as (ParsedImport, summary text).
    ``db``: the database a FHIR import goes into (its session numbers continue)."""
    if fhir:
        from supervision_tui.store.fhir import read_fhir

        codes = _load_settings(config).fhir.codes
        existing = _open_db(db).load() if db is not None and db.exists() else None
        result = read_fhir(list(files), client_system=client_system, clinician_system=clinician_system,
                           codes=codes, existing=existing)
        return result.parsed, result.summary()
    from supervision_tui.store.mapping import read_mapped

    existing = _open_db(db).load() if db is not None and db.exists() else None
    # an import keeps the files' errors for the checks against the database (_import_into)
    result = read_mapped(mapping, list(files), clients=clients, goals=goals, existing=existing,
                         keep_errors=db is not None)
    return result.parsed, result.summary()


def _import_into(db: Path, parsed):
    """``Database.import_parsed``: with errors in ``parsed``, it adds the checks
    against the database and raises with all of them. A database path that
    cannot even be opened leaves the files' errors alone."""
    try:
        database = _open_db(db, read_only=False)
    except UserError:
        if parsed.errors:
            from supervision_tui.store.csv_io import sorted_errors

            raise ValidationFailed(sorted_errors(parsed.errors)) from None
        raise
    return database.import_parsed(parsed)


@cli.command("import")
@click.argument("db", type=DB_FILE)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False), metavar="FILE...")
@click.option("--clients", type=CSV_FILE, help="Clients CSV.")
@click.option("--goals", type=CSV_FILE, help="Goals CSV.")
@click.option("--fhir", is_flag=True, help=_FHIR_HELP)
@click.option("--client-system", metavar="URI", help=_CLIENT_SYSTEM_HELP)
@click.option("--clinician-system", metavar="URI", help=_CLINICIAN_SYSTEM_HELP)
@click.option("--map", "mapping", metavar="MAPPING", help=_MAP_HELP)
@click.option("--config", type=TOML_FILE, help=_CONFIG_HELP)
def import_cmd(db, files, clients, goals, fhir, client_system, clinician_system, mapping, config) -> None:
    """Import into DB (created if missing) from the CSV layout, FHIR or a vendor CSV.

    \b
      import DB MEASURES.csv [--clients CLIENTS.csv] [--goals GOALS.csv]
      import DB --fhir EXPORT... [--client-system URI] [--clinician-system URI]
      import DB --map MAPPING EXPORT.csv... [--clients CLIENTS.csv] [--goals GOALS.csv]

    Nothing is written unless every file validates; the write is atomic;
    importing the same data again changes nothing. With --fhir, Patient
    names, birth dates, addresses and telecom are never read into DB.
    """
    _import_usage(files, fhir, mapping, client_system, clinician_system, clients, goals)
    if not fhir and not mapping and len(files) != 1:
        raise click.UsageError("give one MEASURES file (the clients and goals files go with --clients and --goals)")
    head = None
    try:
        what = "measures" if not (fhir or mapping) else "input"
        _check_import_target(db, [(what, f) for f in files] + [("clients", clients), ("goals", goals)])
        if fhir or mapping:
            parsed, head = _read_other(files, fhir, mapping, client_system, clinician_system, config, clients, goals,
                                       db)
        else:
            from supervision_tui.store.csv_io import parse_files

            _no_folders(files)
            parsed = parse_files(files[0], clients=clients, goals=goals, keep_errors=True)
        report = _import_into(db, parsed)
    except UserError as err:
        _fail(err)
    except OSError as err:
        _fail(_os_error(err))
    if head:
        click.echo(head)
    click.echo(report.summary())


@cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False), metavar="FILE...")
@click.option("--fhir", is_flag=True, help=_FHIR_HELP)
@click.option("--client-system", metavar="URI", help=_CLIENT_SYSTEM_HELP)
@click.option("--clinician-system", metavar="URI", help=_CLINICIAN_SYSTEM_HELP)
@click.option("--map", "mapping", metavar="MAPPING", help=_MAP_HELP)
@click.option("--config", type=TOML_FILE, help=_CONFIG_HELP)
def validate_cmd(files, fhir, client_system, clinician_system, mapping, config) -> None:
    """Check files without writing anything: CSVs, FHIR (--fhir) or a vendor CSV (--map).

    \b
      validate MEASURES.csv [CLIENTS.csv] [GOALS.csv]   kind recognised from the header
      validate --fhir EXPORT... [--client-system URI]
      validate --map MAPPING EXPORT.csv...

    Every error is listed as FILE:LINE: column: what is wrong (got VALUE)
    (FHIR: FILE:ENTRY: Resource/id: field: ...). Exit status 0 when the
    files would import, 1 when they would not.

    The CSV layout: UTF-8, comma separated, a header row, columns in any
    order, unknown columns are errors; numbers are plain decimals with ".";
    dates YYYY-MM-DD. Columns (* required):

    \b
    measures: client*, clinician*, session*, date*, attendance, instrument,
              rater, total, goal, task, bond, rupture, rupture_type, risk
    clients:  client*, clinician*, status, started
    goals:    client*, goal_id*, description, set_session*, agreement*,
              status, reviewed_session

    \b
    attendance    attended (default), cancelled, no_show
    instrument    SRS 0-40, WAI-SR 12-60 (goal/task/bond 4-20 each),
                  ORS 0-40, PHQ-9 0-27, GAD-7 0-21, or empty (no measure)
    rater         client (default), therapist
    total         required except WAI-SR with goal, task and bond given
    goal          WAI-SR Goal 4-20, or the SRS goals item 0-10
    rupture/risk  yes, no or empty; rupture_type withdrawal, confrontation
    status        clients: active (default), paused, closed, dropped_out;
                  goals: active (default), achieved, dropped
    agreement     agreed, partial, disagreed

    Every file and rule: docs/csv-formats.md in the source repository.
    """
    _import_usage(files, fhir, mapping, client_system, clinician_system)
    try:
        if fhir or mapping:
            parsed, head = _read_other(files, fhir, mapping, client_system, clinician_system, config)
            n_clients = len({r.client for r in parsed.ratings})
            message = (f"OK: {count(len(parsed.ratings), 'measure row')} of {count(n_clients, 'client')} "
                       f"would be imported.\n" + head)
        else:
            from supervision_tui.store.csv_io import validate_files

            _no_folders(files)
            message = validate_files(list(files))
    except ValidationFailed as err:  # nothing is ever written here: say only what is wrong
        _fail(ValidationFailed(err.errors, writing=False))
    except UserError as err:
        _fail(err)
    except OSError as err:
        _fail(_os_error(err))
    click.echo(message)


@cli.command("export")
@click.argument("db", type=DB_FILE)
@click.argument("outdir", type=FolderPath())
@click.option("--clinician", help="Export only this clinician's clients.")
@click.option("--include-notes", is_flag=True, help="Include goal descriptions (private free text).")
@click.option("--force", is_flag=True,
              help="Replace measures.csv, clients.csv and goals.csv already in OUTDIR (without it an "
                   "existing one is an error and nothing is written).")
def export_cmd(db, outdir, clinician, include_notes, force) -> None:
    """Write measures.csv, clients.csv and goals.csv of DB into OUTDIR.

    Goal descriptions are private and left empty unless --include-notes.
    Files of those names already in OUTDIR (an earlier export, perhaps of
    another database) are never replaced unless --force: the export is
    refused, naming them, and writes nothing.
    """
    from supervision_tui.store.csv_io import EXPORT_FILES, export_csv
    from supervision_tui.store.files import FilesExist

    try:
        database = _open_db(db)
        for name in EXPORT_FILES:
            database.check_output(outdir / name)
        if not force:  # (before loading: export_csv checks again, and never replaces one made meanwhile)
            existing = [outdir / name for name in EXPORT_FILES if os.path.lexists(outdir / name)]
            if existing:
                raise FilesExist(existing)
        caseload = database.load()
        _check_clinician(db, caseload, clinician)
        written = export_csv(caseload, outdir, clinician=clinician, include_notes=include_notes, force=force)
    except FilesExist as err:
        one = len(err.paths) == 1
        _fail(UserError(f"{', '.join(str(p) for p in err.paths)}: {'exists' if one else 'exist'} already "
                        f"(an earlier export?); nothing was written. Export into another folder, or add "
                        f"--force to replace {'it' if one else 'them'}"))
    except UserError as err:
        _fail(err)
    except OSError as err:
        _fail(_os_error(err))
    for path in written:
        click.echo(str(path))


def _analyse(db: Path, config: Path | None, as_of, clinician: str | None, shared: dict | None = None):
    """The engine's analyses of DB (one clinician's clients with
    ``clinician``; the clinic reference of not-on-track is the whole
    caseload's either way). ``shared``: an empty dict to receive the
    caseload-level values (``rules.engine.prepare_shared``)."""
    from supervision_tui.rules.engine import analyse_caseload, check_as_of

    settings = _load_settings(config)
    caseload = _open_db(db).load()
    _check_clinician(db, caseload, clinician)
    check_as_of(caseload, _as_date(as_of))
    analyses = analyse_caseload(caseload, settings, as_of=_as_date(as_of), shared=shared)
    if clinician:
        analyses = [a for a in analyses if a.clinician == clinician]
    return analyses


_common_rule_options = [
    click.argument("db", type=DB_FILE),
    click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON (interchange.md)."),
    click.option("--as-of", type=DATE, help="What was known on this date (later sessions ignored)."),
    click.option("--clinician", help="Only this clinician's clients."),
    click.option("--config", type=TOML_FILE, help="Settings TOML file."),
]


def _rule_options(fn):
    for deco in reversed(_common_rule_options):
        fn = deco(fn)
    return fn


@cli.command("flags")
@_rule_options
@click.option("--with-reference", is_flag=True,
              help="Also the clinic reference of 'not on track' per outcome instrument (fitted β0, β1, band "
                   "σs, clients, ratings; with --json an object {\"flags\": [...], \"reference\": {...}}).")
def flags_cmd(db, as_json, as_of, clinician, config, with_reference) -> None:
    """List every flag (ruptures, goals, outcomes, attendance, risk)."""
    from supervision_tui.reports import tables

    shared: dict = {}
    try:
        analyses = _analyse(db, config, as_of, clinician, shared)
    except UserError as err:
        _fail(err)
    from supervision_tui.rules.expected import reference_of

    reference = reference_of(shared) or {}
    if not with_reference:
        click.echo(tables.flags_json(analyses) if as_json
                   else tables.flags_table(analyses) + tables.shortfall_text(reference, analyses))
        return
    if as_json:
        click.echo(tables.flags_reference_json(analyses, reference))
    else:
        click.echo(tables.flags_table(analyses) + "\n\n" + tables.reference_text(reference))


@cli.command("summary")
@_rule_options
@click.option("--all", "show_all", is_flag=True, help="Include closed and dropped-out clients (text table only).")
def summary_cmd(db, as_json, as_of, clinician, config, show_all) -> None:
    """One line per triaged client, in triage order (closed and dropped-out
    clients with an active risk included)."""
    from supervision_tui.reports import tables

    shared: dict = {}
    try:
        analyses = _analyse(db, config, as_of, clinician, shared)
    except UserError as err:
        _fail(err)
    if as_json:
        click.echo(tables.summary_json(analyses))
        return
    from supervision_tui.rules.expected import reference_of

    click.echo(tables.summary_table(analyses, show_all=show_all)
               + tables.shortfall_text(reference_of(shared), analyses))


@cli.command("effectiveness")
@click.argument("db", type=DB_FILE)
@click.option("--instrument", help="Only this outcome instrument (ORS, PHQ-9, GAD-7, ...).")
@click.option("--clinician", help="Only this clinician's rows (the clinic rows stay, for comparison).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON (interchange.md §6a).")
@click.option("--as-of", type=DATE, help="What was known on this date (later sessions ignored).")
@click.option("--config", type=TOML_FILE, help="Settings TOML file.")
def effectiveness_cmd(db, instrument, clinician, as_json, as_of, config) -> None:
    """Each supervisee's severity-adjusted effect size with its 95 % interval,
    and reliable improvement, recovery and deterioration rates with Wilson
    intervals, per outcome instrument, and the clinic as a whole
    (clinical-rules §11). Not a ranking: overlapping intervals are not a
    difference."""
    from supervision_tui.instruments import REGISTRY
    from supervision_tui.reports.effectiveness import effectiveness_for, effectiveness_json, effectiveness_table
    from supervision_tui.rules.engine import analyse_records, check_as_of, known_records

    try:
        if instrument is not None and instrument not in {i.id for i in REGISTRY.outcome()}:
            known = ", ".join(i.id for i in REGISTRY.outcome())
            err = UserError(f"--instrument {instrument}: not an outcome instrument (known: {known})")
            err.exit_code = 2
            raise err
        settings = _load_settings(config)
        caseload = _open_db(db).load()
        _check_clinician(db, caseload, clinician)
        as_of_day = _as_date(as_of)
        check_as_of(caseload, as_of_day)
        records = known_records(caseload, as_of_day)
        analyses = analyse_records(records, settings, today=as_of_day)
        rows = effectiveness_for(records, analyses, settings, clinician=clinician, instrument=instrument)
    except UserError as err:
        _fail(err)
    click.echo(effectiveness_json(rows) if as_json else effectiveness_table(rows))


@cli.command("agenda")
@click.argument("db", type=DB_FILE)
@click.option("--since", type=DATE, help="What is new since this date (default: a week before --as-of or "
              "today, or before the last session when the data end earlier).")
@click.option("--as-of", type=DATE, help="What was known on this date: later sessions, reviews and action items ignored.")
@click.option("--clinician", help="Only this clinician's clients.")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]),
              help="Output format (default: html when --out ends in .html or .htm, else md).")
@click.option("--include-notes", is_flag=True, help="Include review notes, action texts and goal texts.")
@click.option("--out", type=OUT_FILE, help="Write to FILE (owner-readable).")
@click.option("--config", type=TOML_FILE, help="Settings TOML file.")
def agenda_cmd(db, since, as_of, clinician, fmt, include_notes, out, config) -> None:
    """The weekly supervision agenda as Markdown or self-contained HTML."""
    from supervision_tui.reports.agenda import build_agenda_from, render, since_after_day
    from supervision_tui.reports.as_of import ReviewsAsOf
    from supervision_tui.reports.effectiveness import effectiveness_for
    from supervision_tui.rules.engine import analyse_caseload, check_as_of, known_records
    from supervision_tui.rules.expected import reference_of
    from supervision_tui.store.reviews import ReviewStore

    if fmt is None:  # an explicit --format wins over the suffix
        fmt = "html" if out is not None and out.suffix.lower() in (".html", ".htm") else "md"
    try:
        settings = _load_settings(config)
        database = _open_db(db)
        if out:
            database.check_output(out)
        caseload = database.load()
        _check_clinician(db, caseload, clinician)
        as_of_day = _as_date(as_of)
        check_as_of(caseload, as_of_day)
        since_day = _as_date(since)
        day = as_of_day or date.today()
        too_late = since_after_day(since_day, day) if since_day is not None else None
        if too_late:
            raise UserError(f"{too_late} (the date of the last meeting, or omit --since)")
        reviews = ReviewsAsOf(database, as_of_day) if as_of_day is not None else ReviewStore(database)
        shared: dict = {}
        analyses = analyse_caseload(caseload, settings, as_of=as_of_day, shared=shared)
        agenda = build_agenda_from(
            caseload, analyses, reviews,
            since=_as_date(since), as_of=as_of_day, clinician=clinician,
            reference=reference_of(shared),
            effects=effectiveness_for(known_records(caseload, as_of_day), analyses, settings, clinician=clinician),
        )
        text = render(agenda, fmt=fmt, include_notes=include_notes)
        if out:
            from supervision_tui.store.files import write_private_text

            write_private_text(out, text)
            click.echo(f"Agenda written to {out}", err=True)
        else:
            click.echo(text)
    except UserError as err:
        _fail(err)


@cli.command("review")
@click.argument("db", type=DB_FILE)
@click.argument("client")
@click.option("--kind", type=click.Choice(FLAG_KINDS.ids()),
              help="The flag to review (default: the client as a whole).")
@click.option("--session", type=int, help="The flag's session (when several flags of that kind match).")
@click.option("--instrument", help="The flag's instrument (when several flags of that kind match).")
@click.option("--status", type=click.Choice(["new", "discussed", "action", "resolved", "dismissed"]),  # = REVIEW_STATUSES
              help="Review status to set.")
@click.option("--note", help="Review note (private; an empty string clears it).")
@click.option("--user", help="Who reviewed (default: the login name).")
@click.option("--config", type=TOML_FILE, help="Settings TOML file.")
def review_cmd(db, client, kind, session, instrument, status, note, user, config) -> None:
    """Set the review status (and/or note) of one of CLIENT's flags, or of
    CLIENT as a whole when no --kind is given. A status for the client as a
    whole is what the dashboard's r does: it is set on the client and on its
    flags that are new or changed since reviewed. Every change is audited."""
    try:
        if status is None and note is None:
            raise UserError("nothing to do: give --status and/or --note")
        if kind is None and (session is not None or instrument):
            raise UserError("--session and --instrument select a flag: give --kind too")
        from supervision_tui.rules.engine import analyse_caseload
        from supervision_tui.service.reviews import ReviewService

        database = _open_db(db, read_only=False)
        caseload = database.load()
        if client not in {r.code for r in caseload.records()}:  # (also a client known only from its rows)
            raise UserError(f"{db}: no client {client!r}")
        service = ReviewService(database.path, user=user)
        _ = service.store  # (opening it checks --user: a bad one fails before the caseload is analysed)
        # the whole caseload: a flag of the clinic reference (not on track) needs every client
        analysis = next(a for a in analyse_caseload(caseload, _load_settings(config)) if a.client == client)
        if kind is None and status == "discussed":
            # what the dashboard's r does: the client and its new or changed flags (named below)
            outcome = service.mark_client(analysis, status, note)
            keys = set(service.marked_together(analysis)) if outcome.notice is None else set()
            marked = [f for f in analysis.flags if f.identity in keys]
            what = f"{client}: discussed" + (", with " + ", ".join(_flag_words(f) for f in marked) if marked else "")
        elif kind is None:  # another status (or a note) for the client as a whole; flags keep theirs
            outcome = service.set_review(analysis, None, status, note)
            what = f"{client}: " + (f"{status} (the client as a whole; its flags: --kind)" if status else "note saved")
        else:
            flags = list(analysis.flags)
            match = [f for f in flags if f.kind == kind and (session is None or f.session == session)
                     and (not instrument or f.extra.get("instrument") == instrument)]
            if len(match) != 1:
                listing = "\n".join(f"  --kind {f.kind}" + (f" --session {f.session}" if f.session else "")
                                    + (f" --instrument {f.extra['instrument']}" if f.extra.get("instrument") else "")
                                    + f"   ({f.status})" for f in flags) or "  (none)"
                found = "no flag matches" if not match else f"{len(match)} flags match"
                raise UserError(f"{client}: {found}; the client's flags are:\n{listing}")
            f = match[0]
            outcome = service.set_review(analysis, f, status, note)
            what = f"{client} {_flag_words(f)}: " + (status or "note saved")
        if outcome.notice is not None:
            raise UserError(outcome.notice.message.removeprefix("Not saved: "))
    except UserError as err:
        _fail(err)
    by = service.store.user if service.store is not None else ""
    click.echo(f"{what} (by {by})")


def _flag_words(f) -> str:
    """"rupture s4 SRS (unrepaired)": a flag as the review command names it."""
    from supervision_tui.rules.kinds import REGISTRY

    where = " ".join(x for x in (f.kind, f"s{f.session}" if f.session else "", str(f.extra.get("instrument") or ""))
                     if x)
    return f"{where} ({REGISTRY.status_of(f).word})"


@cli.command("audit")
@click.argument("db", type=DB_FILE)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--include-notes", is_flag=True, help="Include review notes and action texts (private).")
@click.option("--out", type=OUT_FILE, help="Write to FILE (owner-readable).")
def audit_cmd(db, fmt, include_notes, out) -> None:
    """The audit trail of reviews and action items, newest first.

    Note and action texts read "(hidden)" unless --include-notes.
    """
    try:
        from supervision_tui.store.reviews import ReviewStore

        database = _open_db(db)
        if out:
            database.check_output(out)
        database.load()  # a missing, damaged or newer database fails as in every other command
        store = ReviewStore(database)
        if out:
            store.export_audit(out, fmt=fmt, include_notes=include_notes)
            click.echo(f"Audit written to {out}", err=True)
        else:
            click.echo(store.audit_text(fmt, include_notes), nl=False)
    except UserError as err:
        _fail(err)


@cli.command("demo")
@click.argument("out", type=OUT_FILE)
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed.")
@click.option("--clients", "n_clients", type=int, default=40, show_default=True)
@click.option("--sessions", "max_sessions", type=int, default=None,
              help="Sessions per client, scripted stories included (default: 6–30); stories that need more "
                   "are left out.")
@click.option("--history", type=int, default=None,
              help="Past (closed) clients the clinic reference learns from, 0–99 (default: 40 from 40 clients up, "
                   "else 0).")
def demo_cmd(out, seed, n_clients, max_sessions, history) -> None:
    """Write a deterministic demo caseload database to OUT."""
    from supervision_tui.demo import stories_left_out, write_demo

    try:
        write_demo(out, seed=seed, n_clients=n_clients, sessions=max_sessions, history=history)
    except UserError as err:
        _fail(err)
    click.echo(f"Demo caseload written to {out}")
    left = stories_left_out(n_clients, max_sessions)
    if left:
        names = ", ".join(f"{key} ({need})" for key, need in left.items())
        click.echo(f"Every client has {max_sessions} sessions; stories that need more were left out "
                   f"(sessions needed): {names}.")


@cli.command("serve")
@click.argument("db", required=False, type=DB_FILE)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (the default lets in this computer only).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--config", type=TOML_FILE, help="Settings TOML file.")
@click.option("--read-only", is_flag=True)
@click.option("--max-sessions", default=4, show_default=True, type=int,
              help="Browser sessions (app processes) at once; more are refused.")
def serve_cmd(db, host, port, config, read_only, max_sessions) -> None:
    """Serve the dashboard to a browser through textual-serve.

    Prints the address to open once the port is bound; it carries a secret
    token made for this run, without which the server refuses every request.
    Keep it private: anyone who has it can open the caseload.
    """
    from supervision_tui.gc_pause import end_startup
    from supervision_tui.ui.serve import serve

    end_startup()  # a long-running server: the collector runs as usual
    try:
        serve(db, host=host, port=port, config=config, read_only=read_only, max_sessions=max_sessions)
    except UserError as err:
        _fail(err)


def main() -> None:
    from supervision_tui.gc_pause import end_startup, pause_for_startup

    pause_for_startup()  # imports and set-up: no collections (see gc_pause); `open` ends it at its first frame
    try:
        cli(prog_name="supervision-tui")
    finally:
        end_startup()


if __name__ == "__main__":  # pragma: no cover
    main()
