"""LwM2M objects, one module per object (obj_<name>.py); each has create(registry, ...)."""
