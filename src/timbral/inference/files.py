"""Expand command-line inputs: files as given, directories walked for audio files."""

from __future__ import annotations

from pathlib import Path

from timbral.errors import AudioError
from timbral.inference.sources import AUDIO_EXTENSIONS


def find_audio_files(inputs: list[str | Path]) -> tuple[list[Path], list[AudioError]]:
    """Files in input order (each directory walked recursively, sorted, audio extensions
    only; hidden entries skipped) and an error for each input that yields nothing."""
    files: list[Path] = []
    errors: list[AudioError] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                errors.append(AudioError(f"{path}: no audio files found in this directory"))
            files.extend(found)
        else:
            files.append(path)  # a missing or bad file is reported when it is read
    return files, errors
