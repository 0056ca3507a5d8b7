"""The one output writer: every file ganforge writes goes through ``atomic_file`` (or a helper built on it).

Rules it enforces, for every command and every data kind (tested in tests/test_outputs.py):
- a file is written under a unique temporary name in its target folder (``tempfile.mkstemp``), fsynced, then
  ``os.replace``d onto the target: a crash, a full disk or two writers at once leave the old file or the new one,
  never half of one, and no ``*.partial`` file behind;
- a symbolic link at the target is replaced by the new file, never written through (``os.replace`` renames over
  the link itself), and ganforge never creates a file inside a folder that is a link it created or was told is its own
  (``ensure_folder(..., own=True)``);
- ganforge never replaces a file it did not write: each folder it writes into keeps a small manifest
  (``.ganforge-outputs.json``: name -> sha256 of what ganforge wrote). An existing target that is not in the manifest
  with the same bytes is someone else's and is refused, naming it (``OutputFolder.claim``).

Who uses what: the run directory's files (checkpoints, config.yaml, metrics.jsonl rewrites, plots, grids, GIFs,
eval records) are ``atomic_file`` writes of ganforge's own names in its own folders (``Run`` refuses a run directory
with links where it writes: ``training.rundir.run_links``); a single file the user names with ``--out`` is
``write_owned`` (checked up front with ``check_owned``); a folder of outputs (``sample --format png-dir``,
``style-grid --out-dir``, ``bench modes --out-dir``) is an ``OutputFolder`` claimed before any slow work. Writers that
are handed one of this module's temporaries (``save_image`` inside a grid writer) write it directly.

This module imports only the standard library, so any layer may use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

MANIFEST = ".ganforge-outputs.json"
_PROBE_PREFIX = ".ganforge-probe-"
_LIVE: set[Path] = set()  # temporaries of the atomic_file blocks now open (so nested writers do not nest renames)


class OutputError(RuntimeError):
    """An output that cannot or must not be written; the message names the file and the fix (one line).

    ``reason``: the operating system's words for a failed write ("No space left on device"), when that was the cause,
    so a caller that words its own message (checkpoints: "the previous latest.pt is intact") can quote them."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest parent that exists (where a file or folder under ``path`` would be created)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def write_probe(folder: Path) -> None:
    """Create and delete a file in ``folder``; ``OSError`` when it cannot be written. ``os.access`` says yes to root
    even on a read-only mount, so only a real write tells."""
    fd, probe = tempfile.mkstemp(dir=folder, prefix=_PROBE_PREFIX)
    os.close(fd)
    os.remove(probe)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def ensure_folder(folder: Path, flag: str = "--out", own: bool = False) -> Path:
    """Create ``folder`` (and its parents) if missing; one-line ``OutputError`` if it is a file or cannot be made.

    ``own``: the folder is one ganforge names itself (a run directory's ``samples/``, ``plots/``, ...): a symbolic
    link there is refused rather than followed, so ``runs/X/samples -> ~/photos`` never receives (or loses) a file.
    """
    folder = Path(folder)
    if own and folder.is_symlink():
        raise OutputError(f"{str(folder)!r} is a symbolic link; ganforge does not write through links in its own "
                          f"folders: remove the link or choose another {flag}")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{flag} {str(folder)!r}: a file is in the way of the folder; remove it or choose another "
                          f"{flag}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {str(folder)!r} ({_why(exc)}); choose another {flag}") from None
    return folder


@contextlib.contextmanager
def atomic_file(path: Path, flag: str = "--out", *, own_folder: bool = False) -> Iterator[Path]:
    """A unique temporary path in ``path``'s folder (same suffix, so format-by-suffix writers work) to write to;
    fsynced and renamed onto ``path`` when the block succeeds.

    On any failure, or Ctrl-C, the temporary file is removed and an existing ``path`` is left as it was; an
    ``OSError`` (disk full, read-only, permission denied) becomes a one-line ``OutputError`` naming ``flag``.
    A symbolic link at ``path`` is replaced, not written through. ``own_folder``: see ``ensure_folder``.
    """
    path = Path(path)
    if path in _LIVE:  # already the temporary of an outer atomic_file (a writer called on it): write it directly,
        yield path  # the outer block publishes it, and its errors name the real target
        return
    if path.is_dir() and not path.is_symlink():
        raise OutputError(f"{flag} {str(path)!r} is a folder; pass a file name inside it instead")
    ensure_folder(path.parent, flag, own=own_folder)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:40]}.", suffix=f".partial{path.suffix}")
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r} ({_why(exc)}); make the folder writable or choose another "
                          f"{flag}", _why(exc)) from None
    os.close(fd)
    tmp = Path(name)
    _LIVE.add(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # make the bytes durable before the rename publishes them
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r} ({_why(exc)}); free some disk space, make the folder writable "
                          f"or choose another {flag}", _why(exc)) from None
    finally:
        _LIVE.discard(tmp)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes, flag: str = "--out", *, own_folder: bool = False) -> Path:
    with atomic_file(path, flag, own_folder=own_folder) as tmp:
        tmp.write_bytes(data)
    return path


def write_text(path: Path, text: str, flag: str = "--out", *, own_folder: bool = False) -> Path:
    return write_bytes(path, text.encode("utf-8"), flag, own_folder=own_folder)


def save_figure(fig: object, path: Path, flag: str = "--out", *, own_folder: bool = False, **savefig: object) -> Path:
    """``fig.savefig`` (matplotlib) through ``atomic_file``; the format comes from ``path``'s suffix, which the
    temporary keeps."""
    path = Path(path)
    with atomic_file(path, flag, own_folder=own_folder) as tmp:
        fig.savefig(tmp, **savefig)  # type: ignore[attr-defined]  (the suffix, kept by the temporary, picks the format)
    return path


class OutputFolder:
    """A folder ganforge writes several outputs into (``translate --out``, ``detect --out``, ``sample --format
    png-dir``, ``style-grid --out`` ...), with the manifest that says which of its files ganforge wrote.

    ``claim(names)`` refuses, before any work, a folder holding files ganforge did not write (all of them, or only
    ``names`` with ``only_names``), naming them; ``write(name)`` is ``atomic_file`` + a manifest entry;
    ``remove_stale(keep)`` deletes ganforge's own earlier outputs that this run did not rewrite.
    """

    def __init__(self, folder: Path, flag: str = "--out", own: bool = False) -> None:
        self.folder, self.flag, self.own = Path(folder), flag, own
        self._entries: dict[str, str] | None = None

    # -- the manifest -------------------------------------------------------------------------------------------
    def entries(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = read_manifest(self.folder)
        return self._entries

    def is_own(self, name: str) -> bool:
        """``name`` was written by ganforge and is unchanged since (same sha256 as recorded)."""
        p = self.folder / name
        digest = self.entries().get(name)
        if digest is None or p.is_symlink() or not p.is_file():
            return False
        try:
            return sha256_file(p) == digest
        except OSError:
            return False

    def foreign(self, names: Iterable[str] | None = None) -> list[str]:
        """Files in the folder that ganforge did not write (among ``names`` when given), sorted."""
        if not self.folder.is_dir():
            return []
        present = sorted(p.name for p in self.folder.iterdir() if p.name != MANIFEST
                         and not (p.name.startswith(_PROBE_PREFIX)))
        if names is not None:
            wanted = set(names)
            present = [n for n in present if n in wanted]
        return [n for n in present if not self.is_own(n)]

    def claim(self, names: Iterable[str] | None = None, only_names: bool = False) -> OutputFolder:
        """Check, before any slow work, that the folder can be written and holds no file ganforge did not write
        (with ``only_names``: none among ``names``). One-line ``OutputError`` naming the first few otherwise."""
        if self.folder.is_symlink() and self.own:
            raise OutputError(f"{str(self.folder)!r} is a symbolic link; ganforge does not write through links in "
                              f"its own folders: remove the link or choose another {self.flag}")
        if self.folder.exists() and not self.folder.is_dir():
            raise OutputError(f"{self.flag} {str(self.folder)!r} is a file, not a folder; pass a folder")
        bad = self.foreign(names if only_names else None)
        if bad:
            shown = ", ".join(repr(n) for n in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise OutputError(f"{self.flag} {str(self.folder)!r} holds files ganforge did not write ({shown}); "
                              f"choose an empty or new {self.flag} folder (ganforge never replaces a file it did not "
                              "write)")
        return self

    @contextlib.contextmanager
    def write(self, name: str, save: bool = True) -> Iterator[Path]:
        """``atomic_file(folder / name)``; records the new file's sha256 in the manifest once it is in place
        (``save=False``: in memory only, until ``save()``: thousands of files need not rewrite it each time)."""
        target = self.folder / name
        if name == MANIFEST:
            raise OutputError(f"{str(target)!r} is the name of ganforge's record of its outputs; choose another "
                              f"{self.flag}")
        if target.exists() and not target.is_symlink() and not self.is_own(name):
            raise OutputError(f"{str(target)!r} exists and was not written by ganforge; remove it or choose another "
                              f"{self.flag}")
        with atomic_file(target, self.flag, own_folder=self.own) as tmp:
            yield tmp
            digest = sha256_file(tmp)
        self.entries()[name] = digest
        if save:
            self._save()

    def save(self) -> None:
        """Write the manifest (after ``write(..., save=False)``)."""
        self._save()

    def record(self, name: str) -> None:
        """Add an existing file that ganforge just wrote by other means to the manifest."""
        self.entries()[name] = sha256_file(self.folder / name)
        self._save()

    def remove_stale(self, keep: Iterable[str]) -> list[str]:
        """Delete ganforge's own unchanged outputs not in ``keep`` (an earlier, larger run's leftovers)."""
        keep = set(keep)
        gone = []
        for name in list(self.entries()):
            if name not in keep and self.is_own(name):
                with contextlib.suppress(OSError):
                    (self.folder / name).unlink()
                    gone.append(name)
            if name not in keep:
                self.entries().pop(name, None)
        self._save()
        return gone

    def _save(self) -> None:
        # re-read and merge: another ganforge process may have added entries meanwhile
        merged = {**read_manifest(self.folder), **self.entries()}
        merged = {k: v for k, v in merged.items() if (self.folder / k).is_file()}
        self._entries = merged
        write_bytes(self.folder / MANIFEST, (json.dumps(merged, indent=0, sort_keys=True) + "\n").encode(), self.flag)


def read_manifest(folder: Path) -> dict[str, str]:
    """The manifest of ``folder`` (name -> sha256), empty when there is none or it is not ganforge's."""
    path = Path(folder) / MANIFEST
    try:
        if path.is_symlink() or not path.is_file():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str) and "/" not in str(k)}


def write_owned(path: Path, flag: str = "--out", own: bool = False) -> contextlib.AbstractContextManager[Path]:
    """A single output file the user named: written atomically, refused when an existing ``path`` is a file
    ganforge did not write (recorded in the manifest of its folder). ``own``: the folder is one ganforge names
    itself (``RUN/samples``): a link there is refused, not followed."""
    path = Path(path)
    return OutputFolder(path.parent, flag, own=own).write(path.name)


def check_owned(path: Path, flag: str = "--out", own: bool = False) -> Path:
    """The checks ``write_owned(path)`` makes, done before any slow work: one-line ``OutputError`` when ``path`` is a
    folder, an existing file ganforge did not write, or (``own``) in a folder that is a link. Creates nothing."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise OutputError(f"{flag} {str(path)!r} is a folder; pass a file name inside it instead")
    if path.name == MANIFEST:
        raise OutputError(f"{flag} {str(path)!r} is the name of ganforge's record of its outputs; choose another "
                          f"{flag}")
    folder = OutputFolder(path.parent, flag, own=own)
    if own and path.parent.is_symlink():
        raise OutputError(f"{str(path.parent)!r} is a symbolic link; ganforge does not write through links in its "
                          f"own folders: remove the link or choose another {flag}")
    if path.exists() and not path.is_symlink() and not folder.is_own(path.name):
        raise OutputError(f"{flag} {str(path)!r} exists and was not written by ganforge; ganforge never replaces a "
                          f"file it did not write: remove or rename it, or choose another {flag}")
    return path
