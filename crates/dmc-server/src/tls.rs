//! TLS as lnd does it: a self-signed certificate generated on first run
//! and kept in the data dir, unless the operator gives a real one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// PEM certificate and key, loaded or generated.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    /// The certificate chain, PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
}

/// Why TLS material could not be loaded, made or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `file` is `"cert"` or `"key"`.
    #[error("tls {file} {}: {source}", path.display())]
    Read {
        /// Which of the pair.
        file: &'static str,
        /// The file that could not be read.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// One of the pair exists without the other.
    #[error("tls {missing} {} is missing (the {present} exists)", path.display())]
    HalfPair {
        /// `"cert"` or `"key"`: the one to restore, or delete the other to generate a new pair.
        missing: &'static str,
        /// The one that exists.
        present: &'static str,
        /// Where the missing one was looked for.
        path: PathBuf,
    },
    /// The self-signed certificate could not be made.
    #[error("generating certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The folder of a new pair could not be created.
    #[error("creating {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A new certificate or key could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The PEM text holds no usable certificate or key; the message says which.
    #[error("{0}")]
    Pem(String),
    /// rustls could not set up its protocol versions with the ring provider (not expected in this build).
    #[error("tls: {0}")]
    Rustls(rustls::Error),
    /// rustls refused the pair: the key is not the certificate's, or of a kind it does not support.
    #[error("tls: certificate and key do not match: {0}")]
    Mismatch(rustls::Error),
}

/// Loads `cert`/`key`, or creates a self-signed pair there if neither
/// exists (SANs: localhost and the loopback addresses, plus `extra_names`).
pub fn load_or_generate(cert: &Path, key: &Path, extra_names: &[String]) -> Result<TlsMaterial, TlsError> {
    let read = |file: &'static str, path: &Path| {
        std::fs::read_to_string(path).map_err(|source| TlsError::Read {
            file,
            path: path.to_path_buf(),
            source,
        })
    };
    match (cert.exists(), key.exists()) {
        (true, true) => Ok(TlsMaterial {
            cert_pem: read("cert", cert)?,
            key_pem: read("key", key)?,
        }),
        (false, false) => {
            let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
            names.extend(extra_names.iter().cloned());
            let ck = rcgen::generate_simple_self_signed(names)?;
            let m = TlsMaterial {
                cert_pem: ck.cert.pem(),
                key_pem: ck.key_pair.serialize_pem(),
            };
            if let Some(dir) = cert.parent() {
                std::fs::create_dir_all(dir).map_err(|source| TlsError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(cert, &m.cert_pem).map_err(|source| TlsError::Write {
                path: cert.to_path_buf(),
                source,
            })?;
            write_private(key, &m.key_pem).map_err(|source| TlsError::Write {
                path: key.to_path_buf(),
                source,
            })?;
            Ok(m)
        }
        (true, false) => Err(TlsError::HalfPair {
            missing: "key",
            present: "certificate",
            path: key.to_path_buf(),
        }),
        (false, true) => Err(TlsError::HalfPair {
            missing: "cert",
            present: "key",
            path: cert.to_path_buf(),
        }),
    }
}

/// Writes a new file readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    std::fs::write(path, text)
}

/// A rustls server config for this material (HTTP/1.1 and HTTP/2).
pub fn rustls_server_config(m: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs: Vec<rustls::pki_types::CertificateDer<'static>> = rustls_pemfile::certs(&mut m.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(format!("tls cert: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Pem("tls cert: no certificate in the PEM file".into()));
    }
    let key = rustls_pemfile::private_key(&mut m.key_pem.as_bytes())
        .map_err(|e| TlsError::Pem(format!("tls key: {e}")))?
        .ok_or_else(|| TlsError::Pem("tls key: no private key in the PEM file".into()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(TlsError::Mismatch)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
