"""What travelers ask and what the bot missed (issue #17): events, their flush, reports, retention.

`events` turns one answered message into a compact JSON event that the webhook appends to a Redis list in the
round trip that saves the reply (`RedisStateStore.finish`): no extra Redis call per message. `flush` moves that
list into the database exactly once (per-day counts, unanswered questions and their raw texts); `questions`
normalizes and groups wordings; `report` reads them for the CLI, the admin API and the console; `retention`
deletes raw texts past `insights.keep_raw_days` while the counts stay.
"""
