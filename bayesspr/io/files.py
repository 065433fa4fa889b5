"""Files of the package: atomic writes and folders, output checks, saved fits read back.

A file written here is absent, the old one, or complete — never partial; a folder written
with :func:`atomic_folder` is the old folder or the whole new one. :func:`check_output_path`
refuses a destination before any work is done (an input, a file of another kind, a link, a
special file, a read-only file). Saved fits are netCDF read through h5netcdf.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd
import xarray as xr

from bayesspr.errors import ArgumentError, OutputPathError, SavedFitError

__all__ = [
    "CSV_DECIMALS",
    "OUTPUT_KINDS",
    "TABLE_SUFFIXES",
    "OutputPathError",
    "atomic_folder",
    "atomic_write",
    "check_output_path",
    "exit_on_sigterm",
    "file_kind",
    "read_saved_tree",
    "remove_stale_temps",
    "saved_fit_kind",
    "sha256_of",
    "table_format",
    "write_csv",
    "write_png",
]

#: Decimal places of numbers in the CSV tables people read (routes, vans, probabilities).
CSV_DECIMALS = 3

#: What :func:`check_output_path` can be asked to write, with a description for messages.
OUTPUT_KINDS: Mapping[str, str] = {
    "csv": "a CSV table",
    "parquet": "a Parquet table",
    "table": "a CSV or Parquet table (by suffix)",
    "netcdf": "a saved fit (netCDF/HDF5)",
    "html": "an HTML page",
    "png": "a PNG image",
    "json": "a JSON file",
    "folder": "a folder of outputs",
}

_SIGNATURES = (  # (kind, leading bytes)
    ("hdf5", b"\x89HDF\r\n\x1a\n"),
    ("png", b"\x89PNG\r\n\x1a\n"),
    ("parquet", b"PAR1"),
)
_FOUND = {
    "empty": "an empty file",
    "hdf5": "a netCDF/HDF5 file (a saved fit?)",
    "png": "a PNG image",
    "parquet": "a Parquet table",
    "html": "an HTML page",
    "json": "a JSON file",
    "text": "a text file (a CSV table?)",
    "binary": "a binary file of unknown kind",
}
_ACCEPTS = {  # the kinds of existing file each output kind may replace
    "csv": {"empty", "text"},
    "parquet": {"empty", "parquet"},
    "netcdf": {"empty", "hdf5"},
    "html": {"empty", "html"},
    "png": {"empty", "png"},
    "json": {"empty", "json", "text"},
}
_SUFFIXES = {  # suffixes that name a kind; an existing file named for another kind is refused
    "csv": {".csv", ".tsv", ".txt"},
    "parquet": {".parquet", ".pq"},
    "netcdf": {".nc", ".nc4", ".h5", ".hdf5", ".cdf"},
    "html": {".html", ".htm"},
    "png": {".png"},
    "json": {".json"},
}


# --- signals --------------------------------------------------------------------------------


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    """Signal handler: turn SIGTERM into ``SystemExit`` so ``finally``/``except`` clean up."""
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` instead of killing the process.

    Clean-up code (removing temporary files, restoring a folder) then runs as for any
    exception. The handler is installed only in the main thread and only while SIGTERM has
    its default action; a handler the program set itself is left alone.

    Yields
    ------
    None
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        current = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):  # pragma: no cover - no signals on this platform
        yield
        return
    if current is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, current)


# --- temporary siblings ---------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except OSError:  # pragma: no cover - unknown: treat as alive, never remove
        return True
    return True


def _remove(entry: Path) -> None:
    """Remove a file, link or folder (a link is removed, never followed)."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary siblings of ``path`` left by writers that died.

    :func:`atomic_write` and :func:`atomic_folder` name their temporary sibling
    ``.NAME.PID.RANDOM.tmp`` (and a folder being replaced ``.NAME.PID.RANDOM.old``), PID
    being the writer's process id. Those whose process no longer exists are removed; those
    of a live process (a write under way) are kept. If ``path`` itself is missing and a dead
    writer left the old folder aside (``.old``), that folder is moved back into place.

    Parameters
    ----------
    path : str or os.PathLike
        The destination whose siblings are checked.

    Returns
    -------
    list of pathlib.Path
        The entries removed (or restored).
    """
    target = Path(path)
    parent = target.parent
    if not parent.is_dir():
        return []
    pattern = re.compile(re.escape(f".{target.name}.") + r"(\d+)\.[A-Za-z0-9_]+\.(tmp|old)")
    done = []
    try:
        entries = sorted(parent.iterdir(), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or _pid_alive(int(match[1])):
            continue
        try:
            if match[2] == "old" and entry.is_dir() and not entry.is_symlink():
                if os.path.lexists(target):
                    _remove(entry)  # the swap finished; only deleting the old folder did not
                else:
                    os.rename(entry, target)  # the swap died half-way: put the old one back
            else:
                _remove(entry)
        except OSError:
            continue
        done.append(entry)
    return done


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


def atomic_write(write: Callable[[str], None], path: str | os.PathLike[str]) -> Path:
    """Write a file through a temporary sibling and move it into place in one step.

    Parameters
    ----------
    write : callable
        ``write(tmp_path)`` writes the whole file to ``tmp_path`` (a str in the target's
        folder).
    path : str or os.PathLike
        Destination; its folder is created if missing.

    Returns
    -------
    pathlib.Path
        The destination.

    Notes
    -----
    The temporary file is ``.NAME.PID.RANDOM.tmp`` beside the target, with the usual
    permissions (``0o666`` less the umask), not ``mkstemp``'s ``0o600``. On any error,
    Ctrl-C or SIGTERM (see :func:`exit_on_sigterm`) it is removed and the destination is
    untouched; temporary siblings left by writers killed outright (``kill -9``, power loss)
    are removed by the next write once their process is gone (:func:`remove_stale_temps`).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    with exit_on_sigterm():
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            write(tmp)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target


def write_png(figure: Any, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Write a matplotlib figure as a PNG file in one step (:func:`atomic_write`).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The chart.
    path : str or os.PathLike
        Destination file; its folder is created if missing.
    dpi : int
        Resolution (dots per inch).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    return atomic_write(lambda tmp: figure.savefig(tmp, format="png", dpi=dpi), path)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write a whole folder in a temporary sibling and move it into place in one piece.

    Parameters
    ----------
    path : str or os.PathLike
        The folder to (re)write; its parent is created if missing.

    Yields
    ------
    pathlib.Path
        An empty temporary folder beside ``path`` (``.NAME.PID.RANDOM.tmp``): write every
        file into it.

    Notes
    -----
    When the block ends without error the new folder and an earlier one at ``path`` swap
    places in one step (Linux ``renameat2(RENAME_EXCHANGE)``), so ``path`` is never missing or
    partial, and the old one, now at the temporary name, is deleted. Where the kernel or file
    system has no exchange, the old folder is renamed aside, the new one into place, and the
    old one deleted; a folder left aside by a writer killed outright between those two
    renames is moved back by the next call. If the block raises (or SIGTERM / Ctrl-C arrive),
    the temporary folder is deleted and an earlier folder at ``path`` is left as it was. A
    writer killed outright (SIGKILL) cannot clean up: its hidden temporary sibling stays until
    the next write to ``path`` removes it.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    with exit_on_sigterm():
        tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
        try:
            os.chmod(tmp, 0o777 & ~_umask())
            yield tmp
            if os.path.lexists(target) and _exchange(tmp, target):
                _remove(tmp)  # the earlier folder, swapped out
            elif os.path.lexists(target):
                old = Path(
                    tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".old", dir=target.parent)
                )
                old.rmdir()  # only its unique name is wanted
                os.rename(target, old)
                try:
                    os.rename(tmp, target)
                except BaseException:
                    os.rename(old, target)
                    raise
                _remove(old)
            else:
                os.rename(tmp, target)
        except BaseException:
            _remove(tmp)
            raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False where the system cannot.

    Linux's ``renameat2`` with ``RENAME_EXCHANGE`` (glibc 2.28, kernel 3.15; most local file
    systems). Elsewhere, or when the file system refuses, the caller falls back to two renames.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table people read as CSV, atomically, in one format everywhere.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; its index is not written.
    path : str or os.PathLike
        Destination file.

    Returns
    -------
    pathlib.Path
        The destination.

    Notes
    -----
    Floats are rounded to :data:`CSV_DECIMALS` places; a datetime column named ``month``
    is written ``YYYY-MM`` and other datetime columns ``YYYY-MM-DD``, so every file of the
    package spells a month and a day the same way.
    """
    out = df.copy()
    for col in out.select_dtypes("datetime").columns:
        out[col] = out[col].dt.strftime("%Y-%m" if col == "month" else "%Y-%m-%d")
    floats = out.select_dtypes("float").columns
    out[floats] = out[floats].round(CSV_DECIMALS)
    return atomic_write(lambda tmp: out.to_csv(tmp, index=False), path)


def _umask() -> int:
    """Return the process umask (there is no way to read it without setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --- checking a destination -----------------------------------------------------------------


def file_kind(path: str | os.PathLike[str]) -> str:
    """Tell what an existing regular file holds from its first bytes.

    Parameters
    ----------
    path : str or os.PathLike
        A regular file.

    Returns
    -------
    str
        ``"empty"``, ``"hdf5"`` (netCDF-4, a saved fit), ``"png"``, ``"parquet"``,
        ``"html"``, ``"json"``, ``"text"`` (CSV and other text) or ``"binary"``.
    """
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head:
        return "empty"
    for kind, magic in _SIGNATURES:
        if head.startswith(magic):
            return kind
    if b"\0" in head:
        return "binary"
    for cut in range(4):  # a multi-byte character may straddle the 8 KiB boundary
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return "binary"
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith(("<!doctype html", "<html")):
        return "html"
    if start.startswith(("{", "[")):
        return "json"
    return "text"


#: Suffix of a table file -> its format (the only suffixes tables are read and written with).
TABLE_SUFFIXES: Mapping[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: str | os.PathLike[str]) -> str | None:
    """Tell a table file's format from its suffix (case-insensitive).

    Parameters
    ----------
    path : str or os.PathLike
        A table file name (it need not exist).

    Returns
    -------
    str or None
        ``"csv"`` (``.csv``), ``"parquet"`` (``.parquet``, ``.pq``), or None for any other
        suffix (:data:`TABLE_SUFFIXES`).
    """
    return TABLE_SUFFIXES.get(Path(path).suffix.lower())


def _resolve_kind(path: Path, kind: str, option: str) -> str:
    if kind not in OUTPUT_KINDS:
        raise ArgumentError(f"kind = {kind!r}: expected one of {sorted(OUTPUT_KINDS)}")
    if kind != "table":
        return kind
    found = table_format(path)
    if found is None:
        raise OutputPathError(
            f"{option} {path}: cannot tell the table format from suffix "
            f"{path.suffix.lower()!r}; expected a name ending in .csv, .parquet or .pq"
        )
    return found


def _is_inside(child: Path, folder: Path) -> bool:
    try:
        child.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def check_output_path(
    path: str | os.PathLike[str],
    kind: str,
    inputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
    *,
    option: str = "--out",
    folder_files: tuple[str, ...] = (),
) -> Path:
    """Refuse a destination that cannot be written safely, before any work is done.

    Parameters
    ----------
    path : str or os.PathLike
        The destination (a file, or a folder for ``kind="folder"``).
    kind : str
        What will be written: one of :data:`OUTPUT_KINDS` (``"table"`` picks CSV or Parquet
        from the suffix).
    inputs : mapping of str to path, optional
        The files the command reads, by the option that named them (e.g.
        ``{"--data": "world.csv"}``); ``None`` values are skipped.
    option : str
        The option that named ``path``, for messages.
    folder_files : tuple of str
        For ``kind="folder"``: the names the command writes into the folder. An existing
        folder may hold only these (and ``manifest.json``), since it is replaced whole.

    Returns
    -------
    pathlib.Path
        ``path`` as a Path.

    Raises
    ------
    OutputPathError
        If ``path`` is one of the inputs (or, for a folder, holds one); is a symbolic link;
        is a folder where a file is expected or a file where a folder is expected; is a
        device, FIFO or socket; is read-only; holds a file of another kind (a CSV where a
        fit would be written, a fit where HTML would be written, ...); is a folder holding
        files the command did not write; or its parent folder is not a folder or not
        writable.
    """
    target = Path(path)
    kind = _resolve_kind(target, kind, option)
    where = f"{option} {os.fspath(path)}"
    _refuse_inputs(target, kind, inputs or {}, where, option)
    _refuse_link_or_unwritable_folder(target, where, option)
    if not os.path.lexists(target):
        return target
    if kind == "folder":
        _check_existing_folder(target, folder_files, where, option)
    else:
        _check_existing_file(target, kind, where, option)
    return target


def _refuse_inputs(
    target: Path,
    kind: str,
    inputs: Mapping[str, str | os.PathLike[str] | None],
    where: str,
    option: str,
) -> None:
    """Refuse a destination that is one of the inputs or, for a folder, holds one."""
    for name, given in inputs.items():
        if given is None or not os.path.exists(given):
            continue
        same = (
            os.path.lexists(target) and os.path.exists(target) and os.path.samefile(target, given)
        )
        if same or target.resolve() == Path(given).resolve():
            raise OutputPathError(
                f"{where} is the same file as the input {name} {os.fspath(given)}: writing "
                f"would destroy the input; expected a new path; choose another {option}"
            )
        if kind == "folder" and _is_inside(Path(given), target):
            raise OutputPathError(
                f"{where} holds the input {name} {os.fspath(given)}, and the folder is "
                f"replaced whole; expected an output folder without inputs in it; move the "
                f"input or choose another {option}"
            )


def _refuse_link_or_unwritable_folder(target: Path, where: str, option: str) -> None:
    """Refuse a symbolic link, and a path whose nearest existing folder is not writable."""
    if target.is_symlink():
        raise OutputPathError(
            f"{where} is a symbolic link (to {os.readlink(target)}): bayesspr does not write "
            f"through links; expected a plain path; give the link's target, or choose another "
            f"{option}"
        )
    parent = target.parent
    for above in (parent, *parent.parents):  # the nearest folder that exists
        if os.path.lexists(above):
            break
    if not above.is_dir():
        raise OutputPathError(
            f"{where}: {above} is not a folder, so nothing can be written under it; expected "
            f"a path in a folder; choose another {option}"
        )
    if not os.access(above, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"{where}: folder {above} is not writable; expected a folder you may write in; "
            f"change its permissions or choose another {option}"
        )


def _check_existing_folder(
    target: Path, folder_files: tuple[str, ...], where: str, option: str
) -> None:
    """Refuse an existing output folder that is not a folder or holds files not ours."""
    if not stat.S_ISDIR(target.lstat().st_mode):
        raise OutputPathError(
            f"{where} exists and is not a folder; expected a folder (new or an earlier "
            f"output of this command); choose another {option}"
        )
    allowed = {*folder_files, "manifest.json"}
    foreign = sorted(p.name for p in target.iterdir() if p.name not in allowed)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise OutputPathError(
            f"{where} holds files this command did not write ({shown}), and the folder "
            f"is replaced whole; expected a new folder or an earlier output of this "
            f"command; choose another {option}"
        )


def _special_file(mode: int) -> str:
    """Name what a non-regular, non-folder file is: a FIFO, a socket, a device, ..."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _check_existing_file(target: Path, kind: str, where: str, option: str) -> None:
    """Refuse an existing file that is a folder, special, read-only or of another kind."""
    mode = target.lstat().st_mode
    if stat.S_ISDIR(mode):
        raise OutputPathError(
            f"{where} is a folder; expected a file name ({OUTPUT_KINDS[kind]}); give a file "
            f"path such as {os.fspath(target / ('out' + sorted(_SUFFIXES[kind])[0]))}, or choose "
            f"another {option}"
        )
    if not stat.S_ISREG(mode):
        raise OutputPathError(
            f"{where} is {_special_file(mode)}, not a regular file; expected a regular file or "
            f"a new path; choose another {option}"
        )
    writable = mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if not writable or not os.access(target, os.W_OK):
        raise OutputPathError(
            f"{where} is read-only; it is not replaced; expected a writable file or a new "
            f"path; make it writable (chmod u+w) if it may be overwritten, or choose another "
            f"{option}"
        )
    found = file_kind(target)
    suffix = target.suffix.lower()
    named = next((k for k, s in _SUFFIXES.items() if suffix in s), None)
    if found not in _ACCEPTS[kind] or named not in (None, kind):
        shown = _FOUND[found] if found != "empty" else f"a file named {suffix!r}"
        raise OutputPathError(
            f"{where} exists and is {shown}; this command writes {OUTPUT_KINDS[kind]} and "
            f"would replace it; expected a new path or a file of the same kind; choose "
            f"another {option} (or delete the file first if it may go)"
        )


# --- reading --------------------------------------------------------------------------------


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 of a file's bytes as hex.

    Parameters
    ----------
    path : str or os.PathLike
        A readable file.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def saved_fit_kind(path: str | os.PathLike[str]) -> str:
    """Tell which model saved a fit, from the file's attributes, without loading it.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``SPRModel.save`` or ``VolumeModel.save``.

    Returns
    -------
    str
        ``"spr"`` (attribute ``bayesspr_save_format``) or ``"volume"``
        (``bayesspr_volume_model_save_format``, or ``bayesspr_volume_save_format`` of a zip-day
        fit).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    SavedFitError
        If the file is not netCDF/HDF5, or has neither attribute.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no saved fit at {path}: expected a file written by SPRModel.save or VolumeModel.save"
        )
    expected = "expected a saved fit (SPRModel.save or VolumeModel.save)"
    found = file_kind(path)
    if found != "hdf5":
        raise SavedFitError(
            f"{path} is not a netCDF file written by SPRModel.save or VolumeModel.save: it is "
            f"{_FOUND[found]}; {expected}"
        )
    try:
        with h5py.File(path, "r") as fh:
            attrs = set(fh.attrs)
    except OSError as exc:
        raise SavedFitError(f"{path} could not be read as netCDF ({exc}); {expected}") from None
    if "bayesspr_save_format" in attrs:
        return "spr"
    if attrs & {"bayesspr_volume_model_save_format", "bayesspr_volume_save_format"}:
        return "volume"  # a zip-day fit (the older attribute) is named by VolumeModel.load
    raise SavedFitError(
        f"{path} is a netCDF file but not a bayesspr fit (no "
        f"bayesspr_save_format or bayesspr_volume_model_save_format attribute); "
        f"{expected}"
    )


def read_saved_tree(path: str | os.PathLike[str], what: str) -> xr.DataTree:
    """Read a saved fit (netCDF) fully into memory and close the file.

    Parameters
    ----------
    path : str or os.PathLike
        The file written by a model's ``save``.
    what : str
        What the file should hold, for messages (e.g. ``"SPRModel"``).

    Returns
    -------
    xarray.DataTree
        The loaded tree.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    SavedFitError
        If the file is not netCDF/HDF5 (for instance a CSV given where a fit was expected).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved {what} at {path}")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            return tree.load()
    except OSError as exc:  # h5py: "file signature not found" and the like
        raise SavedFitError(
            f"{path} is not a netCDF file written by {what}.save: expected a saved fit ({exc})"
        ) from None
