//! The coordinator's view of the channel graph: who is an established
//! reporter, which channels exist and how large they are
//! (ARCHITECTURE.md, "Robust aggregation").

use std::path::{Path, PathBuf};

use dmc_core::aggregate::{ChannelCheck, GraphStanding};
use dmc_core::{DirectedPair, NodeId};
use dmc_graph::{Graph, Standing};

/// Why a graph file was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum GraphLoadError {
    /// Not readable, or neither `describegraph` nor `listchannels` JSON.
    #[error("graph: {0}")]
    Read(#[from] dmc_graph::GraphError),
    /// The file parsed but holds no channel: no pair could be served; give a full graph or `--graph none`.
    #[error("graph: {}: no channels", .0.display())]
    NoChannels(PathBuf),
}

/// A loaded graph file with what the aggregation asks of it.
pub struct ServerGraph {
    standing: Standing,
    nodes: usize,
    channels: usize,
    /// The file it was loaded from (reloaded from there on SIGHUP).
    pub path: PathBuf,
    /// The newest announcement in the file (Unix seconds).
    pub newest_update: Option<u64>,
}

impl ServerGraph {
    /// Loads `lncli describegraph` or CLN `listchannels` JSON (plain or gzip).
    pub fn load(path: &Path, min_reporter_capacity_sat: u64) -> Result<ServerGraph, GraphLoadError> {
        let graph = Graph::load(path)?;
        if graph.channel_count() == 0 {
            return Err(GraphLoadError::NoChannels(path.to_path_buf()));
        }
        // A snapshot stripped of announcement times (the shipped one is)
        // is dated by the YYYY-MM-DD in its file name, if any.
        let newest_update = graph.newest_update().or_else(|| date_in_name(path));
        Ok(ServerGraph {
            standing: Standing::new(&graph, dmc_core::Sat(min_reporter_capacity_sat)),
            nodes: graph.node_count(),
            channels: graph.channel_count(),
            path: path.to_path_buf(),
            newest_update,
        })
    }

    /// Nodes in the file.
    pub fn node_count(&self) -> usize {
        self.nodes
    }

    /// Channels in the file.
    pub fn channel_count(&self) -> usize {
        self.channels
    }

    /// How many nodes would be established reporters.
    pub fn established_count(&self) -> usize {
        self.standing.established_count()
    }
}

impl GraphStanding for ServerGraph {
    fn is_established(&self, key: &NodeId) -> bool {
        self.standing.is_established(key)
    }

    fn channel(&self, pair: &DirectedPair) -> ChannelCheck {
        self.standing.channel(pair)
    }
}

/// The Unix time (midnight UTC) of the first `YYYY-MM-DD` in a file name.
pub fn date_in_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?.as_bytes();
    name.windows(10).find_map(|w| {
        let digits = |r: std::ops::Range<usize>| -> Option<i64> { std::str::from_utf8(&w[r]).ok()?.parse().ok() };
        if w[4] != b'-'
            || w[7] != b'-'
            || !w
                .iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        {
            return None;
        }
        let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        // Civil date to days (Howard Hinnant's algorithm).
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        u64::try_from(days * 86_400).ok()
    })
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub fn utc_date(unix_secs: i64) -> String {
    // Days to civil date (Howard Hinnant's algorithm).
    let z = unix_secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_770_076_800), "2026-02-03");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(-86_400), "1969-12-31");
        let p = Path::new("data/mainnet-2026-02-03.describegraph.json.gz");
        assert_eq!(date_in_name(p), Some(1_770_076_800));
        assert_eq!(
            utc_date(date_in_name(Path::new("g-2000-02-29.json")).unwrap() as i64),
            "2000-02-29"
        );
        assert_eq!(date_in_name(Path::new("graph.json")), None);
        assert_eq!(date_in_name(Path::new("x-2026-13-01.json")), None);
    }
}
