"""docs/results.md's measured tables, made from the runs' summaries (results/<network>/summary.json,
written by `make demo` and `make lenet5`), so the page cannot disagree with what the code measured.

The page marks each generated part with <!-- generated: NAME --> ... <!-- end generated -->:
"summary" (the paper's Table 1, one row per network with a summary) and one per network (its
per-layer table and accuracies). Everything else on the page is prose about those numbers.
    python examples/lenet/results_doc.py           # rewrite the generated parts
    python examples/lenet/results_doc.py --check   # exit status 1 if the page differs from the summaries
"""
import argparse
import json
import re
import sys
from pathlib import Path

import tables

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "results.md"
# network -> (title, the paper's rate, the make target that writes its summary)
NETWORKS = {"lenet300": ("LeNet-300-100", "40×", "make demo"), "lenet5": ("LeNet-5", "39×", "make lenet5")}
BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def summaries(results: Path) -> dict:
    found = {}
    for network in NETWORKS:
        path = results / network / "summary.json"
        if path.exists():
            found[network] = json.loads(path.read_text())
    return found


def block(name: str, found: dict) -> str:
    if name == "summary":
        rows = [f"{tables.summary_row(NETWORKS[n][0], s)[:-1]}| {NETWORKS[n][1]}, ±0.5 | "
                f"`{s['command']}` ({s['seconds']:.0f} s) |" for n, s in found.items()]
        header = (tables.SUMMARY_HEADER[0] + " target | command |", tables.SUMMARY_HEADER[1] + "---|---|")
        return "\n".join([*header, *rows]) + "\n"
    if name not in NETWORKS:
        raise SystemExit(f"{PAGE}: unknown generated block {name!r}; known: summary, {', '.join(NETWORKS)}")
    if name not in found:
        return f"No summary yet: run `{NETWORKS[name][2]}`.\n"
    return f"{tables.paper_table(found[name]['file_report'])}\n\n{tables.accuracies(found[name])}\n"


def generated(page: str, found: dict) -> str:
    return BLOCK.sub(lambda m: m.group(1) + block(m.group(2), found) + m.group(4), page)


def update(results: Path = ROOT / "results", check: bool = False) -> bool:
    """Whether the page's generated parts differ from the summaries in results; rewrites them unless check."""
    page = PAGE.read_text()
    new = generated(page, summaries(results))
    if new != page and not check:
        PAGE.write_text(new)
    return new != page


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit status 1 if the page is stale")
    parser.add_argument("--results", type=Path, default=ROOT / "results", help="where the runs' summaries are")
    args = parser.parse_args()
    if not update(args.results, args.check):
        return 0
    if args.check:
        print(f"{PAGE} differs from {args.results}/*/summary.json: run python examples/lenet/results_doc.py",
              file=sys.stderr)
        return 1
    print(f"{PAGE}: generated parts rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
