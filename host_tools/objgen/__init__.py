"""Generate LwM2M object table skeletons (firmware/objects/obj_<name>.py) from OMA registry XML."""
