"""``bayesspr monitor``: last month's fits against the month that happened.

Reads the saved SPR fit (``--model``), optionally the saved volume fit (``--volume-model``),
the rows the fits were made on (``--history``) and the new month (``--new-month``); runs
:func:`bayesspr.monitor.monitor_month`; writes the ranked station table, the zips, the
station-days, the chart and a manifest into one folder, replaced whole (or left as it was if
anything fails).
"""

from __future__ import annotations

import argparse

from bayesspr.cli.manifest import inputs_record, write_manifest
from bayesspr.cli.verdict import check_loaded, load_fit
from bayesspr.data import table as data
from bayesspr.io.files import atomic_folder, check_output_path, write_csv
from bayesspr.monitor.charts import MONITOR_CHART, write_monitor_chart
from bayesspr.monitor.surprise import monitor_month
from bayesspr.spr.model import SPRModel
from bayesspr.volume.model import VolumeModel

__all__ = ["MONITOR_FILES", "monitor_cli"]

#: What ``bayesspr monitor`` writes into its output folder (with ``manifest.json``).
MONITOR_FILES = ("stations.csv", "zips.csv", "station_days.csv", MONITOR_CHART)


def monitor_cli(args: argparse.Namespace) -> int:
    """``bayesspr monitor``: score the new month, print the short list, write the folder.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of ``bayesspr monitor``.

    Returns
    -------
    int
        0 when the folder was written (whether or not a station was flagged).

    Raises
    ------
    bayesspr.errors.DataError
        ``--history`` or ``--new-month`` is not a valid observation table with routes.
    bayesspr.errors.SavedFitError
        A fit file cannot be read as the fit it should be.
    """
    inputs = {
        "--model": args.model,
        "--volume-model": args.volume_model,
        "--history": args.history,
        "--new-month": args.new_month,
    }
    out = check_output_path(args.out, "folder", inputs, folder_files=MONITOR_FILES)
    spr = load_fit(SPRModel, args.model)
    check_loaded(spr, args.model, "--model", args)
    volume = None
    if args.volume_model is not None:
        volume = load_fit(VolumeModel, args.volume_model)
        check_loaded(volume, args.volume_model, "--volume-model", args)
    history = data.read_table(args.history)
    month = data.read_table(args.new_month)
    report = monitor_month(
        spr,
        month,
        volume_model=volume,
        history=history,
        fdr=args.fdr,
        n_samples=args.samples,
        random_seed=args.seed,
    )
    fits = {"--model": spr.verdict()}
    if volume is not None:
        fits["--volume-model"] = volume.verdict()
    with atomic_folder(out) as tmp:  # the whole folder, or the earlier one
        write_csv(report.stations, tmp / "stations.csv")
        write_csv(report.zips, tmp / "zips.csv")
        write_csv(report.station_days, tmp / "station_days.csv")
        write_monitor_chart(report, tmp, history)
        write_manifest(
            tmp,
            getattr(args, "argv", []),
            inputs=inputs_record(inputs),
            settings={**report.settings, "samples": report.n_samples},
            fits=fits,
            flagged=report.flagged()["station"].tolist(),
        )
    print(report.summary())
    print(f"wrote {', '.join(MONITOR_FILES)} and manifest.json to {out}")
    return 0
