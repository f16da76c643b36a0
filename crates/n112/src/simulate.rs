//! `n112 simulate`: simulated crews across Kota Malang that long-poll,
//! accept (or decline, or let the offer ring out), drive to the incident
//! along the great circle reporting their position, go on scene on
//! arrival, complete after a scene time and drive back; plus a caller
//! generator (Poisson arrivals, Malang's mix of calls, points inside the
//! city). Time can run faster than real (`--time-scale`): driving and scene
//! times shrink, the server's clock does not.
//!
//! Needs an admin token (it acts for every unit and records calls).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use geo::{Distance, Haversine, InterpolatePoint, Point};
use ngalam112_proto::v1 as proto;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::watch;

use crate::calls::{Answered, PhoneCall, random_call};
use crate::connect::Api;

#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// How long to run (real seconds).
    #[arg(long, default_value_t = 60)]
    pub duration_s: u64,
    /// Calls per (real) minute, Poisson arrivals.
    #[arg(long, default_value_t = 20.0)]
    pub calls_per_minute: f64,
    /// Share of offers a crew declines.
    #[arg(long, default_value_t = 0.1)]
    pub decline_rate: f64,
    /// Share of offers a crew lets time out.
    #[arg(long, default_value_t = 0.03)]
    pub no_answer_rate: f64,
    /// Driving speed in km/h (simulated time).
    #[arg(long, default_value_t = 40.0)]
    pub speed_kmh: f64,
    /// Minutes on scene (simulated time).
    #[arg(long, default_value_t = 10.0)]
    pub scene_minutes: f64,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 30.0)]
    pub time_scale: f64,
    /// Random seed (the same seed, the same calls and choices).
    #[arg(long, default_value_t = 112)]
    pub seed: u64,
}

/// What the simulation did, counted by the simulator itself.
#[derive(Debug, Default)]
pub struct SimStats {
    pub calls: AtomicU64,
    pub accepted: AtomicU64,
    pub declined: AtomicU64,
    pub ignored: AtomicU64,
    pub completed: AtomicU64,
    pub position_reports: AtomicU64,
    pub errors: AtomicU64,
    /// Calls handed to a partner agency, and the agency's answers.
    pub referred: AtomicU64,
    pub referrals_answered: AtomicU64,
    /// Callers who hung up before the call was answered.
    pub abandoned: AtomicU64,
}

/// Share of calls also handed to a partner agency (PLN, PDAM, …).
const REFERRAL_SHARE: f64 = 0.1;

/// Runs crews for `units` and the caller generator until `stop` turns
/// true.
pub async fn simulate(
    api: Api,
    args: SimulateArgs,
    units: Vec<proto::Unit>,
    stop: watch::Receiver<bool>,
    stats: Arc<SimStats>,
) {
    let mut tasks = Vec::new();
    for (index, unit) in units.into_iter().enumerate() {
        let crew = Crew {
            api: api.clone(),
            args: args.clone(),
            stats: stats.clone(),
            rng: StdRng::seed_from_u64(args.seed.wrapping_add(index as u64 + 1)),
            home: unit.location.unwrap_or_default(),
            position: unit.location.unwrap_or_default(),
            unit_id: unit.id,
            stop: stop.clone(),
        };
        tasks.push(tokio::spawn(crew.run()));
    }
    tasks.push(tokio::spawn(liaison(
        api.clone(),
        stop.clone(),
        stats.clone(),
    )));
    tasks.push(tokio::spawn(callers(api, args, stop, stats)));
    for task in tasks {
        let _ = task.await;
    }
}

async fn callers(
    mut api: Api,
    args: SimulateArgs,
    stop: watch::Receiver<bool>,
    stats: Arc<SimStats>,
) {
    let mut rng = StdRng::seed_from_u64(args.seed);
    // The partner agencies calls may be referred to (none visible: none).
    let agencies: Vec<String> = api
        .agencies
        .list_agencies(proto::ListAgenciesRequest {})
        .await
        .map(|answer| {
            answer
                .into_inner()
                .agencies
                .into_iter()
                .map(|a| a.id)
                .collect()
        })
        .unwrap_or_default();
    let rate_per_s = (args.calls_per_minute / 60.0).max(1e-6);
    // Calls overlap as in life: each rings, is answered and recorded on
    // its own; all have ended when the callers stop.
    let mut in_progress = tokio::task::JoinSet::new();
    while !*stop.borrow() {
        // Poisson arrivals: exponential gaps.
        let gap = -(1.0 - rng.random::<f64>()).ln() / rate_per_s;
        if sleep_or_stop(Duration::from_secs_f64(gap.min(3_600.0)), &stop).await {
            break;
        }
        let call = random_call(&mut rng);
        let phone = PhoneCall::random(&mut rng, &call);
        let referral = (!agencies.is_empty() && rng.random::<f64>() < REFERRAL_SHARE)
            .then(|| agencies[rng.random_range(0..agencies.len())].clone());
        let (api, stop, stats) = (api.clone(), stop.clone(), stats.clone());
        in_progress.spawn(one_call(api, call, phone, referral, stop, stats));
    }
    while in_progress.join_next().await.is_some() {}
}

/// One caller: the phone rings first (consoles see it), a call-taker
/// answers (or the caller hangs up) and records it; some calls are then
/// handed to a partner agency.
async fn one_call(
    mut api: Api,
    mut call: proto::CreateIncidentRequest,
    phone: PhoneCall,
    referral: Option<String>,
    stop: watch::Receiver<bool>,
    stats: Arc<SimStats>,
) {
    match phone.ring_and_answer(&mut api, &stop).await {
        Answered::Yes(call_id) => call.call_id = call_id,
        Answered::HungUp => {
            stats.abandoned.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Answered::Stopped => return,
        // No phone system (an old server): the call is recorded anyway.
        Answered::NoPhoneSystem => {}
    }
    let created = api.incidents.create_incident(call).await;
    phone.end(&mut api).await;
    let incident = match created {
        Ok(incident) => {
            stats.calls.fetch_add(1, Ordering::Relaxed);
            incident.into_inner()
        }
        Err(_) => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let Some(agency_id) = referral else {
        return;
    };
    let referred = api
        .incidents
        .refer_incident(proto::ReferIncidentRequest {
            incident_id: incident.id,
            agency_id,
            note: "simulated hand-over".to_owned(),
        })
        .await;
    match referred {
        Ok(_) => stats.referred.fetch_add(1, Ordering::Relaxed),
        Err(_) => stats.errors.fetch_add(1, Ordering::Relaxed),
    };
}

/// A scripted liaison for every partner agency: acknowledges each new
/// referral within a second or so, then reports it dealt with. Stops when
/// its token may not answer referrals (an operator's simulation).
async fn liaison(mut api: Api, stop: watch::Receiver<bool>, stats: Arc<SimStats>) {
    while !sleep_or_stop(Duration::from_secs(1), &stop).await {
        let waiting = match api
            .agencies
            .list_referrals(proto::ListReferralsRequest {
                status: proto::ReferralStatus::Sent.into(),
            })
            .await
        {
            Ok(answer) => answer.into_inner().referrals,
            Err(_) => continue,
        };
        for referral in waiting {
            for (status, answer) in [
                (
                    proto::ReferralStatus::Acknowledged,
                    "diterima, tim dijadwalkan",
                ),
                (proto::ReferralStatus::Done, "selesai ditangani"),
            ] {
                let answered = api
                    .agencies
                    .update_referral(proto::UpdateReferralRequest {
                        referral_id: referral.id.clone(),
                        status: status.into(),
                        answer: answer.to_owned(),
                    })
                    .await;
                match answered {
                    Ok(_) if status == proto::ReferralStatus::Acknowledged => {
                        stats.referrals_answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(status) if status.code() == tonic::Code::PermissionDenied => return,
                    Err(_) => {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// Sleeps; true when the simulation was stopped meanwhile.
pub(crate) async fn sleep_or_stop(duration: Duration, stop: &watch::Receiver<bool>) -> bool {
    let mut watcher = stop.clone();
    tokio::select! {
        () = tokio::time::sleep(duration) => *stop.borrow(),
        _ = watcher.wait_for(|stopped| *stopped) => true,
    }
}

struct Crew {
    api: Api,
    args: SimulateArgs,
    stats: Arc<SimStats>,
    rng: StdRng,
    unit_id: String,
    home: proto::GeoPoint,
    position: proto::GeoPoint,
    stop: watch::Receiver<bool>,
}

/// Real time between position reports while driving.
const PING: Duration = Duration::from_millis(500);

impl Crew {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    async fn poll(&mut self, wait_seconds: u32) -> Option<proto::PollAssignmentResponse> {
        match self
            .api
            .field
            .poll_assignment(proto::PollAssignmentRequest {
                unit_id: self.unit_id.clone(),
                wait_seconds,
            })
            .await
        {
            Ok(answer) => Some(answer.into_inner()),
            Err(_) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                let _ = sleep_or_stop(Duration::from_secs(1), &self.stop).await;
                None
            }
        }
    }

    async fn step(&mut self, assignment_id: &str, status: proto::AssignmentStatus) -> bool {
        self.api
            .field
            .update_assignment_status(proto::UpdateAssignmentStatusRequest {
                assignment_id: assignment_id.to_owned(),
                status: status.into(),
            })
            .await
            .is_ok()
    }

    async fn run(mut self) {
        while !self.stopped() {
            let Some(answer) = self.poll(2).await else {
                continue;
            };
            let (Some(assignment), Some(incident)) = (answer.assignment, answer.incident) else {
                continue;
            };
            if assignment.status() != proto::AssignmentStatus::Offered {
                // Picked up after a restart of the simulator: carry on.
                self.work(&assignment, &incident).await;
                continue;
            }
            let roll = self.rng.random::<f64>();
            if roll < self.args.decline_rate {
                let declined = self
                    .api
                    .field
                    .decline_assignment(proto::DeclineAssignmentRequest {
                        assignment_id: assignment.id.clone(),
                        reason: "sedang isi bensin".to_owned(),
                    })
                    .await;
                if declined.is_ok() {
                    self.stats.declined.fetch_add(1, Ordering::Relaxed);
                }
            } else if roll < self.args.decline_rate + self.args.no_answer_rate {
                self.stats.ignored.fetch_add(1, Ordering::Relaxed);
                self.ring_out(&assignment.id).await;
            } else {
                // A few (scaled) seconds to read the offer.
                let think = Duration::from_secs_f64(
                    self.rng.random_range(5.0..30.0) / self.args.time_scale,
                );
                if sleep_or_stop(think, &self.stop).await {
                    return;
                }
                let accepted = self
                    .api
                    .field
                    .accept_assignment(proto::AcceptAssignmentRequest {
                        assignment_id: assignment.id.clone(),
                    })
                    .await;
                if accepted.is_ok() {
                    self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                    self.work(&assignment, &incident).await;
                }
            }
        }
    }

    /// Lets an offer time out; the unit is then out of service until the
    /// (simulated) dispatcher puts it back.
    async fn ring_out(&mut self, assignment_id: &str) {
        loop {
            if sleep_or_stop(Duration::from_secs(1), &self.stop).await {
                return;
            }
            let Some(answer) = self.poll(0).await else {
                continue;
            };
            if answer.assignment.map(|a| a.id) != Some(assignment_id.to_owned()) {
                break;
            }
        }
        if sleep_or_stop(Duration::from_secs(2), &self.stop).await {
            return;
        }
        let _ = self
            .api
            .units
            .set_unit_in_service(proto::SetUnitInServiceRequest {
                unit_id: self.unit_id.clone(),
                in_service: true,
            })
            .await;
    }

    async fn work(&mut self, assignment: &proto::Assignment, incident: &proto::Incident) {
        let Some(target) = incident.location else {
            return;
        };
        if matches!(
            assignment.status(),
            proto::AssignmentStatus::Offered | proto::AssignmentStatus::Accepted
        ) && !self
            .step(&assignment.id, proto::AssignmentStatus::EnRoute)
            .await
        {
            return;
        }
        if assignment.status() != proto::AssignmentStatus::OnScene {
            if !self.drive_to(target, None).await {
                return;
            }
            if !self
                .step(&assignment.id, proto::AssignmentStatus::OnScene)
                .await
            {
                return;
            }
        }
        let scene = Duration::from_secs_f64(self.args.scene_minutes * 60.0 / self.args.time_scale);
        if sleep_or_stop(scene, &self.stop).await {
            return;
        }
        if self
            .step(&assignment.id, proto::AssignmentStatus::Completed)
            .await
        {
            self.stats.completed.fetch_add(1, Ordering::Relaxed);
        }
        // Back to the station; available on the way, so a new offer ends
        // the drive.
        let home = self.home;
        self.drive_to(home, Some(())).await;
    }

    /// Drives along the great circle with position reports; false when
    /// stopped (or, on the way home, when a new offer came).
    async fn drive_to(&mut self, target: proto::GeoPoint, returning: Option<()>) -> bool {
        let start = Point::new(self.position.lon, self.position.lat);
        let end = Point::new(target.lon, target.lat);
        let total_m = Haversine.distance(start, end);
        let metres_per_ping = self.args.speed_kmh / 3.6 * PING.as_secs_f64() * self.args.time_scale;
        let mut covered = 0.0;
        while covered < total_m {
            if sleep_or_stop(PING, &self.stop).await {
                return false;
            }
            covered = (covered + metres_per_ping).min(total_m);
            let here = Haversine.point_at_distance_between(start, end, covered);
            self.position = proto::GeoPoint {
                lat: here.y(),
                lon: here.x(),
            };
            if self
                .api
                .field
                .report_location(proto::ReportLocationRequest {
                    unit_id: self.unit_id.clone(),
                    location: Some(self.position),
                })
                .await
                .is_ok()
            {
                self.stats.position_reports.fetch_add(1, Ordering::Relaxed);
            }
            if returning.is_some()
                && let Some(answer) = self.poll(0).await
                && answer.assignment.is_some()
            {
                return false;
            }
        }
        true
    }
}

/// `n112 simulate`: crews for every registered unit, against a running
/// server.
pub async fn run_command(mut api: Api, args: SimulateArgs) -> anyhow::Result<()> {
    let units = api
        .units
        .list_units(proto::ListUnitsRequest::default())
        .await?
        .into_inner()
        .units;
    if units.is_empty() {
        anyhow::bail!("no units registered: run `ngalam112 seed-malang` first");
    }
    eprintln!(
        "simulating {} crews for {} s…",
        units.len(),
        args.duration_s
    );
    let (stop_sender, stop) = watch::channel(false);
    let stats = Arc::new(SimStats::default());
    let duration = Duration::from_secs(args.duration_s);
    let simulation = tokio::spawn(simulate(api, args, units, stop, stats.clone()));
    tokio::time::sleep(duration).await;
    stop_sender.send_replace(true);
    let _ = simulation.await;
    println!(
        "calls {}  accepted {}  declined {}  let ring out {}  completed {}  position reports {}  referred {}  referrals answered {}  errors {}",
        stats.calls.load(Ordering::Relaxed),
        stats.accepted.load(Ordering::Relaxed),
        stats.declined.load(Ordering::Relaxed),
        stats.ignored.load(Ordering::Relaxed),
        stats.completed.load(Ordering::Relaxed),
        stats.position_reports.load(Ordering::Relaxed),
        stats.referred.load(Ordering::Relaxed),
        stats.referrals_answered.load(Ordering::Relaxed),
        stats.errors.load(Ordering::Relaxed),
    );
    Ok(())
}
