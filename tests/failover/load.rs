//! The load the database fails under: call-takers creating incidents with
//! request ids (retrying a call that failed with the same id, as the
//! console does), crews long-polling, accepting and completing, and every
//! unit reporting its position.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ngalam112_proto::v1 as proto;
use tonic::Code;

use ngalam112_testkit::Clients;

/// A call answered OK.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    pub incident_id: String,
    pub description: String,
    /// It was answered UNAVAILABLE (or not at all) first and retried with
    /// its request id.
    pub retried: bool,
    /// From the first attempt to the OK.
    pub waited: Duration,
    pub answered: Instant,
}

/// One CreateIncident attempt.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    started: Instant,
    answered: Instant,
    ok: bool,
}

#[derive(Default)]
struct Record {
    acknowledged: Vec<Acknowledged>,
    attempts: Vec<Attempt>,
    /// Answers a client could not have caused or waited out, by where and
    /// code.
    unexpected: BTreeMap<String, usize>,
}

/// What happened to intake from an instant on.
#[derive(Debug)]
pub struct Window {
    /// From the failover command's return (the kill is its last act) to the
    /// first OK of a call begun after it.
    pub recovery: Option<Duration>,
    /// Attempts that failed (UNAVAILABLE, or no answer within the client's
    /// deadline) since the instant.
    pub failed: usize,
    /// From the instant to the last failed answer.
    pub failing_for: Duration,
    /// The longest one attempt waited for its answer (OK or not).
    pub longest_attempt: Duration,
    /// The longest a call answered OK since the instant waited for it,
    /// retries included.
    pub longest_wait: Duration,
}

#[derive(Clone)]
pub struct Load {
    record: Arc<Mutex<Record>>,
    calling: Arc<AtomicBool>,
    running: Arc<AtomicBool>,
}

/// A crew lets one offer in this many time out.
const IGNORED_EVERY: usize = 8;

/// A client gives an attempt this long. The server answers within 30 s
/// even when the connection broke during the call's commit: it waits for
/// the database to come back and say whether the call was stored (see
/// `outcome.rs` in the store), rather than answer in doubt.
const ATTEMPT_DEADLINE: Duration = Duration::from_secs(40);

fn point(seed: usize) -> proto::GeoPoint {
    // Spread over Kota Malang, deterministic.
    let a = (seed * 7919 % 1000) as f64 / 1000.0;
    let b = (seed * 104_729 % 1000) as f64 / 1000.0;
    proto::GeoPoint {
        lat: -8.03 + 0.11 * a,
        lon: 112.59 + 0.09 * b,
    }
}

impl Load {
    pub fn new() -> Load {
        Load {
            record: Arc::default(),
            calling: Arc::new(AtomicBool::new(true)),
            running: Arc::new(AtomicBool::new(true)),
        }
    }

    fn unexpected(&self, place: &str, status: &tonic::Status) {
        eprintln!("failover: unexpected answer to {place}: {status:?}");
        let key = format!("{place}: {:?}", status.code());
        *self
            .record
            .lock()
            .expect("record")
            .unexpected
            .entry(key)
            .or_default() += 1;
    }

    /// One call-taker: a call every `pace`, each retried with its request id
    /// until it is answered OK.
    pub async fn caller(self, number: usize, mut clients: Clients, pace: Duration) {
        let mut sequence = 0;
        while self.running.load(Ordering::Relaxed) {
            if !self.calling.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            sequence += 1;
            let request_id = format!("failover-{number}-{sequence}-{}", uuid::Uuid::new_v4());
            let description = format!("failover {request_id}");
            let request = proto::CreateIncidentRequest {
                request_id: request_id.clone(),
                category: proto::IncidentCategory::Medical.into(),
                priority: 2,
                location: Some(point(number * 100_000 + sequence)),
                address: "Jl. Uji Failover".to_owned(),
                caller_phone: format!("0812 9{number:03} {sequence:04}"),
                description: description.clone(),
                ..Default::default()
            };
            let mut retried = false;
            let first_attempt = Instant::now();
            loop {
                let started = Instant::now();
                let answer = tokio::time::timeout(
                    ATTEMPT_DEADLINE,
                    clients.incidents.create_incident(request.clone()),
                )
                .await;
                let answered = Instant::now();
                let ok = matches!(answer, Ok(Ok(_)));
                self.record.lock().expect("record").attempts.push(Attempt {
                    started,
                    answered,
                    ok,
                });
                match answer {
                    Ok(Ok(incident)) => {
                        self.record
                            .lock()
                            .expect("record")
                            .acknowledged
                            .push(Acknowledged {
                                incident_id: incident.into_inner().id,
                                description,
                                retried,
                                waited: answered - first_attempt,
                                answered,
                            });
                        break;
                    }
                    Ok(Err(status)) if status.code() == Code::Unavailable => {}
                    Ok(Err(status)) => self.unexpected("CreateIncident", &status),
                    Err(_) => self.unexpected(
                        "CreateIncident",
                        &tonic::Status::deadline_exceeded("no answer within 40 s"),
                    ),
                }
                retried = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(pace).await;
        }
    }

    /// One crew's device: reports its position, long-polls, accepts and
    /// works each assignment through to completed. One offer in
    /// `IGNORED_EVERY` it lets ring until it times out (the unit is then out
    /// of service, and its dispatcher puts it back).
    pub async fn crew(
        self,
        unit_id: String,
        number: usize,
        mut device: Clients,
        mut dispatcher: Clients,
    ) {
        let mut step = 0;
        let mut offers = 0;
        let mut ignored: Option<String> = None;
        while self.running.load(Ordering::Relaxed) {
            step += 1;
            let reported = device
                .field
                .report_location(proto::ReportLocationRequest {
                    unit_id: unit_id.clone(),
                    location: Some(point(number * 1_000 + step % 50)),
                })
                .await;
            if let Err(status) = reported {
                self.crew_failed("ReportLocation", &status).await;
                continue;
            }
            let polled = device
                .field
                .poll_assignment(proto::PollAssignmentRequest {
                    unit_id: unit_id.clone(),
                    wait_seconds: 2,
                })
                .await;
            let assignment = match polled {
                Ok(answer) => answer.into_inner().assignment,
                Err(status) => {
                    self.crew_failed("PollAssignment", &status).await;
                    continue;
                }
            };
            let Some(assignment) = assignment else {
                if ignored.take().is_some() {
                    let back = dispatcher
                        .units
                        .set_unit_in_service(proto::SetUnitInServiceRequest {
                            unit_id: unit_id.clone(),
                            in_service: true,
                        })
                        .await;
                    if let Err(status) = back {
                        self.crew_failed("SetUnitInService", &status).await;
                    }
                }
                continue;
            };
            let id = assignment.id.clone();
            if ignored.as_ref() == Some(&id) {
                continue; // still letting it ring
            }
            let next = match assignment.status() {
                proto::AssignmentStatus::Offered => {
                    offers += 1;
                    if offers % IGNORED_EVERY == 0 {
                        ignored = Some(id);
                        continue;
                    }
                    None
                }
                proto::AssignmentStatus::Accepted => Some(proto::AssignmentStatus::EnRoute),
                proto::AssignmentStatus::EnRoute => Some(proto::AssignmentStatus::OnScene),
                proto::AssignmentStatus::OnScene => Some(proto::AssignmentStatus::Completed),
                _ => continue,
            };
            tokio::time::sleep(Duration::from_millis(150)).await;
            let result = match next {
                None => device
                    .field
                    .accept_assignment(proto::AcceptAssignmentRequest { assignment_id: id })
                    .await
                    .map(|_| ()),
                Some(status) => device
                    .field
                    .update_assignment_status(proto::UpdateAssignmentStatusRequest {
                        assignment_id: id,
                        status: status.into(),
                    })
                    .await
                    .map(|_| ()),
            };
            if let Err(status) = result {
                self.crew_failed("an assignment step", &status).await;
            }
        }
    }

    async fn crew_failed(&self, place: &str, status: &tonic::Status) {
        match status.code() {
            // The database is failing over; try again shortly.
            Code::Unavailable => tokio::time::sleep(Duration::from_millis(200)).await,
            // Lost a race (the offer timed out meanwhile): normal.
            Code::FailedPrecondition => {}
            _ => self.unexpected(place, status),
        }
    }

    /// Call-takers stop taking new calls (crews go on working).
    pub fn pause_calls(&self, paused: bool) {
        self.calling.store(!paused, Ordering::Relaxed);
    }

    /// False once the load stops.
    pub fn running(&self) -> Arc<AtomicBool> {
        self.running.clone()
    }

    /// Everyone finishes what they are doing and stops.
    pub fn stop(&self) {
        self.running.store(false, Ordering::Relaxed);
    }

    pub fn acknowledged(&self) -> Vec<Acknowledged> {
        self.record.lock().expect("record").acknowledged.clone()
    }

    pub fn unexpected_answers(&self) -> BTreeMap<String, usize> {
        self.record.lock().expect("record").unexpected.clone()
    }

    /// Intake from `since` on; `done`: when the failover command returned
    /// (the kill had happened).
    pub fn window(&self, since: Instant, done: Instant) -> Window {
        let record = self.record.lock().expect("record");
        let after: Vec<&Attempt> = record
            .attempts
            .iter()
            .filter(|attempt| attempt.answered >= since)
            .collect();
        let recovery = after
            .iter()
            .filter(|attempt| attempt.ok && attempt.started >= done)
            .map(|attempt| attempt.answered - done)
            .min();
        let failed: Vec<&&Attempt> = after.iter().filter(|attempt| !attempt.ok).collect();
        Window {
            recovery,
            failed: failed.len(),
            failing_for: failed
                .iter()
                .map(|attempt| attempt.answered - since)
                .max()
                .unwrap_or_default(),
            longest_attempt: after
                .iter()
                .map(|attempt| attempt.answered - attempt.started)
                .max()
                .unwrap_or_default(),
            longest_wait: record
                .acknowledged
                .iter()
                .filter(|call| call.answered >= since)
                .map(|call| call.waited)
                .max()
                .unwrap_or_default(),
        }
    }

    /// Waits until a call begun after `done` has been answered OK.
    pub async fn wait_for_recovery(
        &self,
        since: Instant,
        done: Instant,
        limit: Duration,
    ) -> Option<Duration> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(recovery) = self.window(since, done).recovery {
                return Some(recovery);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}
