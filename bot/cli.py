"""The `storebot` command."""

from __future__ import annotations

import typer

from bot.cli_kb import eval_app, kb_app

app = typer.Typer(help="storebot: a chat bot for online stores.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(eval_app, name="eval")

if __name__ == "__main__":
    app()
