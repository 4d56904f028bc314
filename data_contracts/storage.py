"""How remot puts files and folders on disk so that crashes, concurrent writers and other users
cannot leave a wrong or unreadable result.

* Every temporary name is unique to its writer (``~<host>~<pid>~<random>``), so two writers never
  share or delete each other's temporary files.
* A folder is assembled under a temporary name and renamed into place (:func:`publish_dir`). A
  folder already in place is never deleted: it is reused when it verifies, and moved aside (to a
  unique ``.trash~`` name, then removed) when it does not.
* Files and folders are created with the user's umask (never ``mkstemp``'s 0600), so a colleague
  in the same group can read a release.
* Leftovers of a killed writer are removed on the next run (:func:`clean_leftovers`): a temporary
  name whose process is gone on this host, or older than a day when written on another host.
* An unwritable root or a full disk is one line naming the path and the fix (:class:`StorageError`).
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Callable

#: errno values that mean "this path cannot be written": told in one line, not a traceback.
_WRITE_ERRORS = {errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
                 errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on device",
                 errno.EDQUOT: "disk quota exceeded"}
_FIXES = {errno.ENOSPC: "free some space (old stage outputs under stages/ can go) or point REMOT_DATA_ROOT elsewhere",
          errno.EDQUOT: "free some space or point REMOT_DATA_ROOT elsewhere"}
_DEFAULT_FIX = "make it writable by this user or point REMOT_DATA_ROOT at a writable folder"
STALE_FOREIGN_S = 24 * 3600.0


def _host_tag() -> str:
    """The hostname plus a digest of this boot and pid namespace: two containers that share a
    hostname but not their process table (or a host after a reboot) do not judge each other's
    pids; their leftovers are cleaned by age instead."""
    import hashlib

    ident = ""
    for f in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            ident += os.readlink(f) if f.endswith("/pid") else Path(f).read_text().strip()
        except OSError:
            pass
    host = socket.gethostname().replace("~", "-")
    return f"{host}.{hashlib.sha256(ident.encode()).hexdigest()[:8]}" if ident else host


_HOST = _host_tag()


class StorageError(OSError):
    """A path cannot be written (permissions, read-only, full disk). The message is one line."""

    def __str__(self) -> str:  # the message alone, without "[Errno n]"
        return self.strerror or super().__str__()


def storage_error(exc: OSError, path: Path | str) -> StorageError | OSError:
    """``exc`` as a one-line :class:`StorageError` naming ``path`` when it is a write failure."""
    if isinstance(exc, StorageError) or exc.errno not in _WRITE_ERRORS:
        return exc
    return StorageError(exc.errno, f"{path}: cannot write ({_WRITE_ERRORS[exc.errno]}); "
                                   f"{_FIXES.get(exc.errno, _DEFAULT_FIX)}")


def unique_tag() -> str:
    """``<host>~<pid>~<8 hex>``: unique to this writer, and tells who wrote a leftover."""
    return f"{_HOST}~{os.getpid()}~{uuid.uuid4().hex[:8]}"


def tmp_sibling(final: Path, kind: str = "tmp") -> Path:
    """A unique temporary name next to ``final``: ``.<kind>~<host>~<pid>~<rand>~<name>``."""
    final = Path(final)
    return final.with_name(f".{kind}~{unique_tag()}~{final.name}")


def makedirs(path: Path) -> Path:
    """``mkdir -p`` with the user's umask; a write failure is a one-line :class:`StorageError`."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, path) from None
    return Path(path)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Create ``path`` atomically: ``write(tmp)`` fills a unique temporary file in the same folder,
    which is then renamed over ``path``. Readers see the old file or the new, never a part; a
    write failure is a one-line :class:`StorageError` and leaves no temporary file."""
    path = Path(path)
    makedirs(path.parent)
    tmp = tmp_sibling(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(exc, path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """:func:`write_atomic` of ``data``, fsynced, the file created with the user's umask."""

    def write(tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    write_atomic(path, write)


def replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` (relative) atomically: a new link under a unique name, renamed."""
    link = Path(link)
    tmp = tmp_sibling(link)
    try:
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(exc, link) from None


class _Lock:
    """An exclusive ``flock`` on ``<folder>/.<name>.lock`` (created with the umask, opened read-only
    so that another user's lock file still locks)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> "_Lock":
        import fcntl

        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o666)
        except OSError as exc:
            raise storage_error(exc, self.path) from None
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)  # releases the lock


def lock_for(final: Path) -> _Lock:
    """The lock every writer of ``final`` holds while it checks and replaces it."""
    final = Path(final)
    return _Lock(final.with_name(f".{final.name}.lock"))


def publish_dir(tmp: Path, final: Path, problems: Callable[[Path], list[str]]) -> bool:
    """Rename the complete folder ``tmp`` to ``final``. Returns True when ``tmp`` was published,
    False when a sound ``final`` (``problems(final) == []``) was already there (``tmp`` is removed).

    ``final`` is only ever produced by a rename of a complete folder. Writers of the same ``final``
    take turns (:func:`lock_for`), so none can judge a folder that another is replacing: a sound
    ``final`` is kept; an unsound one (a corrupted file, a missing manifest) is moved aside under a
    unique name, then removed, and ``tmp`` takes its place. Readers never need the lock.
    """
    tmp, final = Path(tmp), Path(final)
    with lock_for(final):
        try:
            os.rename(tmp, final)
            return True
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
                raise storage_error(exc, final) from None
        if not problems(final):
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        aside = tmp_sibling(final, "trash")
        try:
            os.rename(final, aside)
            os.rename(tmp, final)
        except OSError as exc:
            raise storage_error(exc, final) from None
        shutil.rmtree(aside, ignore_errors=True)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_leftover(path: Path, now: float | None = None) -> bool:
    """True for a temporary or trash name whose writer is gone (see the module docstring)."""
    parts = Path(path).name.split("~")
    if len(parts) < 5 or parts[0] not in (".tmp", ".trash") or not parts[2].isdigit():
        return False
    host, pid = parts[1], int(parts[2])
    if host == _HOST:
        return not _alive(pid)
    try:
        age = (now or time.time()) - Path(path).lstat().st_mtime
    except FileNotFoundError:
        return False
    return age > STALE_FOREIGN_S


def clean_leftovers(folder: Path) -> list[Path]:
    """Remove the leftovers (:func:`is_leftover`) directly inside ``folder``; returns them."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return removed
    for p in entries:
        if is_leftover(p):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def check_writable(root: Path) -> None:
    """Fail in one line, naming ``root``, when it cannot be created or written."""
    root = Path(root)
    makedirs(root)
    probe = tmp_sibling(root / "probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(fd)
    except OSError as exc:
        raise storage_error(exc, root) from None
    finally:
        probe.unlink(missing_ok=True)
