//! The city's CCTV: registered by an admin (web or RTSP streams only), the
//! nearest to a scene by great-circle distance.

use ngalam112_proto::v1 as proto;
use tonic::Code;

use crate::helpers::{TestApp, great_circle_m, places};

fn camera(name: &str, at: (f64, f64), stream_url: &str) -> proto::RegisterCameraRequest {
    proto::RegisterCameraRequest {
        name: name.to_owned(),
        location: Some(proto::GeoPoint {
            lat: at.0,
            lon: at.1,
        }),
        stream_url: stream_url.to_owned(),
    }
}

#[tokio::test]
async fn cameras_near_a_scene_come_nearest_first_by_great_circle_distance() {
    let app = TestApp::spawn().await;
    let mut admin = app.admin.cameras.clone();
    let spots = [
        ("Alun-alun Tugu", (-7.9771, 112.6340)),
        ("Jl. Ijen", (-7.9714, 112.6226)),
        ("Pasar Besar", (-7.9870, 112.6305)),
        ("Stasiun Malang", (-7.9775, 112.6370)),
        ("Terminal Arjosari", (-7.9333, 112.6583)),
    ];
    for (name, at) in spots {
        admin
            .register_camera(camera(name, at, "rtsp://cctv.malang.invalid/x"))
            .await
            .expect("register");
    }
    let scene = places::BALAI_KOTA;
    let mut operator = app.operator.cameras.clone();
    let near = operator
        .find_nearby_cameras(proto::FindNearbyCamerasRequest {
            location: Some(proto::GeoPoint {
                lat: scene.0,
                lon: scene.1,
            }),
            radius_m: 0.0,
            limit: 0,
        })
        .await
        .expect("nearby")
        .into_inner()
        .cameras;
    // Default: within 500 m, at most 3.
    let mut expected: Vec<(&str, f64)> = spots
        .iter()
        .map(|(name, at)| (*name, great_circle_m(scene, *at)))
        .filter(|(_, distance)| *distance <= 500.0)
        .collect();
    expected.sort_by(|a, b| a.1.total_cmp(&b.1));
    expected.truncate(3);
    let got: Vec<(String, f64)> = near
        .iter()
        .map(|n| (n.camera.clone().expect("camera").name, n.distance_m))
        .collect();
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for ((name, distance), (want_name, want_distance)) in got.iter().zip(&expected) {
        assert_eq!(name, want_name);
        assert!(
            (distance - want_distance).abs() < 1.0,
            "{distance} vs {want_distance}"
        );
    }
    assert_eq!(got[0].0, "Alun-alun Tugu");

    let wide = operator
        .find_nearby_cameras(proto::FindNearbyCamerasRequest {
            location: Some(proto::GeoPoint {
                lat: scene.0,
                lon: scene.1,
            }),
            radius_m: 5_000.0,
            limit: 20,
        })
        .await
        .expect("wide")
        .into_inner()
        .cameras;
    let within_5_km = spots
        .iter()
        .filter(|(_, at)| great_circle_m(scene, *at) <= 5_000.0)
        .count();
    assert_eq!(wide.len(), within_5_km, "Arjosari is farther than 5 km");
    assert_eq!(within_5_km, 4);
    assert!(
        wide.windows(2)
            .all(|pair| pair[0].distance_m <= pair[1].distance_m)
    );

    let listed = operator
        .list_cameras(proto::ListCamerasRequest {})
        .await
        .expect("list")
        .into_inner()
        .cameras;
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Alun-alun Tugu",
            "Jl. Ijen",
            "Pasar Besar",
            "Stasiun Malang",
            "Terminal Arjosari"
        ]
    );
}

#[tokio::test]
async fn bad_cameras_and_bad_searches_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let mut admin = app.admin.cameras.clone();
    for (request, field) in [
        (
            camera("Tugu", places::BALAI_KOTA, "javascript:alert(1)"),
            "stream_url",
        ),
        (
            camera("Tugu", places::BALAI_KOTA, "file:///etc/passwd"),
            "stream_url",
        ),
        (camera("Tugu", places::BALAI_KOTA, ""), "stream_url"),
        (
            camera(" ", places::BALAI_KOTA, "https://cctv.invalid/a"),
            "name",
        ),
        (
            camera("Tugu", (95.0, 112.0), "https://cctv.invalid/a"),
            "location.lat",
        ),
        (
            proto::RegisterCameraRequest {
                location: None,
                ..camera("Tugu", places::BALAI_KOTA, "https://cctv.invalid/a")
            },
            "location",
        ),
    ] {
        let status = admin.register_camera(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().starts_with(field),
            "{field}: {}",
            status.message()
        );
    }
    assert_eq!(app.count("cameras").await, 0, "nothing stored");

    let mut operator = app.operator.cameras.clone();
    let at = Some(proto::GeoPoint {
        lat: places::BALAI_KOTA.0,
        lon: places::BALAI_KOTA.1,
    });
    for (radius_m, limit, field) in [
        (5_001.0, 0, "radius_m"),
        (-1.0, 0, "radius_m"),
        (f64::NAN, 0, "radius_m"),
        (0.0, 21, "limit"),
        (0.0, -1, "limit"),
    ] {
        let status = operator
            .find_nearby_cameras(proto::FindNearbyCamerasRequest {
                location: at,
                radius_m,
                limit,
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with(field), "{}", status.message());
    }
    let refused = operator
        .register_camera(camera("Tugu", places::BALAI_KOTA, "https://cctv.invalid/a"))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "only an admin registers"
    );
}
