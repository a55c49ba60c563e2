"""Every ```python block of docs/**/*.md runs, so that the documentation cannot rot.

Each block is one test. It runs in a fresh namespace (``__name__ == "__main__"``), in a
temporary working directory, with ``HOME`` and ``OVERTONE_STORAGE_PATH`` pointing into that
directory, so that ``~/overtone_results`` in a block means a temporary folder.

A block can be marked by an HTML comment on the line above its fence (invisible on the site):

- ``<!-- doc-test: continue -->``: run in the namespace and directory the previous python
  block of the same page left (a page's walk-through split by prose);
- ``<!-- doc-test: requires MODULE[, MODULE...] -->``: run only when every module is
  importable (an optional framework, or a part of Overtone built elsewhere); skipped, naming
  the missing module, otherwise;
- ``<!-- doc-test: skip REASON -->``: never run (a cluster, a cloud account, a server that runs
  until Ctrl-C). Their number is capped by ``MAX_UNCONDITIONAL_SKIPS``.

Directives combine with ``;``: ``<!-- doc-test: continue; requires xgboost -->``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
MAX_UNCONDITIONAL_SKIPS = 12

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<body>.*?)\s*-->\s*$")


@dataclass
class Block:
    page: str  # relative to docs/
    index: int  # among the page's python blocks
    line: int  # 1-based line of the opening fence
    code: str
    cont: bool = False
    requires: list[str] = field(default_factory=list)
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def parse_directive(body: str, where: str) -> tuple[bool, list[str], str | None]:
    cont, requires, skip = False, [], None
    for part in filter(None, (p.strip() for p in body.split(";"))):
        word, _, rest = part.partition(" ")
        if word == "continue" and not rest:
            cont = True
        elif word == "requires" and rest.strip():
            requires += [m.strip() for m in rest.split(",") if m.strip()]
        elif word == "skip" and rest.strip():
            skip = rest.strip()
        else:
            raise ValueError(
                f"{where}: doc-test directive {part!r} is unknown, but must be 'continue', "
                "'requires MODULE[, MODULE...]' or 'skip REASON'"
            )
    return cont, requires, skip


def _closes(line: str, fence: str) -> bool:
    text = line.strip()
    return bool(text) and set(text) == {fence[0]} and len(text) >= len(fence)


def collect(page: Path, root: Path = DOCS) -> list[Block]:
    """The python blocks of one page, with the directive above each."""
    rel = page.relative_to(root).as_posix()
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        fence, info, indent = match["fence"], match["info"].strip(), len(match["indent"])
        start = i
        i += 1
        body = []
        while i < len(lines) and not _closes(lines[i], fence):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1  # the closing fence
        lang = info.split()[0].lstrip("{.") if info else ""
        if lang not in ("python", "py"):
            continue
        above = start - 1
        while above >= 0 and not lines[above].strip():
            above -= 1
        cont, requires, skip = False, [], None
        if above >= 0 and (d := _DIRECTIVE.match(lines[above])) is not None:
            cont, requires, skip = parse_directive(d["body"], f"{rel}:{above + 1}")
        blocks.append(
            Block(rel, len(blocks), start + 1, "\n".join(body) + "\n", cont, requires, skip)
        )
    return blocks


def all_blocks() -> list[Block]:
    return [b for page in sorted(DOCS.rglob("*.md")) for b in collect(page)]


BLOCKS = all_blocks()
BY_PAGE: dict[str, list[Block]] = {}
for _b in BLOCKS:
    BY_PAGE.setdefault(_b.page, []).append(_b)

# Outcomes, for the summary printed at the end of the session (see conftest.py).
OUTCOMES: dict[str, str] = {}


def missing_modules(block: Block) -> list[str]:
    missing = []
    for name in block.requires:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package is absent
            found = False
        if not found:
            missing.append(name)
    return missing


def chain_of(block: Block) -> list[Block]:
    """The blocks that must run, in order, to run this one: back to the last fresh one."""
    page = BY_PAGE[block.page]
    chain = [block]
    while chain[0].cont:
        if chain[0].index == 0:
            raise ValueError(f"{chain[0].id}: 'continue' on the first python block of a page")
        chain.insert(0, page[chain[0].index - 1])
    return chain


def why_not(block: Block) -> str | None:
    """Why a block is skipped (it or an earlier block of its chain), or None."""
    for b in chain_of(block):
        if b.skip is not None:
            return f"skip: {b.skip}" if b is block else f"continues {b.id}, which is skipped"
        missing = missing_modules(b)
        if missing:
            return f"requires {', '.join(missing)}, which is not installed"
    return None


@dataclass
class _State:
    last: Block | None = None
    namespace: dict | None = None
    home: Path | None = None


_STATE = _State()


def _enter(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OVERTONE_STORAGE_PATH", str(home / "overtone_results"))
    monkeypatch.setenv("OVERTONE_SMOKE_TEST", "1")
    monkeypatch.chdir(home)


def _exec(block: Block, namespace: dict) -> None:
    # Padded so that a traceback names the page's own line numbers.
    code = compile("\n" * block.line + block.code, str(DOCS / block.page), "exec")
    exec(code, namespace)  # noqa: S102 - running the documentation is the point


def _reset_process_globals() -> None:
    """Blocks run in this process: undo what a library keeps process-wide, so that later tests
    start clean (W&B caches its settings, the offline mode among them, in a singleton)."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and hasattr(wandb, "teardown"):
        wandb.teardown()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_block(block: Block, tmp_path_factory, monkeypatch) -> None:
    reason = why_not(block)
    if reason is not None:
        OUTCOMES[block.id] = reason
        pytest.skip(reason)
    chain = chain_of(block)
    if block.cont and _STATE.last is chain[-2]:
        namespace, home = _STATE.namespace, _STATE.home  # the previous block just ran
        _enter(home, monkeypatch)
    else:
        home = tmp_path_factory.mktemp("doc_block")
        namespace = {"__name__": "__main__"}
        _enter(home, monkeypatch)
        for earlier in chain[:-1]:  # run alone (pytest -k): replay the page up to here
            _exec(earlier, namespace)
    _STATE.last, _STATE.namespace, _STATE.home = None, None, None
    try:
        _exec(block, namespace)
    except BaseException:
        OUTCOMES[block.id] = "failed"
        raise
    finally:
        _reset_process_globals()
    OUTCOMES[block.id] = "passed"
    _STATE.last, _STATE.namespace, _STATE.home = block, namespace, home


def test_every_page_is_scanned_and_skips_stay_few() -> None:
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert "getting-started.md" in pages and "dask.md" in pages
    assert len(BLOCKS) >= 40, f"only {len(BLOCKS)} python blocks in docs/: the collector broke"
    unconditional = [b.id for b in BLOCKS if b.skip is not None]
    assert len(unconditional) <= MAX_UNCONDITIONAL_SKIPS, (
        f"{len(unconditional)} python blocks of docs/ are marked 'skip' ({unconditional}), "
        f"but at most {MAX_UNCONDITIONAL_SKIPS} may be: make them run"
    )


def test_directives_are_parsed() -> None:
    assert parse_directive("continue; requires a.b, c", "x") == (True, ["a.b", "c"], None)
    assert parse_directive("skip needs a cluster", "x") == (False, [], "needs a cluster")
    with pytest.raises(ValueError, match="'skp x' is unknown"):
        parse_directive("skp x", "x")


def test_collector_reads_fences_and_directives(tmp_path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n```python\nx = 1\n```\n\n```sh\necho no\n```\n\n"
        "<!-- doc-test: continue -->\n\n````python\ns = '```'\n````\n\n"
        "- an item:\n\n    <!-- doc-test: requires nothing_here -->\n    ```py\n"
        "    if x:\n        y = 2\n    ```\n\n<!-- doc-test: skip needs a cluster -->\n"
        '```python title="a.py"\nz = 3\n```\n',
        encoding="utf-8",
    )
    blocks = collect(page, tmp_path)
    assert [(b.line, b.code) for b in blocks] == [
        (3, "x = 1\n"),
        (13, "s = '```'\n"),
        (20, "if x:\n    y = 2\n"),
        (26, "z = 3\n"),
    ]
    assert [(b.cont, b.requires, b.skip) for b in blocks] == [
        (False, [], None),
        (True, [], None),
        (False, ["nothing_here"], None),
        (False, [], "needs a cluster"),
    ]
    assert missing_modules(blocks[2]) == ["nothing_here"]
    assert missing_modules(Block("p", 0, 1, "", requires=["overtone.no_such.module"])) == [
        "overtone.no_such.module"
    ]


def summary() -> list[str]:
    """Lines for the end of the session: how many blocks ran, were skipped, and why."""
    if not OUTCOMES:
        return []
    passed = sum(1 for v in OUTCOMES.values() if v == "passed")
    failed = sum(1 for v in OUTCOMES.values() if v == "failed")
    skipped = {k: v for k, v in OUTCOMES.items() if v not in ("passed", "failed")}
    lines = [
        f"docs python blocks: {len(BLOCKS)} in {len(BY_PAGE)} pages; {passed} ran and passed, "
        f"{failed} failed, {len(skipped)} skipped "
        f"({sum(1 for b in BLOCKS if b.skip is not None)} marked 'skip')"
    ]
    lines += [f"  skipped {k}: {v}" for k, v in sorted(skipped.items())]
    return lines
