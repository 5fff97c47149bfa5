"""Content-addressed artifact store: blobs named by their sha256, written atomically.

A blob lives at ``<root>/sha256/<first 2 hex>/<rest>``. Writing goes to a temporary file in
the destination folder, is fsynced, then ``os.replace``d, so a reader never sees a partial
blob and a crash leaves at most a stray temp file (removed by ``gc``). Reading re-hashes the
bytes and refuses them with ``IntegrityError`` when they no longer match their name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..exceptions import IntegrityError, InvalidInput, NotFound

CHUNK = 8 * 1024 * 1024
_HEX = frozenset("0123456789abcdef")


class LocalArtifactStore:
    """Blobs in a local (or mounted, shared) folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    def _blob_path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not set(sha256) <= _HEX:
            raise InvalidInput(f"Not a sha256 digest: {sha256!r} (expected 64 lowercase hex).")
        return self.root / "sha256" / sha256[:2] / sha256[2:]

    def put_file(self, source: str | os.PathLike[str]) -> tuple[str, int]:
        """Copy a file into the store; returns ``(sha256, size)``."""
        with open(source, "rb") as fh:
            return self.put_stream(fh)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        sha = hashlib.sha256(data).hexdigest()
        dest = self._blob_path(sha)
        if not dest.exists():
            self._write_atomic(dest, [data])
        return sha, len(data)

    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        # Hash while copying into a temp file, then rename into place under the digest.
        staging = self.root / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=staging, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            dest = self._blob_path(sha)
            if dest.exists():
                os.unlink(tmp)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, dest)
            return sha, size
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _write_atomic(self, dest: Path, chunks: Iterable[bytes]) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def exists(self, sha256: str) -> bool:
        return self._blob_path(sha256).is_file()

    def verified_path(self, sha256: str) -> Path:
        """The blob's path, after checking that its bytes still hash to ``sha256``."""
        path = self._blob_path(sha256)
        if not path.is_file():
            raise self._missing(sha256)
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise _modified(sha256, path, digest.hexdigest())
        return path

    def read_bytes(self, sha256: str) -> bytes:
        """The blob's bytes, verified against ``sha256``."""
        path = self._blob_path(sha256)
        if not path.is_file():
            raise self._missing(sha256)
        data = path.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise _modified(sha256, path, actual)
        return data

    def _missing(self, sha256: str) -> NotFound:
        return NotFound(
            f"Artifact blob {sha256} is missing from {self.root}.",
            public=f"Artifact blob {sha256} is missing from the artifact store.",
        )

    def copy_to(self, sha256: str, dest: str | os.PathLike[str]) -> Path:
        src = self.verified_path(sha256)
        dest_path = Path(dest)
        dest_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest_path)
        return dest_path

    def iter_blobs(self) -> Iterator[tuple[str, Path]]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for prefix in sorted(base.iterdir()):
            if not prefix.is_dir():
                continue
            for blob in prefix.iterdir():
                if blob.name.startswith(".put-"):
                    continue
                yield prefix.name + blob.name, blob

    def delete(self, sha256: str) -> int:
        path = self._blob_path(sha256)
        size = path.stat().st_size
        path.unlink()
        return size

    def clean_staging(self, older_than_s: float = 3600.0) -> int:
        """Remove temp files left by writers that died (old enough not to be in flight)."""
        removed = 0
        cutoff = time.time() - older_than_s
        for folder in (self.root / "tmp", *((self.root / "sha256").glob("*"))):
            if folder.is_dir():
                for stray in folder.glob(".put-*"):
                    with contextlib.suppress(OSError):
                        if stray.stat().st_mtime > cutoff:
                            continue
                        stray.unlink()
                        removed += 1
        return removed


def _modified(sha256: str, path: Path, actual: str) -> IntegrityError:
    """Bytes that no longer hash to their name: refused. Where they are is for the log only."""
    public = (
        f"Artifact {sha256} was modified on disk (its sha256 is now {actual}); refusing to "
        "use it. Re-log the artifact."
    )
    return IntegrityError(
        public.replace(" was modified", f" at {path} was modified"), public=public
    )
