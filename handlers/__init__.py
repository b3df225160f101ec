"""Intent handlers, one module per intent. ROUTERS is the priority order: earlier routers win."""
from . import attractions, commands, fallback, help, nearby, welcome

ROUTERS = [commands.router, help.router, welcome.router, attractions.router, nearby.router, fallback.router]
