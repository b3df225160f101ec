"""Intent handlers, one module per intent. ROUTERS is the priority order: earlier routers win."""
from . import attractions, commands, fallback, help, info, money, nearby, tax, welcome

ROUTERS = [commands.router, help.router, welcome.router, tax.router, money.router, info.router, attractions.router, nearby.router, fallback.router]
