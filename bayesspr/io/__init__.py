"""Files on disk: atomic writes, output-path checks and saved fits.

Every file the package writes goes through :mod:`.files` (atomic writes, output-path
checks, CSV writing, reading saved trees); :mod:`.fit_files` holds the saved-fit format
checks shared by the SPR and volume models.

The public names of the modules below are re-exported here and load on first use, so
importing this package never imports its modules (no import cycles between rooms).
"""

from __future__ import annotations

from bayesspr._exports import lazy_exports

_EXPORTS = {
    "CSV_DECIMALS": "files",
    "OUTPUT_KINDS": "files",
    "OutputPathError": "files",
    "TABLE_SUFFIXES": "files",
    "atomic_folder": "files",
    "atomic_write": "files",
    "check_output_path": "files",
    "exit_on_sigterm": "files",
    "file_kind": "files",
    "read_saved_tree": "files",
    "remove_stale_temps": "files",
    "saved_fit_kind": "files",
    "sha256_of": "files",
    "table_format": "files",
    "write_csv": "files",
    "COMPRESSION_LEVEL": "fit_files",
    "KEEP_GROUPS": "fit_files",
    "SavedFitError": "fit_files",
    "check_posterior": "fit_files",
    "required_attr": "fit_files",
    "write_fit": "fit_files",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
