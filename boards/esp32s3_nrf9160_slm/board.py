# esp32s3_nrf9160_slm: the modem is reached over UART; see boards/README.md for the wiring.
NAME = "esp32s3_nrf9160_slm"
MODEM_LINK = "uart"
MODEM_DIALECT = "nrf91_slm"
UART_ID = 1
UART_BAUD = 115200
UART_TX_PIN = 17
UART_RX_PIN = 18
MODEM_POWER_PIN = None  # the nRF9160 SLM powers up with the board; no PWRKEY line
HEAP_BUDGET = 64 * 1024
STATE_DIR = "/state"
