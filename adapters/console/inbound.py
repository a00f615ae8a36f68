"""Files a console user sends: `/attach PATH`, or a line that is just the path of a file.

The same rules as every platform (`adapters.incoming`): the cap NOVACAST_MAX_UPLOAD_MB, only
pictures and videos by their name, a local name that is ours. The file is copied into the
incoming folder, so the core gets a local file the adapter chose, never the user's own path to
read later; a file that is missing, a folder, unreadable, not media or too big becomes an
`Attachment` with the one sentence saying why. The copy is unvetted: the asset store probes it
before anything uses it.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from adapters.incoming import (
    Offered,
    UploadSettings,
    incoming_dir,
    is_declared_media,
    local_suffix,
    not_media,
    refused,
    too_big,
)
from bot.events import Attachment

ATTACH_COMMAND = re.compile(r"^/attach(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
LEFTOVER_SECONDS = 24 * 3600
"""A copy the asset store did not take (it refused the file) is deleted after this long."""
_CHUNK = 1 << 20


def attach_request(line: str) -> str | None:
    """The path a line asks to attach: `/attach PATH` (PATH may be quoted; "" when missing),
    or a line that is nothing but the path of an existing file with a name extension (so
    "Render" never attaches a file that happens to be called Render). None otherwise."""
    text = line.strip()
    if command := ATTACH_COMMAND.match(text):
        return _unquoted(command.group(1) or "")
    bare = _unquoted(text)
    path = Path(bare).expanduser()
    if bare and path.suffix and _is_file(path):
        return bare
    return None


def _unquoted(text: str) -> str:
    text = text.strip()
    try:
        words = shlex.split(text)
    except ValueError:
        return text
    return words[0] if len(words) == 1 else text


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long, a permission on the way
        return False


def _default_cap() -> int:
    return UploadSettings().max_bytes


@dataclass(frozen=True)
class Inbox:
    """Where a console's attachments are copied to, and how big one may be."""

    folder: Path = field(default_factory=lambda: incoming_dir("console"))
    max_bytes: int = field(default_factory=_default_cap)

    def take(self, wanted: str) -> Attachment:
        """A copy of the file at `wanted` as an attachment, or the reason it was not taken."""
        source = Path(wanted).expanduser()
        offered = Offered(name=source.name, mime="", size=None)
        early = _refusal(wanted, source, offered)
        if early is not None:
            return early
        try:
            return self._copy(source, offered)
        except _TooLarge as error:
            return too_big(offered, error.size, self.max_bytes)
        except OSError:
            return refused(offered, f"I couldn't read {offered.shown_name}.")

    def sweep(self, older_than: float = LEFTOVER_SECONDS) -> int:
        """Delete copies left in the folder for longer than `older_than` seconds (files the
        asset store refused stay where the adapter put them); returns how many went."""
        if not self.folder.is_dir():
            return 0
        cutoff, gone = time.time() - older_than, 0
        for path in self.folder.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    gone += 1
            except OSError:  # taken meanwhile by the store, or by another console
                continue
        return gone

    def _copy(self, source: Path, offered: Offered) -> Attachment:
        declared = source.stat().st_size
        if declared > self.max_bytes:
            raise _TooLarge(declared)
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self.folder, prefix=".incoming.", suffix=".part")
        try:
            with source.open("rb") as reader, os.fdopen(handle, "wb") as out:
                size = _bounded_copy(reader, out, self.max_bytes)
            final = self.folder / f"{uuid.uuid4().hex}{local_suffix(offered)}"
            os.replace(temp, final)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return Attachment(path=str(final.resolve()), name=offered.name[:255], size_bytes=size)


def _refusal(wanted: str, source: Path, offered: Offered) -> Attachment | None:
    """Why the file at `wanted` is not even read (nothing there, a folder, not media)."""
    if not wanted:
        return refused(offered, "Say which file to send: /attach PATH.")
    if not source.exists():
        return refused(offered, f"I can't find a file at {wanted}.")
    if not source.is_file():
        return refused(offered, f"{wanted} is a folder, not a file I can use.")
    if not is_declared_media(offered):
        return not_media(offered)
    return None


class _TooLarge(Exception):
    """The file is, or grew while it was read, past the cap (the size seen)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _bounded_copy(reader: IO[bytes], out: IO[bytes], limit: int) -> int:
    size = 0
    while chunk := reader.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _TooLarge(size)
        out.write(chunk)
    return size
