"""Modules of tools/hpsearch (hyper-parameter search driving `train` with Optuna): space (the
search-space file), trainer (one `train` subprocess per trial), studyops (storage, ownership,
fault tolerance) and results (summary.json, trials.csv, best_config.json, plots)."""


class SearchError(Exception):
    """A user error: reported as `hpsearch: error: MESSAGE`, exit status 2."""
