//! The connection to a coordinator, shared by both protocols: where it is,
//! which certificate to trust, and the channel tonic's clients run over.

use std::path::PathBuf;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::error::{Error, Result};
use crate::tls::{connect_error, load_certs, pinned_client_config, public_roots_client_config, TlsConnector};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Where the coordinator is and which certificate to trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorOptions {
    /// `https://host:port` (or `http://` for a `--no-tls` loopback one).
    pub url: String,
    /// PEM certificate to trust (pinned, or as roots); `None` trusts the
    /// public CAs.
    pub tls_cert: Option<PathBuf>,
    /// The flag that gave `tls_cert`, for error messages.
    pub tls_cert_flag: &'static str,
}

impl CoordinatorOptions {
    /// The URL without trailing slashes, as errors and logs name it.
    pub fn trimmed_url(&self) -> String {
        self.url.trim_end_matches('/').to_string()
    }
}

/// A channel to a coordinator, for either protocol: `https://` with the
/// certificate in `opts.tls_cert` pinned (whatever name it carries, as
/// lnd's own self-signed certificates are trusted) or the public CAs
/// without one; `http://` for a `--no-tls` loopback coordinator.
pub async fn channel(opts: &CoordinatorOptions) -> Result<Channel> {
    let url = opts.trimmed_url();
    let uri: http::Uri = url
        .parse()
        .map_err(|e| Error::config(format!("--ec: {url:?} is not a URL: {e}")))?;
    let scheme = uri.scheme_str().unwrap_or("");
    let host = uri
        .host()
        .ok_or_else(|| Error::config(format!("--ec: {url:?} has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    match scheme {
        "https" => {
            let port = uri.port_u16().unwrap_or(443);
            let tls = match &opts.tls_cert {
                Some(path) => pinned_client_config(load_certs(path, opts.tls_cert_flag)?)?,
                None => public_roots_client_config()?,
            };
            let authority = uri.authority().map(|a| a.as_str()).unwrap_or(&host);
            endpoint(&format!("http://{authority}"), &url)?
                .connect_with_connector(TlsConnector::new(&host, port, tls))
                .await
                .map_err(|e| {
                    connect_error(
                        &e,
                        &url,
                        "the coordinator",
                        opts.tls_cert.as_deref(),
                        opts.tls_cert_flag,
                    )
                })
        }
        "http" => endpoint(&url, &url)?
            .connect()
            .await
            .map_err(|e| Error::unavailable(format!("the coordinator at {url} is not reachable: {e}"))),
        _ => Err(Error::config(format!(
            "--ec: {url:?} must start with https:// (or http:// for a --no-tls coordinator)"
        ))),
    }
}

fn endpoint(uri: &str, url: &str) -> Result<Endpoint> {
    Ok(Endpoint::from_shared(uri.to_string())
        .map_err(|e| Error::config(format!("--ec: {url:?} is not a URL: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .tcp_nodelay(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(url: &str) -> CoordinatorOptions {
        CoordinatorOptions {
            url: url.into(),
            tls_cert: None,
            tls_cert_flag: "--tls-cert",
        }
    }

    #[tokio::test]
    async fn urls_that_cannot_work_name_the_flag() {
        let e = channel(&opts("ftp://ec:1")).await.unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Config);
        assert!(
            e.message.starts_with("--ec: \"ftp://ec:1\" must start with https://"),
            "{e}"
        );
        let e = channel(&opts("not a url")).await.unwrap_err();
        assert!(e.message.starts_with("--ec: \"not a url\""), "{e}");
        let mut o = opts("https://127.0.0.1:1/");
        o.tls_cert = Some("/nonexistent/tls.cert".into());
        let e = channel(&o).await.unwrap_err();
        assert!(e.message.starts_with("--tls-cert: /nonexistent/tls.cert"), "{e}");
        assert_eq!(o.trimmed_url(), "https://127.0.0.1:1");
    }
}
