"""Reading and analysing the caseload in separate processes, for the app.

Why processes: parsing JSON and building 10⁵–10⁶ model objects holds the
interpreter lock; done in a thread of the app it freezes the screen (a
``json.loads`` of one second is one second without a repaint, and ``q``
waits). Here the work happens in **worker processes**; the app's thread
only receives finished results in small pieces and never waits on another
thread's lock for long.

How a load goes
---------------

1. ``prestart`` (the CLI's ``open``, before Textual is imported and before
   any thread exists) imports the analysis modules and forks the workers,
   so they read while the app imports and draws its first frame; ``spawn``
   (a reload, from the app) starts them as new interpreters (``python -m
   supervision_tui.ui.loader``), which is safe from a process with threads.
   Workers run ``WORKER_NICE`` nicer than the app, so the app's thread has
   the CPU when it needs it (its start, a key) and they have the rest.
2. Worker *k* of *n* reads the database (format 2: only the head line and
   the client lines that start in its *n*-th of the file's bytes, a block
   at a time, ``columnar.read_part``; format 1: the first worker reads it
   whole, the others stop), and for each client looks
   up ``store/analysis_cache.py`` by the client's content hash; a client not
   in the cache is decoded, checked, grouped and analysed by the per-client
   rules (``rules.engine.analyse_part``, which also gives the client's
   shares of the caseload-wide rules), its effectiveness cases taken and
   its sparkline drawn. Results go to the app in chunks of ``CHUNK``
   clients over a pipe: per client its content hash, its format-2 bytes
   (the app rebuilds the client's rows from them when the client is opened:
   it keeps no rating objects) and the cache entry (``analysis_cache.dump_entry``).
3. ``receive`` (in the app's load thread) reads every worker's pipe as
   results arrive, unpickles each client's entry (``analysis_cache.load_entry``);
   once all are in, it combines every client's shares (the clinic
   reference of not on track, ``rules.engine.combine_shares``), judges
   every client against it (``finish_client``), computes supervisee
   effectiveness from every client's cases, sorts the analyses into
   triage order and returns a ``LoadResult``; ``LoadResult.save_cache``
   writes the analysis cache when it changed. A change of one client is
   one client analysed, and every client is still judged against the
   caseload as it is now.

Nothing here imports Textual (it runs before Textual is imported, and in
the workers); ``ui.widgets.viewdata`` and ``ui.widgets.sparkline`` are
Textual-free too.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

if TYPE_CHECKING:  # pragma: no cover - settings are imported in the workers, when needed
    from supervision_tui.settings import Settings

CHUNK = 50  # clients per message
WORKERS = 2
# The workers' niceness (added to the app's): on two cores the app and two workers are three
# processes wanting the CPU; at equal priority the app's own start (Textual's import, the first
# frame) got two thirds of a core and the first screen waited on it. A little lower priority lets
# the app's thread run when it has work (its start, a key, a chunk to take) and the workers have
# every cycle it leaves. See bench/README.md for the measurements.
WORKER_NICE = 5
# Each worker's pipe to the app holds this much (Linux: F_SETPIPE_SZ; 64 KiB by default). A chunk
# of 50 clients is ~250 KB: with the default a worker waited on every chunk until the app's load
# thread had read it (~0.1 ms a client at 5,040), idle while the app was busy elsewhere. With 1 MiB
# it writes its next chunks while the app catches up (bench/README.md).
PIPE_BYTES = 1 << 20
_FRAME = struct.Struct(">I")

__all__ = ["LoadRequest", "LoadHandle", "LoadResult", "prestart", "spawn", "receive", "LoadedCaseload",
           "LazyRecords", "LoaderError"]


TRACE_ENV = "SUPERVISION_TUI_TRACE"

# A client's document as the app keeps it (``LoadResult.docs``): compressed by the worker that
# read it, decompressed when the client is opened. LZ4 (the ``lz4`` package): ~4 µs a client to
# compress and ~2 to decompress, 3x smaller; zlib at level 1 (the fallback, where lz4 is missing)
# is 4.5x smaller but ~40 µs a client, a tenth of a worker's time on a cold start. The workers
# run the app's own interpreter, so both sides always use the same one.
try:
    from lz4.block import compress as _lz4_compress, decompress as decompress_doc

    def compress_doc(raw: bytes) -> bytes:
        """A document's bytes as ``LoadResult.docs`` keeps them (``decompress_doc`` undoes it)."""
        return _lz4_compress(raw)
except ImportError:  # pragma: no cover - lz4 is a dependency
    from zlib import decompress as decompress_doc

    def compress_doc(raw: bytes) -> bytes:
        """A document's bytes as ``LoadResult.docs`` keeps them (``decompress_doc`` undoes it)."""
        import zlib

        return zlib.compress(raw, 1)


def trace(label: str) -> None:
    """With ``$SUPERVISION_TUI_TRACE`` set to a file: append ``<monotonic
    seconds> <pid> <label>`` (bench/run.py's timeline of a start; nothing
    else is ever written there)."""
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    from supervision_tui.store.files import append_private_bytes

    try:
        append_private_bytes(path, f"{time.monotonic():.6f} {os.getpid()} {label}\n".encode())
    except OSError:
        pass


class LoaderError(Exception):
    """A load failed; ``str()`` is the message for the user."""


@dataclass
class LoadRequest:
    db_path: str
    settings: Settings | None = None  # None: the defaults (Settings())
    as_of: date | None = None
    use_cache: bool = True
    workers: int = WORKERS
    whole: bool = False  # parse the file whole (a format-2 file in an unusual layout)
    scope: str | None = None  # --clinician: supervisee effectiveness of this clinician's clients
    # the evaluation day without --as-of, fixed when the load is asked for: the rules, the cache file
    # read and the one written all use it (a load that runs past midnight files no analysis under
    # the next day)
    today: date = field(default_factory=date.today)


# --- the worker ----------------------------------------------------------------------------


def _new_pipe() -> tuple[int, int]:
    """A pipe for one worker's messages, ``PIPE_BYTES`` large where the
    system allows (else as it comes)."""
    r, w = os.pipe()
    try:
        import fcntl

        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or above the user's pipe limits
        pass
    return r, w


def _send(fd: int, message: Any) -> None:
    data = pickle.dumps(message, protocol=5)
    view = memoryview(_FRAME.pack(len(data)) + data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run_worker(req: LoadRequest, part: int, parts: int, fd: int) -> None:
    """Worker ``part`` of ``parts``: send ``("head", ...)`` (worker 0),
    ``("chunk", [...])`` messages and ``("done", stats)`` or ``("error",
    message)`` to ``fd``."""
    trace(f"worker {part} start")
    stats: dict[str, Any] = {"part": part, "clients": 0, "analysed": 0, "cached": 0}
    t0 = time.perf_counter()
    try:
        _work(req, part, parts, fd, stats)
    except BrokenPipeError:
        return  # the app is gone
    except _Whole:
        _safe_send(fd, ("whole",))
        return
    except Exception as err:
        from supervision_tui.errors import UserError

        if isinstance(err, UserError):
            _safe_send(fd, ("error", str(err)))
        else:
            _safe_send(fd, ("error", f"Unexpected error while loading: {type(err).__name__}: {err}"))
        return
    stats["seconds"] = time.perf_counter() - t0
    stats["peak_rss_mb"] = _rss_mb()
    cpu = os.times()
    stats["cpu_s"] = cpu.user + cpu.system  # (the process's, since it started or was forked)
    stats["nice"] = _niceness()
    trace(f"worker {part} done peak_rss_mb={stats['peak_rss_mb']} analysed={stats['analysed']} "
          f"cached={stats['cached']} cpu_s={stats['cpu_s']:.2f} nice={stats['nice']}")
    _safe_send(fd, ("done", stats))


def lower_priority() -> None:
    """Make this (worker) process ``WORKER_NICE`` nicer than it is (where
    the platform has ``nice``; a failure changes nothing)."""
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # pragma: no cover - no nice on this platform
        pass


def _niceness() -> int | None:
    try:
        return os.getpriority(os.PRIO_PROCESS, 0)
    except (AttributeError, OSError):  # pragma: no cover - not on this platform
        return None


def _safe_send(fd: int, message: Any) -> None:
    try:
        _send(fd, message)
    except OSError:
        pass


_ANALYSIS_MODULES = ("supervision_tui.reports.effectiveness", "supervision_tui.reports.patterns",
                     "supervision_tui.rules.engine", "supervision_tui.ui.widgets.viewdata",
                     "supervision_tui.store.analysis_cache", "supervision_tui.store.columnar")


def import_analysis() -> None:
    """Import what a worker's analysis needs (Textual-free)."""
    from importlib import import_module

    for module in _ANALYSIS_MODULES:
        import_module(module)


class _Whole(Exception):
    """The file must be parsed whole (see ``columnar.NotOneDocument``)."""


def _work(req: LoadRequest, part: int, parts: int, fd: int, stats: dict) -> None:
    from supervision_tui.errors import DatabaseError
    from supervision_tui.store import analysis_cache, columnar, schema

    import_analysis()  # (before the trace's "imported" mark; a no-op in a worker forked by prestart)

    trace(f"worker {part} imported")
    t = time.perf_counter()
    try:
        share = None if req.whole else columnar.read_part(req.db_path, part, parts)
    except columnar.NotOneDocument:
        raise _Whole() from None
    db_path = Path(req.db_path)
    if share is not None:
        try:
            meta = schema.check_meta(share.head[schema.META])
            from supervision_tui.store.sanitize import printable

            name = schema.caseload_name(meta) or printable(db_path.stem)
            clinicians = [schema.clinician_from_doc(k, v) for k, v in share.head.get(schema.CLINICIANS, {}).items()]
        except schema.SchemaError as err:
            share.close()
            raise DatabaseError(f"{db_path}: cannot read the database: not a valid supervision-tui database: "
                                f"{err}. The file was not changed.") from None
        fmt = 2
        stats["file"] = list(share.identity) if share.identity is not None else None
    else:
        if part:
            _send(fd, ("count", 0))
            return  # format 1 (or an unusual layout): the first worker reads it whole
        from supervision_tui.store.database import Database

        cl = Database(req.db_path, read_only=True).load()  # (every error message of a bad file is its)
        name, clinicians = cl.name, list(cl.clinicians.values())
        docs = [columnar.dumps(d) for d in columnar.client_docs(cl.clients, cl.ratings, cl.goals)]
        del cl
        share = columnar.FilePart({}, [str(i) for i in range(1, len(docs) + 1)],
                                  [columnar.content_hash(d) for d in docs], docs=docs)
        del docs
        fmt = 2 if req.whole else 1
    with share:
        stats["read_s"] = time.perf_counter() - t
        trace(f"worker {part} read")
        if part == 0:
            _send(fd, ("head", {"name": name, "clinicians": [(c.id, c.role) for c in clinicians], "format": fmt}))
        _send(fd, ("count", len(share)))  # (the app shows "n of N clients" while they arrive)
        cache = analysis_cache.CachedEntries()
        if req.use_cache:  # (this worker's clients' entries only, read when needed)
            cache = analysis_cache.open_cache(analysis_cache.cache_file(req.db_path, req.settings, req.as_of,
                                                                        today=req.today), wanted=set(share.keys))
        with cache:
            _analyse_share(req, share, cache, fd, stats)


def _analyse_share(req: LoadRequest, share: Any, cache: Any, fd: int, stats: dict) -> None:
    """Every client of the worker's share: its cache entry, or decoded and
    analysed (the entry made); sent to the app ``CHUNK`` clients a message."""
    from supervision_tui.errors import DatabaseError
    from supervision_tui.instruments import REGISTRY
    from supervision_tui.reports.effectiveness import client_cases
    from supervision_tui.reports.patterns import missing_recent_measures
    from supervision_tui.rules.engine import analyse_part
    from supervision_tui.settings import Settings
    from supervision_tui.store import analysis_cache, columnar, schema
    from supervision_tui.ui.widgets.viewdata import ClientDisplay, spark_args

    settings = req.settings if req.settings is not None else Settings()
    db_path = Path(req.db_path)
    as_of = req.as_of
    t_decode = t_rules = t_spark = t_pickle = t_send = 0.0
    clock = time.perf_counter

    def decode(doc_id: str, raw: bytes):
        try:
            return columnar.decode_bytes(doc_id, raw)
        except columnar.NotOneDocument:
            raise _Whole() from None
        except schema.SchemaError as err:
            raise DatabaseError(f"{db_path}: cannot read the database: not a valid supervision-tui "
                                f"database: {err}. The file was not changed.") from None

    for start in range(0, len(share), CHUNK):
        out = []
        try:
            docs = share.docs(start, min(start + CHUNK, len(share)))
        except columnar.NotOneDocument:  # (the file is not what it was when the share was found)
            raise _Whole() from None
        # (each document's hash from when the share was found: ``docs`` refuses a file changed since)
        for (doc_id, raw), key in zip(docs, share.keys[start:start + CHUNK]):
            blob = cache.get(key)
            fresh = blob is None
            if fresh:
                t1 = clock()
                data = decode(doc_id, raw)
                analysis = shares = None
                cases: list = []
                first = columnar.first_date(data)
                extras: dict[str, Any] = {"first": first.isoformat() if first is not None else None}
                if columnar.has_record(data, as_of):
                    record = columnar.client_record(data, as_of)
                    t2 = clock()
                    # the per-client rules and the client's shares of the caseload-wide ones: the
                    # app combines every client's shares and judges each client (``receive``)
                    analysis, shares = analyse_part(record, settings, today=as_of or req.today)
                    cases = client_cases(record, settings, REGISTRY, analysis.outcomes)  # (effectiveness)
                    t3 = clock()
                    extras["spark"] = spark_args(ClientDisplay(record, analysis, settings))
                    extras["missing_recent"] = missing_recent_measures(record)  # (the clinicians screen)
                    t4 = clock()
                    t_decode += t2 - t1
                    t_rules += t3 - t2
                    t_spark += t4 - t3
                    t1 = t4
                blob = analysis_cache.dump_entry(data.code, analysis, extras, shares, cases)
                t_pickle += clock() - t1
                stats["analysed"] += 1
            else:
                stats["cached"] += 1
            out.append((key, compress_doc(raw), blob, fresh))
        stats["clients"] += len(out)
        t1 = clock()
        _send(fd, ("chunk", out))
        t_send += clock() - t1
    stats.update(decode_s=t_decode, rules_s=t_rules, spark_s=t_spark, pickle_s=t_pickle, send_s=t_send)
    stats["analyse_s"] = t_decode + t_rules + t_spark + t_pickle


def _main() -> None:
    """``python -m supervision_tui.ui.loader PART PARTS FD``: the request
    pickled on stdin, the messages on file descriptor FD (from ``spawn``;
    trusted: our own process)."""
    import gc

    gc.disable()  # (a process of its own: ~10⁵ acyclic objects per chunk, nothing to collect)
    lower_priority()
    part, parts, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    req = pickle.loads(sys.stdin.buffer.read())
    run_worker(req, part, parts, out)
    os.close(out)


# --- starting workers ------------------------------------------------------------------------


@dataclass
class LoadHandle:
    """Running workers: their pids (or processes) and result pipes."""

    request: LoadRequest
    fds: list[int]
    pids: list[int] = field(default_factory=list)
    procs: list = field(default_factory=list)  # subprocess.Popen
    started: float = field(default_factory=time.monotonic)
    db_token: list[int] | None = None  # the database file's identity before the workers read it

    def kill(self) -> None:
        """Stop every worker now (the app quits, or a newer load replaces this one)."""
        import signal

        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for p in self.procs:
            try:
                p.kill()
            except OSError:
                pass
        self.reap()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []

    def reap(self) -> None:
        for pid in self.pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            except OSError:
                pass
        self.pids = []
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except Exception:
                pass
        self.procs = []


def _parts(req: LoadRequest) -> int:
    return max(1, min(int(req.workers or 1), 8))


def prestart(req: LoadRequest) -> LoadHandle | None:
    """Fork the workers now. Only from a process without threads (the CLI,
    before the app starts); None where fork is not available.

    The analysis modules are imported here, once, before the fork: the
    workers inherit them instead of each importing them on the cores the
    app's start needs (~50 ms of CPU each), and the app needs them anyway
    once the results are in (combining the shares, the effectiveness)."""
    if not hasattr(os, "fork"):
        return None
    import_analysis()
    parts = _parts(req)
    token = _token(req.db_path)
    fds, pids = [], []
    for part in range(parts):
        r, w = _new_pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                import gc

                gc.disable()  # (a process of its own: ~10⁵ acyclic objects per chunk, nothing to collect)
                lower_priority()
                os.close(r)
                for other in fds:
                    os.close(other)
                run_worker(req, part, parts, w)
            finally:
                os._exit(0)
        os.close(w)
        fds.append(r)
        pids.append(pid)
    return LoadHandle(req, fds, pids=pids, db_token=token)


_EARLY: LoadHandle | None = None  # workers forked by launch.py before the CLI was imported


def prestart_early(req: LoadRequest) -> None:
    """``prestart`` from the program's first lines (``launch.py``); the CLI's
    ``open`` takes the workers with ``take_early``."""
    global _EARLY
    _EARLY = prestart(req)
    if _EARLY is not None:
        import atexit

        atexit.register(_stop_early)  # (the CLI never got to ``open``: a usage error, --help)


def _stop_early() -> None:
    global _EARLY
    handle, _EARLY = _EARLY, None
    if handle is not None:
        handle.kill()


def take_early(req: LoadRequest) -> LoadHandle | None:
    """The workers ``prestart_early`` started, when they load exactly what
    ``req`` asks (database path, settings, as-of date); else they are
    stopped and None is returned."""
    global _EARLY
    handle, _EARLY = _EARLY, None
    if handle is None:
        return None
    early = handle.request
    if (early.db_path, early.as_of, early.settings, early.scope) == (req.db_path, req.as_of, req.settings, req.scope):
        return handle
    handle.kill()
    return None


def spawn(req: LoadRequest) -> LoadHandle:
    """Start the workers as new interpreters (safe from a process with threads)."""
    import subprocess

    parts = _parts(req)
    token = _token(req.db_path)
    payload = pickle.dumps(req, protocol=5)
    procs, fds = [], []
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for part in range(parts):
        r, w = _new_pipe()  # the messages: a pipe of their own (stdout and stderr go nowhere)
        try:
            p = subprocess.Popen([sys.executable, "-m", "supervision_tui.ui.loader", str(part), str(parts), str(w)],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=env, close_fds=True, pass_fds=(w,))
        finally:
            os.close(w)
        assert p.stdin is not None
        p.stdin.write(payload)
        p.stdin.close()
        procs.append(p)
        fds.append(r)
    return LoadHandle(req, fds, procs=procs, db_token=token)


def _token(path: str) -> list[int] | None:
    from supervision_tui.store.triage_cache import file_token

    return file_token(Path(path).absolute())


# --- receiving ---------------------------------------------------------------------------------


def _messages(handle: LoadHandle, cancelled: Callable[[], bool]) -> Iterator[Any]:
    """Every worker's messages as they arrive (any order between workers)."""
    bufs = {fd: bytearray() for fd in handle.fds}
    open_fds = list(handle.fds)
    while open_fds:
        if cancelled():
            return
        ready, _, _ = select.select(open_fds, [], [], 0.05)
        for fd in ready:
            try:
                chunk = os.read(fd, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                open_fds.remove(fd)
                if bufs[fd]:
                    raise LoaderError("The loading process stopped in the middle of a message.")
                continue
            buf = bufs[fd]
            buf += chunk
            while len(buf) >= 4:
                (n,) = _FRAME.unpack_from(buf, 0)
                if len(buf) < 4 + n:
                    break
                with memoryview(buf) as view:
                    message = pickle.loads(view[4:4 + n])  # (our own worker process)
                del buf[:4 + n]
                yield message


@dataclass(repr=False)  # (its repr would spell out every analysis and every client's bytes)
class LoadResult:
    name: str
    clinicians: dict  # id -> model.Clinician
    analyses: list  # triage order (every client with a record)
    docs: dict[str, bytes]  # code -> format-2 document bytes, compressed (``compress_doc``: 3x smaller)
    extras: dict[str, dict]  # code -> display values (sparkline)
    format: int
    stats: dict[str, Any] = field(default_factory=dict)
    cache: Any = None  # analysis_cache.PendingCache to save (None: the file is up to date, or no cache)
    first_date: date | None = None  # the earliest rating of the caseload (``rules.engine.check_as_of``)
    reference: Any = None  # the clinic reference of not on track (``rules.expected.reference_of``)
    effects: Any = None  # supervisee effectiveness rows (``reports.effectiveness.effectiveness``, ``_effects``)

    def __repr__(self) -> str:
        return f"LoadResult({self.name!r}, {len(self.analyses)} clients, format {self.format})"

    def check_as_of(self, as_of: date | None) -> None:
        """``rules.engine.check_as_of`` on what was loaded (a future day, or
        one before the caseload's first session, is an error)."""
        from types import SimpleNamespace

        from supervision_tui.rules.engine import check_as_of

        ratings = [SimpleNamespace(date=self.first_date)] if self.first_date is not None else []
        check_as_of(SimpleNamespace(ratings=ratings), as_of)

    def save_cache(self) -> Path | None:
        """Write the analysis cache when this load changed it (a cold load
        wrote its entries as they came: this puts the file in place)."""
        pending, self.cache = self.cache, None
        return pending.save() if pending is not None else None

    def discard_cache(self) -> None:
        """Never write this load's cache (a newer load replaced it)."""
        pending, self.cache = self.cache, None
        if pending is not None:
            pending.discard()


def receive(handle: LoadHandle, cancelled: Callable[[], bool] = lambda: False,
            progress: Callable[[int, int | None], None] | None = None,
            each: Callable[..., None] | None = None) -> LoadResult | None:
    """``_receive``, with the analysis cache this load writes
    (``analysis_cache.PendingCache``: the entries go to the new file as they
    arrive) dropped unless the load returns it to be saved."""
    from supervision_tui.store import analysis_cache

    req = handle.request
    pending = None
    if req.use_cache:
        pending = analysis_cache.PendingCache(analysis_cache.cache_file(req.db_path, req.settings, req.as_of,
                                                                        today=req.today))
    result = None
    try:
        result = _receive(handle, cancelled, progress, each, pending)
        return result
    finally:
        if pending is not None and (result is None or result.cache is not pending):
            pending.discard()


def _receive(handle: LoadHandle, cancelled: Callable[[], bool], progress: Callable[[int, int | None], None] | None,
             each: Callable[..., None] | None, pending: Any) -> LoadResult | None:
    """Collect a load's results (blocking; the app's load thread). Returns
    None when ``cancelled()`` became true (the workers are then killed).
    Raises ``LoaderError`` with the user's message when the load failed.

    Every client arrives analysed by the per-client rules, with its shares
    of the caseload-wide rules; once all are in, the shares are combined
    (``rules.engine.combine_shares``: the clinic reference of not on track)
    and every client is judged against it (``finish_client``), and the
    supervisee effectiveness rows are computed from every client's cases.

    ``each(analysis, extras, None)`` is called for every client as it
    arrives (while the workers go on: the app builds its table rows
    meanwhile), and ``each(final, extras, analysis)`` once the caseload-wide
    rules changed it (``final.flags is analysis.flags`` when they added no
    flag: then only the row's analysis needs replacing).

    ``progress(received, total)`` is called as clients arrive: ``total`` is
    the number of client documents once every worker has counted its share
    (``None`` before; the clients known only from a goal are among them, so
    ``received`` reaches it).

    Cached entries are the program's own, checked when read
    (``analysis_cache.load_entry``); should one still fail the caseload step
    (a damaged share), the load starts again without the cache."""
    from supervision_tui.model import Clinician
    from supervision_tui.rules.engine import combine_shares, finish_client
    from supervision_tui.rules.triage import triage_key
    from supervision_tui.settings import Settings
    from supervision_tui.store import analysis_cache

    req = handle.request
    head = None
    parts: list[tuple[Any, Any]] = []  # (analysis by the per-client rules, its shares)
    docs: dict[str, bytes] = {}
    extras: dict[str, dict] = {}
    received = 0
    counts: list[int] = []  # each worker's number of documents ("count": sent before its first chunk)
    total = None  # the caseload's, once every worker has told
    codes: set[str] = set()
    twice = False  # a client code came twice (two workers read different versions of the file)
    cases: list[tuple] = []
    fresh = 0
    first_dates: set[str] = set()
    done: list[dict] = []
    error = None
    whole = False
    t0 = time.perf_counter()
    t_unpickle = 0.0
    try:
        for message in _messages(handle, cancelled):
            kind = message[0]
            if kind == "chunk":
                t = time.perf_counter()
                for key, raw, blob, is_fresh in message[1]:
                    try:
                        code, analysis, extra, shares, client_cases = analysis_cache.load_entry(blob)
                    except analysis_cache.BadEntry:
                        if is_fresh:
                            raise
                        raise _StaleCache() from None
                    received += 1
                    if code in codes:
                        twice = True
                    codes.add(code)
                    if pending is not None:
                        pending.add(key, blob, is_fresh)
                    fresh += is_fresh
                    first = extra.get("first")
                    if type(first) is str:
                        first_dates.add(first)
                    if analysis is None:
                        continue
                    parts.append((analysis, shares))
                    cases.extend((code, *c) for c in client_cases)
                    docs[code] = raw
                    if extra:
                        extras[code] = extra
                    if each is not None:
                        each(analysis, extra, None)
                t_unpickle += time.perf_counter() - t
                if progress is not None:
                    progress(received, total)
                if received == len(message[1]):
                    trace("first chunk received")
            elif kind == "count":
                counts.append(message[1])
                total = sum(counts) if len(counts) == _parts(req) else None
                if progress is not None:
                    progress(received, total)
            elif kind == "head":
                head = message[1]
            elif kind == "done":
                done.append(message[1])
            elif kind == "error":
                error = error or message[1]
            elif kind == "whole":
                whole = True
    except _StaleCache:
        handle.kill()
        return _without_cache(req, cancelled, progress, each)
    finally:
        if cancelled():
            handle.kill()
    if cancelled():
        return None
    handle.reap()
    for fd in handle.fds:
        try:
            os.close(fd)
        except OSError:
            pass
    handle.fds = []
    if whole and not req.whole:
        return receive(spawn(replace(req, workers=1, whole=True)), cancelled, progress, each)
    if error is not None:
        raise LoaderError(error)
    if head is None or len(done) != _parts(req) and not (head.get("format") == 1 and done):
        raise LoaderError("Unexpected error while loading: a loading process stopped before it was done.")
    if _parts(req) > 1 and (twice or len({tuple(d["file"]) for d in done if d.get("file")}) > 1):
        # the database was replaced (a save, an import) between two workers opening it: their shares
        # (byte ranges of different files) do not fit together; read it again, once, in one process
        trace("workers read different files: again in one process")
        return receive(spawn(replace(req, workers=1)), cancelled, progress, each)
    trace(f"all received cpu_s={sum(os.times()[:2]):.2f}")
    # the caseload-wide rules: every client's shares combined, every client judged against them
    t = time.perf_counter()
    settings = req.settings if req.settings is not None else Settings()
    try:
        shared = combine_shares((sh for _a, sh in parts), settings)
        finals = [finish_client(base, sh, shared) for base, sh in parts]
        effects = _effects(cases, settings, req.scope)
    except Exception:
        if fresh == received:
            raise  # (nothing came from the cache: a real error)
        return _without_cache(req, cancelled, progress, each)
    analyses = []
    for (base, _sh), final in zip(parts, finals):
        analyses.append(final)
        if each is not None and final is not base:
            each(final, extras.get(final.client, {}), base)
    del parts, finals
    t_finish = time.perf_counter() - t
    analyses.sort(key=triage_key)
    stats = {"workers": done, "clients": received, "analysed": fresh, "unpickle_s": t_unpickle,
             "finish_s": t_finish, "receive_s": time.perf_counter() - t0,
             "since_start_s": time.monotonic() - handle.started}
    trace("finished")
    write = pending if pending is not None and pending.needed else None
    clinicians = {cid: Clinician(cid, role) for cid, role in head["clinicians"]}
    first_date = date.fromisoformat(min(first_dates)) if first_dates else None
    from supervision_tui.rules.expected import reference_of

    return LoadResult(head["name"], clinicians, analyses, docs, extras, head["format"], stats, write,
                      first_date=first_date, reference=reference_of(shared), effects=effects)


def _without_cache(req: LoadRequest, cancelled: Callable[[], bool], progress: Any, each: Any) -> LoadResult | None:
    """The load again, without the analysis cache (a cached entry was
    damaged: the file is removed, every client analysed afresh)."""
    from supervision_tui.store.analysis_cache import cache_file

    try:
        cache_file(req.db_path, req.settings, req.as_of, today=req.today).unlink()
    except OSError:
        pass
    return receive(spawn(replace(req, use_cache=False)), cancelled, progress, each)


def _effects(cases: list[tuple], settings: Any, scope: str | None) -> Any:
    """Supervisee effectiveness (clinical-rules §11) over every client of the
    clinic, from the clients' cached cases (``reports.effectiveness``)."""
    from supervision_tui.instruments import REGISTRY
    from supervision_tui.reports.effectiveness import Case, effectiveness

    cases.sort(key=lambda c: c[0])  # (client order, as ``effectiveness_for`` over the records: the same sums)
    return effectiveness([Case(*c) for c in cases], REGISTRY, min_cases=settings.effectiveness.min_cases,
                         clinician=scope or None)


class _StaleCache(Exception):
    pass


# --- the caseload, rebuilt on demand -----------------------------------------------------------


class LazyRecords(Mapping):
    """code -> ``ClientRecord``, rebuilt from the client's bytes on each
    access (the app keeps compressed bytes, ~1.4 KB a client (LZ4), not rating
    objects: 40 sessions are ~110 ratings, ~25 KB as objects)."""

    def __init__(self, docs: dict[str, bytes], as_of: date | None):
        self._docs = docs
        self._as_of = as_of

    def __getitem__(self, code: str):
        from supervision_tui.store import columnar

        raw = decompress_doc(self._docs[code])
        return columnar.client_record(columnar.decode_bytes(code, raw), self._as_of)

    def __iter__(self):
        return iter(self._docs)

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, code: object) -> bool:
        return code in self._docs


class LoadedCaseload:
    """What the app's screens use of a ``model.Caseload`` (name,
    clinicians, clients, goals, ratings, ``records(as_of)``), rebuilt from
    the loaded clients' bytes when asked (the agenda, the clinicians screen).
    Clients known only from a goal are not loaded (no record, no flag)."""

    def __init__(self, name: str, clinicians: dict, docs: dict[str, bytes]):
        self.name = name
        self.clinicians = clinicians
        self._docs = docs

    def _decoded(self):
        from supervision_tui.store import columnar

        for code, raw in sorted(self._docs.items()):
            yield columnar.decode_bytes(code, decompress_doc(raw))

    @property
    def clients(self) -> dict:
        return {d.code: d.client for d in self._decoded() if d.client is not None}

    @property
    def goals(self) -> list:
        return [g for d in self._decoded() for g in d.goals]

    @property
    def ratings(self) -> list:
        return [r for d in self._decoded() for r in d.ratings]

    def records(self, as_of: date | None = None) -> list:
        from supervision_tui.store import columnar

        return [columnar.client_record(d, as_of) for d in self._decoded() if columnar.has_record(d, as_of)]


if __name__ == "__main__":
    _main()
