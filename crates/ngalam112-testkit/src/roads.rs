//! Road networks for the tests: written as OpenStreetMap XML here and
//! converted to PBF with `osmium` (Debian's osmium-tool), as a city's
//! extract would arrive, then loaded the way `serve --roads` loads them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ngalam112_core::drive::DriveTimes;
use ngalam112_roads::Roads;

/// A way: its id, its nodes' ids, its tags.
type Way = (i64, Vec<i64>, Vec<(String, String)>);

/// An OpenStreetMap document under construction.
#[derive(Default)]
pub struct Osm {
    nodes: Vec<(i64, f64, f64)>,
    /// Node ids by position (in 1e-7 degrees).
    at: std::collections::HashMap<(i64, i64), i64>,
    ways: Vec<Way>,
}

impl Osm {
    /// A node at (lat, lon), reusing one already at that spot.
    pub fn node(&mut self, (lat, lon): (f64, f64)) -> i64 {
        let key = ((lat * 1e7).round() as i64, (lon * 1e7).round() as i64);
        if let Some(id) = self.at.get(&key) {
            return *id;
        }
        let id = self.nodes.len() as i64 + 1;
        self.nodes.push((id, lat, lon));
        self.at.insert(key, id);
        id
    }

    /// A way through `points` in order, with `tags`; a node every 0.001
    /// degrees along each stretch, as mapped roads have (so two ways cross
    /// where both have a node: at whole thousandths).
    pub fn way(&mut self, points: &[(f64, f64)], tags: &[(&str, &str)]) {
        let step = 0.001;
        let mut refs = Vec::new();
        for pair in points.windows(2) {
            let ((a_lat, a_lon), (b_lat, b_lon)) = (pair[0], pair[1]);
            let span = (b_lat - a_lat).abs().max((b_lon - a_lon).abs());
            let parts = (span / step - 1e-6).ceil() as usize;
            for part in 0..parts.max(1) {
                let t = part as f64 / parts.max(1) as f64;
                refs.push(self.node((a_lat + (b_lat - a_lat) * t, a_lon + (b_lon - a_lon) * t)));
            }
        }
        if let Some(last) = points.last() {
            refs.push(self.node(*last));
        }
        refs.dedup();
        let id = self.ways.len() as i64 + 1;
        let tags = tags
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        self.ways.push((id, refs, tags));
    }

    pub fn xml(&self) -> String {
        let mut xml = String::from(
            "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6' generator='ngalam112-tests'>\n",
        );
        for (id, lat, lon) in &self.nodes {
            let _ = writeln!(
                xml,
                "  <node id='{id}' version='1' lat='{lat:.7}' lon='{lon:.7}'/>"
            );
        }
        for (id, refs, tags) in &self.ways {
            let _ = writeln!(xml, "  <way id='{id}' version='1'>");
            for node in refs {
                let _ = writeln!(xml, "    <nd ref='{node}'/>");
            }
            for (key, value) in tags {
                let _ = writeln!(xml, "    <tag k='{key}' v='{value}'/>");
            }
            xml.push_str("  </way>\n");
        }
        xml.push_str("</osm>\n");
        xml
    }

    /// Writes the network as `name.osm.pbf` (converted by osmium) in a
    /// fresh directory and returns its path.
    pub fn pbf(&self, name: &str) -> PathBuf {
        let dir = scratch_dir(name);
        let xml = dir.join(format!("{name}.osm"));
        let pbf = dir.join(format!("{name}.osm.pbf"));
        std::fs::write(&xml, self.xml()).expect("write the OSM XML");
        let status = std::process::Command::new("osmium")
            .args(["cat", "--overwrite", "-o"])
            .arg(&pbf)
            .arg(&xml)
            .status()
            .expect("run osmium (apt-get install osmium-tool; scripts/test.sh installs it)");
        assert!(status.success(), "osmium cat {}", xml.display());
        pbf
    }
}

/// A fresh directory for one test's files.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ngalam112-roads-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("make a scratch directory");
    dir
}

/// Loads a network as the server does (`serve --roads`), caching under a
/// fresh directory.
pub fn load(pbf: &Path) -> Arc<dyn DriveTimes> {
    let cache = pbf.parent().unwrap_or(Path::new(".")).join("cache");
    let (roads, _) = Roads::load(pbf, &cache).expect("the test network loads");
    Arc::new(roads)
}

/// The road network every `TestApp::spawn` gets when the environment
/// says `NGALAM112_TEST_ROADS=grid` (scripts/test.sh runs the dispatch
/// tests so, to show they hold on roads too): `malang_grid`, built once
/// per test process.
pub fn from_environment() -> Option<Arc<dyn DriveTimes>> {
    static GRID: std::sync::OnceLock<Arc<dyn DriveTimes>> = std::sync::OnceLock::new();
    match std::env::var("NGALAM112_TEST_ROADS").ok()?.as_str() {
        "grid" => Some(
            GRID.get_or_init(|| load(&malang_grid().pbf("malang-grid")))
                .clone(),
        ),
        other => panic!("NGALAM112_TEST_ROADS={other}: only \"grid\" is known"),
    }
}

/// Kota Malang as a grid of two-way residential streets 0.004 degrees
/// (about 440 m) apart, from lat −8.06 to −7.90 and lon 112.56 to
/// 112.72: every place the tests use is on or near a street, and the
/// drive between two places follows the grid.
pub fn malang_grid() -> Osm {
    let mut osm = Osm::default();
    let street = &[("highway", "residential")];
    let (south, north, west, east) = (-8.060, -7.900, 112.560, 112.720);
    let lines = |from: f64, to: f64| {
        let count = ((to - from) / 0.004).round() as usize;
        (0..=count).map(move |line| from + 0.004 * line as f64)
    };
    for lat in lines(south, north) {
        osm.way(&[(lat, west), (lat, east)], street);
    }
    for lon in lines(west, east) {
        osm.way(&[(south, lon), (north, lon)], street);
    }
    osm
}

/// A store configuration on the river town's roads (`river_town`).
pub fn river_town_config() -> ngalam112_store::StoreConfig {
    let pbf = river_town::network().pbf("river-town");
    ngalam112_store::StoreConfig {
        roads: Some(load(&pbf)),
        ..ngalam112_store::StoreConfig::default()
    }
}

/// `malang_grid` cut by two rivers running north to south, as the Brantas
/// and the Bango cut the city: between lon 112.620 and 112.624 and between
/// 112.648 and 112.652, crossed only by every fifth east-west street (the
/// bridges, 2.2 km apart). The demo on it shows drive time beating straight lines.
pub fn malang_rivers() -> Osm {
    let mut osm = Osm::default();
    let street = &[("highway", "residential")];
    let (south, north, west, east) = (-8.060, -7.900, 112.560, 112.720);
    let rivers = [(112.620, 112.624), (112.648, 112.652)];
    let lines = |from: f64, to: f64| {
        let count = ((to - from) / 0.004).round() as usize;
        (0..=count).map(move |line| (line, from + 0.004 * line as f64))
    };
    for (line, lat) in lines(south, north) {
        if line % 5 == 0 {
            osm.way(&[(lat, west), (lat, east)], street);
            continue;
        }
        // The street stops at each bank.
        let mut from = west;
        for (bank_west, bank_east) in rivers {
            osm.way(&[(lat, from), (lat, bank_west)], street);
            from = bank_east;
        }
        osm.way(&[(lat, from), (lat, east)], street);
    }
    for (_, lon) in lines(west, east) {
        osm.way(&[(south, lon), (north, lon)], street);
    }
    osm
}

/// Tags of a two-way road that every test network uses (35 km/h).
pub const ROAD: &[(&str, &str)] = &[("highway", "tertiary")];

/// The river town: a river along lat −7.980 that only one bridge (at lon
/// 112.640) crosses, with a road along each bank from lon 112.600 to
/// 112.660; north of it a one-way street (east from `ONE_WAY_WEST` to
/// `ONE_WAY_EAST`) whose way back goes round a block to the north, joined
/// to the north bank's road at lon 112.620; and an island in the river
/// with a road of its own that nothing joins.
pub mod river_town {
    use super::{Osm, ROAD};

    pub const NORTH_BANK: f64 = -7.9780;
    pub const SOUTH_BANK: f64 = -7.9820;
    pub const BRIDGE_LON: f64 = 112.640;
    pub const ONE_WAY_WEST: (f64, f64) = (-7.9700, 112.620);
    pub const ONE_WAY_EAST: (f64, f64) = (-7.9700, 112.630);
    /// The island's road runs along lat −7.980 from lon 112.650 to 112.654.
    pub const ISLAND: (f64, f64) = (-7.9800, 112.652);

    pub fn network() -> Osm {
        let mut osm = Osm::default();
        osm.way(&[(NORTH_BANK, 112.600), (NORTH_BANK, 112.660)], ROAD);
        osm.way(&[(SOUTH_BANK, 112.600), (SOUTH_BANK, 112.660)], ROAD);
        osm.way(&[(NORTH_BANK, BRIDGE_LON), (SOUTH_BANK, BRIDGE_LON)], ROAD);
        // The one-way street, and the way round the block back to its start.
        osm.way(
            &[ONE_WAY_WEST, ONE_WAY_EAST],
            &[("highway", "tertiary"), ("oneway", "yes")],
        );
        osm.way(
            &[
                ONE_WAY_EAST,
                (-7.9650, 112.630),
                (-7.9650, 112.620),
                ONE_WAY_WEST,
            ],
            ROAD,
        );
        osm.way(&[ONE_WAY_WEST, (NORTH_BANK, 112.620)], ROAD);
        osm.way(&[(-7.9800, 112.650), (-7.9800, 112.654)], ROAD);
        osm
    }
}
