//! Reading the car network out of an OpenStreetMap extract: the ways a
//! car may drive, split into segments between consecutive nodes, each
//! with its length, speed and the directions it may be driven.
//!
//! What is read: `highway` of the classes in [`class_speed_kmh`] (not
//! areas, not `access=no`); `oneway=yes|1|true|-1`, `junction=roundabout`
//! or `circular` and `highway=motorway` (one-way in OpenStreetMap by
//! default) unless `oneway=no`; `maxspeed` in km/h or mph. What is
//! ignored: turn restrictions, access other than `no`, time-dependent
//! tags, ferries, and traffic: the drive time is the free-flow time at the
//! speed of each way.

use std::collections::HashMap;
use std::path::Path;

use osmpbf::{Element, ElementReader};

use crate::RoadsError;

/// The speed (km/h) of a way of each drivable `highway` class without a
/// `maxspeed` tag: what a vehicle keeps up in Malang's traffic on such a
/// road, below the posted limits.
pub const SPEED_TABLE_KMH: [(&str, f64); 14] = [
    ("motorway", 80.0),
    ("motorway_link", 45.0),
    ("trunk", 60.0),
    ("trunk_link", 40.0),
    ("primary", 45.0),
    ("primary_link", 30.0),
    ("secondary", 40.0),
    ("secondary_link", 30.0),
    ("tertiary", 35.0),
    ("tertiary_link", 25.0),
    ("unclassified", 25.0),
    ("residential", 20.0),
    ("living_street", 10.0),
    ("service", 15.0),
];

/// The table's speed for a drivable class; None: not a road for a car.
pub fn class_speed_kmh(highway: &str) -> Option<f64> {
    SPEED_TABLE_KMH
        .iter()
        .find(|(class, _)| *class == highway)
        .map(|(_, speed)| *speed)
}

/// A `maxspeed` value in km/h: "50", "50 km/h", "30 mph"; None for
/// anything else ("ID:urban", "none", "walk"): the table decides then.
pub fn parse_maxspeed_kmh(value: &str) -> Option<f64> {
    let value = value.trim();
    let (number, factor) = if let Some(mph) = value.strip_suffix("mph") {
        (mph.trim(), 1.609_344)
    } else if let Some(kmh) = value.strip_suffix("km/h") {
        (kmh.trim(), 1.0)
    } else {
        (value, 1.0)
    };
    let speed: f64 = number.parse().ok()?;
    (5.0..=150.0).contains(&speed).then_some(speed * factor)
}

/// Which way a way may be driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directions {
    /// In the order of its nodes.
    pub forward: bool,
    pub backward: bool,
}

/// The directions of a way from its tags.
pub fn directions(tags: &HashMap<&str, &str>) -> Directions {
    let both = Directions {
        forward: true,
        backward: true,
    };
    match tags.get("oneway").copied() {
        Some("yes" | "1" | "true") => Directions {
            forward: true,
            backward: false,
        },
        Some("-1" | "reverse") => Directions {
            forward: false,
            backward: true,
        },
        Some("no" | "false" | "0") => both,
        _ => {
            let roundabout = matches!(
                tags.get("junction").copied(),
                Some("roundabout" | "circular")
            );
            let motorway = tags.get("highway") == Some(&"motorway");
            if roundabout || motorway {
                Directions {
                    forward: true,
                    backward: false,
                }
            } else {
                both
            }
        }
    }
}

/// A drivable way as read: its nodes (OpenStreetMap ids) in order.
struct Way {
    refs: Vec<i64>,
    speed_kmh: f64,
    directions: Directions,
}

/// The speed and directions of a way a car may drive; None otherwise.
fn drivable(tags: &HashMap<&str, &str>) -> Option<(f64, Directions)> {
    let class_speed = class_speed_kmh(tags.get("highway")?)?;
    if tags.get("access") == Some(&"no") || tags.get("area") == Some(&"yes") {
        return None;
    }
    let directions = directions(tags);
    if !directions.forward && !directions.backward {
        return None;
    }
    let speed = tags
        .get("maxspeed")
        .and_then(|value| parse_maxspeed_kmh(value))
        .unwrap_or(class_speed);
    Some((speed, directions))
}

/// A stretch of road between two consecutive nodes of a way.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    /// Node indices (into `Network::nodes`), in the way's order.
    pub a: u32,
    pub b: u32,
    pub length_m: f64,
    pub speed_mps: f64,
    pub forward: bool,
    pub backward: bool,
}

/// The car network as read, before preparation.
#[derive(Debug, Default)]
pub struct Network {
    /// (lat, lon) of every node a drivable way uses.
    pub nodes: Vec<(f64, f64)>,
    pub segments: Vec<Segment>,
}

/// Reads the car network of an `.osm.pbf` file: first its ways, then the
/// positions of the nodes they use.
pub fn read(path: &Path) -> Result<Network, RoadsError> {
    let unreadable = |error: osmpbf::Error| RoadsError::Unreadable {
        path: path.to_owned(),
        reason: error.to_string(),
    };
    let mut ways = Vec::new();
    ElementReader::from_path(path)
        .map_err(unreadable)?
        .for_each(|element| {
            if let Element::Way(way) = element {
                let tags: HashMap<&str, &str> = way.tags().collect();
                if let Some((speed_kmh, directions)) = drivable(&tags) {
                    ways.push(Way {
                        refs: way.refs().collect(),
                        speed_kmh,
                        directions,
                    });
                }
            }
        })
        .map_err(unreadable)?;
    let mut index: HashMap<i64, u32> = HashMap::new();
    for way in &ways {
        for node in &way.refs {
            index.entry(*node).or_insert(u32::MAX);
        }
    }
    let mut nodes: Vec<(f64, f64)> = Vec::with_capacity(index.len());
    let mut place = |id: i64, lat: f64, lon: f64| {
        if let Some(slot) = index.get_mut(&id)
            && *slot == u32::MAX
            && let Ok(at) = u32::try_from(nodes.len())
        {
            *slot = at;
            nodes.push((lat, lon));
        }
    };
    ElementReader::from_path(path)
        .map_err(unreadable)?
        .for_each(|element| match element {
            Element::Node(node) => place(node.id(), node.lat(), node.lon()),
            Element::DenseNode(node) => place(node.id(), node.lat(), node.lon()),
            _ => {}
        })
        .map_err(unreadable)?;
    let mut segments = Vec::new();
    for way in &ways {
        for pair in way.refs.windows(2) {
            let (Some(&a), Some(&b)) = (index.get(&pair[0]), index.get(&pair[1])) else {
                continue;
            };
            // A node the extract cut off has no position.
            if a == u32::MAX || b == u32::MAX || a == b {
                continue;
            }
            let length_m = crate::haversine_m(nodes[a as usize], nodes[b as usize]);
            segments.push(Segment {
                a,
                b,
                length_m,
                speed_mps: way.speed_kmh / 3.6,
                forward: way.directions.forward,
                backward: way.directions.backward,
            });
        }
    }
    if segments.is_empty() {
        return Err(RoadsError::NoRoads(path.to_owned()));
    }
    Ok(Network { nodes, segments })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags<'a>(pairs: &[(&'a str, &'a str)]) -> HashMap<&'a str, &'a str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn maxspeed_is_read_in_kmh_or_mph_and_anything_else_falls_back_to_the_table() {
        assert_eq!(parse_maxspeed_kmh("50"), Some(50.0));
        assert_eq!(parse_maxspeed_kmh("40 km/h"), Some(40.0));
        let mph = parse_maxspeed_kmh("30 mph").unwrap();
        assert!((mph - 48.28).abs() < 0.01);
        assert_eq!(parse_maxspeed_kmh("ID:urban"), None);
        assert_eq!(parse_maxspeed_kmh("none"), None);
        assert_eq!(parse_maxspeed_kmh("0"), None);
        assert_eq!(parse_maxspeed_kmh("NaN"), None);
    }

    #[test]
    fn only_roads_a_car_may_drive_are_read() {
        let road = drivable(&tags(&[("highway", "residential")])).unwrap();
        assert_eq!(road.0, 20.0);
        let posted = drivable(&tags(&[("highway", "primary"), ("maxspeed", "60")])).unwrap();
        assert_eq!(posted.0, 60.0);
        assert!(drivable(&tags(&[("highway", "footway")])).is_none());
        assert!(drivable(&tags(&[("highway", "service"), ("access", "no")])).is_none());
        assert!(drivable(&tags(&[("building", "yes")])).is_none());
    }

    #[test]
    fn one_ways_roundabouts_and_motorways_are_driven_one_way_only() {
        let one = |pairs: &[(&str, &str)]| directions(&tags(pairs));
        let forward = Directions {
            forward: true,
            backward: false,
        };
        let both = Directions {
            forward: true,
            backward: true,
        };
        assert_eq!(one(&[("highway", "residential")]), both);
        assert_eq!(one(&[("oneway", "yes")]), forward);
        assert_eq!(one(&[("oneway", "1")]), forward);
        assert_eq!(
            one(&[("oneway", "-1")]),
            Directions {
                forward: false,
                backward: true
            }
        );
        assert_eq!(one(&[("junction", "roundabout")]), forward);
        assert_eq!(one(&[("highway", "motorway")]), forward);
        assert_eq!(one(&[("highway", "motorway"), ("oneway", "no")]), both);
    }
}
