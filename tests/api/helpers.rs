//! The shared test support (crates/ngalam112-testkit).

pub use ngalam112_testkit::*;

/// Starts `ngalam112 serve` as a process on `port` against `database_url`,
/// with `extra` arguments (its log: errors only).
pub fn start_server(database_url: &str, port: u16, extra: &[&str]) -> std::process::Child {
    serve_command(env!("CARGO_BIN_EXE_ngalam112"), database_url, port, extra)
        .spawn()
        .expect("start ngalam112 serve")
}

/// The number of `medical_call` called before: one incident closed as a
/// prank, and the number flagged with `reason`.
pub async fn earlier_prank(app: &TestApp, reason: &str) {
    use ngalam112_proto::v1 as proto;
    let mut operator = app.operator.clone();
    let earlier = app.create(medical_call(places::UNISMA)).await;
    operator
        .incidents
        .resolve_incident(proto::ResolveIncidentRequest {
            id: earlier.id,
            resolution_code: proto::ResolutionCode::Prank.into(),
            ..Default::default()
        })
        .await
        .expect("closed as prank");
    operator
        .callers
        .flag_caller(proto::FlagCallerRequest {
            caller_phone: "0812 3456 7890".to_owned(),
            reason: reason.to_owned(),
        })
        .await
        .expect("flag");
}
