"""Write a run's headline results into the README between marker comments.

    python -m timbral.pipeline.readme runs/demo README.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

START, END = "<!-- results:start -->", "<!-- results:end -->"


def results_markdown(run: Path) -> str:
    rows = json.loads((run / "headline.json").read_text())
    head = ("| model | test macro-F1 | test micro-F1 | test mAP | macro-F1, unseen sounds | mAP, unseen sounds |\n"
            "|---|---|---|---|---|---|\n")
    def f(x):
        return "–" if x is None else f"{x:.3f}"
    body = "".join(
        f"| {r['model']} | {f(r['macro_f1'])} | {f(r['micro_f1'])} | {f(r['map_macro'])} | "
        f"{f(r.get('unseen_macro_f1'))} | {f(r.get('unseen_map_macro'))} |\n"
        for r in rows
    )
    n = rows[0]["n_test_items"] if rows else 0
    note = (f"\n{n} test clips; thresholds: {rows[0].get('thresholds') if rows else ''}. "
            f"Generated from `{run}` by `python -m timbral.pipeline.readme {run} README.md`.\n")
    return head + body + note


def update(run: Path, readme: Path) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: no {START} ... {END} markers")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    readme.write_text(before + START + "\n" + results_markdown(run) + END + after)


if __name__ == "__main__":
    update(Path(sys.argv[1]), Path(sys.argv[2]))
