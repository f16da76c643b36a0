//! Drive time on roads, as the ranking asks for it: one small trait, so
//! that the source can be the in-process road network
//! (`ngalam112-roads`) or, later, an outside routing service (OSRM's
//! `table`) without the ranking changing.

use crate::GeoPoint;

/// A drive by road from a unit's position to an incident: the straight
/// stretches to and from the nearest drivable way included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    /// Seconds.
    pub eta_s: f64,
    /// Metres driven (and walked to and from the way).
    pub distance_m: f64,
}

impl Leg {
    /// The timeline's words: "2.4 km by road, about 4 min".
    pub fn describe(&self) -> String {
        let minutes = (self.eta_s / 60.0).round().max(1.0);
        format!(
            "{:.1} km by road, about {minutes:.0} min",
            self.distance_m / 1000.0
        )
    }
}

/// A drive with the way it takes, for drawing on a map.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub points: Vec<GeoPoint>,
    pub leg: Leg,
}

/// Where drive times come from.
pub trait DriveTimes: Send + Sync + std::fmt::Debug {
    /// The drive from each of `from` to `to`, in the same order; None where
    /// no road connects the two.
    fn drive_times(&self, to: &GeoPoint, from: &[GeoPoint]) -> Vec<Option<Leg>>;

    /// The fastest drive from `from` to `to` with its way; None where no
    /// road connects them.
    fn route(&self, from: &GeoPoint, to: &GeoPoint) -> Option<Route>;

    /// A speed (m/s) no drive exceeds anywhere on the network, straight
    /// stretches included: a great-circle distance divided by it is a lower
    /// bound of the drive time.
    fn top_speed_mps(&self) -> f64;

    /// A time (s) no drive to `to` from anywhere at least `straight_m`
    /// away (great circle) beats: by default that distance at the top
    /// speed; a source that knows more (the slow stretch from `to` to its
    /// road, which every drive to it ends with) may say more.
    fn sooner_than_s(&self, _to: &GeoPoint, straight_m: f64) -> f64 {
        straight_m / self.top_speed_mps()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leg_reads_in_kilometres_and_whole_minutes() {
        let leg = Leg {
            eta_s: 250.0,
            distance_m: 2_420.0,
        };
        assert_eq!(leg.describe(), "2.4 km by road, about 4 min");
        let short = Leg {
            eta_s: 12.0,
            distance_m: 90.0,
        };
        assert_eq!(short.describe(), "0.1 km by road, about 1 min");
    }
}
