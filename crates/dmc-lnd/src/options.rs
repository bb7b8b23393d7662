//! Where lnd is and how to authenticate, resolved as lncli resolves its
//! global options (lnd: cmd/commands/main.go `extractPathArgs`,
//! lncfg `CleanAndExpandPath`, btcutil `AppDataDir`):
//!
//! * `--lnddir`: default the OS's application data dir for "lnd"
//!   (`~/.lnd` on Linux and the BSDs, `~/Library/Application Support/Lnd`
//!   on macOS, `%LOCALAPPDATA%\Lnd` on Windows).
//! * `--rpcserver`: default `localhost:10009`; a missing port means 10009.
//! * `--tlscertpath`: default `<lnddir>/tls.cert`.
//! * `--macaroonpath`: default
//!   `<lnddir>/data/chain/bitcoin/<network>/admin.macaroon`.
//! * `--network`: `mainnet` (default), `testnet`, `testnet4`, `regtest`,
//!   `simnet` or `signet`, case-insensitive.
//!
//! Paths expand a leading `~` and `$VAR` / `${VAR}`, then are cleaned
//! lexically, as Go's `filepath.Clean(os.ExpandEnv(...))`.
//!
//! One deliberate difference: lncli replaces an explicit `--tlscertpath` by
//! `<lnddir>/tls.cert` whenever `--lnddir` is not the default (its comment
//! says it means to do so only when no path was given). Here an explicit
//! `--tlscertpath` always wins.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// lnd's default gRPC port.
pub const DEFAULT_RPC_PORT: u16 = 10009;
/// lncli's default `--rpcserver`.
pub const DEFAULT_RPCSERVER: &str = "localhost:10009";
/// lncli's default `--network`.
pub const DEFAULT_NETWORK: &str = "mainnet";
/// The networks lncli accepts.
pub const NETWORKS: &[&str] = &["mainnet", "testnet", "testnet4", "regtest", "simnet", "signet"];
/// lnd's TLS certificate, in the lnd dir.
pub const TLS_CERT_FILENAME: &str = "tls.cert";
/// The macaroon lncli presents by default (in `<lnddir>/data/chain/bitcoin/<network>/`).
pub const ADMIN_MACAROON_FILENAME: &str = "admin.macaroon";
/// lnd's chain name in the macaroon path (`lnd.BitcoinChainName`).
pub const CHAIN_NAME: &str = "bitcoin";

/// lncli's connection flags as given (None: not given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LndOptions {
    /// `--lnddir`: lnd's data directory, the base of the default cert and macaroon paths.
    pub lnddir: Option<PathBuf>,
    /// `--rpcserver`: `host[:port]` of lnd's gRPC listener.
    pub rpcserver: Option<String>,
    /// `--tlscertpath`: lnd's `tls.cert`, the only certificate trusted.
    pub tlscertpath: Option<PathBuf>,
    /// `--macaroonpath`: the macaroon every call carries.
    pub macaroonpath: Option<PathBuf>,
    /// `--network`: selects the default macaroon path (one of [`NETWORKS`]).
    pub network: Option<String>,
}

/// Everything needed to reach and authenticate to one lnd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LndTarget {
    /// Host name or IP address (without brackets), for dialing and TLS.
    pub host: String,
    /// lnd's gRPC port.
    pub port: u16,
    /// The lnd dir after `~`/`$VAR` expansion and cleaning.
    pub lnddir: PathBuf,
    /// The certificate that pins the TLS connection.
    pub tls_cert: PathBuf,
    /// The macaroon file sent with every call.
    pub macaroon: PathBuf,
    /// The network, lower-cased, one of [`NETWORKS`].
    pub network: String,
    /// Whether the macaroon path was derived from `--lnddir`/`--network`
    /// (error messages then hint at `--network`).
    pub macaroon_is_default: bool,
}

impl LndTarget {
    /// `host:port`, with brackets around an IPv6 address.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Which OS's application-data convention to use for the default lnd dir.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    /// Linux, the BSDs and other Unixes: `~/.lnd`.
    Unix,
    /// macOS: `~/Library/Application Support/Lnd`.
    MacOs,
    /// Windows: `%LOCALAPPDATA%\Lnd` (or `%APPDATA%\Lnd`).
    Windows,
}

impl Os {
    /// The OS this binary was built for.
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Unix
        }
    }
}

impl LndOptions {
    /// Resolves with this process's environment and OS.
    pub fn resolve(&self) -> Result<LndTarget> {
        self.resolve_with(&|k: &str| std::env::var(k).ok(), Os::current())
    }

    /// Resolves with an explicit environment (`env(name)`) and OS, for tests.
    pub fn resolve_with(&self, env: &dyn Fn(&str) -> Option<String>, os: Os) -> Result<LndTarget> {
        let network = self
            .network
            .as_deref()
            .unwrap_or(DEFAULT_NETWORK)
            .trim()
            .to_ascii_lowercase();
        if !NETWORKS.contains(&network.as_str()) {
            return Err(Error::config(format!(
                "--network: unknown network {:?} (want one of {})",
                self.network.as_deref().unwrap_or_default(),
                NETWORKS.join(", ")
            )));
        }
        let lnddir = match &self.lnddir {
            Some(d) => clean_and_expand(d, env, "--lnddir")?,
            None => default_lnd_dir(env, os)?,
        };
        let tls_cert = match &self.tlscertpath {
            Some(p) => clean_and_expand(p, env, "--tlscertpath")?,
            None => lnddir.join(TLS_CERT_FILENAME),
        };
        let (macaroon, macaroon_is_default) = match &self.macaroonpath {
            Some(p) => (clean_and_expand(p, env, "--macaroonpath")?, false),
            None => (
                lnddir
                    .join("data")
                    .join("chain")
                    .join(CHAIN_NAME)
                    .join(&network)
                    .join(ADMIN_MACAROON_FILENAME),
                true,
            ),
        };
        let (host, port) = parse_rpcserver(self.rpcserver.as_deref().unwrap_or(DEFAULT_RPCSERVER))?;
        Ok(LndTarget {
            host,
            port,
            lnddir,
            tls_cert,
            macaroon,
            network,
            macaroon_is_default,
        })
    }
}

/// btcutil's `AppDataDir("lnd", false)`.
fn default_lnd_dir(env: &dyn Fn(&str) -> Option<String>, os: Os) -> Result<PathBuf> {
    let nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
    match os {
        Os::Windows => nonempty("LOCALAPPDATA")
            .or_else(|| nonempty("APPDATA"))
            .map(|d| PathBuf::from(d).join("Lnd"))
            .ok_or_else(|| Error::config("--lnddir: LOCALAPPDATA is not set, so there is no default; give --lnddir")),
        Os::MacOs => home(env).map(|h| h.join("Library").join("Application Support").join("Lnd")),
        Os::Unix => home(env).map(|h| h.join(".lnd")),
    }
}

fn home(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| Error::config("--lnddir: HOME is not set, so there is no default ~/.lnd; give --lnddir"))
}

/// lncfg's `CleanAndExpandPath`: `~` → home, `$VAR`/`${VAR}` → value (empty
/// if unset, as Go's `os.ExpandEnv`), then a lexical clean.
pub fn clean_and_expand(path: &Path, env: &dyn Fn(&str) -> Option<String>, flag: &str) -> Result<PathBuf> {
    let text = path
        .to_str()
        .ok_or_else(|| Error::config(format!("{flag}: {} is not valid UTF-8", path.display())))?;
    if text.is_empty() {
        return Err(Error::config(format!("{flag}: empty path")));
    }
    let mut s = text.to_string();
    if let Some(rest) = s.strip_prefix('~') {
        s = format!("{}{rest}", home(env)?.display());
    }
    Ok(clean(Path::new(&expand_env(&s, env))))
}

fn expand_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if len == 0 {
            // A lone `$` (or an unclosed `${`) stays as written.
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&env(name).unwrap_or_default());
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Go's `filepath.Clean`, lexically: drops `.` and resolves `..` where it
/// can.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `host:port`, `host`, `[v6]:port`, `[v6]` or a bare IPv6 address; the
/// port defaults to 10009 as lncli's dialer does.
pub fn parse_rpcserver(s: &str) -> Result<(String, u16)> {
    let s = s.trim();
    let bad = |why: &str| Error::config(format!("--rpcserver: {s:?} {why}"));
    if s.is_empty() {
        return Err(bad("is empty"));
    }
    if s.contains("://") {
        return Err(bad("must be host:port (no scheme; unix sockets are not supported)"));
    }
    let port_of = |p: &str| -> Result<u16> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad("has an invalid port")),
        }
    };
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']').ok_or_else(|| bad("has an unclosed '['"))?;
        let host = &rest[..end];
        let tail = &rest[end + 1..];
        let port = match tail.strip_prefix(':') {
            Some(p) => port_of(p)?,
            None if tail.is_empty() => DEFAULT_RPC_PORT,
            None => return Err(bad("has text after ']' that is not :port")),
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("has an invalid IPv6 address in brackets"));
        }
        return Ok((host.to_string(), port));
    }
    if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((s.to_string(), DEFAULT_RPC_PORT));
    }
    match s.rsplit_once(':') {
        Some((host, port)) => {
            if host.is_empty() {
                // ":10009" means localhost, as Go's dialer does.
                return Ok(("localhost".into(), port_of(port)?));
            }
            if host.contains(':') {
                return Err(bad("has too many colons (write IPv6 addresses as [addr]:port)"));
            }
            Ok((host.to_string(), port_of(port)?))
        }
        None => Ok((s.to_string(), DEFAULT_RPC_PORT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn defaults_are_lncli_defaults() {
        let t = LndOptions::default()
            .resolve_with(&env(&[("HOME", "/home/op")]), Os::Unix)
            .unwrap();
        assert_eq!(t.host, "localhost");
        assert_eq!(t.port, 10009);
        assert_eq!(t.address(), "localhost:10009");
        assert_eq!(t.lnddir, PathBuf::from("/home/op/.lnd"));
        assert_eq!(t.tls_cert, PathBuf::from("/home/op/.lnd/tls.cert"));
        assert_eq!(
            t.macaroon,
            PathBuf::from("/home/op/.lnd/data/chain/bitcoin/mainnet/admin.macaroon")
        );
        assert_eq!(t.network, "mainnet");
        assert!(t.macaroon_is_default);
    }

    #[test]
    fn os_app_data_dirs() {
        let mac = LndOptions::default()
            .resolve_with(&env(&[("HOME", "/Users/op")]), Os::MacOs)
            .unwrap();
        assert_eq!(mac.lnddir, PathBuf::from("/Users/op/Library/Application Support/Lnd"));
        let win = LndOptions::default()
            .resolve_with(&env(&[("LOCALAPPDATA", "C:/Users/op/AppData/Local")]), Os::Windows)
            .unwrap();
        assert_eq!(win.lnddir, PathBuf::from("C:/Users/op/AppData/Local/Lnd"));
        let e = LndOptions::default().resolve_with(&env(&[]), Os::Unix).unwrap_err();
        assert!(e.message.contains("--lnddir") && e.message.contains("HOME"), "{e}");
    }

    #[test]
    fn lnddir_and_network_move_the_default_files() {
        let o = LndOptions {
            lnddir: Some("~/nodes/../nodes/./alice".into()),
            network: Some("RegTest".into()),
            ..Default::default()
        };
        let t = o.resolve_with(&env(&[("HOME", "/home/op")]), Os::Unix).unwrap();
        assert_eq!(t.lnddir, PathBuf::from("/home/op/nodes/alice"));
        assert_eq!(t.tls_cert, PathBuf::from("/home/op/nodes/alice/tls.cert"));
        assert_eq!(
            t.macaroon,
            PathBuf::from("/home/op/nodes/alice/data/chain/bitcoin/regtest/admin.macaroon")
        );
        assert_eq!(t.network, "regtest");
    }

    #[test]
    fn explicit_paths_win_and_expand_env() {
        let o = LndOptions {
            lnddir: Some("/srv/lnd".into()),
            tlscertpath: Some("${CERTS}/lnd.pem".into()),
            macaroonpath: Some("$MACS/readonly.macaroon".into()),
            rpcserver: Some("10.0.0.5:10010".into()),
            network: Some("signet".into()),
        };
        let t = o
            .resolve_with(&env(&[("CERTS", "/etc/certs"), ("MACS", "/etc/macs")]), Os::Unix)
            .unwrap();
        assert_eq!(t.tls_cert, PathBuf::from("/etc/certs/lnd.pem"));
        assert_eq!(t.macaroon, PathBuf::from("/etc/macs/readonly.macaroon"));
        assert!(!t.macaroon_is_default);
        assert_eq!((t.host.as_str(), t.port), ("10.0.0.5", 10010));
    }

    #[test]
    fn bad_network_names_the_flag() {
        let o = LndOptions {
            network: Some("bitcoin".into()),
            lnddir: Some("/x".into()),
            ..Default::default()
        };
        let e = o.resolve_with(&env(&[]), Os::Unix).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Config);
        assert!(e.message.starts_with("--network: unknown network \"bitcoin\""), "{e}");
    }

    #[test]
    fn rpcserver_forms() {
        assert_eq!(parse_rpcserver("localhost").unwrap(), ("localhost".into(), 10009));
        assert_eq!(parse_rpcserver("node.lan:10011").unwrap(), ("node.lan".into(), 10011));
        assert_eq!(parse_rpcserver("[::1]:10009").unwrap(), ("::1".into(), 10009));
        assert_eq!(parse_rpcserver("[::1]").unwrap(), ("::1".into(), 10009));
        assert_eq!(parse_rpcserver("::1").unwrap(), ("::1".into(), 10009));
        assert_eq!(parse_rpcserver(":10012").unwrap(), ("localhost".into(), 10012));
        for bad in [
            "",
            "host:0",
            "host:99999",
            "host:x",
            "unix:///tmp/lnd.sock",
            "a:b:c",
            "[::1",
            "[zz]:1",
        ] {
            let e = parse_rpcserver(bad).unwrap_err();
            assert!(e.message.starts_with("--rpcserver:"), "{bad}: {e}");
        }
    }

    #[test]
    fn expansion_edge_cases() {
        let e = env(&[("A", "x")]);
        assert_eq!(expand_env("$A/$B/${A}y/$", &e), "x//xy/$");
        assert_eq!(expand_env("${unclosed", &e), "${unclosed");
        assert_eq!(clean(Path::new("a/./b/../c")), PathBuf::from("a/c"));
        assert_eq!(clean(Path::new("../a")), PathBuf::from("../a"));
        assert_eq!(clean(Path::new("/..")), PathBuf::from("/"));
    }
}
