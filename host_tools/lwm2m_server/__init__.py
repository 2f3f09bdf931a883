"""Host LwM2M 1.1 server and bootstrap server (aiocoap) used by the integration tests, benches
and `make run`. See docs/lwm2m-server.md."""

from .bootstrap import BootstrapServer, security_instance, server_instance, simple_config
from .codecs import ObjLnk
from .exchange import OperationError, OperationTimeout, Result
from .server import LwM2MServer, Observation

__all__ = [
    "LwM2MServer", "Observation", "BootstrapServer", "Result", "OperationError", "OperationTimeout",
    "ObjLnk", "security_instance", "server_instance", "simple_config",
]
