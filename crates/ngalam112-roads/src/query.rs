//! Drive times on a prepared network: a position snapped onto its nearest
//! segment, then the contraction hierarchy from either end of the unit's
//! segment to either end of the incident's (each end weighted by the part
//! of the segment still to drive), or straight along one segment when
//! both are on it.

use std::time::Instant;

use fast_paths::{PathCalculator, ShortestPath};
use ngalam112_core::GeoPoint;
use ngalam112_core::drive::{DriveTimes, Leg, Route};

use crate::{MAX_SNAP_M, OFF_ROAD_SPEED_KMH, Roads, travel_ms};

/// A position on the network: on `segment`, `along` of the way from its
/// first node to its second (0..=1), `off_m` from the position itself.
#[derive(Debug, Clone, Copy)]
struct Snap {
    segment: usize,
    along: f64,
    off_m: f64,
    /// The point on the segment, (lat, lon).
    at: (f64, f64),
}

/// A snap this close (m) to a node is at the node.
const AT_NODE_M: f64 = 0.05;

/// Where a search starts or ends: a node, the time to it (ms) and the
/// metres to it.
type End = (usize, usize, f64);

impl Roads {
    /// The nearest point of the nearest segment; None when it is farther
    /// than `MAX_SNAP_M`.
    fn snap(&self, point: &GeoPoint) -> Option<Snap> {
        let query = [
            point.lon() * self.x_scale,
            point.lat() * crate::METRES_PER_DEGREE,
        ];
        let nearest = self.index.nearest_neighbor(&query)?;
        let on = nearest.geom().nearest_point(&query);
        let (from, to) = (nearest.geom().from, nearest.geom().to);
        let length_2 = (to[0] - from[0]).powi(2) + (to[1] - from[1]).powi(2);
        let along = if length_2 > 0.0 {
            (((on[0] - from[0]) * (to[0] - from[0]) + (on[1] - from[1]) * (to[1] - from[1]))
                / length_2)
                .clamp(0.0, 1.0)
        } else {
            0.0
        };
        let at = (on[1] / crate::METRES_PER_DEGREE, on[0] / self.x_scale);
        let off_m = crate::haversine_m((point.lat(), point.lon()), at);
        (off_m <= MAX_SNAP_M).then_some(Snap {
            segment: nearest.data as usize,
            along,
            off_m,
            at,
        })
    }

    /// The off-road stretch's time (ms).
    fn off_ms(off_m: f64) -> usize {
        (off_m / (OFF_ROAD_SPEED_KMH / 3.6) * 1000.0).round() as usize
    }

    /// Where a drive from `snap` enters the graph (`leaving`: the
    /// segment's ends it may drive to) or, else, where a drive to it
    /// leaves the graph (the ends it may come from): each with the time
    /// and metres of the part of the segment between, and of the straight
    /// stretch. A snap at one end of its segment is at that node and may
    /// leave or reach it by any way through it, whatever the segment's
    /// direction.
    fn ends(&self, snap: &Snap, leaving: bool) -> Vec<End> {
        let segment = &self.segments[snap.segment];
        let (a, b) = (segment.a as usize, segment.b as usize);
        let end = |node: usize, share: f64| {
            let metres = share * segment.length_m;
            let ms = Self::off_ms(snap.off_m) + travel_ms(metres, segment.speed_mps);
            (node, ms, metres + snap.off_m)
        };
        let mut ends = Vec::new();
        // Within a few centimetres (the flat projection's rounding).
        if snap.along * segment.length_m < AT_NODE_M {
            ends.push((a, Self::off_ms(snap.off_m), snap.off_m));
        } else if (1.0 - snap.along) * segment.length_m < AT_NODE_M {
            ends.push((b, Self::off_ms(snap.off_m), snap.off_m));
        }
        // Driving the segment forward (a → b) leaves by b and arrives from
        // a; backward the other way round.
        if segment.forward {
            ends.push(if leaving {
                end(b, 1.0 - snap.along)
            } else {
                end(a, snap.along)
            });
        }
        if segment.backward {
            ends.push(if leaving {
                end(a, snap.along)
            } else {
                end(b, 1.0 - snap.along)
            });
        }
        ends
    }

    /// Straight along one segment, when both snaps are on it and its
    /// direction allows: (ms, metres).
    fn along_one_segment(&self, from: &Snap, to: &Snap) -> Option<(usize, f64)> {
        if from.segment != to.segment {
            return None;
        }
        let segment = &self.segments[from.segment];
        let ahead = to.along >= from.along;
        if (ahead && !segment.forward) || (!ahead && !segment.backward) {
            return None;
        }
        let metres = (to.along - from.along).abs() * segment.length_m;
        let ms = Self::off_ms(from.off_m)
            + travel_ms(metres, segment.speed_mps)
            + Self::off_ms(to.off_m);
        Some((ms, metres + from.off_m + to.off_m))
    }

    fn with_calculator<T>(&self, work: impl FnOnce(&mut PathCalculator) -> T) -> T {
        let taken = self
            .calculators
            .lock()
            .map(|mut pool| pool.pop())
            .unwrap_or_default();
        let mut calculator = taken.unwrap_or_else(|| fast_paths::create_calculator(&self.graph));
        let result = work(&mut calculator);
        if let Ok(mut pool) = self.calculators.lock() {
            pool.push(calculator);
        }
        result
    }

    /// The fastest drive between two snaps: its time (ms), its metres and
    /// the graph path (None when straight along one segment).
    fn drive(
        &self,
        calculator: &mut PathCalculator,
        from: &Snap,
        to: &Snap,
    ) -> Option<(usize, f64, Option<ShortestPath>)> {
        let direct = self.along_one_segment(from, to);
        let starts = self.ends(from, true);
        let finishes = self.ends(to, false);
        let by_graph = if starts.is_empty() || finishes.is_empty() {
            None
        } else {
            calculator
                .calc_path_multiple_sources_and_targets(
                    &self.graph,
                    starts.iter().map(|(node, ms, _)| (*node, *ms)).collect(),
                    finishes.iter().map(|(node, ms, _)| (*node, *ms)).collect(),
                )
                .filter(ShortestPath::is_found)
        };
        let by_graph = by_graph.map(|path| {
            let start_m = starts
                .iter()
                .find(|(node, _, _)| *node == path.get_source())
                .map_or(0.0, |(_, _, m)| *m);
            let finish_m = finishes
                .iter()
                .find(|(node, _, _)| *node == path.get_target())
                .map_or(0.0, |(_, _, m)| *m);
            let between: f64 = path
                .get_nodes()
                .windows(2)
                .filter_map(|pair| self.edges.get(&(pair[0], pair[1])))
                .map(|(_, metres)| metres)
                .sum();
            (path.get_weight(), start_m + between + finish_m, Some(path))
        });
        match (direct, by_graph) {
            (Some((ms, _)), Some(graph)) if graph.0 < ms => Some(graph),
            (Some((ms, m)), _) => Some((ms, m, None)),
            (None, graph) => graph,
        }
    }

    fn leg((ms, metres): (usize, f64)) -> Leg {
        Leg {
            eta_s: ms as f64 / 1000.0,
            distance_m: metres,
        }
    }
}

impl DriveTimes for Roads {
    fn drive_times(&self, to: &GeoPoint, from: &[GeoPoint]) -> Vec<Option<Leg>> {
        let started = Instant::now();
        let target = self.snap(to);
        let legs = self.with_calculator(|calculator| {
            from.iter()
                .map(|from| {
                    let (source, target) = (self.snap(from)?, target?);
                    let (ms, metres, _) = self.drive(calculator, &source, &target)?;
                    Some(Self::leg((ms, metres)))
                })
                .collect()
        });
        metrics::counter!("ngalam112_route_computations_total").increment(from.len() as u64);
        metrics::histogram!("ngalam112_route_seconds").record(started.elapsed().as_secs_f64());
        legs
    }

    fn route(&self, from: &GeoPoint, to: &GeoPoint) -> Option<Route> {
        let (source, target) = (self.snap(from)?, self.snap(to)?);
        let (ms, metres, path) =
            self.with_calculator(|calculator| self.drive(calculator, &source, &target))?;
        let mut points = vec![*from, point(source.at)?];
        if let Some(path) = path {
            for node in path.get_nodes() {
                points.push(point(*self.nodes.get(*node)?)?);
            }
        }
        points.push(point(target.at)?);
        points.push(*to);
        points.dedup();
        Some(Route {
            points,
            leg: Self::leg((ms, metres)),
        })
    }

    fn top_speed_mps(&self) -> f64 {
        self.top_speed_mps
    }

    /// Every drive to `to` ends with the straight stretch from its road at
    /// the off-road speed; the rest is at most the top speed.
    fn sooner_than_s(&self, to: &GeoPoint, straight_m: f64) -> f64 {
        let off_m = self.snap(to).map_or(0.0, |snap| snap.off_m).min(straight_m);
        off_m / (OFF_ROAD_SPEED_KMH / 3.6) + (straight_m - off_m) / self.top_speed_mps
    }
}

fn point((lat, lon): (f64, f64)) -> Option<GeoPoint> {
    GeoPoint::new("route", lat, lon).ok()
}
