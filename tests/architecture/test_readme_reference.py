"""Docs that cannot go stale: the README's command table is the one the commands' help
renders now, every relative link in the docs points at a file that exists, and the shell
completion the README describes completes."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from govcloud.cli import cli, reference
from tests.support.estate import REPO

README = REPO / "README.md"


def test_readme_command_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    fresh = reference.replace_table(text)
    if fresh != text:
        diff = "\n".join(difflib.unified_diff(text.splitlines(), fresh.splitlines(),
                                              "README.md", "generated", lineterm="", n=0))
        pytest.fail(f"README.md's command table differs from the commands' help; rewrite it "
                    f"with\n  {reference.FIX}\n{diff}")


def _leaves(group: click.Group, prefix: tuple[str, ...]) -> dict[tuple[str, ...], click.Command]:
    """Every runnable command, walked here independently of the generator."""
    out: dict[tuple[str, ...], click.Command] = {}
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out |= _leaves(cmd, (*prefix, name))
        elif not cmd.hidden:
            out[(*prefix, name)] = cmd
    return out


def _rows(text: str) -> dict[str, str]:
    """Usage cell -> help cell of every row between the markers."""
    inside = text.split(reference.START, 1)[1].split(reference.END, 1)[0]
    rows = {}
    for line in inside.splitlines():
        m = re.fullmatch(r"\| `(govcloud[^`]*)` \| (.*) \|", line)
        if m:
            rows[m[1].replace("\\|", "|")] = m[2]
    return rows


def test_every_command_and_option_has_its_row() -> None:
    rows = _rows(README.read_text(encoding="utf-8"))
    leaves = _leaves(cli, ("govcloud",))
    assert len(rows) == len(leaves) >= 20
    for path, cmd in leaves.items():
        name = " ".join(path)
        usage = next((u for u in rows if u == name or u.startswith(name + " ")), None)
        assert usage is not None, f"{name} has no row in README.md's command table"
        words = set(re.findall(r"--[a-z][a-z-]*", usage))
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden:
                assert reference._long(p) in words, f"{name}: {p.opts} missing from {usage}"
            elif isinstance(p, click.Argument):
                shown = p.metavar or (p.name or "").upper()  # an argument's own metavar wins
                assert shown in usage or isinstance(p.type, click.Choice), f"{name}: {shown}"
        first = (cmd.help or "").strip().split("\n")[0].strip()
        assert rows[usage].startswith(first.replace("|", "\\|")), f"{name}: help not shown"


def test_the_exporter_row_shows_the_real_default_port() -> None:
    """The hand-written table once named 9108; the default comes from click now."""
    port = next(p for p in cli.commands["exporter"].params if p.name == "port")
    rows = _rows(README.read_text(encoding="utf-8"))
    row = next(text for usage, text in rows.items() if usage.startswith("govcloud exporter "))
    assert f"`--port {port.default}`" in row
    assert "9108" not in README.read_text(encoding="utf-8")


def test_a_stale_table_is_refused_with_the_fix_and_then_rewritten(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    stale = tmp_path / "README.md"
    stale.write_text(text.replace("`--port 9464`", "`--port 9108`"), encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(reference.main, ["--readme", str(stale), "--check"])
    assert checked.exit_code == 1
    assert reference.FIX in checked.output
    assert "9108" in stale.read_text(encoding="utf-8"), "--check must change nothing"
    fixed = runner.invoke(reference.main, ["--readme", str(stale)])
    assert fixed.exit_code == 0, fixed.output
    assert stale.read_text(encoding="utf-8") == text
    again = runner.invoke(reference.main, ["--readme", str(stale), "--check"])
    assert again.exit_code == 0 and "current" in again.output


def test_markers_missing_or_doubled_is_one_plain_error(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    for broken in (text.replace(reference.END, ""), text + reference.START + "\n"):
        path = tmp_path / "README.md"
        path.write_text(broken, encoding="utf-8")
        result = CliRunner().invoke(reference.main, ["--readme", str(path)])
        assert result.exit_code == 1
        assert "commands:start" in result.output and "Traceback" not in result.output
        assert path.read_text(encoding="utf-8") == broken


# --- links -----------------------------------------------------------------------------

DOCS = ["README.md", "CHANGELOG.md", "docs/**/*.md", "policies/*.md", "testcloud/*.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1", re.M | re.S)


def _prose(text: str) -> str:
    """The Markdown without code blocks and code spans (their brackets are not links)."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m[1].strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _links(path: Path) -> list[str]:
    prose = _prose(path.read_text(encoding="utf-8"))
    return LINK.findall(prose) + REFERENCE.findall(prose)


def _broken(path: Path, root: Path = REPO) -> list[str]:
    bad = []
    for target in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # https:, mailto: ...
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        where = f"{path.relative_to(root)}: ({target})"
        if not dest.exists():
            bad.append(f"{where} points at a missing file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{where} points at a missing heading")
    return bad


def test_every_relative_link_in_the_docs_points_at_something() -> None:
    files = sorted({p for pattern in DOCS for p in REPO.glob(pattern)})
    assert README in files and REPO / "docs/architecture.md" in files
    bad = [b for f in files for b in _broken(f)]
    assert bad == [], "fix or remove these links:\n" + "\n".join(bad)


def test_the_link_check_catches_a_missing_file_and_heading(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# Here it is\n", encoding="utf-8")
    page.write_text("# Top\n[a](there.md#here-it-is) [b](gone.md) [c](there.md#nowhere)\n"
                    "[d](#top) [e](https://example.org/x) `[f](not-a-link.md)`\n"
                    "```\n[g](in-a-block.md)\n```\n[h]: ./also-gone.txt\n", encoding="utf-8")
    assert _broken(page, tmp_path) == [
        "page.md: (gone.md) points at a missing file",
        "page.md: (there.md#nowhere) points at a missing heading",
        "page.md: (./also-gone.txt) points at a missing file"]


# --- shell completion ------------------------------------------------------------------

def _completion_env(tmp_path: Path) -> dict[str, str]:
    """A ``govcloud`` on PATH that runs this checkout, as an installed one would."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "govcloud"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} -m govcloud \"$@\"\n")
    exe.chmod(0o755)
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    return {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": path}


def test_the_readme_completion_completes_in_bash(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    command = 'eval "$(_GOVCLOUD_COMPLETE=bash_source govcloud)"'
    assert f"`{command}`" in text, "the README's completion paragraph changed; update this test"
    if shutil.which("bash") is None:
        pytest.fail("bash is needed to check the README's completion")
    script = command + """
complete -p govcloud
try() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=()
        _govcloud_completion govcloud; echo "${COMPREPLY[*]}"; }
try govcloud report ch
"""
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=tmp_path,
                          env=_completion_env(tmp_path), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["complete -o nosort -F _govcloud_completion govcloud",
                                        "chargeback"]


def test_the_readme_completion_source_for_zsh_is_a_compdef(tmp_path: Path) -> None:
    assert '`eval "$(_GOVCLOUD_COMPLETE=zsh_source govcloud)"`' in README.read_text()
    env = {**_completion_env(tmp_path), "_GOVCLOUD_COMPLETE": "zsh_source"}
    proc = subprocess.run([str(tmp_path / "bin" / "govcloud")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("#compdef govcloud")
    assert "compdef _govcloud_completion govcloud" in proc.stdout
