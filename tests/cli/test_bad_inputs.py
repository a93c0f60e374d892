"""The bad-input table of issue 14: "Never lose a user's file, never heal a broken one".

Every case builds a few tiny files in a fresh folder, runs one ``dip-heal`` command on them through
click's ``CliRunner`` and checks what a user gets:

* the exit code (1 for dip-heal's errors, 2 for click's usage errors: a value that cannot be parsed
  at all, a path of the wrong kind that click itself checks);
* no traceback, and no uncaught exception;
* ONE message line (``dip-heal: ...`` or ``Error: ...``); log lines (``INFO``/``WARNING``/``DEBUG``)
  are not counted, nor click's ``Usage:`` and ``Try '...' for help.`` lines of a usage error, nor
  ``bulk``'s closing summary line;
* the message names the offending file (or option) and says what to do (a loose check on words
  such as "expected", "use", "check", "give", "run", ...);
* every file that existed before the run has the same sha256 after it, and no path appeared
  (no partial output, no temporary folder, no output folder of a failed command).

``python tests/cli/test_bad_inputs.py`` runs the table and prints it as Markdown (PASS/FAIL per case,
with the message each case got).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shlex
import signal
import stat
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

try:  # pytest is optional for the printable table
    import pytest
except ImportError:  # pragma: no cover
    pytest = None  # type: ignore[assignment]

# ----------------------------------------------------------------------------- checks

#: Words that tell the user what to do (a loose check).
CUE = re.compile(
    r"\b(expected|expect|expects|choose|give|check|use|pass|run|rerun|re-run|drop|convert|save|re-save|"
    r"resave|remove|try|rename|delete|set|add|fix|pick|select|omit|instead|install|move|copy|write|"
    r"re-export|export|make|create|regenerate|retrain|restore|build|rebuild|download|list|empty|provide|"
    r"specify|supply|point|recreate|re-create|repeat|wait|free|chmod|delete)\b",
    re.I,
)
LOG_LINE = re.compile(r"^(INFO|WARNING|DEBUG) ")
USAGE_LINES = (re.compile(r"^Usage: "), re.compile(r"^Try '.*' for help\.$"))
BULK_SUMMARY = re.compile(r"^healed \d+, nothing to heal \d+, already done \d+, failed \d+")
PATHLIKE = re.compile(r"""['"]?[^\s'"]*[/\\][^\s'"]*['"]?""")  # paths: their folder names are no cue
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


class CaseTimeout(BaseException):
    """Raised by the alarm when a case runs past its time limit (not an Exception: click lets it through)."""


@dataclass
class Case:
    id: str
    build: Callable[[Path, "Context"], None]
    argv: list[str]  # "{d}" is the case folder, "{sweep}" the shared sweep run
    exit: int
    expect: tuple[str, ...]  # regexes the message line must all match
    cwd: str | None = None  # relative to the case folder
    allow_new: tuple[str, ...] = ()  # paths (relative to the case folder) allowed to appear
    seconds: float = 30.0  # time limit
    needs_writable_modes: bool = False  # skipped as root (root ignores file modes)
    shared_sweep: bool = False  # the shared sweep run is part of what must stay unchanged
    bulk: bool = False  # bulk's closing summary line does not count as a message line


@dataclass
class Outcome:
    case: Case
    exit_code: int | None = None
    output: str = ""
    message: str = ""
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and self.skipped is None


class Context:
    """State shared by the cases of one run: a finished tiny sweep, built once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sweep: Path | None = None

    def sweep(self) -> Path:
        if self._sweep is None:
            folder = self.root / "shared_sweep"
            folder.mkdir(parents=True, exist_ok=True)
            self._sweep = build_sweep_run(folder)
        return self._sweep


# ----------------------------------------------------------------------------- tiny files


def frame_array(shape: tuple[int, int] = (32, 32), dtype=np.int32) -> np.ndarray:
    """Seeded Poisson rings with a 2-row module gap (-1) and a dead pixel (-2)."""
    rng = np.random.default_rng(7)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h / 2 + 0.5, xx - w / 2)
    lam = 2000.0 / (1.0 + r) ** 1.5 + 60.0 * np.exp(-((r - h / 3) / 2.0) ** 2) + 3.0
    a = rng.poisson(lam).astype(dtype)
    a[h // 2 - 4: h // 2 - 2, :] = -1
    a[3, 5] = -2
    return a


def write_cbf(p: Path, a: np.ndarray | None = None) -> Path:
    import fabio

    fabio.cbfimage.CbfImage(data=frame_array() if a is None else a).write(str(p))
    return p


def write_edf(p: Path, a: np.ndarray | None = None) -> Path:
    import fabio

    fabio.edfimage.EdfImage(data=frame_array() if a is None else a).write(str(p))
    return p


def write_tif(p: Path, a: np.ndarray | None = None) -> Path:
    import tifffile

    tifffile.imwrite(str(p), frame_array() if a is None else a)
    return p


def write_npy(p: Path, a: np.ndarray | None = None) -> Path:
    np.save(p, frame_array() if a is None else a)
    return p


def write_h5(p: Path, n: int = 2) -> Path:
    import h5py

    with h5py.File(p, "w") as f:
        f.create_dataset("/entry/data/data", data=np.stack([frame_array()] * n))
    return p


def write_marccd(p: Path) -> Path:
    """A minimal MarCCD file: a TIFF whose bytes 1024..4096 hold the MarCCD header, pixels at 4096."""
    a = (frame_array(dtype=np.int64).clip(0) + 10).astype("<u2")
    h, w = a.shape
    tags = [(256, 3, 1, w), (257, 3, 1, h), (258, 3, 1, 16), (259, 3, 1, 1), (262, 3, 1, 1),
            (273, 4, 1, 4096), (277, 3, 1, 1), (278, 3, 1, h), (279, 4, 1, w * h * 2)]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", *t) for t in tags) + struct.pack("<I", 0)
    head = (b"II*\x00" + struct.pack("<I", 8) + ifd).ljust(1024, b"\0")
    mar = bytearray(3072)
    struct.pack_into("<I", mar, 0, 2)
    mar[4:7] = b"MMX"
    p.write_bytes(head + bytes(mar) + a.tobytes())
    return p


def truncate(p: Path, frac: float = 0.6) -> Path:
    b = p.read_bytes()
    p.write_bytes(b[: int(len(b) * frac)])
    return p


def gzip_truncated(src: Path, dst: Path, frac: float = 0.5) -> Path:
    dst.write_bytes(gzip.compress(src.read_bytes()))
    src.unlink()
    return truncate(dst, frac)


def tiny_config(d: Path) -> Path:
    from dip_heal.config import FitConfig

    p = d / "tiny.json"
    FitConfig(depth=2, channels=8, num_iter=2, snapshot_every=1, seed=0).to_json(p)
    return p


TINY_TOML = """sampler = "grid"
[config]
depth = 2
channels = 8
num_iter = 2
snapshot_every = 1
holdout_fraction = 0.05
[params]
lr = [{lrs}]
seed = [0]
"""


def tiny_toml(d: Path, lrs: str = "1e-2") -> Path:
    p = d / "tiny.toml"
    p.write_text(TINY_TOML.format(lrs=lrs))
    return p


def build_sweep_run(folder: Path, png: bool = False) -> Path:
    """A finished 2-trial sweep (2 iterations each) on ``folder/frame.npy`` (or an 8-bit
    ``folder/frame.png`` healed where ``folder/mask.npy`` says); returns ``folder/run``."""
    from click.testing import CliRunner

    from dip_heal.cli import main

    extra: list[str] = []
    if png:
        from PIL import Image

        frame = folder / "frame.png"
        Image.fromarray(frame_array((32, 32)).clip(0, 255).astype(np.uint8)).save(frame)
        heal = np.zeros((32, 32), bool)
        heal[10:12, :] = True
        np.save(folder / "mask.npy", heal)
        extra = ["--mask", str(folder / "mask.npy")]
    else:
        frame = write_npy(folder / "frame.npy", frame_array((32, 32)))
    toml = tiny_toml(folder, "1e-3, 1e-2")
    res = CliRunner().invoke(main, ["fit", str(frame), *extra, "--sweep", str(toml),
                                    "--out", str(folder / "run"), "--no-progress"])
    if res.exit_code != 0:
        raise RuntimeError(f"could not build the sweep run: {res.output.strip()}")
    return folder / "run"


def tiny_train_args(out: str) -> list[str]:
    return ["train", "--arch", "msdnet", "--layers", "2", "--max-dilation", "2", "--synthetic", "2",
            "--synthetic-shape", "40,40", "--detector", "Pilatus300k", "--out", out, "--crop", "32",
            "--batch", "2", "--val-every", "2", "--no-progress", "--device", "cpu"]


# ----------------------------------------------------------------------------- builders


def nothing(d: Path, ctx: Context) -> None:
    pass


def b_good_cbf(d, ctx):
    write_cbf(d / "good.cbf")


def b_folder(d, ctx):
    (d / "frames.cbf").mkdir()
    (d / "frames.cbf" / "a.txt").write_text("not a frame\n")


def b_empty(d, ctx):
    (d / "empty.cbf").write_bytes(b"")


def b_trunc(kind: str):
    def build(d, ctx):
        if kind == "edf":
            truncate(write_edf(d / "trunc.edf"))
        elif kind == "tif":
            truncate(write_tif(d / "trunc.tif"))
        elif kind == "cbf":
            truncate(write_cbf(d / "trunc.cbf"))
        elif kind == "npy":
            truncate(write_npy(d / "trunc.npy"))
        elif kind == "h5":
            truncate(write_h5(d / "trunc.h5"))
        elif kind == "mccd":
            truncate(write_marccd(d / "trunc.mccd"))
        elif kind == "cbf.gz":
            gzip_truncated(write_cbf(d / "trunc.cbf"), d / "trunc.cbf.gz")
        elif kind == "edf.gz":
            gzip_truncated(write_edf(d / "trunc.edf"), d / "trunc.edf.gz")
        else:  # pragma: no cover
            raise ValueError(kind)
    return build


def b_unknown_ext(d, ctx):
    (d / "frame.xyz").write_bytes(b"hello, not a frame\n")


def b_cbf_as_tif(d, ctx):
    write_cbf(d / "x.cbf").rename(d / "really_cbf.tif")


def b_npy_as_edf(d, ctx):
    write_npy(d / "x.npy").rename(d / "really_npy.edf")


def b_npy_object(d, ctx):
    a = np.empty((32, 32), dtype=object)
    a[:] = [[{"k": i} for i in range(32)]] * 32
    np.save(d / "objects.npy", a, allow_pickle=True)


def b_npy_3d(d, ctx):
    np.save(d / "stack3d.npy", np.stack([frame_array()] * 3))


def b_npy_strings(d, ctx):
    np.save(d / "strings.npy", np.full((32, 32), "abc"))


def b_cfg_bad_json(d, ctx):
    b_good_cbf(d, ctx)
    (d / "broken_cfg.json").write_text('{"depth": 2, "channels": 8,, }')


def b_cfg_unknown(d, ctx):
    b_good_cbf(d, ctx)
    (d / "unknown_cfg.json").write_text(json.dumps({"depth": 2, "channels": 8, "num_iter": 2, "colour": "red"}))


def b_mask_small(d, ctx):
    b_good_cbf(d, ctx)
    np.save(d / "small_mask.npy", np.zeros((5, 7), bool))


def b_mask_trunc(d, ctx):
    b_good_cbf(d, ctx)
    m = np.zeros((32, 32), bool)
    m[2:4, 2:4] = True
    np.save(d / "trunc_mask.npy", m)
    truncate(d / "trunc_mask.npy", 0.5)


def b_mask_frame(d, ctx):
    b_good_cbf(d, ctx)
    write_tif(d / "frame_as_mask.tif", (frame_array().clip(0) * 1.37).astype(np.float32))


def b_mask_all(d, ctx):
    b_good_cbf(d, ctx)
    np.save(d / "all_heal.npy", np.ones((32, 32), bool))


def b_h5(d, ctx):
    write_h5(d / "frame.h5", n=2)


def b_out_file(d, ctx):
    b_good_cbf(d, ctx)
    (d / "out_file.txt").write_text("my notes\n")


def b_old_run(d, ctx):
    b_good_cbf(d, ctx)
    (d / "old_run").mkdir()
    (d / "old_run" / "keep.txt").write_text("keep me\n")


def b_data_folder(d, ctx):
    (d / "data").mkdir()
    write_cbf(d / "data" / "frame.cbf")
    (d / "data" / "notes.txt").write_text("beamtime notes\n")


def b_data_sub(d, ctx):
    (d / "data" / "sub").mkdir(parents=True)
    write_cbf(d / "data" / "sub" / "frame.cbf")
    (d / "data" / "log.txt").write_text("beamtime log\n")


def b_user_files(d, ctx):
    b_good_cbf(d, ctx)
    (d / "my_results").mkdir()
    (d / "my_results" / "thesis.tex").write_text("\\chapter{Results}\n")
    (d / "my_results" / "fit_params.csv").write_text("a,b\n1,2\n")


def b_readonly(d, ctx):
    b_good_cbf(d, ctx)
    (d / "readonly_dir").mkdir()
    os.chmod(d / "readonly_dir", 0o555)


def b_readonly_npy(d, ctx):
    write_npy(d / "frame.npy")
    (d / "readonly_dir").mkdir()
    os.chmod(d / "readonly_dir", 0o555)


def b_bad_toml(d, ctx):
    b_good_cbf(d, ctx)
    (d / "bad.toml").write_text('sampler = grid\n[params\nlr = [0.1\n')


def b_bad_spec(d, ctx):
    b_good_cbf(d, ctx)
    (d / "spec.json").write_text("{not json")


def b_not_a_run(d, ctx):
    (d / "not_a_run").mkdir()
    write_npy(d / "not_a_run" / "frame.npy")
    (d / "not_a_run" / "readme.txt").write_text("some folder\n")


def b_fresh_sweep(d, ctx):
    build_sweep_run(d)


def b_fresh_png_sweep(d, ctx):
    build_sweep_run(d, png=True)


def b_shared_sweep(d, ctx):
    ctx.sweep()


def b_bench_frame(d: Path) -> None:
    write_npy(d / "f.npy", frame_array((64, 64)))


def b_bench_good(d, ctx):
    b_bench_frame(d)
    (d / "cases.json").write_text(json.dumps([{"name": "c1", "file": "f.npy", "seed": 0}]))


def b_bench_not_json(d, ctx):
    b_bench_frame(d)
    (d / "cases.json").write_text("name: c1\nfile: f.npy\n")


def b_bench_none_runs(d, ctx):
    b_bench_frame(d)
    (d / "cases.json").write_text(json.dumps([{"name": "c1", "file": "missing_frame.npy"},
                                              {"name": "c2", "file": "f.npy", "crop": [0, 0, 512, 512]}]))


def b_train_pickled(d, ctx):
    import torch
    from click.testing import CliRunner

    from dip_heal.cli import main

    res = CliRunner().invoke(main, [*tiny_train_args(str(d / "model")), "--steps", "2"])
    if res.exit_code != 0:
        raise RuntimeError(f"could not train the tiny model: {res.output.strip()}")
    state = d / "model" / "checkpoint" / "state.safetensors"
    if not state.is_file():
        raise RuntimeError(f"the tiny training wrote no {state}")
    torch.save({"net.weight": torch.zeros(3)}, str(state))  # a pickle under the safetensors name


def b_train_trunc(d, ctx):
    truncate(write_npy(d / "trunc.npy", frame_array((64, 64))))


def b_bulk_frame_in_data(d, ctx):
    (d / "data").mkdir()
    write_npy(d / "data" / "frame.npy")


def b_bulk_only_bad(d, ctx):
    (d / "in").mkdir()
    (d / "in" / "broken.npy").write_bytes(b"not an array")


def b_bulk_bad_spec(d, ctx):
    write_npy(d / "frame.npy")
    (d / "bad_spec.json").write_text('{"detector": "none", ')


def b_train_out_file(d, ctx):
    (d / "out_file.txt").write_text("my notes\n")


def with_(*builders):
    def build(d, ctx):
        for b in builders:
            b(d, ctx)
    return build


def b_cfg(d, ctx):
    tiny_config(d)


def b_toml(d, ctx):
    tiny_toml(d)


# ----------------------------------------------------------------------------- the table

FIT = ["--config", "{d}/tiny.json", "--iters", "2", "--no-progress"]
GRID = ["--grid", "--sweep", "{d}/tiny.toml", "--config", "{d}/tiny.json", "--iters", "2", "--no-progress"]
BULK = ["--no-progress"]


def fit_case(id, build, image, exit, expect, extra=(), **kw) -> Case:
    return Case(id, with_(b_cfg, build), ["fit", image, *extra, "--out", kw.pop("out", "{d}/run"), *FIT], exit,
                expect, **kw)


def grid_case(id, build, image, exit, expect, extra=(), **kw) -> Case:
    return Case(id, with_(b_cfg, b_toml, build), ["fit", image, *extra, "--out", kw.pop("out", "{d}/sweep"), *GRID],
                exit, expect, **kw)


def mask_case(id, build, image, exit, expect, extra=(), **kw) -> Case:
    return Case(id, build, ["mask", image, *extra, "-o", kw.pop("out", "{d}/m.npy")], exit, expect, **kw)


TRUNC = [("edf", "trunc.edf"), ("tiff", "trunc.tif"), ("cbf", "trunc.cbf"), ("npy", "trunc.npy"),
         ("hdf5", "trunc.h5"), ("marccd", "trunc.mccd"), ("cbf-gz", "trunc.cbf.gz"), ("edf-gz", "trunc.edf.gz")]
_KIND = {"edf": "edf", "tiff": "tif", "cbf": "cbf", "npy": "npy", "hdf5": "h5", "marccd": "mccd",
         "cbf-gz": "cbf.gz", "edf-gz": "edf.gz"}

CASES: list[Case] = [
    # ------------------------------------------------------------------ mask
    mask_case("mask-missing-file", nothing, "{d}/nope.cbf", 1, (r"nope\.cbf",)),
    mask_case("mask-folder-as-file", b_folder, "{d}/frames.cbf", 1, (r"frames\.cbf",)),
    mask_case("mask-empty-file", b_empty, "{d}/empty.cbf", 1, (r"empty\.cbf",)),
    mask_case("mask-truncated-edf", b_trunc("edf"), "{d}/trunc.edf", 1, (r"trunc\.edf",)),
    mask_case("mask-truncated-cbf-gz", b_trunc("cbf.gz"), "{d}/trunc.cbf.gz", 1, (r"trunc\.cbf\.gz",)),
    mask_case("mask-npy-object-array", b_npy_object, "{d}/objects.npy", 1, (r"objects\.npy",)),
    mask_case("mask-spec-bad-json", b_bad_spec, "{d}/good.cbf", 1, (r"spec\.json",),
              extra=("--spec", "{d}/spec.json")),
    mask_case("mask-beamstop-3-numbers", b_good_cbf, "{d}/good.cbf", 2, (r"--beamstop",),
              extra=("--beamstop", "1,2,3")),
    mask_case("mask-center-garbage", b_good_cbf, "{d}/good.cbf", 2, (r"--center",), extra=("--center", "abc")),
    mask_case("mask-out-readonly-folder", b_readonly, "{d}/good.cbf", 1, (r"readonly_dir",),
              out="{d}/readonly_dir/m.npy", needs_writable_modes=True),
    # ------------------------------------------------------------------ fit: the frame
    fit_case("fit-missing-file", nothing, "{d}/nope.cbf", 1, (r"nope\.cbf",)),
    fit_case("fit-folder-as-file", b_folder, "{d}/frames.cbf", 1, (r"frames\.cbf",)),
    fit_case("fit-empty-file", b_empty, "{d}/empty.cbf", 1, (r"empty\.cbf",)),
    *[fit_case(f"fit-truncated-{k}", b_trunc(_KIND[k]), "{d}/" + name, 1, (re.escape(name),)) for k, name in TRUNC],
    fit_case("fit-unknown-extension", b_unknown_ext, "{d}/frame.xyz", 1, (r"frame\.xyz",)),
    fit_case("fit-cbf-content-named-tif", b_cbf_as_tif, "{d}/really_cbf.tif", 1, (r"really_cbf\.tif",)),
    fit_case("fit-npy-content-named-edf", b_npy_as_edf, "{d}/really_npy.edf", 1, (r"really_npy\.edf",)),
    fit_case("fit-npy-object-array", b_npy_object, "{d}/objects.npy", 1, (r"objects\.npy",)),
    fit_case("fit-npy-3d", b_npy_3d, "{d}/stack3d.npy", 1, (r"stack3d\.npy",)),
    fit_case("fit-npy-string-dtype", b_npy_strings, "{d}/strings.npy", 1, (r"strings\.npy",)),
    fit_case("fit-hdf5-bad-dataset", b_h5, "{d}/frame.h5::/entry/nope", 1, (r"frame\.h5", r"/entry/nope")),
    fit_case("fit-hdf5-bad-frame-index", b_h5, "{d}/frame.h5::/entry/data/data[7]", 1, (r"frame\.h5", r"\b7\b")),
    # ------------------------------------------------------------------ fit: config, mask, centre
    Case("fit-config-bad-json", b_cfg_bad_json,
         ["fit", "{d}/good.cbf", "--config", "{d}/broken_cfg.json", "--iters", "2", "--no-progress", "--out", "{d}/run"],
         1, (r"broken_cfg\.json",)),
    Case("fit-config-unknown-field", b_cfg_unknown,
         ["fit", "{d}/good.cbf", "--config", "{d}/unknown_cfg.json", "--iters", "2", "--no-progress", "--out",
          "{d}/run"], 1, (r"unknown_cfg\.json", r"colour")),
    fit_case("fit-mask-missing", b_good_cbf, "{d}/good.cbf", 1, (r"nope_mask\.npy",),
             extra=("--mask", "{d}/nope_mask.npy")),
    fit_case("fit-mask-other-shape", b_mask_small, "{d}/good.cbf", 1, (r"small_mask\.npy",),
             extra=("--mask", "{d}/small_mask.npy")),
    fit_case("fit-mask-truncated-npy", b_mask_trunc, "{d}/good.cbf", 1, (r"trunc_mask\.npy",),
             extra=("--mask", "{d}/trunc_mask.npy")),
    fit_case("fit-mask-is-a-frame", b_mask_frame, "{d}/good.cbf", 1, (r"frame_as_mask\.tif",),
             extra=("--mask", "{d}/frame_as_mask.tif")),
    fit_case("fit-mask-heals-everything", b_mask_all, "{d}/good.cbf", 1, (r"all_heal\.npy",),
             extra=("--mask", "{d}/all_heal.npy")),
    fit_case("fit-center-3e5", b_good_cbf, "{d}/good.cbf", 1, (r"--center",), extra=("--center", "3e5,3e5"),
             seconds=10),
    fit_case("fit-center-1e9", b_good_cbf, "{d}/good.cbf", 1, (r"--center",), extra=("--center", "1e9,-1e9"),
             seconds=10),
    fit_case("fit-center-garbage", b_good_cbf, "{d}/good.cbf", 2, (r"--center",), extra=("--center", "abc,def")),
    # ------------------------------------------------------------------ fit: the output folder
    fit_case("fit-out-is-a-file", b_out_file, "{d}/good.cbf", 1, (r"out_file\.txt",), out="{d}/out_file.txt"),
    fit_case("fit-out-not-empty-no-force", b_old_run, "{d}/good.cbf", 1, (r"old_run", r"--force"),
             out="{d}/old_run"),
    fit_case("fit-force-out-holds-input", b_data_folder, "{d}/data/frame.cbf", 1, (r"frame\.cbf",),
             extra=("--force",), out="{d}/data"),
    fit_case("fit-force-out-dot", b_data_folder, "frame.cbf", 1, (r"frame\.cbf|--out '?\.'?(\W|$)",),
             extra=("--force",), out=".",
             cwd="data"),
    fit_case("fit-force-out-parent-of-input", b_data_sub, "{d}/data/sub/frame.cbf", 1, (r"frame\.cbf",),
             extra=("--force",), out="{d}/data"),
    fit_case("fit-force-out-user-files", b_user_files, "{d}/good.cbf", 1, (r"my_results",), extra=("--force",),
             out="{d}/my_results"),
    fit_case("fit-out-readonly-folder", b_readonly, "{d}/good.cbf", 1, (r"readonly_dir",),
             out="{d}/readonly_dir/run", needs_writable_modes=True),
    # ------------------------------------------------------------------ fit --grid
    grid_case("grid-missing-file", nothing, "{d}/nope.cbf", 1, (r"nope\.cbf",)),
    grid_case("grid-truncated-cbf", b_trunc("cbf"), "{d}/trunc.cbf", 1, (r"trunc\.cbf",)),
    Case("grid-sweep-bad-toml", with_(b_cfg, b_bad_toml),
         ["fit", "{d}/good.cbf", "--sweep", "{d}/bad.toml", "--out", "{d}/sweep", *FIT], 1, (r"bad\.toml",)),
    grid_case("grid-mask-other-shape", b_mask_small, "{d}/good.cbf", 1, (r"small_mask\.npy",),
              extra=("--mask", "{d}/small_mask.npy")),
    grid_case("grid-out-is-a-file", b_out_file, "{d}/good.cbf", 1, (r"out_file\.txt",), out="{d}/out_file.txt"),
    grid_case("grid-out-holds-input", b_data_folder, "{d}/data/frame.cbf", 1, (r"frame\.cbf|/data\b",),
              out="{d}/data"),
    # ------------------------------------------------------------------ sheet / pick
    Case("sheet-not-a-sweep", b_not_a_run, ["sheet", "{d}/not_a_run"], 1, (r"not_a_run",)),
    Case("sheet-missing-run", nothing, ["sheet", "{d}/no_such_run"], 1, (r"no_such_run",)),
    Case("sheet-out-is-the-input-frame", b_fresh_sweep, ["sheet", "{d}/run", "--out", "{d}/frame.npy"], 1,
         (r"frame\.npy",)),
    Case("sheet-out-is-the-input-png", b_fresh_png_sweep, ["sheet", "{d}/run", "--out", "{d}/frame.png"], 1,
         (r"frame\.png",)),
    Case("sheet-html-out-is-the-input-frame", b_fresh_sweep, ["sheet", "{d}/run", "--html", "--out", "{d}/frame.npy"],
         1, (r"frame\.npy",)),
    Case("serve-not-a-sweep", b_not_a_run, ["serve", "{d}/not_a_run", "--port", "0"], 1, (r"not_a_run",)),
    Case("pick-not-a-sweep", b_not_a_run, ["pick", "{d}/not_a_run", "--best"], 1, (r"not_a_run",)),
    Case("pick-trial-does-not-exist", b_shared_sweep, ["pick", "{sweep}", "--trial", "99"], 1, (r"\b99\b",),
         shared_sweep=True),
    Case("pick-iter-does-not-exist", b_shared_sweep, ["pick", "{sweep}", "--trial", "0", "--iter", "999"], 1,
         (r"\b999\b",), shared_sweep=True),
    # ------------------------------------------------------------------ bench
    Case("bench-missing-case-file", nothing, ["bench", "{d}/nope_cases.json", "--methods", "telea", "--out",
                                              "{d}/bench_out"], 1, (r"nope_cases\.json",)),
    Case("bench-cases-not-json", b_bench_not_json, ["bench", "{d}/cases.json", "--methods", "telea", "--out",
                                                    "{d}/bench_out", "--no-panels"], 1, (r"cases\.json",)),
    Case("bench-no-case-can-run", b_bench_none_runs, ["bench", "{d}/cases.json", "--methods", "telea", "--out",
                                                      "{d}/bench_out", "--no-panels"], 1, (r"cases\.json",)),
    Case("bench-blind-no-such-dir", b_bench_good, ["bench", "{d}/cases.json", "--methods", "blind:{d}/NOSUCHDIR",
                                                   "--out", "{d}/bench_out", "--no-panels"], 1, (r"NOSUCHDIR",)),
    # ------------------------------------------------------------------ train
    Case("train-resume-pickled-checkpoint", b_train_pickled, [*tiny_train_args("{d}/model"), "--steps", "4"], 1,
         (r"state\.safetensors",)),
    Case("train-frames-truncated", b_train_trunc,
         ["train", "--frames", "{d}/trunc.npy", "--detector", "Pilatus300k", "--out", "{d}/model", "--layers", "2",
          "--max-dilation", "2", "--crop", "32", "--batch", "2", "--steps", "2", "--val-every", "2",
          "--no-progress", "--device", "cpu"], 1, (r"trunc\.npy",)),
    Case("train-frames-match-nothing", nothing,
         ["train", "--frames", "{d}/none*.npy", "--detector", "Pilatus300k", "--out", "{d}/model",
          "--no-progress"], 2, (r"none\*\.npy",)),
    Case("train-out-is-a-file", b_train_out_file, [*tiny_train_args("{d}/out_file.txt"), "--steps", "2"], 1,
         (r"out_file\.txt",)),
    # ------------------------------------------------------------------ bulk
    Case("bulk-out-dot-empty-suffix", b_bulk_frame_in_data, ["bulk", "frame.npy", "--out", ".", "--suffix", "",
                                                             *BULK], 1, (r"frame\.npy",), cwd="data", bulk=True),
    Case("bulk-only-bad-frames", b_bulk_only_bad, ["bulk", "{d}/in", "--out", "{d}/out", *BULK], 1,
         (r"broken\.npy",), bulk=True),
    Case("bulk-mask-spec-bad-json", b_bulk_bad_spec, ["bulk", "{d}/frame.npy", "--mask-spec", "{d}/bad_spec.json",
                                                      "--out", "{d}/out", *BULK], 1, (r"bad_spec\.json",), bulk=True),
    Case("bulk-missing-input", nothing, ["bulk", "{d}/nope.npy", "--out", "{d}/out", *BULK], 2, (r"nope\.npy",),
         bulk=True),
    Case("bulk-model-no-such-dir", b_bulk_frame_in_data, ["bulk", "{d}/data/frame.npy", "--model", "{d}/no_model",
                                                          "--out", "{d}/out", *BULK], 1, (r"no_model",), bulk=True),
    Case("bulk-out-readonly-folder", b_readonly_npy, ["bulk", "{d}/frame.npy", "--out", "{d}/readonly_dir/out",
                                                      *BULK], 1, (r"readonly_dir",), bulk=True,
         needs_writable_modes=True),
]

assert len({c.id for c in CASES}) == len(CASES), "duplicate case ids"

# ----------------------------------------------------------------------------- running a case


def snapshot(roots: list[Path]) -> dict[str, str]:
    """Every path under ``roots`` -> sha256 of its bytes (files) or 'dir'/'link'."""
    seen: dict[str, str] = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames:
                p = Path(dirpath, name)
                seen[str(p)] = "link" if p.is_symlink() else "dir"
            for name in filenames:
                p = Path(dirpath, name)
                if p.is_symlink():
                    seen[str(p)] = "link"
                    continue
                try:
                    seen[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
                except OSError as exc:
                    seen[str(p)] = f"unreadable ({exc.__class__.__name__})"
    return seen


def _alarm(signum, frame):  # pragma: no cover - only on a hang
    raise CaseTimeout()


def message_lines(case: Case, output: str) -> list[str]:
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not LOG_LINE.match(ln)]
    if case.exit == 2:
        lines = [ln for ln in lines if not any(u.match(ln) for u in USAGE_LINES)]
    if case.bulk:
        lines = [ln for ln in lines if not BULK_SUMMARY.match(ln)]
    return lines


def run_case(case: Case, d: Path, ctx: Context) -> Outcome:
    from click.testing import CliRunner

    from dip_heal.cli import main

    out = Outcome(case)
    if case.needs_writable_modes and IS_ROOT:
        out.skipped = "running as root: file modes are not enforced"
        return out
    d.mkdir(parents=True, exist_ok=True)
    try:
        case.build(d, ctx)
    except Exception as exc:  # a builder that breaks is a failing case, not a crash of the table
        out.problems.append(f"could not build the inputs: {type(exc).__name__}: {exc}")
        return out
    fmt = {"d": str(d), "sweep": str(ctx._sweep) if ctx._sweep is not None else ""}
    argv = [a.format(**fmt) for a in case.argv]
    roots = [d] + ([ctx.sweep().parent] if case.shared_sweep else [])
    before = snapshot(roots)
    old_cwd = os.getcwd()
    old_handler = signal.signal(signal.SIGALRM, _alarm)
    t0 = time.perf_counter()
    res = None
    try:
        os.chdir(d / case.cwd if case.cwd else d)
        signal.setitimer(signal.ITIMER_REAL, case.seconds)
        res = CliRunner().invoke(main, argv, catch_exceptions=True)
    except CaseTimeout:
        out.problems.append(f"still running after {case.seconds:.0f} s (expected a quick one-line refusal)")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        os.chdir(old_cwd)
        out.seconds = time.perf_counter() - t0
        for p in d.rglob("*"):  # let the tmp folder be cleaned up
            if p.is_dir() and not p.is_symlink() and not os.access(p, os.W_OK):
                os.chmod(p, stat.S_IRWXU)
    if res is not None:
        out.exit_code = res.exit_code
        out.output = res.output
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            out.problems.append(f"uncaught {type(res.exception).__name__}: {str(res.exception)[:200]}")
        if res.exit_code != case.exit:
            out.problems.append(f"exit {res.exit_code}, expected {case.exit}")
        if "Traceback" in res.output:
            out.problems.append("a traceback in the output")
        if "internal error (" in res.output:
            out.problems.append("an internal error (a bug caught by the CLI's last resort)")
        lines = message_lines(case, res.output)
        out.message = " \u23ce ".join(lines)
        if res.exit_code == 0:
            out.problems.append("no error")
        elif len(lines) != 1:
            out.problems.append(f"{len(lines)} message lines, expected 1")
        if lines:
            msg = lines[-1] if len(lines) == 1 else out.message
            if not re.match(r"^(dip-heal: |Error: )", lines[-1]):
                out.problems.append("the message does not start with 'dip-heal: ' or 'Error: '")
            for pat in case.expect:
                if not re.search(pat, msg):
                    out.problems.append(f"the message does not match {pat!r}")
            if not CUE.search(PATHLIKE.sub(" ", msg)):
                out.problems.append("the message does not say what to do")
        elif res.exit_code != 0:
            out.problems.append("no message")
    after = snapshot(roots)
    changed = sorted(p for p in before if p in after and before[p] != after[p])
    lost = sorted(p for p in before if p not in after)
    allowed = {str(d / a) for a in case.allow_new}
    new = sorted(p for p in after if p not in before and p not in allowed)
    rel = _relativiser(d, ctx)
    if changed:
        out.problems.append("changed: " + ", ".join(rel(p) for p in changed[:5]))
    if lost:
        out.problems.append("lost: " + ", ".join(rel(p) for p in lost[:5]))
    if new:
        out.problems.append("left behind: " + ", ".join(rel(p) for p in new[:5]) + (" ..." if len(new) > 5 else ""))
    return out


def _relativiser(d: Path, ctx: Context) -> Callable[[str], str]:
    def rel(p: str) -> str:
        s = p.replace(str(d) + os.sep, "")
        if ctx._sweep is not None:
            s = s.replace(str(ctx._sweep.parent) + os.sep, "<shared>/")
        return s
    return rel


def command_text(case: Case) -> str:
    argv = [a.replace("{d}/", "").replace("{sweep}", "RUN") for a in case.argv]
    text = "dip-heal " + " ".join(shlex.quote(a) for a in argv)
    return (f"(in {case.cwd}/) " if case.cwd else "") + text


# ----------------------------------------------------------------------------- pytest

if pytest is not None:

    @pytest.fixture(autouse=True)
    def _one_thread():
        """One torch thread: the test machine's cores are shared."""
        import torch

        n = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(n)

    @pytest.fixture(scope="module")
    def shared_context(tmp_path_factory) -> Context:
        return Context(tmp_path_factory.mktemp("bad_inputs_shared"))

    def test_the_table_has_enough_cases():
        assert len(CASES) >= 45
        for cmd in ("mask", "fit", "sheet", "pick", "bench", "train", "bulk"):
            assert any(c.argv[0] == cmd for c in CASES), cmd
        assert any("--grid" in c.argv or "--sweep" in c.argv for c in CASES)

    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    def test_bad_input(case: Case, tmp_path: Path, shared_context: Context):
        out = run_case(case, tmp_path / "case", shared_context)
        if out.skipped:
            pytest.skip(out.skipped)
        assert out.ok, (f"{case.id}: " + "; ".join(out.problems) + f"\ncommand: {command_text(case)}"
                        f"\noutput:\n{out.output}")


# ----------------------------------------------------------------------------- the printable table


def _cell(text: str, n: int = 220) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def main_table(argv: list[str] | None = None) -> int:
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    wanted = set(argv or [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="dip-heal-bad-inputs-") as tmp:
        ctx = Context(Path(tmp) / "shared")
        for i, case in enumerate(CASES):
            if wanted and case.id not in wanted:
                continue
            rows.append(run_case(case, Path(tmp) / f"case{i:02d}", ctx))
    print("| case | command | exit | result | message |")
    print("|---|---|---|---|---|")
    for o in rows:
        got = "-" if o.exit_code is None else str(o.exit_code)
        exit_cell = got if got == str(o.case.exit) else f"{got} (want {o.case.exit})"
        result = "SKIP: " + o.skipped if o.skipped else ("PASS" if o.ok else "FAIL: " + "; ".join(o.problems))
        print(f"| {o.case.id} | `{_cell(command_text(o.case), 160)}` | {exit_cell} | {_cell(result)} | "
              f"{_cell(o.message or '(none)')} |")
    n_pass = sum(o.ok for o in rows)
    n_skip = sum(o.skipped is not None for o in rows)
    print(f"\n{n_pass} of {len(rows)} cases pass" + (f", {n_skip} skipped" if n_skip else "")
          + f" ({sum(o.seconds for o in rows):.1f} s in the commands)")
    return 0 if n_pass + n_skip == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main_table(sys.argv[1:]))
