"""DevSkyy settings: every value comes from the environment (see .env.example).

One package, one component per integration. Production and embedded mode differ only
by environment: with no variables set the platform runs embedded (SQLite, local
memory cache, in-memory channel layer, in-process background work).
"""

from .auth import *  # noqa: F403
from .base import *  # noqa: F403
from .cache import *  # noqa: F403
from .database import *  # noqa: F403
from .integrations import *  # noqa: F403
from .llm import *  # noqa: F403
from .marketing import *  # noqa: F403
from .observability import *  # noqa: F403
from .realtime import *  # noqa: F403
from .security import *  # noqa: F403
from .tasks import *  # noqa: F403
