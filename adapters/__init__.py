"""Platform adapters (Telegram, Slack, console): conversion and transport only."""
