"""Telegram's webhook, answered 200 only once the update is handled — its reply sent, or queued in the outbox.

An update that failed for a passing reason (Redis unreachable) gets a 500 instead, and Telegram delivers it
again later: a question asked during an outage is answered when Redis is back, not lost. A request without
the secret token is refused (403), a body that is not an update is a 400; each in one log line, no body.
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from adapters.telegram.settings import TelegramSettings

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    def __init__(self, application: Application, settings: TelegramSettings,  # type: ignore[type-arg]
                 retry_later: set[int], stop_grace_s: float) -> None:
        self._application = application
        self._settings = settings
        self._retry_later = retry_later  # update ids the error handler judged worth Telegram's redelivery
        self._runner: web.AppRunner | None = None
        self._stop_grace_s = stop_grace_s  # how long `stop` waits for the updates being handled

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(f"/{self._settings.webhook_path.strip('/')}", self._on_update)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=self._stop_grace_s)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._settings.webhook_listen, self._settings.webhook_port).start()
        await self._application.bot.set_webhook(self._settings.webhook_url, secret_token=self._settings.webhook_secret,
                                                allowed_updates=Update.ALL_TYPES)

    async def stop(self) -> None:
        if self._runner is not None:  # the port closed, then the updates being handled waited for (the grace)
            await self._runner.cleanup()
            self._runner = None

    async def _on_update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._settings.webhook_secret.encode()):
            log.warning("webhook request from %s refused: wrong or missing secret token", request.remote)
            return web.Response(status=403)
        try:
            update = Update.de_json(json.loads(await request.read()), self._application.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            log.warning("webhook request from %s refused: not an update (%s)", request.remote, type(err).__name__)
            return web.Response(status=400)
        application = self._application
        # Through the application's update processor: a chat's updates are still handled in arrival order.
        await application.update_processor.process_update(update, application.process_update(update))
        if update.update_id in self._retry_later:
            self._retry_later.discard(update.update_id)
            return web.Response(status=500, text="try again later")
        return web.Response(status=200)
