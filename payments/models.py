# The payments app's models live in two modules: the ledger and idempotency keys, and the
# payment provider's side (methods, the simulated provider's charges, webhook events).
from .ledger_models import *  # noqa: F403
from .provider_models import *  # noqa: F403
from .provider_models import __all__ as _provider_all  # noqa: F401
