"""Testers' and developers' tools, never imported by production code: the WeChat request builder, a
fake WeChat API server, conversation fixtures and their replay runner, the chat simulator."""
