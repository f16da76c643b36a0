//! The city's roads for drive-time dispatch: an OpenStreetMap extract
//! read into a car network (`osm`), prepared with contraction hierarchies
//! (`fast_paths`) and cached under the data dir keyed by the file's hash,
//! and queried in-process (`query`): the drive time from each candidate
//! unit to an incident in microseconds.
//!
//! A position is snapped to the nearest drivable way; the straight
//! stretch to it counts at [`OFF_ROAD_SPEED_KMH`], and a position farther
//! than [`MAX_SNAP_M`] from any way is off the network (no road connects
//! it).

mod osm;
mod query;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fast_paths::{FastGraph, InputGraph, PathCalculator};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use osm::{SPEED_TABLE_KMH, Segment, class_speed_kmh, parse_maxspeed_kmh};

/// The speed of the straight stretch between a position and its nearest
/// way (a yard, a field, an alley the map lacks).
pub const OFF_ROAD_SPEED_KMH: f64 = 10.0;

/// A position farther than this from every drivable way is off the
/// network.
pub const MAX_SNAP_M: f64 = 1_000.0;

/// What the cache file's layout is; a change makes old caches unused.
const CACHE_FORMAT: &str = "roads-v1";

/// A road network that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RoadsError {
    #[error("cannot read the road network {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("the road network {0} has no road a car may drive")]
    NoRoads(PathBuf),
}

/// What loading did, for the start-up log.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub nodes: usize,
    pub segments: usize,
    /// Directed edges of the prepared graph, shortcuts included.
    pub prepared_edges: usize,
    /// Reading the file and preparing the graph; zero when cached.
    pub prepare_time: Duration,
    /// Where the prepared graph is cached, and whether it came from there.
    pub cache_file: PathBuf,
    pub from_cache: bool,
}

/// What the cache holds: everything but the search structures, which are
/// rebuilt in well under a second.
#[derive(Serialize, Deserialize)]
struct Prepared {
    nodes: Vec<(f64, f64)>,
    segments: Vec<Segment>,
    graph: FastGraph,
}

impl Prepared {
    /// Every segment's ends are nodes of both the list and the graph (a
    /// damaged cache file is prepared again, never queried).
    fn consistent(&self) -> bool {
        let nodes = self.graph.get_num_nodes().min(self.nodes.len());
        self.graph.get_num_nodes() <= self.nodes.len()
            && self
                .segments
                .iter()
                .all(|segment| (segment.a as usize) < nodes && (segment.b as usize) < nodes)
    }
}

/// A segment in the snapping index: its two ends in a local flat
/// projection (metres), with its index.
type Indexed = GeomWithData<Line<[f64; 2]>, u32>;

/// A prepared road network.
pub struct Roads {
    nodes: Vec<(f64, f64)>,
    segments: Vec<Segment>,
    graph: FastGraph,
    /// The fastest travel of each directed (from, to) node pair: time (ms),
    /// length (m), for the distance and shape of a found path.
    edges: std::collections::HashMap<(usize, usize), (usize, f64)>,
    index: RTree<Indexed>,
    /// Metres per degree of longitude in the flat projection.
    x_scale: f64,
    top_speed_mps: f64,
    calculators: Mutex<Vec<PathCalculator>>,
}

impl std::fmt::Debug for Roads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Roads")
            .field("nodes", &self.nodes.len())
            .field("segments", &self.segments.len())
            .field("top_speed_mps", &self.top_speed_mps)
            .finish()
    }
}

/// Metres per degree of latitude (mean Earth radius, as the haversine).
const METRES_PER_DEGREE: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// Great-circle distance between two (lat, lon) in metres.
pub(crate) fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let point = |(lat, lon): (f64, f64)| ngalam112_core::GeoPoint::new("p", lat, lon);
    match (point(a), point(b)) {
        (Ok(a), Ok(b)) => a.distance_m(&b),
        _ => f64::INFINITY,
    }
}

/// Milliseconds to drive `length_m` at `speed_mps`, at least 1 (the
/// contraction hierarchies take no zero-weight edge).
fn travel_ms(length_m: f64, speed_mps: f64) -> usize {
    ((length_m / speed_mps * 1000.0).round() as usize).max(1)
}

impl Roads {
    /// Loads `file`, from the cache under `cache_dir` when it holds this
    /// file's prepared graph, else reading and preparing it (and caching
    /// the result).
    pub fn load(file: &Path, cache_dir: &Path) -> Result<(Roads, LoadReport), RoadsError> {
        let unreadable = |error: std::io::Error| RoadsError::Unreadable {
            path: file.to_owned(),
            reason: error.to_string(),
        };
        // Hashed as it streams: a province's extract is hundreds of MB.
        let mut hasher = Sha256::new();
        std::fs::File::open(file)
            .and_then(|mut opened| std::io::copy(&mut opened, &mut hasher))
            .map_err(unreadable)?;
        let digest = hex::encode(hasher.finalize());
        let cache_file = cache_dir.join(format!("{CACHE_FORMAT}-{digest}.bin"));
        let cached = std::fs::read(&cache_file)
            .ok()
            .and_then(|bytes| postcard::from_bytes::<Prepared>(&bytes).ok())
            .filter(Prepared::consistent);
        let started = Instant::now();
        let (prepared, from_cache) = match cached {
            Some(prepared) => (prepared, true),
            None => {
                let network = osm::read(file)?;
                let graph = prepare(&network.segments);
                let prepared = Prepared {
                    nodes: network.nodes,
                    segments: network.segments,
                    graph,
                };
                store_cache(&cache_file, &prepared);
                (prepared, false)
            }
        };
        let prepare_time = if from_cache {
            Duration::ZERO
        } else {
            started.elapsed()
        };
        let report = LoadReport {
            nodes: prepared.nodes.len(),
            segments: prepared.segments.len(),
            prepared_edges: prepared.graph.get_num_out_edges() + prepared.graph.get_num_in_edges(),
            prepare_time,
            cache_file,
            from_cache,
        };
        metrics::gauge!("ngalam112_roads_nodes").set(report.nodes as f64);
        metrics::gauge!("ngalam112_roads_segments").set(report.segments as f64);
        Ok((Roads::new(prepared), report))
    }

    fn new(prepared: Prepared) -> Roads {
        let Prepared {
            nodes,
            segments,
            graph,
        } = prepared;
        let mean_lat = nodes.iter().map(|(lat, _)| lat).sum::<f64>() / nodes.len().max(1) as f64;
        let x_scale = METRES_PER_DEGREE * mean_lat.to_radians().cos();
        let flat = |(lat, lon): (f64, f64)| [lon * x_scale, lat * METRES_PER_DEGREE];
        let index = RTree::bulk_load(
            segments
                .iter()
                .enumerate()
                .map(|(at, segment)| {
                    let line = Line::new(
                        flat(nodes[segment.a as usize]),
                        flat(nodes[segment.b as usize]),
                    );
                    GeomWithData::new(line, at as u32)
                })
                .collect(),
        );
        let mut edges = std::collections::HashMap::new();
        for segment in &segments {
            let (a, b) = (segment.a as usize, segment.b as usize);
            let time = travel_ms(segment.length_m, segment.speed_mps);
            let mut keep = |from: usize, to: usize| {
                let entry = edges.entry((from, to)).or_insert((time, segment.length_m));
                if time < entry.0 {
                    *entry = (time, segment.length_m);
                }
            };
            if segment.forward {
                keep(a, b);
            }
            if segment.backward {
                keep(b, a);
            }
        }
        let top_speed_mps = segments
            .iter()
            .map(|segment| segment.speed_mps)
            .fold(OFF_ROAD_SPEED_KMH / 3.6, f64::max);
        Roads {
            nodes,
            segments,
            graph,
            edges,
            index,
            x_scale,
            top_speed_mps,
            calculators: Mutex::new(Vec::new()),
        }
    }

    /// The (lat, lon) corners of the box every node is in: south-west,
    /// north-east.
    pub fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let fold = |pick: fn(f64, f64) -> f64, start: f64| {
            self.nodes.iter().fold((start, start), |(lat, lon), node| {
                (pick(lat, node.0), pick(lon, node.1))
            })
        };
        (
            fold(f64::min, f64::INFINITY),
            fold(f64::max, f64::NEG_INFINITY),
        )
    }

    /// How many nodes and road segments the network has.
    pub fn size(&self) -> (usize, usize) {
        (self.nodes.len(), self.segments.len())
    }
}

/// The contraction hierarchy of the network: one directed edge per way
/// direction a car may drive, weighted by its travel time in ms.
fn prepare(segments: &[Segment]) -> FastGraph {
    let mut input = InputGraph::new();
    for segment in segments {
        let (a, b) = (segment.a as usize, segment.b as usize);
        let time = travel_ms(segment.length_m, segment.speed_mps);
        if segment.forward {
            input.add_edge(a, b, time);
        }
        if segment.backward {
            input.add_edge(b, a, time);
        }
    }
    // The graph's nodes are those up to the highest index an edge uses:
    // every segment's ends (the only nodes a query starts or ends at).
    input.freeze();
    fast_paths::prepare(&input)
}

/// Writes the cache file (atomically: a partial file is never read as a
/// cache); a failure only costs the next start a preparation.
fn store_cache(cache_file: &Path, prepared: &Prepared) {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = cache_file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let bytes = postcard::to_stdvec(prepared).map_err(std::io::Error::other)?;
        let partial = cache_file.with_extension("partial");
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, cache_file)
    };
    if let Err(error) = write() {
        tracing::warn!(%error, file = %cache_file.display(), "road network not cached");
    }
}
