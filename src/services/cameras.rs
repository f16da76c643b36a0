//! `CameraService`: the city's CCTV, and the cameras nearest a scene.

use ngalam112_core::ValidationError;
use ngalam112_core::validation::{self, SHORT_TEXT_MAX_CHARS};
use ngalam112_proto::v1 as proto;
use ngalam112_proto::v1::camera_service_server::CameraService;
use ngalam112_store::{CameraRecord, Store};
use tonic::{Request, Response, Status};

use crate::convert::{self, geo_point_to_proto};
use crate::error::answer;

const DEFAULT_RADIUS_M: f64 = 500.0;
const MAX_RADIUS_M: f64 = 5_000.0;
const DEFAULT_LIMIT: i32 = 3;
const MAX_LIMIT: i32 = 20;

pub struct CameraApi {
    store: Store,
}

impl CameraApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn camera_to_proto(camera: &CameraRecord) -> proto::Camera {
    proto::Camera {
        id: camera.id.to_string(),
        name: camera.name.clone(),
        location: Some(geo_point_to_proto(&camera.location)),
        stream_url: camera.stream_url.clone(),
    }
}

#[tonic::async_trait]
impl CameraService for CameraApi {
    #[tracing::instrument(skip_all)]
    async fn register_camera(
        &self,
        request: Request<proto::RegisterCameraRequest>,
    ) -> Result<Response<proto::Camera>, Status> {
        answer(async {
            let request = request.get_ref();
            let name = validation::label("name", &request.name, SHORT_TEXT_MAX_CHARS)?;
            let location = convert::geo_point("location", request.location.as_ref())?;
            let stream_url = validation::stream_url("stream_url", &request.stream_url)?;
            let camera = self
                .store
                .register_camera(&name, &location, &stream_url)
                .await?;
            tracing::info!(camera_id = %camera.id, "camera registered");
            Ok(camera_to_proto(&camera))
        })
        .await
    }

    async fn list_cameras(
        &self,
        _request: Request<proto::ListCamerasRequest>,
    ) -> Result<Response<proto::ListCamerasResponse>, Status> {
        answer(async {
            let cameras = self.store.list_cameras().await?;
            Ok(proto::ListCamerasResponse {
                cameras: cameras.iter().map(camera_to_proto).collect(),
            })
        })
        .await
    }

    async fn find_nearby_cameras(
        &self,
        request: Request<proto::FindNearbyCamerasRequest>,
    ) -> Result<Response<proto::FindNearbyCamerasResponse>, Status> {
        answer(async {
            let request = request.get_ref();
            let location = convert::geo_point("location", request.location.as_ref())?;
            let radius_m = match request.radius_m {
                0.0 => DEFAULT_RADIUS_M,
                radius if radius.is_finite() && radius > 0.0 && radius <= MAX_RADIUS_M => radius,
                _ => {
                    return Err(ValidationError::new(
                        "radius_m",
                        format!(
                            "must be within (0, {MAX_RADIUS_M}] metres (0 = {DEFAULT_RADIUS_M})"
                        ),
                    )
                    .into());
                }
            };
            let limit = match request.limit {
                0 => DEFAULT_LIMIT,
                limit if (1..=MAX_LIMIT).contains(&limit) => limit,
                _ => {
                    return Err(ValidationError::new(
                        "limit",
                        format!("must be within [1, {MAX_LIMIT}] (0 = {DEFAULT_LIMIT})"),
                    )
                    .into());
                }
            };
            let near = self
                .store
                .cameras_near(&location, radius_m, usize::try_from(limit).unwrap_or(3))
                .await?;
            Ok(proto::FindNearbyCamerasResponse {
                cameras: near
                    .iter()
                    .map(|(camera, distance_m)| proto::CameraDistance {
                        camera: Some(camera_to_proto(camera)),
                        distance_m: *distance_m,
                    })
                    .collect(),
            })
        })
        .await
    }
}
