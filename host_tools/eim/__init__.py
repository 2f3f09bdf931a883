"""Host eIM (GSMA SGP.32 v1.2 eSIM IoT remote manager): EimCore + ESipa HTTPS and LwM2M bindings."""
