"""Intent handlers, one module per intent. ROUTERS is the priority order: earlier routers win."""
from . import (attractions, booking, broadcasts, commands, coupons, fallback, help, info, money, nearby, passports,
               tax, welcome)

ROUTERS = [commands.router, help.router, welcome.router, booking.router, passports.router, broadcasts.router, coupons.router, tax.router, money.router, info.router, attractions.router, nearby.router, fallback.router]
