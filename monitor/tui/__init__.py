"""The terminal dashboard (docs/dashboard.md): the only package that imports textual.

Importing this package itself loads nothing heavy; `monitor.tui.app` is where textual comes in,
so the command line pays for it only when the dashboard actually opens.
"""
