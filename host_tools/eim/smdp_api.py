"""What the eIM needs from an SM-DP+ to relay an indirect profile download (SGP.32 ES9+').

The eIM passes the IPA's ESipa request through unchanged and expects the matching ESipa response:
each method takes the DER of one EsipaMessageFromIpaToEim alternative (the whole TLV, e.g. 'BF39…'
for initiateAuthenticationRequestEsipa) and returns the DER of the EsipaMessageFromEimToIpa
alternative that answers it (e.g. 'BF39…' initiateAuthenticationResponseEsipa). Turning that into
ES9+ proper (SGP.22 InitiateAuthentication etc.) is the SM-DP+ side's job. Methods may raise; the
eIM then answers the IPA with the operation's undefinedError(127)."""


class SmdpApi:
    """Interface (duck-typed) for host_tools/smdp or any other SM-DP+ adapter."""

    def initiate_authentication(self, req_der):
        """BF39 InitiateAuthenticationRequestEsipa -> BF39 InitiateAuthenticationResponseEsipa."""
        raise NotImplementedError

    def authenticate_client(self, req_der):
        """BF3B AuthenticateClientRequestEsipa -> BF3B AuthenticateClientResponseEsipa."""
        raise NotImplementedError

    def get_bound_profile_package(self, req_der):
        """BF3A GetBoundProfilePackageRequestEsipa -> BF3A GetBoundProfilePackageResponseEsipa."""
        raise NotImplementedError

    def cancel_session(self, req_der):
        """BF41 CancelSessionRequestEsipa -> BF41 CancelSessionResponseEsipa."""
        raise NotImplementedError

    def handle_notification(self, notification_der):
        """A PendingNotification (e.g. BF37 ProfileInstallationResult) for the SM-DP+; no answer."""
        raise NotImplementedError
