"""One conversation turn: the pipeline (dedup, state, deadline), the router and its priority, the
conversation state in Redis, understanding text (intents, places, numbers), content loading and cards.
No Flask here: the web layer hands in what it needs."""
