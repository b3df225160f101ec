"""Test doubles that speak WeChat's protocols over real sockets (no mocks of our own code)."""
