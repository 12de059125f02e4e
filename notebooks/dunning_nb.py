"""Helpers shared by the notebooks: where the repository, the inputs and the
dunning binary are, and running the binary.

The notebooks take every path from an environment variable with a default
that works when Jupyter is started from the repository root after the
README's run command; CI sets the variables to its own temporary files
(see notebooks/README.md). This module only locates and runs things: the
analyses stay in the notebooks, where a reader can see them.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import time
from pathlib import Path


def repo_root() -> Path:
    """The repository root: $DUNNING_ROOT, else the nearest directory at or
    above the working directory holding Cargo.toml and notebooks/."""
    env = os.environ.get("DUNNING_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for d in [here, *here.parents]:
        if (d / "Cargo.toml").is_file() and (d / "notebooks").is_dir():
            return d
    raise RuntimeError(
        f"cannot find the dunning repository at or above {here}: "
        "start Jupyter inside the clone or set DUNNING_ROOT"
    )


ROOT = repo_root()


def env_path(name: str, default: str | Path) -> Path:
    """$NAME as a path (relative paths are taken from the repository root),
    else `default` (relative to the root too)."""
    value = os.environ.get(name) or str(default)
    p = Path(value)
    return p if p.is_absolute() else ROOT / p


def work_dir() -> Path:
    """Where the notebooks write what they make ($DUNNING_NB_OUT, default
    out/notebooks); created when missing. Its files are rewritten on every
    run, never reused, so they cannot be stale."""
    d = env_path("DUNNING_NB_OUT", "out/notebooks")
    d.mkdir(parents=True, exist_ok=True)
    return d


def dunning_command() -> list[str]:
    """How to start dunning, in this order of preference:

    1. $DUNNING_BIN, a path to the binary (CI passes the one its tests built);
    2. the newer of target/release/dunning and target/debug/dunning (under
       $CARGO_TARGET_DIR when set, else the repository's target/);
    3. `cargo run --release --quiet --` in the repository (builds it first).
    """
    env = os.environ.get("DUNNING_BIN")
    if env:
        p = Path(env)
        if not p.is_absolute():
            p = ROOT / p
        if not os.access(p, os.X_OK):
            raise RuntimeError(f"DUNNING_BIN={env}: no executable file there")
        return [str(p)]
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    built = [p for p in (target / "release" / "dunning", target / "debug" / "dunning")
             if os.access(p, os.X_OK)]
    if built:
        return [str(max(built, key=lambda p: p.stat().st_mtime))]
    return ["cargo", "run", "--release", "--quiet", "--"]


def dunning(*args: str | Path) -> str:
    """Runs `dunning ARGS` from the repository root and returns its standard
    output; a non-zero exit raises with the command, the exit code and what
    it printed on standard error."""
    cmd = [*dunning_command(), "--quiet", *map(str, args)]
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    took = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(cmd)} exited {done.returncode}:\n{done.stderr.strip()}"
        )
    print(f"$ {shlex.join(cmd)}  ({took:.1f} s)")
    return done.stdout


def sha256(path: Path) -> str:
    """The hex sha256 of a file (the manifest's and reports' model_sha256)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def ledger_args(data: Path, with_borrowers: bool = True, with_contacts: bool = True) -> list[str]:
    """The input flags for a ledger directory laid out as data/sample."""
    args = ["--schedule", data / "schedule.parquet", "--payments", data / "payments.parquet"]
    if with_borrowers and (data / "borrowers.parquet").exists():
        args += ["--borrowers", data / "borrowers.parquet"]
    if with_contacts and (data / "contacts.parquet").exists():
        args += ["--contacts", data / "contacts.parquet"]
    return [str(a) for a in args]


class Checks:
    """Comparisons of what dunning reported with what a notebook recomputed.

    `close` and `equal` record one comparison each; `verify` shows those
    recorded since the last call as a table and raises AssertionError when
    any disagrees, so a notebook stops (and CI fails) at the first section
    whose numbers do not match.
    """

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self._shown = 0

    def close(self, name: str, dunning, recomputed, tol: float) -> bool:
        """|dunning - recomputed| <= tol (both numbers; None only equals None)."""
        if dunning is None or recomputed is None:
            ok, diff = dunning is None and recomputed is None, None
        else:
            diff = abs(float(dunning) - float(recomputed))
            ok = diff <= tol
        return self._add(name, dunning, recomputed, diff, f"<= {tol:g}", ok)

    def at_least(self, name: str, value: float, floor: float) -> bool:
        """A recomputed share that must reach `floor` (an agreement rate)."""
        return self._add(name, None, value, None, f">= {floor:g}", value >= floor)

    def equal(self, name: str, dunning, recomputed) -> bool:
        """dunning == recomputed, exactly."""
        ok = dunning == recomputed
        return self._add(name, dunning, recomputed, None, "==", ok)

    def _add(self, name, dunning, recomputed, diff, rule, ok) -> bool:
        def short(v):
            if hasattr(v, "item") and getattr(v, "ndim", None) == 0:
                v = v.item()  # a numpy scalar, shown as the plain number
            s = repr(v)
            return s if len(s) <= 60 else s[:57] + "..."
        self.rows.append({"check": name, "dunning": short(dunning),
                          "recomputed": short(recomputed), "difference": diff,
                          "rule": rule, "ok": bool(ok)})
        return bool(ok)

    def verify(self):
        """The comparisons since the last verify, as a polars DataFrame; raises
        AssertionError naming each one that failed."""
        import polars as pl
        new = self.rows[self._shown:]
        self._shown = len(self.rows)
        failed = [r for r in new if not r["ok"]]
        if failed:
            lines = "\n".join(f"  {r['check']}: dunning {r['dunning']}, recomputed "
                              f"{r['recomputed']} ({r['rule']})" for r in failed)
            raise AssertionError(f"{len(failed)} of {len(new)} checks disagree:\n{lines}")
        return pl.DataFrame(new, schema={"check": pl.String, "dunning": pl.String,
                                         "recomputed": pl.String, "difference": pl.Float64,
                                         "rule": pl.String, "ok": pl.Boolean})
