# Builds a dialect from a board's MODEM_DIALECT name (module name or short name), importing
# only that dialect's module: RAM on a board holds one dialect, not four.
import asyncio

_DIALECTS = {
    "nrf91_slm": ("nrf91_slm", "Nrf91Slm"),
    "quectel_bg95": ("quectel_bg95", "QuectelBg95"),
    "simcom_sim7080": ("simcom_sim7080", "SimcomSim7080"),
    "ublox_sara_r5": ("ublox_sara_r5", "UbloxSaraR5"),
}
_SHORT = {"slm": "nrf91_slm", "nrf91": "nrf91_slm", "bg95": "quectel_bg95",
          "sim7080": "simcom_sim7080", "sara_r5": "ublox_sara_r5"}


def dialect_class(name):
    key = _SHORT.get(name, name)
    if key not in _DIALECTS:
        raise ValueError("unknown modem dialect %r" % (name,))
    mod, cls = _DIALECTS[key]
    return getattr(__import__("modem." + mod, None, None, [cls]), cls)


async def open_dialect(name, link):
    """Unix port: a dialect over `tcp:HOST:PORT` or a pty path (modem simulator)."""
    from modem.stream_unix import open_link

    r, w = await open_link(link)
    return dialect_class(name).connect(r, w)


def from_uart(name, uart):
    """Boards: a dialect over a machine.UART (asyncio streams poll the UART directly)."""
    s = asyncio.StreamReader(uart)
    return dialect_class(name).connect(s, s)
