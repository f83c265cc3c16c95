"""pytest settings for docs/: its .rst examples run as doctests, its build code does not."""

# conf.py and the extension are Sphinx code, not doctest material, and the
# model pages that a build writes into models/generated/ are exercised by
# tests/docs (they build every model, which is far too slow for a doctest run).
collect_ignore = ["conf.py"]
collect_ignore_glob = ["_ext/*", "_build/*", "models/generated/*"]
