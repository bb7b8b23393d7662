//! The TOML file of `dmc serve` (crates/dmc-server/src/config.rs).

use std::path::PathBuf;
use std::sync::OnceLock;

use dmc_server::ServerConfig;

/// What `dmc serve --config FILE` does with the file (crates/dmc/src/ec.rs,
/// `server_config`): `ServerConfig::apply_toml` over the defaults, then
/// `ServerConfig::validate` (which also parses `database_url`).
///
/// Checks: no panic; for a file that passes validation, the aggregation
/// parameters it gives can be built and applying the same file again
/// changes nothing.
pub fn serve_config(data: &[u8]) {
    static DEFAULTS: OnceLock<ServerConfig> = OnceLock::new();
    // `read_to_string` refuses non-UTF-8 before the parser.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let defaults = DEFAULTS.get_or_init(|| ServerConfig::with_data_dir(PathBuf::from("/nonexistent/dmc-fuzz")));
    let mut cfg = defaults.clone();
    if let Err(e) = cfg.apply_toml(text).and_then(|()| cfg.validate()) {
        return debug!("serve_config: refused: {e}");
    }
    debug!("serve_config: accepted");
    let params = cfg.aggregation_params();
    assert!(params.weights.established > 0.0);
    let mut twice = cfg.clone();
    twice.apply_toml(text).expect("the same file applies twice");
    assert_eq!(twice, cfg, "applying the file twice changed the config");
}
