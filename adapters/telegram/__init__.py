"""Telegram adapter (python-telegram-bot v22): conversion and transport only."""
