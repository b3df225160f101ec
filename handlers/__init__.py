"""Intent handlers, one module per intent. ROUTERS is the priority order: earlier routers win."""
from . import attractions, commands, fallback, help, money, nearby, welcome

ROUTERS = [commands.router, help.router, welcome.router, money.router, attractions.router, nearby.router, fallback.router]
