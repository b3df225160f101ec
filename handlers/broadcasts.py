"""WeChat's report on a mass send (MASSSENDJOBFINISH): record what happened to that batch."""
from __future__ import annotations

import logging

from bot.broadcasts import sending as broadcast_send
from bot.conversation.router import Context, Router
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply, no_reply

router = Router("broadcasts")
log = logging.getLogger(__name__)


@router.on_event("masssendjobfinish", io=True)
def job_finished(msg: Incoming, ctx: Context) -> Reply:
    event = msg.raw
    counts = {"TotalCount": event.total_count, "SentCount": event.sent_count, "ErrorCount": event.error_count,
              "FilterCount": event.filter_count}
    if not broadcast_send.record_job_finish(ctx.services.db, str(event.id), counts):
        log.warning("MASSSENDJOBFINISH for unknown job %s (%s)", event.id, event.status)
    else:
        log.info("mass job %s finished: %s %s", event.id, event.status, counts)
    return no_reply()
