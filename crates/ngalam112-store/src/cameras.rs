//! The city's CCTV cameras and the ones nearest an incident.

use chrono::{DateTime, Utc};
use ngalam112_core::GeoPoint;
use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct CameraRecord {
    pub id: Uuid,
    pub name: String,
    pub location: GeoPoint,
    pub stream_url: String,
    pub created_at: DateTime<Utc>,
}

struct CameraRow {
    id: Uuid,
    name: String,
    lat: f64,
    lon: f64,
    stream_url: String,
    created_at: DateTime<Utc>,
}

fn to_record(row: CameraRow) -> Result<CameraRecord, StoreError> {
    Ok(CameraRecord {
        id: row.id,
        name: row.name,
        location: GeoPoint::new("location", row.lat, row.lon)
            .map_err(|error| StoreError::Internal(error.to_string()))?,
        stream_url: row.stream_url,
        created_at: row.created_at,
    })
}

/// Metres per degree of latitude (and of longitude at the equator), for
/// the bounding box that narrows the exact search.
const METRES_PER_DEGREE: f64 = 111_320.0;

impl Store {
    /// `stream_url` must already be checked (http, https or rtsp).
    pub async fn register_camera(
        &self,
        name: &str,
        location: &GeoPoint,
        stream_url: &str,
    ) -> Result<CameraRecord, StoreError> {
        let row: CameraRow = sqlx::query_as!(
            CameraRow,
            "INSERT INTO cameras (id, name, lat, lon, stream_url) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, name, lat, lon, stream_url, created_at",
            Uuid::new_v4(),
            name,
            location.lat(),
            location.lon(),
            stream_url
        )
        .fetch_one(&self.pool)
        .await?;
        to_record(row)
    }

    /// Every camera, by name.
    pub async fn list_cameras(&self) -> Result<Vec<CameraRecord>, StoreError> {
        let rows: Vec<CameraRow> = sqlx::query_as!(
            CameraRow,
            "SELECT id, name, lat, lon, stream_url, created_at FROM cameras ORDER BY name, id"
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(to_record).collect()
    }

    /// Cameras within `radius_m` of `location` by great-circle distance,
    /// nearest first (ties by name), at most `limit`.
    pub async fn cameras_near(
        &self,
        location: &GeoPoint,
        radius_m: f64,
        limit: usize,
    ) -> Result<Vec<(CameraRecord, f64)>, StoreError> {
        // A box a little larger than the circle; the exact distance decides.
        let lat_span = radius_m / METRES_PER_DEGREE * 1.1;
        let lon_span =
            radius_m / (METRES_PER_DEGREE * location.lat().to_radians().cos().max(0.01)) * 1.1;
        let rows: Vec<CameraRow> = sqlx::query_as!(
            CameraRow,
            "SELECT id, name, lat, lon, stream_url, created_at FROM cameras \
             WHERE lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4",
            location.lat() - lat_span,
            location.lat() + lat_span,
            location.lon() - lon_span,
            location.lon() + lon_span
        )
        .fetch_all(&self.pool)
        .await?;
        let mut near = rows
            .into_iter()
            .map(|row| {
                let camera = to_record(row)?;
                let distance = location.distance_m(&camera.location);
                Ok((camera, distance))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        near.retain(|(_, distance)| *distance <= radius_m);
        near.sort_by(|(a, da), (b, db)| da.total_cmp(db).then_with(|| a.name.cmp(&b.name)));
        near.truncate(limit);
        Ok(near)
    }
}
