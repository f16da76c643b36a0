//! A WGS84 position and the great-circle distance between two of them.

use geo::{Distance, Haversine, Point};

use crate::ValidationError;

/// A validated WGS84 position in degrees: finite, lat in [-90, 90], lon in
/// [-180, 180].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    lat: f64,
    lon: f64,
}

impl GeoPoint {
    /// Parses a position; `field` (e.g. `location`) prefixes the name of the
    /// offending coordinate in the error (`location.lat`).
    pub fn new(field: &str, lat: f64, lon: f64) -> Result<Self, ValidationError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(ValidationError::new(
                format!("{field}.lat"),
                "must be within [-90, 90]",
            ));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(ValidationError::new(
                format!("{field}.lon"),
                "must be within [-180, 180]",
            ));
        }
        Ok(Self { lat, lon })
    }

    pub fn lat(&self) -> f64 {
        self.lat
    }

    pub fn lon(&self) -> f64 {
        self.lon
    }

    /// Great-circle (haversine) distance in metres. Within Kota Malang it
    /// differs from the geodesic by well under 0.5 %, plenty for ranking.
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        Haversine.distance(
            Point::new(self.lon, self.lat),
            Point::new(other.lon, other.lat),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_out_of_range_or_not_finite_are_refused_naming_the_axis() {
        assert_eq!(
            GeoPoint::new("location", 91.0, 0.0).unwrap_err().field,
            "location.lat"
        );
        assert_eq!(
            GeoPoint::new("location", f64::NAN, 0.0).unwrap_err().field,
            "location.lat"
        );
        assert_eq!(
            GeoPoint::new("location", 0.0, f64::INFINITY)
                .unwrap_err()
                .field,
            "location.lon"
        );
        assert_eq!(
            GeoPoint::new("location", 0.0, -180.5).unwrap_err().field,
            "location.lon"
        );
        assert!(GeoPoint::new("location", -90.0, 180.0).is_ok());
    }

    #[test]
    fn distance_from_rssa_to_balai_kota_is_about_six_hundred_metres() {
        let rssa = GeoPoint::new("a", -7.9725, 112.6315).unwrap();
        let balai_kota = GeoPoint::new("b", -7.9770, 112.6340).unwrap();
        // 0.0045° of latitude and 0.0025° of longitude near the equator.
        let expected = ((0.0045f64 * 111_195.0).powi(2)
            + (0.0025f64 * 111_195.0 * (7.975f64.to_radians().cos())).powi(2))
        .sqrt();
        let got = rssa.distance_m(&balai_kota);
        assert!(
            (got - expected).abs() / expected < 0.01,
            "{got} vs {expected}"
        );
    }
}
