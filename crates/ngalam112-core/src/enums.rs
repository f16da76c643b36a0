//! The contract's enumerations, their stored names, and the fixed facts
//! attached to them (default kinds per category, the assignment state
//! machine).

/// A value stored in PostgreSQL by its name (`as_str`): the store reads
/// every such column back through one decoder, which fails loudly on a
/// name this binary does not know.
pub trait StoredName: Sized + Copy + 'static {
    /// What the value is, for an error message ("UnitKind").
    const WHAT: &'static str;
    /// Reads a stored name back; None for a name this binary does not know.
    fn from_stored(text: &str) -> Option<Self>;
}

macro_rules! stored_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name stored in PostgreSQL and shown in timelines.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Reads a stored name back.
            pub fn from_stored(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl StoredName for $name {
            const WHAT: &'static str = stringify!($name);

            fn from_stored(text: &str) -> Option<Self> {
                $name::from_stored(text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_enum!(
    /// What the caller reports.
    IncidentCategory {
        Medical => "medical",
        Fire => "fire",
        TrafficAccident => "traffic_accident",
        Crime => "crime",
        Rescue => "rescue",
        Disaster => "disaster",
        Other => "other",
    }
);

stored_enum!(
    /// Declared in order of urgency: `Critical < High < Normal < Low`.
    Priority {
        Critical => "critical",
        High => "high",
        Normal => "normal",
        Low => "low",
    }
);

stored_enum!(
    IncidentStatus {
        Pending => "pending",
        Dispatched => "dispatched",
        OnScene => "on_scene",
        Resolved => "resolved",
        Cancelled => "cancelled",
    }
);

stored_enum!(
    UnitKind {
        Ambulance => "ambulance",
        FireEngine => "fire_engine",
        Police => "police",
        Rescue => "rescue",
    }
);

stored_enum!(
    UnitStatus {
        Available => "available",
        Assigned => "assigned",
        OutOfService => "out_of_service",
    }
);

stored_enum!(
    AssignmentStatus {
        Offered => "offered",
        Accepted => "accepted",
        EnRoute => "en_route",
        OnScene => "on_scene",
        Completed => "completed",
        Declined => "declined",
        TimedOut => "timed_out",
        Cancelled => "cancelled",
    }
);

stored_enum!(
    /// Why an incident was closed. PRANK and DUPLICATE calls are left out of
    /// response-time figures; three PRANK closings in 30 days flag a number.
    ResolutionCode {
        Handled => "handled",
        Transported => "transported",
        FalseAlarm => "false_alarm",
        Prank => "prank",
        Referred => "referred",
        Duplicate => "duplicate",
        Other => "other",
    }
);

stored_enum!(
    /// A partner agency's answer to a referral, forward only:
    /// SENT → ACKNOWLEDGED → ACCEPTED | REJECTED; ACCEPTED → DONE.
    ReferralStatus {
        Sent => "sent",
        Acknowledged => "acknowledged",
        Accepted => "accepted",
        Rejected => "rejected",
        Done => "done",
    }
);

stored_enum!(
    /// What a timeline event records. The database and the wire keep the
    /// name (`as_str`); clients translate it for their readers.
    EventKind {
        IncidentCreated => "incident_created",
        CallReceived => "call_received",
        CallerAdded => "caller_added",
        HoldReleased => "hold_released",
        StatusChanged => "status_changed",
        DeviceLocation => "device_location",
        IncidentResolved => "incident_resolved",
        IncidentCancelled => "incident_cancelled",
        AssignmentOffered => "assignment_offered",
        AssignmentAccepted => "assignment_accepted",
        AssignmentDeclined => "assignment_declined",
        AssignmentTimedOut => "assignment_timed_out",
        AssignmentEnRoute => "assignment_en_route",
        AssignmentOnScene => "assignment_on_scene",
        AssignmentCompleted => "assignment_completed",
        AssignmentCancelled => "assignment_cancelled",
        ReferralSent => "referral_sent",
        ReferralAcknowledged => "referral_acknowledged",
        ReferralAccepted => "referral_accepted",
        ReferralRejected => "referral_rejected",
        ReferralDone => "referral_done",
    }
);

impl EventKind {
    /// The event that records an assignment reaching `status`.
    pub fn of_assignment(status: AssignmentStatus) -> EventKind {
        match status {
            AssignmentStatus::Offered => EventKind::AssignmentOffered,
            AssignmentStatus::Accepted => EventKind::AssignmentAccepted,
            AssignmentStatus::EnRoute => EventKind::AssignmentEnRoute,
            AssignmentStatus::OnScene => EventKind::AssignmentOnScene,
            AssignmentStatus::Completed => EventKind::AssignmentCompleted,
            AssignmentStatus::Declined => EventKind::AssignmentDeclined,
            AssignmentStatus::TimedOut => EventKind::AssignmentTimedOut,
            AssignmentStatus::Cancelled => EventKind::AssignmentCancelled,
        }
    }

    /// The event that records a referral reaching `status`.
    pub fn of_referral(status: ReferralStatus) -> EventKind {
        match status {
            ReferralStatus::Sent => EventKind::ReferralSent,
            ReferralStatus::Acknowledged => EventKind::ReferralAcknowledged,
            ReferralStatus::Accepted => EventKind::ReferralAccepted,
            ReferralStatus::Rejected => EventKind::ReferralRejected,
            ReferralStatus::Done => EventKind::ReferralDone,
        }
    }
}

impl ReferralStatus {
    fn rank(self) -> u8 {
        match self {
            ReferralStatus::Sent => 0,
            ReferralStatus::Acknowledged => 1,
            ReferralStatus::Accepted | ReferralStatus::Rejected => 2,
            ReferralStatus::Done => 3,
        }
    }

    /// Forward only, skipping allowed; REJECTED is final, and ACCEPTED and
    /// REJECTED exclude each other.
    pub fn can_become(self, next: ReferralStatus) -> bool {
        self != ReferralStatus::Rejected && next.rank() > self.rank()
    }
}

impl ResolutionCode {
    /// Closings that say nothing about how fast help came: kept out of the
    /// response-time report and counted on their own line.
    pub const NOT_RESPONSES: &'static [ResolutionCode] =
        &[ResolutionCode::Prank, ResolutionCode::Duplicate];
}

impl IncidentCategory {
    /// Dispatch rule 1: the kinds sent when the call-taker names none.
    pub fn default_kinds(self) -> &'static [UnitKind] {
        use UnitKind::*;
        match self {
            IncidentCategory::Medical => &[Ambulance],
            IncidentCategory::Fire => &[FireEngine],
            IncidentCategory::TrafficAccident => &[Ambulance, Police],
            IncidentCategory::Crime => &[Police],
            IncidentCategory::Rescue => &[Rescue],
            IncidentCategory::Disaster => &[Rescue, Ambulance],
            IncidentCategory::Other => &[Police],
        }
    }
}

impl Priority {
    /// 1 (critical) … 4 (low): the stored rank, so that ascending order is
    /// most urgent first.
    pub fn rank(self) -> i16 {
        match self {
            Priority::Critical => 1,
            Priority::High => 2,
            Priority::Normal => 3,
            Priority::Low => 4,
        }
    }

    pub fn from_rank(rank: i16) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.rank() == rank)
    }
}

impl IncidentStatus {
    /// RESOLVED and CANCELLED are final (rule 7).
    pub fn is_closed(self) -> bool {
        matches!(self, IncidentStatus::Resolved | IncidentStatus::Cancelled)
    }
}

impl AssignmentStatus {
    /// Open assignments hold their unit (rule 3).
    pub const OPEN: &'static [AssignmentStatus] = &[
        AssignmentStatus::Offered,
        AssignmentStatus::Accepted,
        AssignmentStatus::EnRoute,
        AssignmentStatus::OnScene,
    ];

    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }

    /// Position on the crew's forward path, `None` for the end states other
    /// than COMPLETED.
    fn progress(self) -> Option<u8> {
        match self {
            AssignmentStatus::Offered => Some(0),
            AssignmentStatus::Accepted => Some(1),
            AssignmentStatus::EnRoute => Some(2),
            AssignmentStatus::OnScene => Some(3),
            AssignmentStatus::Completed => Some(4),
            _ => None,
        }
    }

    /// A progress report a crew may make with `UpdateAssignmentStatus`:
    /// forward only along ACCEPTED → EN_ROUTE → ON_SCENE → COMPLETED,
    /// skipping allowed, never back, and only once the offer was accepted.
    pub fn can_progress_to(self, next: AssignmentStatus) -> bool {
        match (self.progress(), next.progress()) {
            (Some(from), Some(to)) => from >= 1 && to > from && to >= 2,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrals_only_move_forward_and_a_rejection_is_final() {
        use ReferralStatus::*;
        assert!(Sent.can_become(Acknowledged));
        assert!(Sent.can_become(Accepted), "skipping forward");
        assert!(Sent.can_become(Done));
        assert!(Acknowledged.can_become(Rejected));
        assert!(Accepted.can_become(Done));
        assert!(!Rejected.can_become(Done));
        assert!(!Accepted.can_become(Rejected));
        assert!(!Rejected.can_become(Accepted));
        assert!(!Acknowledged.can_become(Sent));
        assert!(!Done.can_become(Done));
        assert!(!Sent.can_become(Sent));
    }
    use AssignmentStatus::*;

    #[test]
    fn every_stored_name_reads_back() {
        for kind in UnitKind::ALL {
            assert_eq!(UnitKind::from_stored(kind.as_str()), Some(*kind));
        }
        for status in AssignmentStatus::ALL {
            assert_eq!(
                AssignmentStatus::from_stored(status.as_str()),
                Some(*status)
            );
        }
        for priority in Priority::ALL {
            assert_eq!(Priority::from_rank(priority.rank()), Some(*priority));
        }
        assert_eq!(IncidentCategory::from_stored("bogus"), None);
    }

    #[test]
    fn categories_default_to_the_kinds_of_rule_one() {
        use UnitKind::*;
        assert_eq!(
            IncidentCategory::TrafficAccident.default_kinds(),
            &[Ambulance, Police]
        );
        assert_eq!(
            IncidentCategory::Disaster.default_kinds(),
            &[Rescue, Ambulance]
        );
        assert_eq!(IncidentCategory::Other.default_kinds(), &[Police]);
    }

    /// Every step a crew may report (forward only, from ACCEPTED on).
    const LEGAL: [(AssignmentStatus, AssignmentStatus); 6] = [
        (Accepted, EnRoute),
        (Accepted, OnScene),
        (Accepted, Completed),
        (EnRoute, OnScene),
        (EnRoute, Completed),
        (OnScene, Completed),
    ];

    #[test]
    fn every_legal_progress_step_is_allowed() {
        for (from, to) in LEGAL {
            assert!(from.can_progress_to(to), "{from} -> {to}");
        }
    }

    #[test]
    fn every_other_progress_step_is_refused() {
        for from in AssignmentStatus::ALL {
            for to in AssignmentStatus::ALL {
                if !LEGAL.contains(&(*from, *to)) {
                    assert!(!from.can_progress_to(*to), "{from} -> {to} must be refused");
                }
            }
        }
    }

    #[test]
    fn priorities_sort_most_urgent_first() {
        assert!(Priority::Critical.rank() < Priority::High.rank());
        assert!(Priority::Normal.rank() < Priority::Low.rank());
    }
}
