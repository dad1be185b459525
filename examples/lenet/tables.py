"""The Markdown tables of a run, made from its summary.json alone (so docs/results.md can be
regenerated from the committed summaries): the paper's Table 1 row and its Table 2/3 per-layer table."""


def number(n: int) -> str:
    """1066440 -> '1 066 440' (thin groups, as docs/results.md writes sizes)."""
    return f"{n:,}".replace(",", " ")


def percent(fraction: float) -> str:
    return f"{100 * fraction:.2f} %"


def paper_table(file_report: dict) -> str:
    """The file's per-layer table in the paper's Table 2/3 columns (file_report: FileReport.to_dict())."""
    tensors = file_report["tensors"]
    lines = ["| layer | weights | weights % (P) | index bits (P+Q) | index bits (P+Q+H) | gap bits (P+Q) | "
             "gap bits (P+Q+H) | bytes (P+Q) | bytes (P+Q+H) | rate (P+Q) | rate (P+Q+H) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in tensors:
        if t["kind"] == "raw":
            continue
        lines.append(f"| {t['name']} | {t['weights']} | {100 * t['kept'] / t['weights']:.1f} % | "
                     f"{t['index_bits'] or '–'} | {t['index_bits_coded']:.2f} | {t['gap_bits'] or '–'} | "
                     f"{t['gap_bits_coded']:.2f} | {t['bytes_before_huffman']} | {t['bytes']} | "
                     f"{t['rate_before_huffman']:.1f}× | {t['rate']:.1f}× |")
    raw = [t for t in tensors if t["kind"] == "raw"]
    raw_bytes = sum(t["bytes"] for t in raw)
    lines.append(f"| {len(raw)} raw tensors (biases) | {sum(t['weights'] for t in raw)} | 100 % | – | – | – | – | "
                 f"{raw_bytes} | {raw_bytes} | 1.0× | 1.0× |")
    weights = sum(t["weights"] for t in tensors)
    lines.append(f"| **total (file)** | {weights} | {100 * sum(t['kept'] for t in tensors) / weights:.1f} % "
                 f"| | | | | | **{file_report['file_bytes']}** | | **{file_report['rate']:.1f}×** |")
    return "\n".join(lines)


SUMMARY_HEADER = ("| network | dense acc | compressed acc | change | dense size | file size | rate |",
                  "|---|---|---|---|---|---|---|")


def summary_row(title: str, summary: dict) -> str:
    """The paper's Table 1 row: the same-budget dense baseline against the reloaded .dcz file."""
    change = 100 * (summary["reloaded_accuracy"] - summary["baseline_accuracy"])
    return (f"| {title} | {percent(summary['baseline_accuracy'])} | {percent(summary['reloaded_accuracy'])} | "
            f"{change:+.2f} | {number(summary['dense_bytes'])} B | {number(summary['file_bytes'])} B | "
            f"{summary['compression_rate']:.1f}× |")


def accuracies(summary: dict) -> str:
    return (f"Accuracy: dense at the end of the dense phase {percent(summary['dense_phase_accuracy'])}, pruned "
            f"{percent(summary['pruned_accuracy'])}, quantized {percent(summary['quantized_accuracy'])}, fine-tuned "
            f"{percent(summary['finetuned_accuracy'])}, reloaded from the file "
            f"{percent(summary['reloaded_accuracy'])}; the same-budget dense baseline "
            f"{percent(summary['baseline_accuracy'])}. Command: `{summary['command']}` ({summary['seconds']:.0f} s).")
