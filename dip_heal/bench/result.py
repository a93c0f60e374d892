"""A benchmark's scores: per case and method, their means, as Markdown and CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np

from .floor import Floor, excess

__all__ = ["MethodScore", "BenchResult", "markdown_table", "FLOOR_ROW"]

#: The name of the noise floor's row in the tables (:mod:`dip_heal.bench.floor`).
FLOOR_ROW = "floor (truth's neighbours)"


@dataclass
class MethodScore:
    """One method on one case."""

    case: str
    method: str
    l1: float = float("nan")
    r: float = float("nan")
    seconds: float = float("nan")
    n_scored: int = 0
    iterations: int | None = None
    snapshot: int | None = None
    label: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BenchResult:
    """Scores of every method on every case, plus the cases that were skipped."""

    methods: list[str]
    cases: list[str]
    scores: list[MethodScore] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    floors: dict[str, Floor] = field(default_factory=dict)

    def excess(self, case: str, method: str) -> float:
        """``method``'s L1 above ``case``'s noise floor, negative counted 0 (NaN: no score or floor)."""
        s, f = self.get(case, method), self.floors.get(case)
        if s is None or not s.ok or f is None:
            return float("nan")
        return excess(s.l1, f.l1)

    def summed_excess(self, method: str) -> tuple[float, int]:
        """The sum of ``method``'s excess over the cases it healed that have a floor, and their count."""
        vals = [self.excess(c, method) for c in self.cases]
        vals = [v for v in vals if np.isfinite(v)]
        return (float(np.sum(vals)) if vals else float("nan")), len(vals)

    def get(self, case: str, method: str) -> MethodScore | None:
        for s in self.scores:
            if s.case == case and s.method == method:
                return s
        return None

    def mean(self, method: str) -> tuple[float, float, float, int]:
        """Mean L1, r and seconds of ``method`` over the cases it healed, and their count."""
        ok = [s for s in self.scores if s.method == method and s.ok]
        if not ok:
            return float("nan"), float("nan"), float("nan"), 0
        return (float(np.mean([s.l1 for s in ok])), float(np.nanmean([s.r for s in ok])),
                float(np.mean([s.seconds for s in ok])), len(ok))

    def failures(self) -> dict[str, tuple[int, str]]:
        """Methods that failed on some case: ``{method: (cases failed, first error)}``."""
        out: dict[str, tuple[int, str]] = {}
        for s in self.scores:
            if not s.ok:
                n, first = out.get(s.method, (0, s.error or ""))
                out[s.method] = (n + 1, first)
        return out

    def label(self, method: str) -> str:
        """Row label: the method, with the iteration budget of iterative methods."""
        for s in self.scores:
            if s.method == method and s.ok and s.label:
                return s.label
        return method

    def floor_csv(self) -> str:
        """The noise floor per case and each method's excess above it, one row each, plus the sums.

        Columns: ``case``, ``method`` (the floor's row is :data:`FLOOR_ROW`), ``l1_e3`` (the floor
        or the method's L1), ``r`` (the r ceiling or the method's r), ``excess_e3``, ``note``
        (the floor's predictors' own L1, ``poisson`` for a photon-counting detector).
        """
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(["case", "method", "l1_e3", "r", "excess_e3", "note"])
        for c in self.cases:
            f = self.floors.get(c)
            if f is None:
                continue
            note = " ".join(f"{k}={v * 1e3:.4f}" for k, v in f.by.items()) + (" poisson" if f.counting else "")
            wr.writerow([c, FLOOR_ROW, _num(f.l1 * 1e3, 4), _num(f.r, 5), "", note])
            for m in self.methods:
                s = self.get(c, m)
                if s is not None and s.ok:
                    wr.writerow([c, m, _num(s.l1 * 1e3, 4), _num(s.r, 5), _num(self.excess(c, m) * 1e3, 4), ""])
        for m in self.methods:
            ex, n = self.summed_excess(m)
            l1, r, _, _ = self.mean(m)
            wr.writerow(["sum", m, _num(l1 * 1e3, 4), _num(r, 5), _num(ex * 1e3, 4), f"{n} cases; l1 and r: the means"])
        return buf.getvalue()

    def to_markdown(self) -> str:
        """The Markdown table: L1 x 1e-3 / Pearson r per case and mean, then seconds per case."""
        return markdown_table(self)

    def to_csv(self) -> str:
        """Long-format CSV, one row per case and method, plus one ``mean`` row per method."""
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(["case", "method", "l1_e3", "r", "seconds", "iterations", "snapshot", "n_scored", "status"])
        for s in self.scores:
            wr.writerow([s.case, s.method, _num(s.l1 * 1e3, 4), _num(s.r, 5), _num(s.seconds, 3),
                         "" if s.iterations is None else s.iterations, "" if s.snapshot is None else s.snapshot,
                         s.n_scored, "ok" if s.ok else f"error: {s.error}"])
        for m in self.methods:
            l1, r, sec, n = self.mean(m)
            wr.writerow(["mean", m, _num(l1 * 1e3, 4), _num(r, 5), _num(sec, 3), "", "", "",
                         f"ok ({n}/{len(self.cases)} cases)"])
        for name, reason in self.skipped:
            wr.writerow([name, "", "", "", "", "", "", "", f"skipped: {reason}"])
        return buf.getvalue()


def _num(v: float, nd: int) -> str:
    return "" if v is None or not np.isfinite(v) else f"{v:.{nd}f}"


def markdown_table(res: BenchResult) -> str:
    cases = res.cases
    floors = any(c in res.floors for c in cases)
    head = ["method", *cases, "mean"] + (["summed excess"] if floors else [])
    lines = [
        "L1 x 1e-3 / Pearson r in normalised log intensity on the pasted-gap pixels (lower L1, higher r "
        "is better)" + ("; the floor row: the L1 floor / the r ceiling (CC*) estimated from the truth's "
                        "neighbours (dip_heal.bench.floor), the summed excess: the L1 above it, summed "
                        "over the cases:" if floors else ":"),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for m in res.methods:
        cells = [res.label(m)]
        for c in cases:
            s = res.get(c, m)
            cells.append("–" if s is None else (f"{s.l1 * 1e3:.2f} / {s.r:.4f}" if s.ok else "failed"))
        l1, r, _, n = res.mean(m)
        mean = f"{l1 * 1e3:.2f} / {r:.4f}" if n else "–"
        if n and n < len(cases):
            mean += f" ({n}/{len(cases)})"
        cells.append(mean)
        if floors:
            ex, ne = res.summed_excess(m)
            cells.append("–" if not ne else f"{ex * 1e3:.2f}" + (f" ({ne}/{len(cases)})" if ne < len(cases) else ""))
        lines.append("| " + " | ".join(cells) + " |")
    if floors:
        cells = [FLOOR_ROW]
        fl = [res.floors[c] for c in cases if c in res.floors]
        for c in cases:
            f = res.floors.get(c)
            cells.append("–" if f is None else f"{f.l1 * 1e3:.2f} / {f.r:.4f}" + (" (P)" if f.counting else ""))
        cells.append(f"{np.mean([f.l1 for f in fl]) * 1e3:.2f} / {np.nanmean([f.r for f in fl]):.4f}")
        cells.append("0")
        lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "Excess above the floor, L1 x 1e-3 (negative counted 0; (P): the floor has the Poisson "
                  "predictor of a photon-counting detector):", "",
                  "| " + " | ".join(["method", *cases, "sum"]) + " |", "|" + "---|" * (len(cases) + 2)]
        for m in res.methods:
            cells = [res.label(m)]
            for c in cases:
                e = res.excess(c, m)
                cells.append(f"{e * 1e3:.2f}" if np.isfinite(e) else "–")
            ex, ne = res.summed_excess(m)
            cells.append(f"{ex * 1e3:.2f}" if ne else "–")
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Wall time per case in seconds (this machine; for iterative methods the iterations run "
              "and, when it differs, the iteration of the snapshot kept):", "",
              "| " + " | ".join(["method", *cases, "total"]) + " |", "|" + "---|" * (len(cases) + 2)]
    for m in res.methods:
        cells = [res.label(m)]
        total = 0.0
        for c in cases:
            s = res.get(c, m)
            if s is None or not s.ok:
                cells.append("–")
                continue
            total += s.seconds
            txt = f"{s.seconds:.2f}"
            if s.iterations is not None:
                txt += f" ({s.iterations} it"
                if s.snapshot is not None and s.snapshot != s.iterations:
                    txt += f", kept {s.snapshot}"
                txt += ")"
            cells.append(txt)
        cells.append(f"{total:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    failed = [s for s in res.scores if not s.ok]
    if failed or res.skipped:
        lines += [""]
        for s in failed:
            lines.append(f"- {s.method} failed on {s.case}: {s.error}")
        for name, reason in res.skipped:
            lines.append(f"- case {name} skipped: {reason}")
    return "\n".join(lines) + "\n"
