"""Intent handlers, one module per intent, each with its own `Router`.

ROUTERS lists them all (the config key `routers` names this list). A route belongs to exactly one
handler; what wins when several could answer is `bot.conversation.router.PRIORITY`, printed by
`flask --app wsgi routing`.
"""
from . import (
    attractions,
    booking,
    broadcasts,
    commands,
    coupons,
    crowds,
    fallback,
    handoff,
    help,
    info,
    money,
    nearby,
    passports,
    smalltalk,
    tax,
    weather,
    welcome,
)

ROUTERS = [
    commands.router, handoff.router, help.router, welcome.router, booking.router, passports.router, broadcasts.router,
    coupons.router, tax.router, money.router, info.router, crowds.router, attractions.router, nearby.router,
    weather.router, smalltalk.router, fallback.router,
]
