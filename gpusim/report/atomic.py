"""Write a result folder safely: fill a temporary sibling folder, then swap it into place.

Rules (the same for `gpusim run --out`, `RunResult.save`, experiments and sweep run folders):

- The destination is either absent (a new folder is created) or an earlier gpusim result folder
  (recognised by a `summary.json` or `error.json` that names a `gpusim_version`), or an empty
  folder. Anything else (a user's file or folder, a device, a symbolic link) is refused with an
  `InputError` and left untouched. `check_destination` runs these checks before a simulation
  starts, so a bad `--out` costs nothing.
- An interrupted save leaves no half-written result: the new folder is written under the hidden
  name ``.<name>.gpusim-<pid>-<random>.tmp`` and renamed into place once complete (an atomic
  exchange where the kernel has one, so the destination never disappears). Temporary folders of
  saves whose process has died are removed by the next save to the same parent folder.
- Two saves to one destination at the same time: the first to finish wins; the other finds that
  the destination changed since it started and fails with an `InputError` (nothing replaced).
- Read-only folders, full disks and other OS errors become an `InputError` naming the path.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gpusim.errors import InputError

MARKERS = ("summary.json", "error.json")
"""Files whose presence (with a `gpusim_version` inside) marks a folder gpusim wrote."""

_TMP_RE = re.compile(r"^\.(?P<name>.+)\.gpusim-(?P<pid>\d+)-[0-9a-f]+\.(?:tmp|old)$")


def describe_path(p: Path, st: os.stat_result) -> str:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return "an existing file"
    if stat.S_ISDIR(mode):
        return "an existing folder that is not a gpusim result (no summary.json from gpusim)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a folder"


def is_gpusim_folder(p: Path) -> bool:
    """True if `p` is a real folder (not a link) holding a gpusim summary.json or error.json."""
    try:
        if not stat.S_ISDIR(os.lstat(p).st_mode):
            return False
    except OSError:
        return False
    for marker in MARKERS:
        f = p / marker
        try:
            st = os.lstat(f)
            if not stat.S_ISREG(st.st_mode) or st.st_size > 64 * 2**20:
                continue
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "gpusim_version" in doc:
            return True
    return False


def _is_empty_dir(p: Path) -> bool:
    try:
        with os.scandir(p) as it:
            return next(it, None) is None
    except OSError:
        return False


def _state(p: Path) -> tuple | None:
    """What is at `p` now (None if nothing), to notice another save replacing it meanwhile."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def os_error(e: OSError, path: Path, doing: str) -> InputError:
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "read-only file system",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.ENAMETOOLONG: "file name too long",
        errno.ENOTDIR: "a part of the path is not a folder",
        errno.EBUSY: "the path is in use (a mount point?)",
    }
    why = reasons.get(e.errno, e.strerror or str(e))
    where = e.filename if e.filename else path
    return InputError(f"cannot {doing} {path}: {why} ({where})")


def check_destination(final: str | Path, *, flag: str = "--out") -> Path:
    """Refuse a destination gpusim must not replace; make sure its parent folder is writable.

    Call it before a long computation: it creates the parent folders, and proves the parent is
    writable by creating and removing a temporary folder there. Returns the path.
    """
    final = Path(final)
    if final.name in ("", ".", ".."):
        raise InputError(f"{flag} {final}: give a folder name, not {str(final)!r}")
    if len(os.fsencode(final.name)) > 200:
        raise InputError(
            f"{flag} {str(final)[:80]}...: the folder name is {len(os.fsencode(final.name))} bytes; at most 200 "
            "are allowed (file systems stop at 255 and gpusim adds a temporary suffix)"
        )
    try:
        st = os.lstat(final)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise os_error(e, final, "write to") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise InputError(
                f"{flag} {final}: is a symbolic link; gpusim writes only to a new folder or an earlier gpusim "
                "result folder, and left it untouched"
            )
        if not (stat.S_ISDIR(st.st_mode) and (is_gpusim_folder(final) or _is_empty_dir(final))):
            raise InputError(
                f"{flag} {final}: is {describe_path(final, st)}; gpusim writes only to a new folder or replaces an "
                "earlier gpusim result folder, and left it untouched. Give another path."
            )
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".{final.name[:100]}.gpusim-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        probe.mkdir()
        probe.rmdir()
    except FileExistsError as e:
        raise InputError(f"{flag} {final}: {e.filename or parent} exists and is not a folder") from None
    except OSError as e:
        raise os_error(e, final, "write to") from None
    return final


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale(parent: Path) -> list[Path]:
    """Remove temporary folders under `parent` left by gpusim saves whose process is gone."""
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP_RE.match(entry.name)
        if not m or _pid_alive(int(m.group("pid"))):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


_RENAME_EXCHANGE = 2
_renameat2 = None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    global _renameat2
    if _renameat2 is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fn = libc.renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _renameat2 = fn
        except (OSError, AttributeError):
            _renameat2 = False
    if not _renameat2:
        return False
    at_fdcwd = -100
    if _renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False  # the file system cannot exchange: fall back to two renames
    raise OSError(err, os.strerror(err), str(b))


@contextmanager
def _parent_lock(parent: Path) -> Iterator[None]:
    """Serialise the final swap of saves into one folder (flock on the folder itself)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def atomic_dir(final: str | Path, *, flag: str = "--out") -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes `final`.

    `final` must be absent, empty, or an earlier gpusim result folder (see the module docstring);
    the temporary folder is removed on any failure, and OS errors become an `InputError`.
    """
    final = check_destination(final, flag=flag)
    parent = final.parent
    remove_stale(parent)
    before = _state(final)
    tag = f"gpusim-{os.getpid()}-{secrets.token_hex(4)}"
    tmp = parent / f".{final.name}.{tag}.tmp"
    try:
        tmp.mkdir()
        tmp.chmod(0o755)
    except OSError as e:
        raise os_error(e, final, "write to") from None
    try:
        try:
            yield tmp
        except OSError as e:
            raise os_error(e, final, "write") from None
        try:
            with _parent_lock(parent):
                now = _state(final)
                if now != before:
                    raise InputError(
                        f"{flag} {final}: another gpusim run wrote this folder while this one was saving; "
                        "its result was kept and this one was not saved. Give each run its own --out."
                    )
                if now is None:
                    os.rename(tmp, final)
                elif _exchange(tmp, final):
                    shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the earlier result
                else:
                    old = parent / f".{final.name}.{tag}.old"
                    os.rename(final, old)
                    os.rename(tmp, final)
                    shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            raise os_error(e, final, "write") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_file_atomic(path: str | Path, data: bytes, *, flag: str = "--out", may_replace=None) -> Path:
    """Write one output file via a temporary sibling and a rename.

    An existing `path` is replaced only if it is a regular file and `may_replace(path)` says it is
    an earlier output of the same kind (default: never); otherwise `InputError`, file untouched.
    """
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise os_error(e, path, "write") from None
    if st is not None and not (stat.S_ISREG(st.st_mode) and may_replace is not None and may_replace(path)):
        raise InputError(
            f"{flag} {path}: is {describe_path(path, st) if not stat.S_ISLNK(st.st_mode) else 'a symbolic link'}; "
            "gpusim replaces only a file it wrote earlier, and left it untouched. Give another path."
        )
    tmp = path.with_name(f".{path.name}.gpusim-{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise os_error(e, path, "write") from None
    return path
