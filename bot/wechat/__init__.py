"""The WeChat boundary: the `/wechat` webhook, the protocol (signatures, AES, safe XML), inbound
messages, passive replies, the API client and its gateway, the custom menu."""
