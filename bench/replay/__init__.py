"""Replay and faults through two real `storebot serve telegram slack` processes.

    .venv/bin/python -m bench.replay [--events 1000] [--outage 20] [--think S] [--conversations 50] [--logs DIR]
                                     [--scenarios abc] [--kills N] [--stop-signal kill|term] [--cluster]
                                     [--redis-empty]

Everything is the bench's own: a redis-server it starts (and stops during the outage), the demo store's
knowledge base built with `storebot kb build` into a temporary KB_DATA_DIR, the Telegram Bot API and Slack
Web API stand-ins in this process, and two `storebot serve telegram slack` subprocesses behind a "load
balancer" (each delivery goes to one of them at random; a delivery whose connection fails goes to the other).

Shoppers: half of the conversations are Telegram private chats (updates POSTed to the webhook with the secret
token), half Slack DMs (signed `message.im` events). Each conversation asks a sequence of price questions about
different demo-store products; every question's reply text is learnt once before the run (calibration), so a
reply names the question it answers. A conversation sends its next question once the previous delivery was
acknowledged (Telegram: a 200, which the webhook gives once the update is handled; Slack: the ack), and the
conversations run at the same time. Before each question a shopper thinks (`--think`, uniform 0.5×–1.5× of
it; by default 3 × outage / questions per conversation, so traffic runs before, during and after the outage);
`--think 0` sends the next question the moment the previous one is acknowledged — Slack acknowledges at once,
so its conversations then arrive as bursts. About 30% of the events are deliveries again of an earlier event (same
`update_id`, or same `event_id` with `X-Slack-Retry-Num`), to the same process or the other one: half at the
same moment as the first delivery, half up to a second after it was acknowledged.

Like the platforms: a Telegram update answered with anything but 200 (or whose connection failed) is delivered
again with backoff (0.25 s doubling to 4 s) until it gets a 200; a Slack event is retried up to 3 times on a
non-200 (0.5, 1, 2 s apart: Slack's own waits are minutes, too long for a bench).

Scenarios, one after the other in the same processes, each with fresh conversations:
  (a) normal;
  (b) the Redis server killed (SIGKILL) once a third of the scenario's questions were acknowledged, and started
      again `--outage` seconds later — with its data, from its append-only file (as production runs it), or
      empty with `--redis-empty`; with `--cluster` the bench's Redis is a cluster of three masters, and all
      three are killed;
  (c) one serve process killed with SIGKILL once a third of the questions were acknowledged; `--kills N`
      runs it N times (the killed process started again before each) and sums them, since whether a reply
      is in flight at the instant of one kill is chance. `--stop-signal term` sends SIGTERM instead, as a
      deploy or a scale-down does (`docker stop`): the process stops taking deliveries, answers what it has in
      hand and exits, and the bench waits for it. `--scenarios` picks which of a, b, c run.

Counted per platform: questions never answered (lost), answered more than once (duplicated), replies that
arrived after the reply to a later question of the same conversation (out of order), apologies, time from a
question's first delivery to its reply (p50/p95), and events delivered per second (from the first delivery to
the last acknowledgement). Under the table: the HTTP responses the processes gave, a few lost / duplicated /
out-of-order questions with their deliveries, what Redis says about them (dedupe mark, the conversation's
memory — the processes keep 100 turns so the whole conversation is there), and the processes' warnings and
errors of each scenario, counted by kind. Prints only; `--logs DIR` keeps the processes'
logs. Exits 0 whatever the counts: it is a measurement.
"""
