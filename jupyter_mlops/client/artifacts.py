"""Artifacts of runs: files copied into the content-addressed artifact store and indexed by
run and path. The Client's artifact domain.

Uses ``self.store`` as an :class:`~jupyter_mlops.store.base.ArtifactIndex` and
``self.artifacts`` for the bytes, which are verified against their sha256 on every read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..entities import Artifact, is_id
from ..exceptions import NotFound, shown
from .base import ClientBase
from .validation import now_ms, validate_artifact_path


class ArtifactsMixin(ClientBase):
    if TYPE_CHECKING:

        def resolve_run_id(self, run_id: str) -> str: ...

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[Artifact]:
        """Copy a file (or every file of a folder) into the run's artifacts."""
        src = Path(local_path)
        if not src.exists():
            raise NotFound(f"Artifact source {shown(str(src))} does not exist.")
        base = validate_artifact_path(src.name if artifact_path is None else artifact_path)
        files = [(src, base)] if src.is_file() else []
        if src.is_dir():
            files = [
                (p, f"{base}/{p.relative_to(src).as_posix()}")
                for p in sorted(src.rglob("*"))
                if p.is_file()
            ]
        out = []
        for path, logical in files:
            sha, size = self.artifacts.put_file(path)
            out.append(Artifact(validate_artifact_path(logical), sha, size, "file", now_ms()))
        self.records.record_artifacts(run_id, out)
        return out

    def log_artifact_bytes(
        self, run_id: str, data: bytes, path: str, kind: str = "file"
    ) -> Artifact:
        sha, size = self.artifacts.put_bytes(data)
        art = Artifact(validate_artifact_path(path), sha, size, kind, now_ms())
        self.records.record_artifacts(run_id, [art])
        return art

    def link_artifacts(self, run_id: str, items: Sequence[Artifact]) -> None:
        """Give a run artifacts that are already stored (another run's, by reference: the
        bytes are content-addressed, so nothing is copied)."""
        for art in items:
            validate_artifact_path(art.path)
            if not self.artifacts.exists(art.sha256):
                raise NotFound(f"Artifact blob {art.sha256} is not in the artifact store.")
        self.records.record_artifacts(run_id, list(items))

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """A run's artifacts, by path (run id or unique prefix)."""
        return self.records.list_artifacts(run_id if is_id(run_id) else self.resolve_run_id(run_id))

    def get_artifact(self, run_id: str, path: str) -> Artifact:
        """What the run recorded at ``path`` (its size, sha256 and kind)."""
        path = validate_artifact_path(path)
        for art in self.list_artifacts(run_id):
            if art.path == path:
                return art
        raise NotFound(f"Run {run_id} has no artifact {shown(path)}.")

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """An artifact's bytes, verified against the recorded sha256 (IntegrityError if not)."""
        return self.fetch_artifact(run_id, path)[1]

    def fetch_artifact(self, run_id: str, path: str) -> tuple[Artifact, bytes]:
        """What the run recorded at ``path`` and its bytes, verified against its sha256."""
        artifact = self.get_artifact(run_id, path)
        return artifact, self.artifacts.read_bytes(artifact.sha256)

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        return self.artifacts.copy_to(self.get_artifact(run_id, path).sha256, dest)

    def gc(self, dry_run: bool = False) -> dict[str, int]:
        """Delete blobs that no artifact or model references any more."""
        keep = self.store.referenced_blobs()
        count = size = 0
        for sha, path in self.artifacts.iter_blobs():
            if sha in keep:
                continue
            count += 1
            size += path.stat().st_size if dry_run else self.artifacts.delete(sha)
        stray = 0 if dry_run else self.artifacts.clean_staging()
        return {"blobs": count, "bytes": size, "temp_files": stray}
