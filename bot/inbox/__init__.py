"""The staff inbox: hand-offs, complaints and group requests in one list, answered through WeChat's
customer-service message API (`service`), with the rules of that API (`rules`) and an item's conversation
(`timeline`)."""
from bot.inbox.items import InboxError, Item, Message, Sent
from bot.inbox.service import Inbox, inbox

__all__ = ["Inbox", "InboxError", "Item", "Message", "Sent", "inbox"]
