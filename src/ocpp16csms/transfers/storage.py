"""Where uploaded files go and where firmware comes from (docs/fleet-operations.md).

:class:`UploadStorage` receives the diagnostics and log files charge points upload, as a
stream, and lists what it holds; :class:`FilesystemUploadStorage` writes each one to a
temporary file and renames it into place (a reader never sees half a file), with a JSON
sidecar describing it. :class:`FirmwareSource` serves firmware files by name, in byte ranges;
:class:`FirmwareDirectory` serves the files of one directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import quote

import anyio
import anyio.to_thread
import attrs

from ..stores.device_state import TransferKind
from .grants import TransferGrant

__all__ = [
    "FilesystemUploadStorage",
    "FirmwareDirectory",
    "FirmwareFile",
    "FirmwareSource",
    "StoredUpload",
    "UploadStorage",
    "read_firmware",
    "safe_file_name",
]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
_MAX_NAME = 200


def safe_file_name(name: str | None, default: str = "upload") -> str:
    """``name`` as a plain file name: its last path segment, control characters and the
    characters file systems refuse replaced by ``_``, at most 200 characters; ``default``
    when nothing is left (or it is ``.``/``..``)."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = _UNSAFE.sub("_", base).strip().lstrip(".")
    if not base:
        return default
    return base[:_MAX_NAME]


@attrs.frozen(kw_only=True)
class StoredUpload:
    """A file a charge point uploaded: whose, for which transfer, and where it is kept.

    ``location`` is where the storage keeps it (a path for :class:`FilesystemUploadStorage`);
    ``sha256`` is the hex digest of its content; ``received_at`` when the upload finished.
    """

    charge_point_id: str
    kind: TransferKind = attrs.field(converter=TransferKind)
    request_id: int | None = None
    transfer_id: str
    file_name: str
    size: int
    sha256: str
    content_type: str | None = None
    received_at: datetime
    location: str


@runtime_checkable
class UploadStorage(Protocol):
    """Keeps uploaded files (see :class:`FilesystemUploadStorage`)."""

    async def store(
        self,
        grant: TransferGrant,
        file_name: str,
        content_type: str | None,
        chunks: AsyncIterable[bytes],
        *,
        now: datetime,
    ) -> StoredUpload:
        """Consume ``chunks`` and keep them as one file; on any exception (the upload was cut
        off or too large) nothing is kept. A second upload under the same grant and name
        replaces the first (charge points retry)."""
        ...

    async def uploads(
        self, charge_point_id: str, *, kind: TransferKind | None = None
    ) -> Sequence[StoredUpload]:
        """The charge point's uploads (of ``kind``, when given), oldest first."""
        ...


class FilesystemUploadStorage:
    """:class:`UploadStorage` in a directory: ``<root>/cp-<quoted id>/<kind>/<transfer id>-<name>``
    plus ``.json`` metadata beside each file. Writes go to ``<root>/.incoming/`` first, are
    flushed to disk, then renamed into place, so a file that is there is complete."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _directory(self, charge_point_id: str, kind: TransferKind) -> Path:
        # Quoted, and prefixed so that no id ("..", ".") can name a directory above the root.
        return self.root / f"cp-{quote(charge_point_id, safe='')}" / kind.value

    async def store(
        self,
        grant: TransferGrant,
        file_name: str,
        content_type: str | None,
        chunks: AsyncIterable[bytes],
        *,
        now: datetime,
    ) -> StoredUpload:
        name = safe_file_name(file_name)
        target_dir = self._directory(grant.charge_point_id, grant.kind)
        incoming = self.root / ".incoming"
        await anyio.to_thread.run_sync(lambda: incoming.mkdir(parents=True, exist_ok=True))
        temporary = incoming / f"{secrets.token_hex(8)}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            async with await anyio.open_file(temporary, "wb") as out:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    await out.write(chunk)
                await out.flush()
                await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
            upload = StoredUpload(
                charge_point_id=grant.charge_point_id,
                kind=grant.kind,
                request_id=grant.request_id,
                transfer_id=grant.transfer_hex,
                file_name=name,
                size=size,
                sha256=digest.hexdigest(),
                content_type=content_type,
                received_at=now,
                location=str(target_dir / f"{grant.transfer_hex}-{name}"),
            )
            await anyio.to_thread.run_sync(self._place, temporary, upload)
        finally:
            await anyio.to_thread.run_sync(lambda: temporary.unlink(missing_ok=True))
        return upload

    def _place(self, temporary: Path, upload: StoredUpload) -> None:
        target = Path(upload.location)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)
        metadata = target.with_name(target.name + ".json")
        scratch = metadata.with_name(metadata.name + f".{secrets.token_hex(4)}.part")
        record = attrs.asdict(upload)
        record["kind"] = upload.kind.value
        record["received_at"] = upload.received_at.isoformat()
        scratch.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(scratch, metadata)

    async def uploads(
        self, charge_point_id: str, *, kind: TransferKind | None = None
    ) -> Sequence[StoredUpload]:
        kinds = list(TransferKind) if kind is None else [TransferKind(kind)]
        directories = [self._directory(charge_point_id, k) for k in kinds]

        def read() -> list[StoredUpload]:
            found = []
            for directory in directories:
                if not directory.is_dir():
                    continue
                for path in directory.glob("*.json"):
                    record = json.loads(path.read_text(encoding="utf-8"))
                    record["received_at"] = datetime.fromisoformat(record["received_at"])
                    found.append(StoredUpload(**record))
            return sorted(found, key=lambda u: (u.received_at, u.location))

        return await anyio.to_thread.run_sync(read)


@attrs.frozen(kw_only=True)
class FirmwareFile:
    """A firmware file a :class:`FirmwareSource` can serve: its size and an entity tag."""

    name: str
    size: int
    etag: str


@runtime_checkable
class FirmwareSource(Protocol):
    """Firmware files by name, read in byte ranges (see :class:`FirmwareDirectory`)."""

    async def stat(self, name: str) -> FirmwareFile | None:
        """The file called ``name``, or None when there is none."""
        ...

    def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes ``start`` to ``end`` (exclusive) of the file, in chunks."""
        ...


class FirmwareDirectory:
    """:class:`FirmwareSource` over the regular files directly in ``directory``; a name with
    a path separator, or starting with a dot, is never served."""

    def __init__(self, directory: str | os.PathLike[str], *, chunk_size: int = 64 * 1024) -> None:
        self.directory = Path(directory)
        self._chunk = chunk_size

    def _path(self, name: str) -> Path | None:
        if not name or name != safe_file_name(name, default="") or name.startswith("."):
            return None
        return self.directory / name

    async def stat(self, name: str) -> FirmwareFile | None:
        path = self._path(name)
        if path is None:
            return None

        def look() -> FirmwareFile | None:
            try:
                info = path.stat()
            except OSError:
                return None
            if not path.is_file():
                return None
            tag = f'"{info.st_size:x}-{info.st_mtime_ns:x}"'
            return FirmwareFile(name=name, size=info.st_size, etag=tag)

        return await anyio.to_thread.run_sync(look)

    async def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        path = self._path(name)
        if path is None:
            raise FileNotFoundError(name)
        async with await anyio.open_file(path, "rb") as source:
            await source.seek(start)
            left = end - start
            while left > 0:
                chunk = await source.read(min(self._chunk, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk


async def read_firmware(source: FirmwareSource, name: str) -> bytes | None:
    """The whole content of a firmware file (to check its signature), or None."""
    info = await source.stat(name)
    if info is None:
        return None
    return b"".join([chunk async for chunk in source.read(name, 0, info.size)])
