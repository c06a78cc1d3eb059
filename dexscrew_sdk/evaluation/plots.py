"""The SDK's one plotting module (matplotlib, Agg backend, PNG files).

Evaluation figures (progress over time per method, fingertip touch as a
taxel-by-time heatmap with the skill's spans marked, outcome per object shape)
and the generic pieces the dataset tools reuse (`skill_spans`, `shade_spans`,
`joint_trajectories`, `tactile_heatmap`). Every function writes one PNG and
returns its path; nothing is shown on screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dexscrew_sdk.errors import DexscrewError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Span = tuple[float, float]
SKILL_SPAN_COLOUR = "tab:orange"


class PlotsUnavailable(DexscrewError):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: works without a display
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotsUnavailable('plots need matplotlib: pip install -e ".[plots]"') from None
    return plt


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def skill_spans(t_s: Sequence[float], on: Sequence[bool]) -> list[Span]:
    """Contiguous (start, end) times where a per-step flag (e.g. the skill running) is set."""
    t = np.asarray(t_s, dtype=float)
    flags = np.asarray(on, dtype=bool)
    if t.shape != flags.shape:
        raise ValueError(f"t_s and flags differ in length: {t.shape} vs {flags.shape}")
    spans: list[Span] = []
    start: float | None = None
    for i, f in enumerate(flags):
        if f and start is None:
            start = float(t[i])
        if not f and start is not None:
            spans.append((start, float(t[i])))
            start = None
    if start is not None:
        spans.append((start, float(t[-1])))
    return spans


def shade_spans(ax: Axes, spans: Sequence[Span], label: str = "skill on", horizontal: bool = False) -> None:
    """Mark time spans on an axis whose x (or, horizontal=False with an image, x too) is time."""
    for i, (a, b) in enumerate(spans):
        kw = {"color": SKILL_SPAN_COLOUR, "alpha": 0.15, "label": label if i == 0 else None}
        (ax.axhspan if horizontal else ax.axvspan)(a, b, **kw)


def joint_trajectories(
    path: Path,
    t_s: Sequence[float],
    q_rad: np.ndarray,
    names: Sequence[str],
    spans: Sequence[Span] = (),
    title: str = "",
    targets_rad: np.ndarray | None = None,
) -> Path:
    """One line per joint over time (dashed: targets, if given), skill spans shaded."""
    plt = _pyplot()
    q = np.asarray(q_rad, dtype=float)
    if q.ndim != 2 or q.shape[1] != len(names) or q.shape[0] != len(t_s):
        raise ValueError(f"q_rad must be (len(t_s), len(names)) = ({len(t_s)}, {len(names)}), got {q.shape}")
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for j, name in enumerate(names):
        (line,) = ax.plot(t_s, q[:, j], lw=1.0, label=name)
        if targets_rad is not None:
            ax.plot(t_s, np.asarray(targets_rad)[:, j], lw=0.8, ls="--", color=line.get_color())
    shade_spans(ax, spans)
    ax.set(xlabel="time [s]", ylabel="joint position [rad]", title=title)
    ax.legend(fontsize=6, ncol=4, loc="upper right")
    return _save(fig, path)


def tactile_heatmap(
    path: Path,
    t_s: Sequence[float],
    normal_n: Mapping[str, np.ndarray],
    spans: Sequence[Span] = (),
    title: str = "",
    xlabel: str = "time [s] (cyan bar: skill on)",
    colour_label: str = "normal force [N]",
) -> Path:
    """Per fingertip (e.g. thumb, index), normal force of each of its 120 taxels over time; spans marked.
    `xlabel`/`colour_label` name other axes (e.g. normalised time, a fraction of episodes)."""
    plt = _pyplot()
    t = np.asarray(t_s, dtype=float)
    if not normal_n:
        raise ValueError("normal_n needs at least one fingertip, e.g. {'thumb': (T, 120) array}")
    vmax = max(1e-6, max(float(np.nanmax(v)) if np.size(v) else 0.0 for v in normal_n.values()))
    fig, axes = plt.subplots(len(normal_n), 1, figsize=(9, 2.4 * len(normal_n)), sharex=True, squeeze=False)
    extent = (float(t[0]), float(t[-1]) if len(t) > 1 else float(t[0]) + 1.0, 0, 0)
    image = None
    for ax, (finger, forces) in zip(axes[:, 0], normal_n.items(), strict=True):
        f = np.asarray(forces, dtype=float)
        if f.ndim != 2 or f.shape[0] != len(t):
            raise ValueError(f"{finger}: normal force must be (len(t_s), taxels), got {f.shape}")
        image = ax.imshow(
            f.T, aspect="auto", origin="lower", cmap="magma", vmin=0.0, vmax=vmax,
            extent=(extent[0], extent[1], 0, f.shape[1]), interpolation="nearest",
        )  # fmt: skip
        for a, b in spans:
            ax.axvline(a, color="cyan", lw=0.8)
            ax.axvline(b, color="cyan", lw=0.8, ls="--")
            ax.axvspan(a, b, ymin=0.97, ymax=1.0, color="cyan")
        ax.set(ylabel=f"{finger} taxel")
    axes[-1, 0].set_xlabel(xlabel)
    axes[0, 0].set_title(title)
    if image is not None:
        fig.colorbar(image, ax=axes[:, 0].tolist(), label=colour_label)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def progress_over_time(
    path: Path, curves: Mapping[str, Sequence[tuple[Sequence[float], Sequence[float]]]], title: str = ""
) -> Path:
    """Progress ratio against time: one colour per method, every trial thin, the mean thick."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (method, trials) in enumerate(curves.items()):
        colour = f"C{i % 10}"
        grid_end = max((float(t[-1]) for t, _ in trials if len(t)), default=0.0)
        grid = np.linspace(0.0, grid_end, 200) if grid_end > 0 else np.zeros(1)
        stack = []
        for t, r in trials:
            if len(t) == 0:
                continue
            ax.plot(t, r, color=colour, lw=0.6, alpha=0.35)
            stack.append(np.interp(grid, t, r, right=r[-1]))  # a finished trial stays finished
        if stack:
            ax.plot(grid, np.mean(stack, axis=0), color=colour, lw=2.0, label=f"{method} (n={len(stack)})")
    ax.set(xlabel="time [s]", ylabel="progress ratio", ylim=(-0.02, 1.05), title=title)
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def outcome_by_shape(
    path: Path, cells: Mapping[str, Mapping[str, tuple[float, float, float, float]]], title: str = ""
) -> Path:
    """Grouped bars per object shape, one per method: mean progress with its 95 % interval, and the
    success rate as a black tick. cells[method][shape] = (mean, ci_low, ci_high, success_rate)."""
    plt = _pyplot()
    methods = list(cells)
    shapes = list(dict.fromkeys(s for m in methods for s in cells[m]))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(shapes) + 2), 4.5))
    width = 0.8 / max(1, len(methods))
    x = np.arange(len(shapes))
    for i, m in enumerate(methods):
        vals = [cells[m].get(s) for s in shapes]
        mean = np.array([v[0] if v else np.nan for v in vals])
        err = np.array([[v[0] - v[1], v[2] - v[0]] if v else [0, 0] for v in vals]).T
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, mean, width, yerr=err, capsize=2, label=m, color=f"C{i % 10}")
        ax.scatter(pos, [v[3] if v else np.nan for v in vals], marker="_", color="k", s=80, zorder=3)
    ax.set_xticks(x, shapes)
    ax.set(ylabel="progress ratio (bars, 95 % CI) / success rate (ticks)", ylim=(0, 1.08), title=title)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


# ---------------------------------------------------------------- fingertip pads (operator tools' pictures)
def tactile_pads(
    path: Path,
    force_n: np.ndarray,
    names: Sequence[str],
    grid: tuple[int, int],
    title: str = "",
    marks: Mapping[str, Sequence[int]] | None = None,
) -> Path:
    """One frame of every pad: normal force as a (rows x columns) image on one colour scale in newtons
    (up to the 99th percentile; stronger taxels show at the top colour), shear (fx across, fy along the
    pad) as arrows, and optional marked taxels per pad (e.g. faults)."""
    plt = _pyplot()
    f = np.asarray(force_n, dtype=float)
    rows, cols = grid
    if f.shape != (len(names), rows * cols, 3):
        raise ValueError(f"force_n must be ({len(names)}, {rows * cols}, 3), got {f.shape}")
    pads = f.reshape(len(names), rows, cols, 3)
    vmax = max(0.1, float(np.percentile(np.abs(pads[..., 2]), 99)))  # one saturated taxel must not hide the rest
    fig, axes = plt.subplots(1, len(names), figsize=(2.4 * len(names) + 1.5, 3.9), squeeze=False, sharey=True)
    yy, xx = np.mgrid[0:rows, 0:cols]
    shear_scale = max(1e-6, float(np.percentile(np.hypot(pads[..., 0], pads[..., 1]), 99)))
    image = None
    for k, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
        image = ax.imshow(pads[k, ..., 2], cmap="viridis", vmin=0.0, vmax=vmax, origin="upper", interpolation="nearest")
        if np.hypot(pads[k, ..., 0], pads[k, ..., 1]).max() > 0:
            ax.quiver(
                xx, yy, pads[k, ..., 0], -pads[k, ..., 1], color="white", angles="xy",
                scale_units="xy", scale=shear_scale / 0.9, width=0.012,
            )  # fmt: skip
        for taxel in (marks or {}).get(name, ()):
            r, c = divmod(int(taxel), cols)
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="red", lw=1.5))
        ax.set(title=name, xlabel="column (across)")
        ax.set_xticks(range(0, cols, 3))
        ax.set_yticks(range(0, rows, 3))
    axes[0, 0].set_ylabel("row (along the finger)")
    fig.suptitle(title or "fingertip pads: normal force (colour), shear (arrows)", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label="normal force [N]", shrink=0.85)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def resultant_forces(
    path: Path,
    t_s: Sequence[float],
    resultant_n: Mapping[str, Sequence[float]],
    title: str = "",
    spans: Sequence[Span] = (),
) -> Path:
    """Per fingertip, the magnitude of its pad's resultant force over time."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for name, values in resultant_n.items():
        v = np.asarray(values, dtype=float)
        if v.shape != (len(t_s),):
            raise ValueError(f"{name}: resultant force must have len(t_s) = {len(t_s)} values, got {v.shape}")
        ax.plot(t_s, v, lw=1.2, label=name)
    shade_spans(ax, spans, label="pressed")
    ax.set(xlabel="time [s]", ylabel="resultant force [N]", title=title or "fingertip resultant force")
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, path)
