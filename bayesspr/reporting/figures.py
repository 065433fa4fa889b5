"""The report's figures: ArviZ plots relabelled with units, and the volume replicate panels.

Each function returns a matplotlib figure; :mod:`bayesspr.reporting.html` embeds them.
"""

from __future__ import annotations

from typing import Any

import arviz_plots as azp
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from bayesspr.defaults import DEFAULT_INTERVAL

#: Colour of a failing check's text.
FAIL_COLOUR = "#b00000"

#: Unit of each posterior variable of the two models, for axis labels ("–": dimensionless).
#: Names not listed fall back on their pattern (``log_*``, ``*_z``), see :func:`unit_of`.
UNITS: dict[str, str] = {
    # SPRModel
    "tour_constant": "–",
    "stem_speed_kmh": "km/h",
    "fill": "share of capacity, –",
    "service_min_pop": "min per stop",
    "service_min_city": "min per stop",
    "speed_kmh_pop": "km/h",
    "speed_kmh_city": "km/h",
    "overhead_hours_pop": "h per route",
    "overhead_hours_station": "h per route",
    "overhead_hours_sd": "log scale, –",
    "zip_effect_sd": "log scale, –",
    "zip_effect": "log time efficiency, –",
    "sigma_route": "log route need, –",
    "sigma_km": "log route km, –",
    # VolumeModel
    "growth_city": "log per year",
    "growth_sd_station": "log per year",
    "weekday_city": "log offset, –",
    "weekday_contrast_city": "log offset, –",
    "weekday_sd_station": "log scale, –",
    "yearly_network": "log offset, –",
    "yearly_sd_station": "log scale, –",
    "regressor_effect": "log offset per regressor unit",
    "regressor_sd_station": "log scale, –",
    "drift_sd_station": "log level per √year",
    "drift_sd_city": "log level per √year",
    "noise_sd_station": "log stops per station-day",
    "city_day_sd": "log stops per city-day",
    "share_growth_sd": "log share per year",
    "share_weekday_sd": "log scale, –",
    "share_drift_sd": "log share per √year",
    "share_noise_sd_zip": "log share per zip-day",
    "ratio_growth_sd": "log packages per stop per year",
    "ratio_noise_sd": "log packages per stop",
}


# --------------------------------------------------------------------------- figures
#: ``gid`` of axes that are deliberately free of axis labels: a column of names (a forest
#: plot's groups, headed by their dim), which labels the y-axis of the axes it shares y with.
LABEL_FREE = "label-free"


def unit_of(name: str) -> str:
    """Unit of a posterior variable (or of one of its elements, ``name[...]``) for labels."""
    base = name.split("[", 1)[0]
    if base in UNITS:
        return UNITS[base]
    if base.endswith("_z"):
        return "standardised offset, –"
    if base.startswith("log_"):
        return "log of " + unit_of(base.removeprefix("log_"))
    return "model units"


def quantity_label(name: str, *, wrap: bool = False) -> str:
    """Axis label of a parameter: its name and unit, on two lines when ``wrap``."""
    return f"{name}{chr(10) if wrap else ' '}({unit_of(name)})"


def trace_figure(idata: xr.DataTree, names: list[str]) -> Figure:
    """Trace and marginal density of each named parameter, labelled with units."""
    pc = azp.plot_trace_dist(
        idata,
        var_names=names,
        backend="matplotlib",
        figure_kwargs={"figsize": (12.0, 2.1 * len(names) + 0.4)},
    )
    plots = pc.viz["plot"]
    for name in names:
        dist_ax = plots[name].sel(column="dist").item()
        trace_ax = plots[name].sel(column="trace").item()
        dist_ax.set_xlabel(quantity_label(name))
        dist_ax.set_ylabel("density")
        trace_ax.set_xlabel("draw (per chain)")
        trace_ax.set_ylabel(quantity_label(name, wrap=True))
    return pc.get_viz("figure")


def rank_figure(idata: xr.DataTree, rows: pd.DataFrame) -> Figure:
    """Rank plots of the parameters in ``rows`` (a slice of :func:`parameter_diagnostics`)."""
    post = idata["posterior"].to_dataset()
    data = {}
    for i, row in enumerate(rows.itertuples()):
        draws = post[row.variable]
        other = [d for d in draws.dims if d not in ("chain", "draw")]
        draws = draws.isel(dict(zip(other, row.position, strict=True)))
        data[f"p{i}"] = draws.reset_coords(drop=True).transpose("chain", "draw")
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset(data)})
    n_cols = min(4, len(data))
    n_rows = -(-len(data) // 4)
    pc = azp.plot_rank(
        tree,
        backend="matplotlib",
        visuals={"remove_axis": False},
        figure_kwargs={"figsize": (3.5 * n_cols + 0.4, 3.0 * n_rows + 0.2)},
    )
    for i, row in enumerate(rows.itertuples()):
        ax = pc.viz["plot"][f"p{i}"].item()
        # ArviZ's own uniformity flags (points, p-value) are another criterion: the report's
        # flags are the R-hat / ESS thresholds of the health table, shown in the title.
        for artist in [*ax.texts, *ax.collections]:
            artist.remove()
        ax.set_xlabel("fractional rank (–)")
        ax.set_ylabel("ECDF − uniform CDF (–)")
        stats = f"R-hat {row.r_hat:.3f}, ESS {row.ess_bulk:.0f} bulk, {row.ess_tail:.0f} tail"
        lines = [str(row.Index), stats] + ([f"FAILS: {row.misses}"] if row.failing else [])
        ax.set_title("\n".join(lines), fontsize=9, color=FAIL_COLOUR if row.failing else "black")
    return pc.get_viz("figure")


def energy_figure(idata: xr.DataTree) -> Figure:
    """Energy and E-BFMI per chain (ArviZ), labelled."""
    pc = azp.plot_energy(idata, backend="matplotlib", figure_kwargs={"figsize": (11.0, 3.2)})
    plots = pc.viz["plot"]
    bfmi_ax = plots.sel(column="bfmi").item()
    energy_ax = plots.sel(column="energy").item()
    n_chains = idata["sample_stats"].sizes.get("chain", 1)
    bfmi_ax.set_yticks(range(n_chains))
    bfmi_ax.set_xlabel("E-BFMI (–)")
    bfmi_ax.set_ylabel("chain")
    energy_ax.set_xlabel("energy minus its mean; change between draws (nats)")
    energy_ax.set_ylabel("density")
    fig = pc.get_viz("figure")
    for legend in list(fig.legends):  # ArviZ's figure legend overhangs the energy panel
        handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
        legend.remove()
        energy_ax.legend(handles, labels, loc="upper left", frameon=False)
    return fig


def pair_figure(idata: xr.DataTree, names: list[str]) -> Figure:
    """Pair plot of the named parameters, divergences in red."""
    n = len(names)
    pm = azp.plot_pair(
        idata,
        var_names=names,
        visuals={"divergence": {"color": "red"}},
        backend="matplotlib",
        figure_kwargs={"figsize": (2.4 * n, 2.2 * n)},
    )
    plots = pm.viz["plot"]
    x_names = [str(v) for v in plots["var_name_x"].to_numpy()]
    y_names = [str(v) for v in plots["var_name_y"].to_numpy()]
    for i in range(n):
        scatter = [plots.isel(row_index=i, col_index=j).item() for j in range(i)]
        for ax in scatter[1:]:  # one y-axis per row of scatter panels, labelled on the left
            ax.sharey(scatter[0])
            ax.tick_params(labelleft=False)
        for j in range(n):
            ax = plots.isel(row_index=i, col_index=j).item()
            if not ax.axison:
                continue
            ax.set_xlabel(quantity_label(x_names[j], wrap=True) if i == n - 1 else "")
            if i == j:  # a marginal density: its scale says nothing, its shape does
                ax.set_yticks([])
                ax.set_ylabel("density")
            else:
                ax.set_ylabel(quantity_label(y_names[i], wrap=True) if j == 0 else "")
    return pm.get_viz("figure")


def forest_figure(idata: xr.DataTree, name: str, label: str) -> Figure:
    """Medians and 50 % / 90 % intervals of one group effect, one row per group."""
    draws = idata["posterior"][name]
    dims = [d for d in draws.dims if d not in ("chain", "draw")]
    n_labels = int(np.prod([draws.sizes[d] for d in dims]))
    pc = azp.plot_forest(
        idata,
        var_names=[name],
        combined=True,
        point_estimate="median",
        ci_kind="eti",
        ci_probs=(0.5, DEFAULT_INTERVAL),
        labels=dims,
        backend="matplotlib",
        figure_kwargs={"figsize": (9.0, 1.3 + 0.45 * n_labels)},
    )
    plots = pc.viz["plot"]
    # The column of group names (headed by their dim) labels the forest's y-axis.
    plots.sel(column="labels").item().set_gid(LABEL_FREE)
    plots.sel(column="forest").item().set_xlabel(label)
    return pc.get_viz("figure")


def ppc_figure(tree: xr.DataTree) -> Figure:
    """Posterior predictive density of SPR against the observed."""
    pc = azp.plot_ppc_dist(tree, kind="kde", num_samples=50, backend="matplotlib")
    fig = pc.get_viz("figure")
    for ax in fig.axes:
        if ax.axison:
            ax.set_xlabel("SPR (packages per route)")
            ax.set_ylabel("density")
    return fig


def khat_figure(loo: Any) -> Figure:
    """PSIS Pareto k per training row."""
    fig = azp.plot_khat(loo, backend="matplotlib").get_viz("figure")
    for ax in fig.axes:
        ax.set_xlabel("training row (index)")
        ax.set_ylabel("Pareto k (–)")
    return fig


def pit_figure(tree: xr.DataTree) -> Figure:
    """ECDF of the randomised PIT on holdout rows minus the uniform CDF."""
    pc = azp.plot_ecdf_pit(tree, group="pit", sample_dims=["row"], backend="matplotlib")
    fig = pc.get_viz("figure")
    for ax in fig.axes:
        ax.set_xlabel("randomised PIT (–)")
        ax.set_ylabel("ECDF − uniform CDF (–)")
    return fig


def volume_ppc_figure(frame: pd.DataFrame, stations: list[str]) -> Figure:
    """Replicated daily stops per station (median, 50 % and 90 %) against the observed."""
    n = len(stations)
    fig, axes = plt.subplots(
        n, 1, figsize=(11.0, 1.9 * n + 0.9), sharex=True, squeeze=False, layout="constrained"
    )
    for ax, station in zip(axes[:, 0], stations, strict=True):
        part = frame[frame["station"] == station]
        days = part["date"].to_numpy()
        ax.fill_between(
            days,
            part["lo"],
            part["hi"],
            color="C0",
            alpha=0.2,
            lw=0,
            label=f"replicated, central {100 * DEFAULT_INTERVAL:.0f} %",
        )
        ax.fill_between(
            days,
            part["q25"],
            part["q75"],
            color="C0",
            alpha=0.4,
            lw=0,
            label="replicated, central 50 %",
        )
        ax.plot(days, part["median"], color="C0", lw=1.0, label="replicated, median")
        ax.plot(days, part["observed"], "o", color="black", ms=2.5, label="observed")
        ax.set_ylabel("stops per day")
        ax.set_title(f"station {station}", loc="left", fontsize=10)
    bottom = axes[-1, 0]
    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    bottom.set_xlabel("date")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=4, frameon=False)
    return fig
