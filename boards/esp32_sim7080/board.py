# esp32_sim7080: the modem is reached over UART; see boards/README.md for the wiring.
NAME = "esp32_sim7080"
MODEM_LINK = "uart"
MODEM_DIALECT = "simcom_sim7080"
UART_ID = 1
UART_BAUD = 115200
UART_TX_PIN = 27
UART_RX_PIN = 26
MODEM_POWER_PIN = 4  # pulsed to power the modem on/off (PWRKEY or enable line)
HEAP_BUDGET = 64 * 1024
STATE_DIR = "/state"
