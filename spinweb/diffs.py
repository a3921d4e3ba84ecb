"""Unified diffs as the version pages show them (pipelines, policies, canary configs)."""

from __future__ import annotations


def diff_lines(text: str) -> list[tuple[str, str]]:
    """Each line of a unified diff with its class: added, removed, hunk, header or context."""
    rows = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            kind = "header"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = {"+": "added", "-": "removed"}.get(line[:1], "context")
        rows.append((kind, line))
    return rows
