"""What `kb build` and `kb status` tell a store owner about a version: counts, warnings, thresholds."""

from __future__ import annotations

from knowledge.index.versions import Manifest

_WARNING_NAMES = {
    "image_only_row": "image-only rows ignored",
    "empty_row": "empty rows skipped",
    "no_text": "rows with no title and no text skipped",
    "unpublished": "unpublished or hidden products skipped",
    "empty_file": "empty files skipped",
    "no_entries": "files with no entries",
    "skipped_file": "files skipped",
    "empty_answer": "FAQ questions with no answer skipped",
    "no_faq": "no FAQ entries",
}


def summary_line(manifest: Manifest) -> str:
    c = manifest.counts
    parts = [
        f"{c.get('products', 0):,} products ({c.get('variants', 0):,} variants)",
        f"{c.get('faq_entries', 0):,} FAQ entries",
        f"{c.get('page_sections', 0):,} page sections from {c.get('page_files', 0):,} pages",
        f"{c.get('past_questions', 0):,} past questions",
        f"{c.get('nodes', 0):,} passages",
    ]
    warnings = sum(manifest.warning_counts.values()) if manifest.warning_counts else len(manifest.warnings)
    parts.append(f"{warnings:,} warnings" if warnings != 1 else "1 warning")
    return ", ".join(parts) + "."


def warning_lines(manifest: Manifest) -> list[str]:
    """Warnings grouped by kind, a few examples of each: a 1,700-row image-only export stays readable."""
    if not manifest.warning_counts:  # a version built before warnings had kinds
        return [f"warning: {text}" for text in manifest.warnings]
    lines: list[str] = []
    for kind, count in manifest.warning_counts.items():
        lines.append(f"warning: {count:,} {_WARNING_NAMES.get(kind, kind.replace('_', ' '))}")
        examples = manifest.warning_examples.get(kind, [])
        lines.extend(f"  {text}" for text in examples)
        if count > len(examples):
            lines.append(f"  … and {count - len(examples):,} more")
    return lines


def threshold_line(manifest: Manifest) -> str:
    t = manifest.thresholds
    if manifest.faq_threshold_calibrated:
        how = "calibrated from your past questions"
    else:
        how = ("the uncalibrated default KB_FAQ_THRESHOLD: add past_questions/ (questions shoppers asked, "
               "matched to FAQ ids; 50 or more) to calibrate it")
    others = ", ".join(f"{kind} {value:.3f}" for kind, value in t.items() if kind != "faq")
    return f"Confidence thresholds: FAQ {t.get('faq', 0.0):.3f} ({how}); {others}"
