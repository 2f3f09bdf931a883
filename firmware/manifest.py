# Freezes the firmware packages into a MicroPython image; included by each board's manifest.
# One line per package; a package that is not frozen here does not ship.
package("coap")
package("ops")
package("objects")
package("hal")
package("ipa")
package("modem")
package("lwm2m")
