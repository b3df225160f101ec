"""What the command groups share: who runs a command, the audit record of a command, counting words."""
from __future__ import annotations

import functools
import getpass
import os
from datetime import date, datetime
from typing import Any, Callable

import click
from flask import current_app


def who(by: str | None = None) -> str:
    """Who runs this command: `--by`, else the operating-system user."""
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return f"uid {os.getuid()}"


def audited(command: Callable[..., None]) -> Callable[..., None]:
    """Write the command, who ran it (`--by`, stored as `created_by`) and its exit code to the audit log."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        code, error = 0, None
        try:
            command(*args, **kwargs)
        except click.ClickException as exc:
            code, error = exc.exit_code, exc.format_message()
            raise
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
            raise
        finally:
            _record(click.get_current_context(), kwargs.get("created_by"), code, error)

    return run


def command_line(ctx: click.Context) -> str:
    """The command as audited: group, command, arguments (file names without their folder), options given."""
    words = [ctx.parent.info_name if ctx.parent else "", ctx.info_name or ""]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if _unset(param, value) or param.name == "created_by":
            continue
        if isinstance(param, click.Argument):
            words.append(os.path.basename(str(value)))
        else:
            flag = param.opts[-1]
            values = value if isinstance(value, tuple) else (value,)
            words.extend([flag] if _is_flag(param) else [f"{flag} {_shown(v)}" for v in values])
    return " ".join(w for w in words if w)


def _is_flag(param: click.Parameter) -> bool:
    return isinstance(param, click.Option) and param.is_flag


def _shown(value: Any) -> str:
    return "''" if value == "" else str(value)  # `--note ''`, not a blank the eye skips


def _unset(param: click.Parameter, value: Any) -> bool:
    """Nothing to audit: no value, a flag not given, no repeated values. `--days 0` and `--note ''` are values
    (0 == False in Python, hence no `value in (None, False, ())`)."""
    return value is None or value == () or (value is False and _is_flag(param))


def _record(ctx: click.Context, by: str | None, code: int, error: str | None) -> None:
    from bot.infra import audit

    audit.record(current_app.extensions["yjy"].db, actor=f"cli:{who(by)}", method="CLI", path=command_line(ctx),
                 status=code, detail={"error": error[:300]} if error else {})


class Day(click.ParamType):
    """A day as YYYY-MM-DD (Seoul), given to the command as a `date` (audited as typed, not as a midnight
    datetime)."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a day as YYYY-MM-DD", param, ctx)


def count(n: int, one: str, many: str = "") -> str:
    """`1 batch`, `2 batches`, `1,200 travelers`."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def seoul(when: datetime) -> str:
    """A stored time as Seoul wall time (SQLite keeps it without its zone: already Seoul's)."""
    from bot.infra.clock import in_seoul

    return f"{in_seoul(when):%Y-%m-%d %H:%M}"
