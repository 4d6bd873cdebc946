"""The `storebot` command: one typer app."""
