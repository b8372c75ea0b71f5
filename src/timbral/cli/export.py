"""`timbral export`: a model artifact as ONNX (opset 17), with its front end described."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a model artifact to ONNX (waveform or log-mel in, probabilities out)",
        description=(
            "Write the model as ONNX (opset 17) returning per-class probabilities, plus "
            "<out>.json describing its input, classes and thresholds. With the log-mel front "
            "end inside, the input is mono waveform windows; otherwise it is the log-mel, and "
            "the JSON file spells out how to compute it."
        ),
    )
    p.add_argument("--model", required=True, metavar="ARTIFACT", help="model artifact (.pt)")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="export format (onnx)")
    p.add_argument("--out", required=True, metavar="PATH", help="output file, e.g. model.onnx")
    p.add_argument("--frontend", choices=("auto", "inside", "beside"), default="auto",
                   help="log-mel front end inside the graph, beside it, or auto (inside when it "
                        "exports; default)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from timbral.inference.onnx_export import export_onnx

    res = export_onnx(args.model, args.out, frontend=args.frontend)
    where = "inside (input: waveform)" if res.frontend_inside else "beside (input: logmel)"
    print(f"timbral: wrote {res.path} (front end {where}) and {res.description}", file=sys.stderr)
    return 0
