"""Host-side tools (CPython): servers, simulators, benches that make the device test loops."""
