//! The demo's picture (SVG, via plotters): the city with every incident
//! (by category) and every unit (by kind, where it ended up), and the
//! histogram of call-to-on-scene times.

use std::path::Path;

use ngalam112_proto::v1 as proto;
use plotters::prelude::*;

use crate::calls::CITY;
use crate::summary::Summary;

fn category_colour(category: proto::IncidentCategory) -> RGBColor {
    match category {
        proto::IncidentCategory::Medical => RGBColor(220, 20, 60),
        proto::IncidentCategory::Fire => RGBColor(255, 140, 0),
        proto::IncidentCategory::TrafficAccident => RGBColor(128, 0, 128),
        proto::IncidentCategory::Crime => RGBColor(30, 30, 30),
        proto::IncidentCategory::Rescue => RGBColor(34, 139, 34),
        proto::IncidentCategory::Disaster => RGBColor(139, 69, 19),
        _ => RGBColor(120, 120, 120),
    }
}

fn kind_colour(kind: proto::UnitKind) -> RGBColor {
    match kind {
        proto::UnitKind::Ambulance => RGBColor(220, 20, 60),
        proto::UnitKind::FireEngine => RGBColor(255, 140, 0),
        proto::UnitKind::Police => RGBColor(0, 70, 200),
        _ => RGBColor(34, 139, 34),
    }
}

pub fn draw(path: &Path, summary: &Summary) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1400, 650)).into_drawing_area();
    root.fill(&WHITE)?;
    let (map_area, right) = root.split_horizontally(700);
    // On roads, the right half also plots each offer's drive time against
    // its straight-line distance.
    let (histogram_area, roads_area) = if summary.on_roads.is_empty() {
        (right, None)
    } else {
        let (top, bottom) = right.split_vertically(325);
        (top, Some(bottom))
    };

    let ((south, north), (west, east)) = CITY;
    let mut map = ChartBuilder::on(&map_area)
        .caption(
            "Kota Malang: incidents (circles) and units (squares)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(west..east, south..north)?;
    map.configure_mesh()
        .x_desc("longitude")
        .y_desc("latitude")
        .light_line_style(WHITE)
        .draw()?;
    for category in [
        proto::IncidentCategory::TrafficAccident,
        proto::IncidentCategory::Rescue,
        proto::IncidentCategory::Medical,
        proto::IncidentCategory::Fire,
        proto::IncidentCategory::Crime,
        proto::IncidentCategory::Disaster,
        proto::IncidentCategory::Other,
    ] {
        let colour = category_colour(category);
        let points: Vec<(f64, f64)> = summary
            .incidents
            .iter()
            .filter(|incident| incident.category() == category)
            .filter_map(|incident| incident.location.map(|p| (p.lon, p.lat)))
            .collect();
        let label = category
            .as_str_name()
            .trim_start_matches("INCIDENT_CATEGORY_")
            .to_lowercase();
        map.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, colour.mix(0.6).filled())),
        )?
        .label(label)
        .legend(move |(x, y)| Circle::new((x, y), 4, colour.filled()));
    }
    for kind in [
        proto::UnitKind::Ambulance,
        proto::UnitKind::FireEngine,
        proto::UnitKind::Police,
        proto::UnitKind::Rescue,
    ] {
        let colour = kind_colour(kind);
        let label = format!(
            "unit: {}",
            kind.as_str_name()
                .trim_start_matches("UNIT_KIND_")
                .to_lowercase()
        );
        map.draw_series(
            summary
                .units
                .iter()
                .filter(|unit| unit.kind() == kind)
                .filter_map(|unit| {
                    let p = unit.location?;
                    Some(Rectangle::new(
                        [
                            (p.lon - 0.0009, p.lat - 0.0009),
                            (p.lon + 0.0009, p.lat + 0.0009),
                        ],
                        colour.stroke_width(2),
                    ))
                }),
        )?
        .label(label)
        .legend(move |(x, y)| {
            Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], colour.stroke_width(2))
        });
    }
    map.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let minutes: Vec<f64> = summary.to_on_scene.iter().map(|s| s / 60.0).collect();
    let top = minutes.iter().copied().fold(1.0, f64::max).ceil();
    let bucket = (top / 12.0).max(0.25);
    let buckets = (top / bucket).ceil() as usize + 1;
    let mut counts = vec![0u32; buckets];
    for value in &minutes {
        let index = ((value / bucket) as usize).min(buckets - 1);
        counts[index] += 1;
    }
    let highest = counts.iter().copied().max().unwrap_or(1).max(1);
    let mut histogram = ChartBuilder::on(&histogram_area)
        .caption(
            format!(
                "From the call to the first unit on scene ({} incidents)",
                minutes.len()
            ),
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(0.0..(buckets as f64 * bucket), 0u32..highest + 1)?;
    histogram
        .configure_mesh()
        .x_desc("minutes (server clock)")
        .y_desc("incidents")
        .light_line_style(WHITE)
        .draw()?;
    histogram.draw_series(counts.iter().enumerate().map(|(index, count)| {
        let x = index as f64 * bucket;
        Rectangle::new(
            [(x, 0), (x + bucket * 0.9, *count)],
            RGBColor(0, 90, 160).filled(),
        )
    }))?;
    if let Some(area) = roads_area {
        draw_roads(&area, summary)?;
    }
    root.present()?;
    Ok(())
}

/// Drive time against straight-line distance for every offer made on
/// roads; red where the straight-line rule would have sent a slower unit.
fn draw_roads<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    summary: &Summary,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let (differed, saved_s) = summary.road_savings();
    let km_top = summary
        .on_roads
        .iter()
        .map(|(m, _, _)| m / 1000.0)
        .fold(1.0, f64::max)
        .ceil();
    let minutes_top = summary
        .on_roads
        .iter()
        .map(|(_, eta, _)| eta / 60.0)
        .fold(1.0, f64::max)
        .ceil();
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "By road: {} offers; {differed} not to the straight-line nearest, {:.0} min saved",
                summary.on_roads.len(),
                saved_s / 60.0
            ),
            ("sans-serif", 16),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(0.0..km_top, 0.0..minutes_top)?;
    chart
        .configure_mesh()
        .x_desc("straight-line distance (km)")
        .y_desc("drive time (min)")
        .light_line_style(WHITE)
        .draw()?;
    chart.draw_series(summary.on_roads.iter().map(|(m, eta, straight)| {
        let colour = if straight - eta >= 1.0 {
            RGBColor(200, 30, 30)
        } else {
            RGBColor(0, 90, 160)
        };
        Circle::new((m / 1000.0, eta / 60.0), 3, colour.filled())
    }))?;
    Ok(())
}
