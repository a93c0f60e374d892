"""What a sweep did: its trials complete and the recommended one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .spec import SweepSpec, format_value

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["SweepSummary", "summarize", "trial_iterations"]


@dataclass
class SweepSummary:
    """What :func:`run_sweep` did."""

    run_dir: Path
    study_name: str
    storage: str
    n_points: int
    n_complete: int
    best_trial: int | None
    best_iteration: int | None
    best_val_l1: float | None
    best_params: dict[str, Any]
    seconds: float
    n_pruned: int = 0
    trial_iterations: int = 0
    budget_spent: bool = False

    def __str__(self) -> str:
        pruned = f", {self.n_pruned} pruned" if self.n_pruned else ""
        head = (f"sweep {self.run_dir}: {self.n_complete}/{self.n_points} trials complete{pruned} in "
                f"{self.seconds:.1f} s, {self.trial_iterations} trial-iterations (study {self.study_name!r} in "
                f"{self.storage})")
        if self.budget_spent:
            head += "; time budget spent: run the same command again to continue"
        if self.best_trial is None:
            return head
        params = ", ".join(f"{k}={format_value(v)}" for k, v in self.best_params.items())
        return (f"{head}; recommended: trial {self.best_trial} ({params}) at iteration {self.best_iteration}, "
                f"held-out L1 {self.best_val_l1:.4g}; next: dip-heal sheet {self.run_dir}; "
                f"dip-heal pick {self.run_dir} --best")


def trial_iterations(trial: Any) -> int:
    """Iterations a decided trial ran: its last snapshot's (pruned, stopped early, or the end)."""
    snaps = trial.user_attrs.get("snapshots") or []
    return int(max((s["iteration"] for s in snaps), default=0))


def summarize(study: "optuna.Study", run: Path, name: str, url: str, spec: SweepSpec, seconds: float,
              budget_spent: bool = False) -> SweepSummary:
    """What the sweep in ``study`` has decided so far: complete and pruned trials, the recommended one."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("duplicate_of") is None]
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    best = min(complete, key=lambda t: t.value) if complete else None
    return SweepSummary(
        run_dir=run, study_name=name, storage=url, n_points=spec.n_points(), n_complete=len(complete),
        best_trial=best.number if best else None,
        best_iteration=best.user_attrs.get("best_iteration") if best else None,
        best_val_l1=best.value if best else None,
        best_params=dict(best.params) if best else {}, seconds=seconds, n_pruned=len(pruned),
        trial_iterations=sum(trial_iterations(t) for t in complete + pruned), budget_spent=budget_spent,
    )
