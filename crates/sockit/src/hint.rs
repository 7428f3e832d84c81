//! What the user can do about a failure: named by the library, said by the binary in the
//! words of its command line.

/// What the user can do about a failure. The library names it; the binary says it in the
/// words of its command line (which flag to pass), so library messages name no flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// Allow sending to a broadcast address.
    AllowBroadcast,
    /// Name a DNS server to ask.
    NameServer,
    /// Read another resolv.conf.
    OtherResolvConf,
    /// Trust the server's CA, or skip the certificate check.
    TrustCa,
    /// Give a certificate and its key together.
    CertAndKey,
    /// Speak TLS.
    AddTls,
    /// Say which chat server: by room or by address.
    PickRoom,
    /// Probe fewer ports at once.
    FewerProbes,
    /// Answer discovery on another port, or not at all.
    OtherDiscoveryPort,
    /// Check the pinned certificate fingerprint.
    CheckFingerprint,
    /// Pin the server's certificate by its fingerprint (one no CA vouches for).
    PinCertificate,
    /// Confirm a scan of more addresses than a scan makes unasked.
    ConfirmMany,
    /// Say which interface multicast goes on (no route says).
    ChooseInterface,
    /// Trust the cluster broker's CA.
    TrustBroker,
}
