//! What `dmc sync` remembers between runs, per (coordinator, node), in
//! `<data-dir>/sync/<node key>-<hash of the coordinator URL>/`:
//!
//! * `cursor.json`: the coordinator cursor after the last *successful*
//!   import into lnd (`{"coordinator", "node", "cursor", "updated_unix"}`).
//! * `imported.bin`: for each pair imported into lnd, the newest failure
//!   and success times imported. lnd cannot tell imported knowledge from
//!   its own, so export uses this to send only what the node observed
//!   itself (a slot whose time is newer than anything imported for it), and
//!   a pair missing from lnd's mission control shows that lnd lost its
//!   in-memory imports (restart or `resetmc`), which restarts the import
//!   from scratch.
//!
//! Files are replaced atomically (write to a temporary file, fsync, rename).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use dmc_core::json::Json;
use dmc_core::node::NodeId;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The cursor file's name in the state directory.
pub const CURSOR_FILE: &str = "cursor.json";
/// The import ledger's name in the state directory.
pub const LEDGER_FILE: &str = "imported.bin";
const LEDGER_MAGIC: &[u8; 8] = b"DMCIMP01";
const ENTRY_LEN: usize = 33 + 33 + 8 + 8;

pub use dmc_core::sync_plan::ImportedTimes;

/// A coordinator URL without trailing slashes, as keys and files use it.
pub fn normalize_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// The state directory of (coordinator, node) under `data_dir`.
pub fn state_dir(data_dir: &Path, coordinator: &str, node: &NodeId) -> PathBuf {
    let h = Sha256::digest(normalize_url(coordinator).as_bytes());
    data_dir
        .join("sync")
        .join(format!("{}-{}", node.to_hex(), dmc_core::node::encode_hex(&h[..6])))
}

/// Cursor and import ledger of one (coordinator, node).
#[derive(Clone, Debug)]
pub struct SyncState {
    /// The (coordinator, node) directory the files live in ([`state_dir`]).
    pub dir: PathBuf,
    /// The coordinator URL, normalized ([`normalize_url`]).
    pub coordinator: String,
    /// The node whose lnd the imports went into.
    pub node: NodeId,
    /// `None`: never imported (or reset): the next query asks for everything.
    pub cursor: Option<u64>,
    /// Per `(node_from, node_to)`: the newest failure and success times (Unix seconds) imported into lnd.
    pub imported: HashMap<(NodeId, NodeId), ImportedTimes>,
}

impl SyncState {
    /// Loads the state, or an empty one if there is none yet. A damaged
    /// file is an error naming it (delete it to start over).
    pub fn load(data_dir: &Path, coordinator: &str, node: &NodeId) -> Result<SyncState> {
        let dir = state_dir(data_dir, coordinator, node);
        let mut st = SyncState {
            dir: dir.clone(),
            coordinator: normalize_url(coordinator),
            node: *node,
            cursor: None,
            imported: HashMap::new(),
        };
        let cursor_path = dir.join(CURSOR_FILE);
        match std::fs::read_to_string(&cursor_path) {
            Ok(text) => st.cursor = Some(parse_cursor(&text).map_err(|e| damaged(&cursor_path, &e))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::config(format!("{}: {e}", cursor_path.display()))),
        }
        let ledger_path = dir.join(LEDGER_FILE);
        match std::fs::read(&ledger_path) {
            Ok(bytes) => st.imported = decode_ledger(&bytes).map_err(|e| damaged(&ledger_path, &e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::config(format!("{}: {e}", ledger_path.display()))),
        }
        Ok(st)
    }

    /// Where [`SyncState::save`] writes the cursor.
    pub fn cursor_path(&self) -> PathBuf {
        self.dir.join(CURSOR_FILE)
    }

    /// Records an import: the newest times per slot.
    pub fn record_import(&mut self, from: NodeId, to: NodeId, fail_time: i64, success_time: i64) {
        self.imported
            .entry((from, to))
            .or_default()
            .record(fail_time, success_time);
    }

    /// Forgets cursor and ledger (lnd lost its imports).
    pub fn reset(&mut self) {
        self.cursor = None;
        self.imported.clear();
    }

    /// Writes the ledger, then the cursor (a crash in between only repeats
    /// the last import).
    pub fn save(&self, now_unix: i64) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::config(format!("creating {}: {e}", self.dir.display())))?;
        write_atomic(&self.dir.join(LEDGER_FILE), &encode_ledger(&self.imported))?;
        match self.cursor {
            Some(c) => {
                let text = Json::object([
                    ("coordinator", Json::str(self.coordinator.clone())),
                    ("node", Json::str(self.node.to_hex())),
                    ("cursor", Json::int64(c)),
                    ("updated_unix", Json::int64(now_unix)),
                ])
                .pretty()
                    + "\n";
                write_atomic(&self.cursor_path(), text.as_bytes())
            }
            None => match std::fs::remove_file(self.cursor_path()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::config(format!("removing {}: {e}", self.cursor_path().display()))),
            },
        }
    }
}

fn damaged(path: &Path, why: &dyn std::fmt::Display) -> Error {
    Error::config(format!(
        "{}: damaged sync state ({why}); delete the file to import everything again",
        path.display()
    ))
}

/// Why a `cursor.json` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CursorError {
    /// The file is not JSON.
    #[error("malformed JSON: {0}")]
    MalformedJson(#[source] serde_json::Error),
    /// The JSON object has no `cursor` field.
    #[error("no \"cursor\" field")]
    NoCursorField,
    /// `cursor` is neither a `u64` nor a string holding one.
    #[error("cursor {cursor} is not an unsigned integer")]
    NotUnsigned {
        /// The value as the file spelled it (a string quoted).
        cursor: String,
    },
}

/// The `cursor` of a `cursor.json` (a JSON string or number).
pub fn parse_cursor(text: &str) -> std::result::Result<u64, CursorError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(CursorError::MalformedJson)?;
    let c = v.get("cursor").ok_or(CursorError::NoCursorField)?;
    let not_unsigned = |cursor: String| CursorError::NotUnsigned { cursor };
    match c {
        serde_json::Value::String(s) => s.parse().map_err(|_| not_unsigned(format!("{s:?}"))),
        serde_json::Value::Number(n) => n.as_u64().ok_or_else(|| not_unsigned(n.to_string())),
        other => Err(not_unsigned(other.to_string())),
    }
}

fn encode_ledger(m: &HashMap<(NodeId, NodeId), ImportedTimes>) -> Vec<u8> {
    let mut entries: Vec<_> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::with_capacity(16 + entries.len() * ENTRY_LEN);
    out.extend_from_slice(LEDGER_MAGIC);
    out.extend_from_slice(&(entries.len() as u64).to_be_bytes());
    for ((from, to), t) in entries {
        out.extend_from_slice(&from.0);
        out.extend_from_slice(&to.0);
        out.extend_from_slice(&t.fail_time.to_be_bytes());
        out.extend_from_slice(&t.success_time.to_be_bytes());
    }
    out
}

fn decode_ledger(b: &[u8]) -> std::result::Result<HashMap<(NodeId, NodeId), ImportedTimes>, String> {
    if b.len() < 16 || &b[..8] != LEDGER_MAGIC {
        return Err("not an import ledger (bad header)".into());
    }
    let n = u64::from_be_bytes(b[8..16].try_into().map_err(|_| "bad count")?) as usize;
    let body = &b[16..];
    if n.checked_mul(ENTRY_LEN) != Some(body.len()) {
        return Err(format!("{n} entries announced, {} bytes present", body.len()));
    }
    let mut m = HashMap::with_capacity(n);
    for e in body.chunks_exact(ENTRY_LEN) {
        let key = |r: std::ops::Range<usize>| NodeId::from_bytes_unchecked(&e[r]).map_err(|e| e.to_string());
        let int = |r: std::ops::Range<usize>| i64::from_be_bytes(e[r].try_into().unwrap_or([0; 8]));
        m.insert(
            (key(0..33)?, key(33..66)?),
            ImportedTimes {
                fail_time: int(66..74),
                success_time: int(74..82),
            },
        );
    }
    Ok(m)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let io = |e: std::io::Error, p: &Path| Error::config(format!("writing {}: {e}", p.display()));
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| io(e, &tmp))?;
        f.write_all(bytes).map_err(|e| io(e, &tmp))?;
        f.sync_all().map_err(|e| io(e, &tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| io(e, path))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(b: u8) -> NodeId {
        let mut k = [b; 33];
        k[0] = 2;
        NodeId(k)
    }

    #[test]
    fn round_trip_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let me = node(9);
        let st = SyncState::load(dir.path(), "https://ec.example:50050/", &me).unwrap();
        assert_eq!(st.cursor, None);
        assert!(st.imported.is_empty());
        assert_eq!(st.coordinator, "https://ec.example:50050");
        let mut st = st;
        st.cursor = Some(42);
        st.record_import(node(1), node(2), 100, 0);
        st.record_import(node(1), node(2), 50, 200);
        st.save(1_700_000_000).unwrap();
        let back = SyncState::load(dir.path(), "https://ec.example:50050", &me).unwrap();
        assert_eq!(back.cursor, Some(42));
        assert_eq!(
            back.imported[&(node(1), node(2))],
            ImportedTimes {
                fail_time: 100,
                success_time: 200
            }
        );
        let text = std::fs::read_to_string(back.cursor_path()).unwrap();
        assert!(text.contains("\"cursor\": \"42\""), "{text}");
        // Another coordinator has its own state.
        let other = SyncState::load(dir.path(), "https://other:1", &me).unwrap();
        assert_eq!(other.cursor, None);

        std::fs::write(back.cursor_path(), "{\"cursor\": -1}").unwrap();
        let e = SyncState::load(dir.path(), "https://ec.example:50050", &me).unwrap_err();
        assert!(
            e.message.contains("cursor.json") && e.message.contains("damaged"),
            "{e}"
        );
        std::fs::write(back.cursor_path(), "{\"cursor\": \"7\"}").unwrap();
        std::fs::write(back.dir.join(LEDGER_FILE), b"DMCIMP01\0\0\0\0\0\0\0\x05").unwrap();
        let e = SyncState::load(dir.path(), "https://ec.example:50050", &me).unwrap_err();
        assert!(
            e.message.contains("imported.bin") && e.message.contains("5 entries"),
            "{e}"
        );
    }

    #[test]
    fn cursor_errors_say_what_is_wrong() {
        assert_eq!(parse_cursor("{\"cursor\": \"12\"}").unwrap(), 12);
        assert_eq!(parse_cursor("{\"cursor\": 12}").unwrap(), 12);
        let text = |t: &str| parse_cursor(t).unwrap_err().to_string();
        assert!(text("{").starts_with("malformed JSON: "), "{}", text("{"));
        assert_eq!(text("{}"), "no \"cursor\" field");
        assert_eq!(text("{\"cursor\": \"x\"}"), "cursor \"x\" is not an unsigned integer");
        assert_eq!(text("{\"cursor\": -1}"), "cursor -1 is not an unsigned integer");
        assert_eq!(text("{\"cursor\": [1]}"), "cursor [1] is not an unsigned integer");
    }

    #[test]
    fn reset_removes_the_cursor_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = SyncState::load(dir.path(), "https://x:1", &node(3)).unwrap();
        st.cursor = Some(5);
        st.save(1).unwrap();
        assert!(st.cursor_path().exists());
        st.reset();
        st.save(2).unwrap();
        assert!(!st.cursor_path().exists());
        assert_eq!(
            SyncState::load(dir.path(), "https://x:1", &node(3)).unwrap().cursor,
            None
        );
    }
}
