"""`timbral predict`: which instruments play in recordings, and when."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_MODEL = Path("runs/demo/best_model.pt")
MODEL_ENV = "TIMBRAL_MODEL"
FORMATS = ("json", "csv", "table")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="tag recordings: instruments present and a timeline of when they play",
        description=(
            "Tag audio files (any sample rate, any channel count; WAV, FLAC, OGG, MP3, AIFF...). "
            "Directories are walked for audio files. A file that cannot be read gets one error "
            "line and the others are still tagged; the exit code is then 2."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files or directories")
    p.add_argument("--model", metavar="ARTIFACT", default=None,
                   help=f"model artifact (default: ${MODEL_ENV}, else {DEFAULT_MODEL}, which "
                        "`bash scripts/demo.sh` writes)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="json (one object, or an array for several files), csv (a clip row and "
                        "window rows per file) or table (default: from --out's suffix, else table)")
    p.add_argument("--hop", type=float, default=None, metavar="S",
                   help="seconds between windows (default: half the model's segment length)")
    p.add_argument("--threshold", type=float, default=None, metavar="X",
                   help="one threshold for all classes (default: the model's per-class thresholds)")
    p.add_argument("--aggregate", choices=("max", "mean"), default="max",
                   help="clip probability from window probabilities (default: max)")
    p.add_argument("--out", default=None, metavar="PATH", help="write the report here (default: stdout)")
    p.add_argument("--plot", action="store_true",
                   help="also write a PNG timeline per file (<name>.timeline.png)")
    p.add_argument("--plot-dir", default=None, metavar="DIR",
                   help="folder for --plot (default: beside --out, else the current folder)")
    p.add_argument("--batch-size", type=int, default=8, metavar="N",
                   help="windows per model call (default: 8)")
    p.add_argument("--backend", choices=("auto", "onnxruntime", "torch"), default="auto",
                   help="model runtime (default: auto = ONNX Runtime when possible)")
    p.set_defaults(func=handle)


def resolve_model(arg: str | None) -> Path:
    """--model, else $TIMBRAL_MODEL, else runs/demo/best_model.pt; ModelError if missing."""
    from timbral.errors import ModelError

    if arg:
        return Path(arg)
    env = os.environ.get(MODEL_ENV)
    if env:
        if not Path(env).is_file():
            raise ModelError(f"{env}: model artifact not found (from ${MODEL_ENV})")
        return Path(env)
    if not DEFAULT_MODEL.is_file():
        raise ModelError(
            f"no model: {DEFAULT_MODEL} not found; run `bash scripts/demo.sh` to train one, "
            "or pass --model ARTIFACT"
        )
    return DEFAULT_MODEL


def output_format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    suffix = Path(args.out).suffix.lower().lstrip(".") if args.out else ""
    return suffix if suffix in ("json", "csv") else "table"


def handle(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from timbral.errors import TimbralError
    from timbral.inference import Tagger, find_audio_files

    fmt = output_format(args)
    model = resolve_model(args.model)
    files, failures = find_audio_files(args.inputs)
    for err in failures:
        print(f"timbral: error: {err}", file=sys.stderr)
    if not files:
        return 2
    tagger = Tagger.load(model, hop=args.hop, threshold=args.threshold, aggregate=args.aggregate,
                         batch_size=args.batch_size, backend=args.backend)
    plot_dir = Path(args.plot_dir) if args.plot_dir else (
        Path(args.out).parent if args.out else Path("."))
    results, used_names = [], set()
    with tqdm(total=len(files), unit="file", desc="tagging", file=sys.stderr, disable=None,
              leave=False) as bar:
        for _, out in tagger.predict_many(files):
            bar.update()
            if isinstance(out, TimbralError):
                failures.append(out)
                tqdm.write(f"timbral: error: {out}", file=sys.stderr)
                continue
            results.append(out)
            if args.plot:
                out.plot(plot_dir / _unique(Path(out.file).stem, used_names))
    single = len(args.inputs) == 1 and not Path(args.inputs[0]).is_dir()
    if results or not single:
        _write(render(results, fmt, tagger.classes, single), args.out)
    if args.plot and results:
        print(f"timbral: {len(results)} timeline plot(s) in {plot_dir}", file=sys.stderr)
    return 2 if failures else 0


def _unique(stem: str, used: set[str]) -> str:
    name, k = f"{stem}.timeline.png", 2
    while name in used:
        name, k = f"{stem}-{k}.timeline.png", k + 1
    used.add(name)
    return name


def render(results: list, fmt: str, classes: list[str], single: bool) -> str:
    """The report text for `results` in `fmt`."""
    import csv
    import io
    import json

    if fmt == "json":
        data = results[0].to_dict() if single and len(results) == 1 else [r.to_dict() for r in results]
        return json.dumps(data, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["file", "kind", "start", "end", "present", *classes],
                                lineterminator="\n")
        writer.writeheader()
        for r in results:
            writer.writerows(r.to_csv_rows())
        return buf.getvalue()
    return "\n\n".join(r.to_table() for r in results) + ("\n" if results else "")


def _write(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
