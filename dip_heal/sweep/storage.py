"""Optuna storages (SQLite, PostgreSQL) opened with one-line errors; the artifact store."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DipHealError

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["open_storage", "artifact_store", "redact"]


def redact(url: str) -> str:
    """The URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        u = make_url(url)
        return u.render_as_string(hide_password=True) if u.password else url
    except Exception:
        return url


def _with_driver(url: str) -> str:
    """``postgresql://`` -> ``postgresql+psycopg2://`` when psycopg (3), SQLAlchemy 2.1's default
    driver, is missing and psycopg2 is there.

    Raises
    ------
    DipHealError
        A PostgreSQL URL without any driver installed.
    """
    import importlib.util

    if not url.startswith(("postgresql://", "postgres://")):
        return url
    if importlib.util.find_spec("psycopg") is not None:
        return url
    if importlib.util.find_spec("psycopg2") is None:
        raise DipHealError(
            f"no PostgreSQL driver for {redact(url)}; expected psycopg2 or psycopg; "
            "install it with pip install 'dip-heal[postgres]'"
        )
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


def open_storage(url: str, *, heartbeat_interval: int | None = None, grace_period: int | None = None,
                 ) -> "optuna.storages.RDBStorage":
    """Open an Optuna RDB storage (SQLite or PostgreSQL/MySQL URL) with a one-line error.

    Raises
    ------
    DipHealError
        A URL that is not a database URL, or a server that cannot be reached.
    """
    import optuna

    given, url = url, _with_driver(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}
    elif url.startswith("postgresql"):
        engine_kwargs = {"connect_args": {"connect_timeout": 10}}
    try:
        from sqlalchemy.exc import IntegrityError, ProgrammingError

        for attempt in range(6):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return optuna.storages.RDBStorage(
                        url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
                        grace_period=grace_period,
                    )
            except (IntegrityError, ProgrammingError):
                # workers starting together on an empty database race to create Optuna's tables
                if attempt == 5:
                    raise
                time.sleep(0.2 + 0.3 * attempt + 0.2 * np.random.default_rng().random())
        raise AssertionError("unreachable")  # pragma: no cover
    except Exception as exc:  # sqlalchemy's ArgumentError, OperationalError, ImportError of a driver ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = reason.replace("(psycopg2.OperationalError) ", "")
        raise DipHealError(
            f"cannot open the Optuna storage {redact(given)} ({type(exc).__name__}: {reason}); expected a reachable "
            "database URL such as postgresql://user@host:5432/db or sqlite:///path/study.db; check the server, "
            "host, port and credentials, or omit --storage to use RUN/study.db"
        ) from None


def artifact_store(path: Path) -> Any:
    """The run folder's ``artifacts/`` store (Optuna's ``FileSystemArtifactStore``)."""
    from optuna.artifacts import FileSystemArtifactStore

    return FileSystemArtifactStore(str(path))

