"""Fuzz suite: 230 malformed and nasty inputs (``tests/malformed_cases.py``) through the CLI.

Every input goes through ``n4d4d build F1 F2 ... -o OUT --resolution 64 --max-faces 2000`` in
a subprocess with a timeout (a few batches of many inputs, one line per input, instead of one
process per input), and must end in either a typed one-line error naming the file or a
complete output (passed, or rejected by the certificate with its report): never a hang, a
traceback, an ``internal error``, a multi-line message, a partial or temporary folder, a file
left in ``$TMPDIR`` or a change to the inputs. Each case is its own test (parametrised); the
batch it belongs to runs once, on the first case that needs it.

``python tests/test_malformed.py`` runs every batch and prints the table of outcomes by class.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from malformed_cases import Case, all_cases  # noqa: E402

CASES = [c for c in all_cases() if c.cli]
LOADER_CASES = [c for c in all_cases() if not c.cli]
#: Inputs built by one CLI process: grouped by format, so that a hang (if one came back)
#: costs one batch, not the suite.
BATCHES = {"obj": ("obj",), "stl_ply_off": ("stl-ascii", "stl-binary", "ply", "off"),
           "gltf": ("gltf", "glb", "other"), "urdf": ("urdf",)}
#: Wall seconds per batch: ~1 s per error and ~4 s per build here; 600 s leaves room for a
#: machine shared by several builds (4x slower) and still catches a hang.
BATCH_TIMEOUT_S = 600
CLI_ARGS = ("--resolution", "64", "--max-faces", "2000")
RESULT = re.compile(r"^(internal error|error|passed|failed|skipped) (.*)$")
#: stderr lines that are no input's result: Warp's note on machines without CUDA, the CLI's
#: notes (e.g. a renamed output), an asset's motion-clip line, the summary, the index page line,
#: blank lines.
NOISE = re.compile(r"^(Warp CUDA warning: .*|note .*|clips .*|\d+ passed, \d+ failed.*|index .*|\s*)$")
TAG = re.compile(r"zz(\d{3})")


def _batch_of(case: Case) -> str:
    return next(name for name, fmts in BATCHES.items() if case.fmt in fmts)


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("n4d4d")
    return [str(exe)] if exe.is_file() else [sys.executable, "-c", "from n4d4d.cli import main; main()"]


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size if p.is_file() else -1)
            for p in sorted(folder.rglob("*")) if not p.is_fifo()}


def run_batch(name: str, root: Path) -> dict:
    """Run one batch; returns per-tag results and batch-wide facts (see :func:`_check_case`)."""
    cases = [c for c in CASES if _batch_of(c) == name]
    inputs, out, tmp = root / "in", root / "out", root / "tmp"
    tmp.mkdir(parents=True)
    paths = [c.write(inputs) for c in cases]
    before = _snapshot(inputs)
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONWARNINGS="ignore", NO_COLOR="1", COLUMNS="1000", TERM="dumb")
    cmd = _cli() + ["build", *map(str, paths), "-o", str(out), *CLI_ARGS]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=root,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=BATCH_TIMEOUT_S)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        hung = True
    stdout, stderr = stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")
    results, extra, order = {}, [], iter(cases)
    current = None
    for line in stderr.splitlines():
        m = RESULT.match(line)
        if m:
            current = next(order, None)  # the CLI builds inputs in order, one line each
            tags = set(TAG.findall(line))
            if current is None or (tags and tags != {current.tag[2:]}):
                extra.append(f"result line out of step with the inputs: {line!r}")
                current = None
                continue
            results[current.tag] = {"kind": m.group(1), "line": line, "continuation": []}
        elif NOISE.match(line):
            current = None if line.strip() else current
        elif current is not None:
            results[current.tag]["continuation"].append(line)
        else:
            extra.append(line)
    return {"results": results, "hung": hung, "seconds": time.perf_counter() - t0, "returncode": proc.returncode,
            "stdout": stdout, "stderr": stderr, "extra": extra, "inputs_changed": _snapshot(inputs) != before,
            "tmp_left": sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*")), "out": out, "paths": paths,
            "cases": cases}


_RUNS: dict = {}


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    def get(name):
        if name not in _RUNS:
            _RUNS[name] = run_batch(name, tmp_path_factory.mktemp(f"fuzz_{name}"))
        return _RUNS[name]
    return get


def _folder_of(line: str, out: Path) -> Path | None:
    """The output folder a passed / failed line names (``.../NAME/asset.usda`` or ``-> folder``)."""
    if line.startswith("failed ") and " -> " in line:
        text = line.rsplit(" -> ", 1)[1].strip()
    else:
        m = re.match(r"^passed .*?: (.*?)(?: \([\d.]+ s\))?$", line)
        if not m:
            return None
        text = m.group(1)
        text = text.rsplit("/", 1)[0] if re.search(r"/asset\.usd[ac]?$", text) else text
    p = Path(text)
    p = p if p.is_absolute() else out.parent / p
    return p if p.is_dir() else None


def _check_output(folder: Path, passed: bool) -> list[str]:
    """What is wrong with a built asset's folder (empty list: complete and valid)."""
    import hashlib

    bad = []
    report = folder / "report.json"
    try:
        rep = json.loads(report.read_text())
    except (OSError, ValueError) as exc:
        return [f"{report}: unreadable report ({exc})"]
    if bool(rep.get("passed")) != passed:
        bad.append(f"report.json passed={rep.get('passed')} but the CLI said {'passed' if passed else 'failed'}")
    for key, rel in (rep.get("files") or {}).items():
        if not (folder / rel).is_file():
            bad.append(f"file {rel} listed in report.json is missing")
    for rel, digest in (rep.get("files_sha256") or {}).items():
        f = folder / rel
        if f.is_file() and hashlib.sha256(f.read_bytes()).hexdigest() != digest:
            bad.append(f"{rel} does not match its hash in report.json")
    if passed and not list(folder.glob("asset.usd*")):
        bad.append("no asset.usd* in a passed asset's folder")
    if list(folder.rglob(".*tmp*")) or list(folder.rglob("*.tmp*")):
        bad.append("temporary files left in the asset's folder")
    return bad


def _check_case(case: Case, run: dict) -> list[str]:
    """Everything wrong with one case's outcome (empty list: it passed)."""
    r = run["results"].get(case.tag)
    if r is None:
        return [f"no result line ({'the batch hung' if run['hung'] else 'missing'}; stderr tail: "
                f"{run['stderr'][-600:]!r})"]
    bad = []
    if r["kind"] == "internal error" or "internal error" in r["line"]:
        bad.append(f"reached the CLI's catch-all: {r['line']}")
    if r["continuation"]:
        bad.append(f"message of {1 + len(r['continuation'])} lines: {[r['line']] + r['continuation']}")
    if r["kind"] == "error":
        if case.expect == "built":
            bad.append(f"expected a build, got: {r['line']}")
        if case.match and not re.search(case.match, r["line"]):
            bad.append(f"error does not match {case.match!r}: {r['line']}")
        if case.tag not in r["line"]:
            bad.append(f"error does not name the file: {r['line']}")
    elif r["kind"] in ("passed", "failed"):
        if case.expect == "error":
            bad.append(f"expected a typed error, got: {r['line']}")
        folder = _folder_of(r["line"], run["out"])
        if folder is None:
            bad.append(f"no output folder for: {r['line']}")
        else:
            bad += _check_output(folder, r["kind"] == "passed")
    return bad


@pytest.mark.parametrize("case", CASES, ids=[f"{c.tag}-{c.slug}" for c in CASES])
def test_malformed_input(case, batches):
    problems = _check_case(case, batches(_batch_of(case)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", LOADER_CASES, ids=[f"{c.tag}-{c.slug}" for c in LOADER_CASES])
def test_valid_variant_reads(case, tmp_path):
    # Valid inputs that only exercise the reader (BOM, tabs, quads, suffix case, UTF-16, ...):
    # loaded in-process, a mesh with faces or (for "any") a typed error.
    from n4d4d.errors import N4d4dError
    from n4d4d.io.load import load_mesh
    from n4d4d.io.urdf import load_urdf_asset

    path = case.write(tmp_path)
    try:
        mesh = load_urdf_asset(path).source_mesh if path.suffix == ".urdf" else load_mesh(path)
    except N4d4dError as exc:
        assert case.expect == "any" and "\n" not in str(exc), str(exc)
    else:
        assert len(mesh.faces) >= 12


@pytest.mark.parametrize("name", list(BATCHES))
def test_batch_leaves_nothing_behind(name, batches):
    run = batches(name)
    assert not run["hung"], f"batch {name} ran past {BATCH_TIMEOUT_S} s"
    assert "Traceback" not in run["stderr"] + run["stdout"], run["stderr"][-2000:]
    assert not run["extra"], f"stderr lines that belong to no input: {run['extra'][:10]}"
    assert not run["inputs_changed"], "the inputs' folder changed"
    assert not run["tmp_left"], f"left in $TMPDIR: {run['tmp_left'][:10]}"
    # the output folder holds the index page and one folder per built asset, nothing else
    out = run["out"]
    named = {_folder_of(r["line"], out) for r in run["results"].values() if r["kind"] in ("passed", "failed")}
    expected = {p for p in named if p is not None}
    found = {p for p in out.iterdir() if p.name not in ("index.html", "rejected")} if out.exists() else set()
    found |= set((out / "rejected").iterdir()) if (out / "rejected").is_dir() else set()
    assert found == expected, f"unexpected in {out}: {sorted(map(str, found - expected))}; " \
                              f"missing: {sorted(map(str, expected - found))}"
    all_passed = all(r["kind"] == "passed" for r in run["results"].values())
    assert (run["returncode"] == 0) == all_passed, f"exit code {run['returncode']}"


def outcome_table(runs: dict) -> str:
    """Markdown table: per class of input, how many ended in each outcome."""
    names = {"error": "typed error", "passed": "built (passed)", "failed": "rejected by certificate"}
    rows: dict = {}
    for run in runs.values():
        for c in run["cases"]:
            r = run["results"].get(c.tag)
            kind = "other" if r is None or _check_case(c, run) else names.get(r["kind"], "other")
            rows.setdefault(c.kind, Counter())[kind] += 1
    cols = ["typed error", "built (passed)", "rejected by certificate", "other"]
    lines = ["| class | inputs | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    total = Counter()
    for kind in sorted(rows):
        n = sum(rows[kind].values())
        total.update(rows[kind])
        lines.append(f"| {kind} | {n} | " + " | ".join(str(rows[kind][c]) for c in cols) + " |")
    lines.append(f"| all | {sum(total.values())} | " + " | ".join(str(total[c]) for c in cols) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        runs = {n: run_batch(n, Path(d) / n) for n in BATCHES}
        for n, r in runs.items():
            print(f"batch {n}: {len(r['cases'])} inputs, {r['seconds']:.1f} s, exit {r['returncode']}, "
                  f"hung={r['hung']}", file=sys.stderr)
            for c in r["cases"]:
                problems = _check_case(c, r)
                if problems:
                    print(f"  {c.tag} {c.slug}: {problems[0][:300]}", file=sys.stderr)
        print(outcome_table(runs))
