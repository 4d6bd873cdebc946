"""What the `storebot` app callback hands every command through `ctx.obj`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import typer
from rich.console import Console

from bot.app.settings import Settings, SettingsError, load_settings

err_console = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True)
class CliContext:
    """Settings load on first use, not in the callback: `storebot kb build --help` must work with a bad
    setting, and commands that check their own input first (a bad test file) report that first."""

    @classmethod
    def of(cls, ctx: typer.Context) -> CliContext:
        """The object the app callback put in ctx.obj; made here when a sub-app runs without the main app."""
        return ctx.ensure_object(cls)

    @cached_property
    def settings(self) -> Settings:
        return self.load()

    def load(self, **overrides: object) -> Settings:
        """Settings from the environment, `overrides` validated like it (e.g. `kb build --embed-model`).
        An invalid setting is one red line naming its variable, exit 2."""
        try:
            return load_settings(**overrides)
        except SettingsError as err:
            err_console.print(f"{err}", style="red", markup=False, highlight=False)
            raise typer.Exit(2) from None
