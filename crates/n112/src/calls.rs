//! The simulated callers' calls: points inside Kota Malang, Malang's mix
//! of categories and priorities, street addresses, now and then a withheld
//! number; and each call as the phone system signals it (it rings,
//! is answered or hung up, and ends).

use std::time::Duration;

use ngalam112_proto::v1 as proto;
use rand::RngExt;
use rand::rngs::StdRng;

use crate::connect::Api;

/// Kota Malang, roughly.
pub const CITY: ((f64, f64), (f64, f64)) = ((-8.03, -7.92), (112.59, 112.68));

const STREETS: &[&str] = &[
    "Jl. Ijen",
    "Jl. Soekarno-Hatta",
    "Jl. Veteran",
    "Jl. Kawi",
    "Jl. Basuki Rahmat",
    "Jl. Letjen Sutoyo",
    "Jl. Ahmad Yani",
    "Jl. Gatot Subroto",
    "Jl. Mayjen Panjaitan",
    "Jl. Raya Tlogomas",
    "Jl. S. Supriadi",
    "Jl. Kolonel Sugiono",
    "Jl. Ki Ageng Gribig",
    "Jl. Danau Toba",
    "Jl. Borobudur",
    "Jl. MT Haryono",
    "Jl. Galunggung",
    "Jl. Bandung",
];

/// Malang's 112 calls: traffic accidents, animal rescue, medical and fire
/// lead. (category, weight, what the caller says)
const CALL_MIX: &[(proto::IncidentCategory, f64, &str)] = &[
    (
        proto::IncidentCategory::TrafficAccident,
        0.30,
        "tabrakan motor, korban luka",
    ),
    (
        proto::IncidentCategory::Rescue,
        0.22,
        "ular masuk rumah / sarang tawon",
    ),
    (proto::IncidentCategory::Medical, 0.25, "pasien sesak napas"),
    (proto::IncidentCategory::Fire, 0.13, "kebakaran rumah warga"),
    (
        proto::IncidentCategory::Crime,
        0.05,
        "pencurian sepeda motor",
    ),
    (
        proto::IncidentCategory::Disaster,
        0.02,
        "pohon tumbang menimpa rumah",
    ),
    (proto::IncidentCategory::Other, 0.03, "orang hilang"),
];

const PRIORITY_MIX: &[(proto::Priority, f64)] = &[
    (proto::Priority::Critical, 0.15),
    (proto::Priority::High, 0.35),
    (proto::Priority::Normal, 0.35),
    (proto::Priority::Low, 0.15),
];

fn pick<T: Copy>(rng: &mut StdRng, weighted: &[(T, f64)]) -> T {
    let total: f64 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random::<f64>() * total;
    for (item, weight) in weighted {
        if roll < *weight {
            return *item;
        }
        roll -= weight;
    }
    weighted[weighted.len() - 1].0
}

pub fn random_point(rng: &mut StdRng) -> proto::GeoPoint {
    let ((south, north), (west, east)) = CITY;
    proto::GeoPoint {
        lat: rng.random_range(south..north),
        lon: rng.random_range(west..east),
    }
}

/// The share of callers whose number the network withholds.
const WITHHELD_SHARE: f64 = 0.05;

/// A call as a Malang caller makes it.
pub fn random_call(rng: &mut StdRng) -> proto::CreateIncidentRequest {
    let mix: Vec<(usize, f64)> = CALL_MIX
        .iter()
        .enumerate()
        .map(|(i, (_, w, _))| (i, *w))
        .collect();
    let (category, _, description) = CALL_MIX[pick(rng, &mix)];
    let street = STREETS[rng.random_range(0..STREETS.len())];
    // About one caller in twenty hides the number (nomor disembunyikan).
    let withheld = rng.random_bool(WITHHELD_SHARE);
    proto::CreateIncidentRequest {
        category: category.into(),
        priority: pick(rng, PRIORITY_MIX).into(),
        caller_phone: if withheld {
            String::new()
        } else {
            format!(
                "08{:02} {:04} {:04}",
                rng.random_range(11..99),
                rng.random_range(0..10_000),
                rng.random_range(0..10_000)
            )
        },
        caller_id_withheld: withheld,
        caller_name: "warga".to_owned(),
        location: Some(random_point(rng)),
        address: format!("{street} No. {}", rng.random_range(1..200)),
        description: description.to_owned(),
        ..Default::default()
    }
}

/// The share of callers who hang up before anyone answers.
const ABANDON_SHARE: f64 = 0.04;

/// A simulated caller's phone call, as the exchange signals it.
pub struct PhoneCall {
    call_id: String,
    phone: String,
    withheld: bool,
    ringing: Duration,
    talking: Duration,
    hangs_up: bool,
}

/// How a simulated call went before it was recorded.
pub enum Answered {
    /// Picked up: record the incident with this call id.
    Yes(String),
    HungUp,
    /// The simulation ended while it rang.
    Stopped,
    /// The server refused the signal (no phone system): record anyway.
    NoPhoneSystem,
}

impl PhoneCall {
    pub fn random(rng: &mut StdRng, call: &proto::CreateIncidentRequest) -> Self {
        Self {
            call_id: format!("sim-{:016x}", rng.random::<u64>()),
            phone: call.caller_phone.clone(),
            withheld: call.caller_id_withheld,
            ringing: Duration::from_millis(rng.random_range(200..1_200)),
            talking: Duration::from_millis(rng.random_range(300..1_500)),
            hangs_up: rng.random_bool(ABANDON_SHARE),
        }
    }

    async fn signal(&self, api: &mut Api, signal: proto::CallSignal) -> bool {
        api.telephony
            .signal_call(proto::SignalCallRequest {
                call_id: self.call_id.clone(),
                line: "112".to_owned(),
                caller_phone: self.phone.clone(),
                caller_id_withheld: self.withheld,
                signal: signal.into(),
                position: "SIM".to_owned(),
            })
            .await
            .is_ok()
    }

    /// Rings, waits, and is answered (then the call-taker talks before
    /// the incident is recorded) or hung up.
    pub async fn ring_and_answer(
        &self,
        api: &mut Api,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> Answered {
        if !self.signal(api, proto::CallSignal::Ringing).await {
            return Answered::NoPhoneSystem;
        }
        if crate::simulate::sleep_or_stop(self.ringing, stop).await {
            self.end(api).await;
            return Answered::Stopped;
        }
        if self.hangs_up {
            self.end(api).await;
            return Answered::HungUp;
        }
        self.signal(api, proto::CallSignal::Answered).await;
        if crate::simulate::sleep_or_stop(self.talking, stop).await {
            self.end(api).await;
            return Answered::Stopped;
        }
        Answered::Yes(self.call_id.clone())
    }

    pub async fn end(&self, api: &mut Api) {
        self.signal(api, proto::CallSignal::Ended).await;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn generated_calls_fall_inside_the_city_and_follow_the_mix() {
        let mut rng = StdRng::seed_from_u64(7);
        let calls: Vec<_> = (0..2_000).map(|_| random_call(&mut rng)).collect();
        let ((south, north), (west, east)) = CITY;
        assert!(calls.iter().all(|c| {
            let p = c.location.expect("a location");
            (south..north).contains(&p.lat) && (west..east).contains(&p.lon)
        }));
        let share = |category: proto::IncidentCategory| {
            calls
                .iter()
                .filter(|c| c.category == i32::from(category))
                .count() as f64
                / calls.len() as f64
        };
        assert!((share(proto::IncidentCategory::TrafficAccident) - 0.30).abs() < 0.04);
        assert!(share(proto::IncidentCategory::Rescue) > share(proto::IncidentCategory::Fire));
        assert!(ngalam112_core::validation::phone_number("p", &calls[0].caller_phone).is_ok());
    }
}
