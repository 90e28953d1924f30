"""Strict JSON reading and deterministic, readable JSON writing.

Reading rejects NaN/Infinity and duplicate keys (both silently accepted by ``json`` by default).
Writing is byte-stable: the same document always gives the same bytes, short containers stay on
one line (a request is one line) and long ones are broken with a one-space indent.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from optkit.errors import InvalidFileError, OptkitError

_INLINE_WIDTH = 120


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


#: ``json``'s messages that only read whole followed by the position, or that give Python advice.
_DECODE_MESSAGES = {
    "Unterminated string starting at": "a string starts here and is never closed",
    "Invalid control character at": "a control character inside a string",
    "Unexpected UTF-8 BOM (decode using utf-8-sig)": "the file starts with a byte-order mark; "
    "save it as UTF-8 without one",
}


def parse_json(text: str, source: str) -> Any:
    """Parse ``text``; raise :class:`InvalidFileError` naming ``source`` and the position."""
    if not text.strip():
        raise InvalidFileError([f"{source}: empty file (a JSON document is expected)"])
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        message = _DECODE_MESSAGES.get(exc.msg, exc.msg.removesuffix(" at"))
        raise InvalidFileError(
            [f"{source}: line {exc.lineno} column {exc.colno}: invalid JSON ({message})"]
        ) from None
    except ValueError as exc:
        raise InvalidFileError([f"{source}: invalid JSON ({exc})"]) from None


def read_text(path: str | os.PathLike[str], kind: str) -> str:
    """The UTF-8 text of a file, or one :class:`OptkitError` line naming the file and why it
    cannot be read as a ``kind`` (e.g. "JSON file", "results file"): missing, a folder, no
    permission, not UTF-8."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OptkitError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise OptkitError(f"{p}: is a folder, not a {kind}") from None
    except UnicodeDecodeError as exc:
        raise OptkitError(
            f"{p}: not a {kind} (not UTF-8 text: byte {exc.start}, {exc.reason})"
        ) from None
    except OSError as exc:
        raise OptkitError(f"{p}: cannot read ({exc.strerror})") from None


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file strictly. A file that cannot be read as text at all (missing, a folder,
    no permission, not UTF-8) raises :class:`OptkitError`; text that is not valid JSON raises
    :class:`InvalidFileError` (the file is there but broken)."""
    return parse_json(read_text(path, "JSON file"), str(path))


def dumps(document: Any) -> str:
    """Deterministic, readable JSON text with a trailing newline."""
    return _render(document, 0) + "\n"


def _render(value: Any, depth: int) -> str:
    flat = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    if not isinstance(value, dict | list) or len(flat) + depth <= _INLINE_WIDTH or not value:
        return flat
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {_render(v, depth + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    items = [pad + _render(v, depth + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"


def _umask() -> int:
    """The process's umask (it can only be read by setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(
    path: str | os.PathLike[str], *, binary: bool = False, fsync: bool = False
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; when the block ends without an
    error it replaces ``path`` in one rename (a reader, or a crash, sees the old file or the
    new one, never half of one), otherwise it is removed. ``fsync``: flush it to the disk
    before the rename (checkpoints). The file gets the mode any new file gets, 0666 less the
    umask (``mkstemp`` alone would leave it 0600). Every atomic write in optkit goes here."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        fh: IO[Any] = (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        )
        with fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path) as fh:
        fh.write(text)


def write_json(path: str | os.PathLike[str], document: Any) -> None:
    """Write ``document`` as deterministic JSON, atomically."""
    write_text_atomic(path, dumps(document))
