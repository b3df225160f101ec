"""Intent handlers, one module per intent. ROUTERS is the priority order: earlier routers win."""
from . import fallback, help, welcome

ROUTERS = [help.router, welcome.router, fallback.router]
