"""SGP.32 v1.2 IoT Profile Assistant in the device (IPAd): ES10b/ESipa codecs and procedures."""
