"""Control plane: drives a device through both layers (eIM for connectivity, LwM2M for
management) and reports the outcome of a profile switch. See plane.ControlPlane."""

from .plane import ControlPlane, SwitchOutcome  # noqa: F401
