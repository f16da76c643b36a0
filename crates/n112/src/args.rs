//! Command-line values and their proto counterparts.

use clap::ValueEnum;
use ngalam112_proto::v1 as proto;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Category {
    Medical,
    Fire,
    TrafficAccident,
    Crime,
    Rescue,
    Disaster,
    Other,
}

impl From<Category> for proto::IncidentCategory {
    fn from(category: Category) -> Self {
        match category {
            Category::Medical => proto::IncidentCategory::Medical,
            Category::Fire => proto::IncidentCategory::Fire,
            Category::TrafficAccident => proto::IncidentCategory::TrafficAccident,
            Category::Crime => proto::IncidentCategory::Crime,
            Category::Rescue => proto::IncidentCategory::Rescue,
            Category::Disaster => proto::IncidentCategory::Disaster,
            Category::Other => proto::IncidentCategory::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PriorityArg {
    Critical,
    High,
    Normal,
    Low,
}

impl From<PriorityArg> for proto::Priority {
    fn from(priority: PriorityArg) -> Self {
        match priority {
            PriorityArg::Critical => proto::Priority::Critical,
            PriorityArg::High => proto::Priority::High,
            PriorityArg::Normal => proto::Priority::Normal,
            PriorityArg::Low => proto::Priority::Low,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Ambulance,
    FireEngine,
    Police,
    Rescue,
}

impl From<Kind> for proto::UnitKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Ambulance => proto::UnitKind::Ambulance,
            Kind::FireEngine => proto::UnitKind::FireEngine,
            Kind::Police => proto::UnitKind::Police,
            Kind::Rescue => proto::UnitKind::Rescue,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IncidentStatusArg {
    Pending,
    Dispatched,
    OnScene,
    Resolved,
    Cancelled,
    /// Pending, dispatched or on scene.
    Active,
}

impl IncidentStatusArg {
    pub fn to_proto(self) -> Vec<proto::IncidentStatus> {
        use proto::IncidentStatus as S;
        match self {
            IncidentStatusArg::Pending => vec![S::Pending],
            IncidentStatusArg::Dispatched => vec![S::Dispatched],
            IncidentStatusArg::OnScene => vec![S::OnScene],
            IncidentStatusArg::Resolved => vec![S::Resolved],
            IncidentStatusArg::Cancelled => vec![S::Cancelled],
            IncidentStatusArg::Active => vec![S::Pending, S::Dispatched, S::OnScene],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnitStatusArg {
    Available,
    Assigned,
    OutOfService,
}

impl From<UnitStatusArg> for proto::UnitStatus {
    fn from(status: UnitStatusArg) -> Self {
        match status {
            UnitStatusArg::Available => proto::UnitStatus::Available,
            UnitStatusArg::Assigned => proto::UnitStatus::Assigned,
            UnitStatusArg::OutOfService => proto::UnitStatus::OutOfService,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResolutionCodeArg {
    /// The crew dealt with it.
    Handled,
    /// Patient taken to hospital.
    Transported,
    /// Well-meant, nothing there.
    FalseAlarm,
    /// Deliberate hoax (three in 30 days flag the number).
    Prank,
    /// Handed to a partner agency.
    Referred,
    Duplicate,
    Other,
}

impl From<ResolutionCodeArg> for proto::ResolutionCode {
    fn from(code: ResolutionCodeArg) -> Self {
        match code {
            ResolutionCodeArg::Handled => proto::ResolutionCode::Handled,
            ResolutionCodeArg::Transported => proto::ResolutionCode::Transported,
            ResolutionCodeArg::FalseAlarm => proto::ResolutionCode::FalseAlarm,
            ResolutionCodeArg::Prank => proto::ResolutionCode::Prank,
            ResolutionCodeArg::Referred => proto::ResolutionCode::Referred,
            ResolutionCodeArg::Duplicate => proto::ResolutionCode::Duplicate,
            ResolutionCodeArg::Other => proto::ResolutionCode::Other,
        }
    }
}
