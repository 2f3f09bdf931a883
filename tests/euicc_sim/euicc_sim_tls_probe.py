"""Run on the MicroPython Unix port: a TLS client that trusts one DER root, requires the server's
certificate and checks its host name, as the device's ESipa HTTPS binding does.

    micropython euicc_sim_tls_probe.py PORT CA.der HOSTNAME

Prints `TLS OK <first line from the server>` or `TLS ERROR <step> <exception>`."""

import socket
import sys

import tls


def main(port, ca_path, hostname):
    with open(ca_path, "rb") as f:
        ca = f.read()
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    step = "ca"
    try:
        ctx.load_verify_locations(ca)  # positional: modtls takes no keywords
        step = "connect"
        sock = socket.socket()
        sock.settimeout(10)
        sock.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        step = "handshake"
        conn = ctx.wrap_socket(sock, server_hostname=hostname)
        step = "io"
        conn.write(b"ping\n")
        line = conn.readline()
        conn.close()
    except Exception as exc:  # the step and mbedTLS's text are the result of the probe
        print("TLS ERROR", step, repr(exc))
        return
    print("TLS OK", line.decode().strip())


main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
