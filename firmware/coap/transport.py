"""The datagram transport an Endpoint runs on. UDP, DTLS and socket-over-AT all provide:

    max_datagram            largest datagram it can carry (bytes)
    async recvfrom(buf)     -> (n, remote): fills buf, remote is hashable and comparable
    sendto(data, remote)    sends one datagram (never blocks for long; may drop on overload)
    resolve(host, port)     -> remote in the same form recvfrom returns
    close()

`remote` values are opaque to the CoAP layer; `describe(remote)` gives a printable form."""


class Transport:
    max_datagram = 1152

    async def recvfrom(self, buf):
        raise NotImplementedError

    def sendto(self, data, remote):
        raise NotImplementedError

    def resolve(self, host, port):
        raise NotImplementedError

    def describe(self, remote):
        return repr(remote)

    def close(self):
        pass
