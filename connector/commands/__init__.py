"""Typer command functions the main app (connector.cli) mounts; one module per area."""
