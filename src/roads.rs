//! `--roads FILE.osm.pbf`: the city's road network for drive-time
//! dispatch, loaded (or taken from its cache under the data dir) before
//! the server answers.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use ngalam112_core::drive::DriveTimes;
use ngalam112_roads::Roads;

/// Loads the road network of `file`, caching the prepared graph under
/// `data_dir/roads`; None without a file. A missing, truncated or non-PBF
/// file is an error naming it.
pub async fn load(
    file: Option<&Path>,
    data_dir: &Path,
) -> anyhow::Result<Option<Arc<dyn DriveTimes>>> {
    let Some(file) = file else {
        return Ok(None);
    };
    let (file, cache_dir) = (file.to_owned(), data_dir.join("roads"));
    let (roads, report) = tokio::task::spawn_blocking(move || Roads::load(&file, &cache_dir))
        .await
        .context("the road network's loading stopped")??;
    tracing::info!(
        nodes = report.nodes,
        segments = report.segments,
        prepared_edges = report.prepared_edges,
        prepare_s = report.prepare_time.as_secs_f64(),
        from_cache = report.from_cache,
        cache = %report.cache_file.display(),
        top_speed_kmh = roads.top_speed_mps() * 3.6,
        "road network ready: dispatch ranks by drive time"
    );
    Ok(Some(Arc::new(roads)))
}
