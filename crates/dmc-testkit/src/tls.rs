//! A gRPC client channel that trusts exactly one certificate (a test
//! server's self-signed one, which names `localhost`).

use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// Connects to `url` (`https://host:port`) trusting only `cert_pem`.
pub async fn channel_trusting(url: String, cert_pem: String) -> Channel {
    Endpoint::from_shared(url)
        .expect("a valid URL")
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(cert_pem))
                .domain_name("localhost"),
        )
        .expect("a TLS configuration")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("TLS connection to the test server")
}
