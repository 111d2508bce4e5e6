"""``hmr`` subcommands for the smplify stage."""

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this area's subcommands on the ``hmr`` parser (none yet)."""
