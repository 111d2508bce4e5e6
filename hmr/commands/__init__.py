"""Subcommands of the ``hmr`` CLI, one module per area; each has ``add_commands(sub)``."""
