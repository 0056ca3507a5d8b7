"""The up-front checks that refuse an input or an output before any slow work: a path that cannot be read (missing,
a folder, a pipe), a file that cannot be written or that ganforge did not write, a wrong suffix, no room on disk or in
RAM. Each raises one line that names the problem and the fix (``ConfigError``, or ``FileNotFoundError`` for a missing
input), which the CLI prints as ``ganforge: error: ...`` with exit code 2.

It sits at the bottom of the layers (it imports only ``options`` and ``outputs``), so data loading (``data/``), the
per-kind sample exporters (``kinds/``) and the commands all use these same checks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from ganforge.options import ConfigError
from ganforge.outputs import atomic_file, check_owned, existing_ancestor, write_owned, write_probe


def human_bytes(n: float) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units, as disks are sold)."""
    units = ("bytes", "KB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n, i = n / 1000, i + 1
    return f"{n:.0f} bytes" if i == 0 else f"{n:.1f} {units[i]}"


# ---- inputs -------------------------------------------------------------------------------------------------------


def require_input(path: str | Path, what: str, option: str, folder: bool = False) -> Path:
    """``Path(path)`` if it is an existing, readable regular file (or, when ``folder``, a folder), else a one-line
    error naming ``what`` and the ``option`` to fix. A pipe, socket or device is refused (reading a FIFO blocks
    forever); a missing path is a ``FileNotFoundError``, everything else a ``ConfigError``."""
    if not str(path):
        raise ConfigError(f"no {what} given; set {option} to its path")
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} '{p}' not found; check {option}") from None
    except OSError as exc:  # a link loop, a name too long, a folder we may not enter
        raise ConfigError(f"cannot read {what} '{p}' ({exc.strerror or exc}); check {option}") from None
    if stat.S_ISDIR(st.st_mode) and not folder:
        raise ConfigError(f"{what} '{p}' is a folder, not a file; point {option} at the file")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise ConfigError(f"{what} '{p}' is not a regular file (a pipe, socket or device); point {option} at a "
                          + ("file or folder" if folder else "file"))
    if not os.access(p, os.R_OK) and os.geteuid() != 0:
        raise ConfigError(f"cannot read {what} '{p}' (permission denied); check its permissions")
    return p


# ---- outputs ------------------------------------------------------------------------------------------------------


def check_writable(path: Path, flag: str, folder: bool = False) -> None:
    """One-line error unless ``path`` (a file, or a folder when ``folder``) can be created or replaced.

    Writability is tested by creating and deleting a probe file in the nearest existing folder, because
    ``os.access`` says yes to root even on a read-only mount. Nothing is created when the check passes.
    """
    if not folder and path.is_dir():
        raise ConfigError(f"{flag} {str(path)!r} is a folder; pass a file name inside it instead")
    if folder and path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {str(path)!r} is a file, not a folder; pass a folder")
    where = existing_ancestor((path if folder else path.parent).absolute())
    if not where.is_dir():
        raise ConfigError(f"cannot write {flag} {str(path)!r}: {str(where)!r} is a file, not a folder")
    try:
        write_probe(where)
    except OSError as exc:
        raise ConfigError(f"cannot write {flag} {str(path)!r}: {str(where)!r} is not writable "
                          f"({exc.strerror or exc}); choose another {flag}") from None


def check_out_file(out: Path, user_named: bool, flag: str = "--out") -> None:
    """Before any slow work: ``out`` can be written, and is not a file ganforge did not write. A ``user_named`` file
    follows ``outputs.write_owned`` (an existing file must be one ganforge wrote, per its folder's manifest); a
    default output is one of ganforge's own names in a folder of the run (``RUN/samples``, ``RUN/eval``), which must
    not be a link."""
    if user_named:
        check_owned(out, flag)
    elif out.parent.is_symlink():
        raise ConfigError(f"{str(out.parent)!r} is a symbolic link; ganforge does not write through links in its own "
                          f"folders: remove the link or pass {flag}")
    check_writable(out, flag)


def out_file(out: Path, user_named: bool, flag: str = "--out") -> contextlib.AbstractContextManager[Path]:
    """The temporary to write ``out`` through (``check_out_file``'s rules): ``write_owned`` for a file the user
    named, ``atomic_file`` in ganforge's own folder for a default output."""
    return write_owned(out, flag) if user_named else atomic_file(out, flag, own_folder=True)


def check_suffix(out: Path, allowed: tuple[str, ...], what: str, flag: str = "--out") -> None:
    """One-line error, before any work, when ``out``'s suffix is not one ``what`` is written as (``.csv``, ...)."""
    if out.suffix.lower() not in allowed:
        names = allowed[0] if len(allowed) == 1 else f"{', '.join(allowed[:-1])} or {allowed[-1]}"
        raise ConfigError(f"{flag} {str(out)!r}: {what} written as {names} files, not "
                          f"{out.suffix or '(no suffix)'!r}; change the suffix")


# ---- room: disk and memory ----------------------------------------------------------------------------------------


def check_disk(path: Path, nbytes: float, what: str, flag: str) -> None:
    """One-line error when ``nbytes`` would not fit on the disk that holds ``path``."""
    where = existing_ancestor(path.parent.absolute())
    free = shutil.disk_usage(where).free
    if nbytes > free:
        raise ConfigError(f"{what} would need about {human_bytes(nbytes)} on disk, but only {human_bytes(free)} is "
                          f"free at {str(where)!r}; lower {flag} or choose another --out")


def available_memory() -> int | None:
    """Bytes of RAM available to new allocations (Linux ``MemAvailable``, else free pages), None when unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(nbytes: float, what: str, fix: str) -> None:
    """One-line error when ``nbytes`` of RAM are not available: refuse up front rather than swap for an hour or be
    killed by the OOM killer half-way."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise ConfigError(f"{what} would need about {human_bytes(nbytes)} of memory, but only {human_bytes(free)} "
                          f"is available; {fix}")
