//! The Kota Malang demo fleet: approximate station
//! positions, good enough for a demo, not survey data.

use ngalam112_core::{GeoPoint, UnitKind};
use ngalam112_store::{Actor, NewUnit, Store, StoreError};

/// (call sign, kind, agency, lat, lon)
const FLEET: &[(&str, UnitKind, &str, f64, f64)] = &[
    (
        "AMB-RSSA-1",
        UnitKind::Ambulance,
        "RSUD Dr. Saiful Anwar",
        -7.9725,
        112.6315,
    ),
    (
        "AMB-RSSA-2",
        UnitKind::Ambulance,
        "RSUD Dr. Saiful Anwar",
        -7.9725,
        112.6315,
    ),
    (
        "AMB-LAV-1",
        UnitKind::Ambulance,
        "RS Lavalette",
        -7.9690,
        112.6390,
    ),
    (
        "AMB-UNISMA-1",
        UnitKind::Ambulance,
        "RSI Unisma",
        -7.9370,
        112.6090,
    ),
    (
        "AMB-RSUB-1",
        UnitKind::Ambulance,
        "RS Universitas Brawijaya",
        -7.9420,
        112.6200,
    ),
    (
        "AMB-PW-1",
        UnitKind::Ambulance,
        "RS Panti Waluya Sawahan",
        -7.9880,
        112.6270,
    ),
    (
        "AMB-PMI-1",
        UnitKind::Ambulance,
        "PMI Kota Malang",
        -7.9760,
        112.6380,
    ),
    (
        "AMB-PMI-2",
        UnitKind::Ambulance,
        "PMI Kota Malang",
        -7.9760,
        112.6380,
    ),
    (
        "DMK-1",
        UnitKind::FireEngine,
        "Damkar Kota Malang",
        -7.9950,
        112.6300,
    ),
    (
        "DMK-2",
        UnitKind::FireEngine,
        "Damkar Kota Malang",
        -7.9950,
        112.6300,
    ),
    (
        "DMK-RES-1",
        UnitKind::Rescue,
        "Damkar Kota Malang",
        -7.9950,
        112.6300,
    ),
    (
        "DMK-BLB-1",
        UnitKind::FireEngine,
        "Damkar Kota Malang (pos Blimbing)",
        -7.9400,
        112.6500,
    ),
    (
        "POL-KOTA-1",
        UnitKind::Police,
        "Polresta Malang Kota",
        -7.9700,
        112.6320,
    ),
    (
        "POL-KOTA-2",
        UnitKind::Police,
        "Polresta Malang Kota",
        -7.9700,
        112.6320,
    ),
    (
        "POL-LWK-1",
        UnitKind::Police,
        "Polsek Lowokwaru",
        -7.9450,
        112.6170,
    ),
    (
        "POL-BLB-1",
        UnitKind::Police,
        "Polsek Blimbing",
        -7.9430,
        112.6530,
    ),
    (
        "POL-SKN-1",
        UnitKind::Police,
        "Polsek Sukun",
        -8.0000,
        112.6200,
    ),
    (
        "POL-KDK-1",
        UnitKind::Police,
        "Polsek Kedungkandang",
        -7.9960,
        112.6600,
    ),
    (
        "SAR-BPBD-1",
        UnitKind::Rescue,
        "BPBD Kota Malang",
        -8.0200,
        112.6500,
    ),
    (
        "SAR-BPBD-2",
        UnitKind::Rescue,
        "BPBD Kota Malang",
        -8.0200,
        112.6500,
    ),
];

/// Demo CCTV cameras at well-known places (name, lat, lon, stream). The
/// stream addresses are placeholders (`.invalid`): a city puts its own.
const CAMERAS: &[(&str, f64, f64, &str)] = &[
    (
        "Alun-alun Tugu",
        -7.9771,
        112.6340,
        "https://cctv.malang.invalid/tugu",
    ),
    (
        "Jl. Ijen (Gereja Ijen)",
        -7.9714,
        112.6226,
        "https://cctv.malang.invalid/ijen",
    ),
    (
        "Pasar Besar",
        -7.9870,
        112.6305,
        "rtsp://cctv.malang.invalid/pasar-besar",
    ),
    (
        "Terminal Arjosari",
        -7.9333,
        112.6583,
        "rtsp://cctv.malang.invalid/arjosari",
    ),
    (
        "Simpang Balapan",
        -7.9655,
        112.6235,
        "https://cctv.malang.invalid/balapan",
    ),
];

/// The city's partner agencies (name, short name, contact).
const AGENCIES: &[(&str, &str, &str)] = &[
    ("PLN UP3 Malang", "PLN", "123"),
    ("Perumda Air Minum Tugu Tirta", "PDAM", "(0341) 715103"),
    ("Dinas Perhubungan Kota Malang", "Dishub", "(0341) 327361"),
    ("Dinas Lingkungan Hidup Kota Malang", "DLH", "(0341) 362552"),
    ("BPBD Kota Malang", "BPBD", "(0341) 366136"),
];

/// Registers the partner agencies whose short name is not taken yet;
/// returns how many were added.
pub async fn seed_agencies(store: &Store) -> Result<usize, StoreError> {
    let mut added = 0;
    for (name, short_name, contact) in AGENCIES {
        match store.register_agency(name, short_name, contact).await {
            Ok(_) => added += 1,
            Err(StoreError::AlreadyExists(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(added)
}

/// Registers the demo cameras whose name is not there yet; returns how
/// many were added.
pub async fn seed_cameras(store: &Store) -> Result<usize, StoreError> {
    let existing: Vec<String> = store
        .list_cameras()
        .await?
        .into_iter()
        .map(|camera| camera.name)
        .collect();
    let mut added = 0;
    for (name, lat, lon, stream_url) in CAMERAS {
        if existing.iter().any(|known| known == name) {
            continue;
        }
        let location = GeoPoint::new("location", *lat, *lon)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        store.register_camera(name, &location, stream_url).await?;
        added += 1;
    }
    Ok(added)
}

/// Registers every demo unit whose call sign is not taken yet; returns how
/// many were added.
pub async fn seed_malang(store: &Store) -> Result<usize, StoreError> {
    let actor = Actor("seed-malang".to_owned());
    let mut added = 0;
    for (call_sign, kind, agency, lat, lon) in FLEET {
        let location = GeoPoint::new("location", *lat, *lon)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        let unit = NewUnit {
            call_sign: (*call_sign).to_owned(),
            kind: *kind,
            agency: (*agency).to_owned(),
            location,
        };
        match store.register_unit(&unit, &actor).await {
            Ok(_) => added += 1,
            Err(StoreError::AlreadyExists(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(added)
}
