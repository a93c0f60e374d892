"""What a sweep did: its trials complete and the recommended one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .spec import SweepSpec, format_value

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["SweepSummary", "summarize"]


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

    def __str__(self) -> str:
        head = (f"sweep {self.run_dir}: {self.n_complete}/{self.n_points} trials complete in {self.seconds:.1f} s "
                f"(study {self.study_name!r} in {self.storage})")
        if self.best_trial is None:
            return head
        params = ", ".join(f"{k}={format_value(v)}" for k, v in self.best_params.items())
        return (f"{head}; recommended: trial {self.best_trial} ({params}) at iteration {self.best_iteration}, "
                f"held-out L1 {self.best_val_l1:.4g}; next: dip-heal sheet {self.run_dir}; "
                f"dip-heal pick {self.run_dir} --best")


def summarize(study: "optuna.Study", run: Path, name: str, url: str, spec: SweepSpec, seconds: float) -> SweepSummary:
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    best = min(complete, key=lambda t: t.value) if complete else None
    return SweepSummary(
        run_dir=run, study_name=name, storage=url, n_points=spec.n_points(), n_complete=len(complete),
        best_trial=best.number if best else None,
        best_iteration=best.user_attrs.get("best_iteration") if best else None,
        best_val_l1=best.value if best else None,
        best_params=dict(best.params) if best else {}, seconds=seconds,
    )
