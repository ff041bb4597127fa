"""Docs that match the code (issue 18 item 7): every `twasflow <subcommand> --option` written in README.md or
docs/*.md, in inline code or a code block, names a real subcommand and real options of it."""

from __future__ import annotations

import re
from pathlib import Path

from twasflow.cli import build_parser

REPO = Path(__file__).resolve().parents[1]


def _code_fragments(text: str) -> list[str]:
    """Inline code spans and code-block commands (backslash continuations joined)."""
    out = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S):
        out += [re.sub(r"\s#.*", "", ln) for ln in block.replace("\\\n", " ").splitlines()]  # no comments
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    out += re.findall(r"`([^`]+)`", text.replace("\n", " "))
    return out


def _subparsers() -> dict:
    import argparse

    p = build_parser()
    act = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return {name: {o for a in sp._actions for o in a.option_strings} for name, sp in act.choices.items()}


def test_documented_commands_and_options_exist() -> None:
    subs = _subparsers()
    seen, bad = 0, []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for frag in _code_fragments(doc.read_text()):
            for m in re.finditer(r"(?:^|[\s(])twasflow ([a-z][a-z0-9-]*)((?:\s+(?!twasflow )\S+)*)", frag):
                sub, rest = m.group(1), m.group(2)
                seen += 1
                if sub not in subs:
                    bad.append(f"{doc.name}: twasflow {sub} (no such subcommand)")
                    continue
                for opt in re.findall(r"(?:^|\s|\[)(--[a-z][a-z0-9-]*)", rest):
                    if opt not in subs[sub]:
                        bad.append(f"{doc.name}: twasflow {sub} {opt} (no such option)")
    assert seen >= 20
    assert not bad, "\n".join(bad)
