//! TLS as lnd does it: a self-signed certificate generated on first run
//! and kept in the data dir, unless the operator gives a real one.

use std::path::Path;
use std::sync::Arc;

/// PEM certificate and key, loaded or generated.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Loads `cert`/`key`, or creates a self-signed pair there if neither
/// exists (SANs: localhost and the loopback addresses, plus `extra_names`).
pub fn load_or_generate(cert: &Path, key: &Path, extra_names: &[String]) -> Result<TlsMaterial, String> {
    match (cert.exists(), key.exists()) {
        (true, true) => Ok(TlsMaterial {
            cert_pem: std::fs::read_to_string(cert).map_err(|e| format!("tls cert {}: {e}", cert.display()))?,
            key_pem: std::fs::read_to_string(key).map_err(|e| format!("tls key {}: {e}", key.display()))?,
        }),
        (false, false) => {
            let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
            names.extend(extra_names.iter().cloned());
            let ck = rcgen::generate_simple_self_signed(names).map_err(|e| format!("generating certificate: {e}"))?;
            let m = TlsMaterial {
                cert_pem: ck.cert.pem(),
                key_pem: ck.key_pair.serialize_pem(),
            };
            if let Some(dir) = cert.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            std::fs::write(cert, &m.cert_pem).map_err(|e| format!("writing {}: {e}", cert.display()))?;
            write_private(key, &m.key_pem)?;
            Ok(m)
        }
        (true, false) => Err(format!("tls key {} is missing (the certificate exists)", key.display())),
        (false, true) => Err(format!("tls cert {} is missing (the key exists)", cert.display())),
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        f.write_all(text.as_bytes())
            .map_err(|e| format!("writing {}: {e}", path.display()))
    }
    #[cfg(not(unix))]
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// A rustls server config for this material (HTTP/1.1 and HTTP/2).
pub fn rustls_server_config(m: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<rustls::pki_types::CertificateDer<'static>> = rustls_pemfile::certs(&mut m.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls cert: {e}"))?;
    if certs.is_empty() {
        return Err("tls cert: no certificate in the PEM file".into());
    }
    let key = rustls_pemfile::private_key(&mut m.key_pem.as_bytes())
        .map_err(|e| format!("tls key: {e}"))?
        .ok_or("tls key: no private key in the PEM file")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls: certificate and key do not match: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
