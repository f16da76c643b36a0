//! Typed ids. Each is a UUID, made three ways only: parsed from a client's
//! text (naming the field it came from), fresh at random, or read back
//! from the database (`from_uuid`). The UUID inside is private: an
//! incident's id can never be passed where a unit's is meant.

use uuid::Uuid;

use crate::ValidationError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            /// An id read back from storage (or made by this process).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID, for storage and the wire.
            pub const fn uuid(self) -> Uuid {
                self.0
            }

            /// Parses a client-supplied id; an empty or malformed one is an
            /// error naming `field`.
            pub fn parse(field: &str, value: &str) -> Result<Self, ValidationError> {
                if value.trim().is_empty() {
                    return Err(ValidationError::new(field, "must not be empty"));
                }
                Uuid::parse_str(value.trim())
                    .map(Self)
                    .map_err(|_| ValidationError::new(field, "must be a UUID"))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// An incident's id.
    IncidentId
);
uuid_id!(
    /// A unit's id.
    UnitId
);
uuid_id!(
    /// An assignment's id.
    AssignmentId
);
uuid_id!(
    /// A partner agency's id.
    AgencyId
);
uuid_id!(
    /// A crew's panic alarm's id.
    AlarmId
);
uuid_id!(
    /// A referral's id (an incident passed to a partner agency).
    ReferralId
);
uuid_id!(
    /// A named login's id.
    UserId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_ids_name_the_field() {
        assert_eq!(IncidentId::parse("id", "").unwrap_err().field, "id");
        let error = UnitId::parse("unit_id", "not-a-uuid").unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.message.as_str()),
            ("unit_id", "must be a UUID")
        );
        let id = AssignmentId::new_random();
        assert_eq!(
            AssignmentId::parse("assignment_id", &id.to_string()).unwrap(),
            id
        );
    }
}
