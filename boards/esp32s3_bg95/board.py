# esp32s3_bg95: the modem is reached over UART; see boards/README.md for the wiring.
NAME = "esp32s3_bg95"
MODEM_LINK = "uart"
MODEM_DIALECT = "quectel_bg95"
UART_ID = 1
UART_BAUD = 115200
UART_TX_PIN = 17
UART_RX_PIN = 18
MODEM_POWER_PIN = 15  # pulsed to power the modem on/off (PWRKEY or enable line)
HEAP_BUDGET = 64 * 1024
STATE_DIR = "/state"
