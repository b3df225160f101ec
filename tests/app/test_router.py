"""Routing order, the routing table CLI and the db CLI."""

from __future__ import annotations


def test_routing_cli_prints_the_table(app):
    result = app.test_cli_runner().invoke(args=["routing"])
    assert result.exit_code == 0
    assert "help.show_help" in result.output and "welcome.welcome" in result.output
    assert "fallback.not_understood" in result.output
    rows = {line.split()[2]: line.split()[-1] for line in result.output.splitlines() if line.startswith("intent ")}
    assert rows["help.show_help"] == "inline" and rows["booking.my_bookings"] == "(io)"


def test_db_upgrade_cli(app):
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "database at head" in result.output
