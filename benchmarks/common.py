"""What the benchmark scripts share."""
import argparse


def count(text: str) -> int:
    """A positive whole number, also written like 1e6 (an argparse type)."""
    value = float(text)
    if value < 1 or not value.is_integer():
        raise argparse.ArgumentTypeError(f"need a positive whole number, got {text}")
    return int(value)
