"""The HTTP pieces of file transfer, pure: multipart/form-data bodies (RFC 7578) read as they
stream in, Content-Disposition file names (RFC 6266), and byte ranges (RFC 9110 §14).

Some charge point firmwares upload diagnostics as ``multipart/form-data`` (a browser-style form
with one file field) rather than as the raw body; :class:`MultipartReader` takes the body in
chunks of any size and hands back the first file part's content as it arrives, so nothing is
held in memory beyond one chunk and the boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

import attrs

from ..errors import CsmsError

__all__ = [
    "ByteRange",
    "MultipartError",
    "MultipartReader",
    "RangeNotSatisfiable",
    "disposition_file_name",
    "multipart_boundary",
    "parse_ranges",
]

_MAX_HEADER_BYTES = 16 * 1024
_MAX_RANGES = 16


class MultipartError(CsmsError):
    """A multipart body is malformed or ends early (HTTP 400)."""


class RangeNotSatisfiable(CsmsError):
    """No range of a Range header lies within the file (HTTP 416)."""


def multipart_boundary(content_type: str | None) -> bytes | None:
    """The boundary of a ``multipart/form-data`` content type, or None for any other type."""
    if not content_type:
        return None
    kind, _, parameters = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    match = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', parameters, re.I)
    if match is None:
        raise MultipartError("multipart/form-data without a boundary")
    boundary = (match.group(1) or match.group(2)).encode("latin-1")
    if not 1 <= len(boundary) <= 70:
        raise MultipartError("a multipart boundary is 1 to 70 characters (RFC 2046)")
    return boundary


def disposition_file_name(value: str | None) -> str | None:
    """The file name a Content-Disposition value gives (``filename*`` preferred), if any."""
    if not value:
        return None
    extended = re.search(r"filename\*\s*=\s*([^']*)'[^']*'([^;\s]+)", value, re.I)
    if extended is not None:
        try:
            return unquote(extended.group(2), encoding=extended.group(1) or "utf-8")
        except LookupError:
            return unquote(extended.group(2))
    plain = re.search(r'filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))', value, re.I)
    if plain is None:
        return None
    if plain.group(1) is not None:
        return re.sub(r"\\(.)", r"\1", plain.group(1))
    return plain.group(2)


@attrs.define
class MultipartReader:
    """Reads a ``multipart/form-data`` body fed in chunks (see the module docstring).

    :meth:`feed` returns the bytes of the file part that are now certain (the first part with
    a file name in its Content-Disposition; other parts are skipped); :attr:`headers` and
    :attr:`file_name` describe it once its headers are read. :meth:`close` raises
    :class:`MultipartError` unless the closing boundary was seen and a file part was found.
    """

    boundary: bytes
    headers: dict[str, str] | None = None
    file_name: str | None = None
    _buffer: bytes = b""
    _state: str = "preamble"

    def feed(self, data: bytes) -> bytes:
        """Take the next chunk of the body; return the file part's bytes now known."""
        self._buffer += data
        out = bytearray()
        for piece in self._run():
            out += piece
        return bytes(out)

    def close(self) -> None:
        """The body ended: raise :class:`MultipartError` if the parts did not."""
        if self._state != "epilogue":
            raise MultipartError("the multipart body ended before its closing boundary")
        if self.headers is None:
            raise MultipartError("the multipart body has no part with a file name")

    def _run(self) -> Iterator[bytes]:
        dash = b"--" + self.boundary
        delimiter = b"\r\n" + dash
        while True:
            if self._state == "preamble":
                found = self._buffer.find(dash)
                if found < 0:
                    # Keep what may be the start of the boundary; the rest is preamble.
                    self._buffer = self._buffer[-len(dash) :]
                    return
                self._buffer = self._buffer[found + len(dash) :]
                self._state = "after-boundary"
            elif self._state == "after-boundary":
                if len(self._buffer) < 2:
                    return
                if self._buffer.startswith(b"--"):
                    self._state, self._buffer = "epilogue", b""
                    return
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    if len(self._buffer) > 256:
                        raise MultipartError("no line end after a multipart boundary")
                    return
                if self._buffer[:end].strip(b" \t"):
                    raise MultipartError("text after a multipart boundary")
                self._buffer = self._buffer[end + 2 :]
                self._state = "headers"
            elif self._state == "headers":
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0 and not self._buffer.startswith(b"\r\n"):
                    if len(self._buffer) > _MAX_HEADER_BYTES:
                        raise MultipartError("the headers of a multipart part are too long")
                    return
                block = b"" if self._buffer.startswith(b"\r\n") else self._buffer[:end]
                self._buffer = self._buffer[2:] if not block else self._buffer[end + 4 :]
                headers = _part_headers(block)
                name = disposition_file_name(headers.get("content-disposition"))
                # The file is the first part with a file name; form fields around it are skipped.
                take = self.headers is None and name is not None
                if take:
                    self.headers, self.file_name = headers, name
                self._state = "body-taken" if take else "body-skipped"
            else:  # a part's body
                found = self._buffer.find(delimiter)
                if found < 0:
                    safe = max(0, len(self._buffer) - len(delimiter) + 1)
                    if self._state == "body-taken" and safe:
                        yield self._buffer[:safe]
                    self._buffer = self._buffer[safe:]
                    return
                if self._state == "body-taken":
                    yield self._buffer[:found]
                self._buffer = self._buffer[found + len(delimiter) :]
                self._state = "after-boundary"


def _part_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        if not line:
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            raise MultipartError("a multipart header line has no colon")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("utf-8", "replace")
    return headers


@attrs.frozen
class ByteRange:
    """Bytes ``start`` to ``end`` (exclusive) of a file."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """How many bytes it covers."""
        return self.end - self.start


def parse_ranges(header: str | None, size: int) -> tuple[ByteRange, ...] | None:
    """The byte ranges a Range header asks of a file of ``size`` bytes (RFC 9110 §14.1.2).

    None when the header is absent, not a ``bytes`` range, malformed, or asks for more than
    16 ranges: the whole file is served then (a server may ignore Range). Ranges are kept in
    the order asked. Raises :class:`RangeNotSatisfiable` when none of them overlaps the file.
    """
    if header is None:
        return None
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts or len(parts) > _MAX_RANGES:
        return None
    ranges = []
    for part in parts:
        first, dash, last = part.partition("-")
        if not dash or not (first.isdigit() or last.isdigit()):
            return None
        if (first and not first.isdigit()) or (last and not last.isdigit()):
            return None
        if not first:  # the last N bytes
            count = int(last)
            if count > 0 and size > 0:
                ranges.append(ByteRange(max(0, size - count), size))
            continue
        start = int(first)
        end = size if not last else int(last) + 1
        if last and end <= start:
            return None  # last < first: the header is invalid, ignore it
        if start < size:
            ranges.append(ByteRange(start, min(end, size)))
    if not ranges:
        raise RangeNotSatisfiable(f"no range of {header!r} lies within {size} bytes")
    return tuple(ranges)
