//! A new incident as a call-taker records it. The request is parsed once,
//! at the edge, into a [`NewIncident`], which only [`NewIncident::parse`]
//! can make: the store never receives an unvalidated call.

use crate::calls::CallId;
use crate::phone::CallerNumber;
use crate::validation::{self, DESCRIPTION_MAX_CHARS, SHORT_TEXT_MAX_CHARS, ValidationError};
use crate::{GeoPoint, IncidentCategory, IncidentId, Priority, UnitKind};

/// What a CreateIncident request says, in domain terms: the enums and the
/// point already parsed by their own parsers (which name their fields), the
/// rest as the call-taker typed it.
#[derive(Debug, Clone)]
pub struct IncidentDraft<'a> {
    pub category: IncidentCategory,
    pub priority: Priority,
    pub location: GeoPoint,
    /// Empty: the category's default kinds.
    pub required_kinds: Vec<UnitKind>,
    pub caller_phone: &'a str,
    pub caller_id_withheld: bool,
    pub caller_name: &'a str,
    pub address: &'a str,
    pub description: &'a str,
    /// Empty: none (the call is not retried under a key).
    pub request_id: &'a str,
    /// Empty: a new incident; else the incident this caller adds to.
    pub duplicate_of: &'a str,
    pub hold: bool,
    /// Empty: not linked; else the phone system's id of the call.
    pub call_id: &'a str,
}

/// A validated new incident (or a further caller of one).
#[derive(Debug, Clone)]
pub struct NewIncident {
    request_id: Option<String>,
    category: IncidentCategory,
    priority: Priority,
    caller: CallerNumber,
    caller_name: String,
    location: GeoPoint,
    address: String,
    description: String,
    required_kinds: Vec<UnitKind>,
    hold: bool,
    duplicate_of: Option<IncidentId>,
    call_id: Option<CallId>,
}

impl NewIncident {
    /// Checks every field (each error names its field) and applies the
    /// category's default kinds when none are given; repeated kinds count
    /// once.
    pub fn parse(draft: IncidentDraft<'_>) -> Result<Self, ValidationError> {
        let mut required_kinds = if draft.required_kinds.is_empty() {
            draft.category.default_kinds().to_vec()
        } else {
            draft.required_kinds
        };
        let mut seen = Vec::new();
        required_kinds.retain(|kind| {
            let first = !seen.contains(kind);
            seen.push(*kind);
            first
        });
        let request_id =
            validation::text("request_id", draft.request_id.trim(), SHORT_TEXT_MAX_CHARS)?;
        let duplicate_of = if draft.duplicate_of.is_empty() {
            None
        } else {
            Some(IncidentId::parse("duplicate_of", draft.duplicate_of)?)
        };
        Ok(Self {
            request_id: (!request_id.is_empty()).then_some(request_id),
            category: draft.category,
            priority: draft.priority,
            caller: CallerNumber::parse(draft.caller_phone, draft.caller_id_withheld)?,
            caller_name: validation::text(
                "caller_name",
                draft.caller_name.trim(),
                SHORT_TEXT_MAX_CHARS,
            )?,
            location: draft.location,
            address: validation::text("address", draft.address.trim(), SHORT_TEXT_MAX_CHARS)?,
            description: validation::text("description", draft.description, DESCRIPTION_MAX_CHARS)?,
            required_kinds,
            hold: draft.hold,
            duplicate_of,
            call_id: if draft.call_id.trim().is_empty() {
                None
            } else {
                Some(CallId::parse("call_id", draft.call_id)?)
            },
        })
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The call with a request id: its own, or else `make()`'s. Every call
    /// the server stores has one, so whether a call was stored can always
    /// be looked up (after a connection lost during the commit).
    pub fn with_request_id_or(mut self, make: impl FnOnce() -> String) -> Self {
        if self.request_id.is_none() {
            self.request_id = Some(make());
        }
        self
    }

    pub fn category(&self) -> IncidentCategory {
        self.category
    }

    pub fn priority(&self) -> Priority {
        self.priority
    }

    pub fn caller(&self) -> &CallerNumber {
        &self.caller
    }

    /// E.164, or empty exactly when the number was withheld.
    pub fn caller_phone(&self) -> &str {
        self.caller.as_str()
    }

    pub fn caller_id_withheld(&self) -> bool {
        self.caller.is_withheld()
    }

    pub fn caller_name(&self) -> &str {
        &self.caller_name
    }

    pub fn location(&self) -> GeoPoint {
        self.location
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Non-empty, without repeats.
    pub fn required_kinds(&self) -> &[UnitKind] {
        &self.required_kinds
    }

    /// Stored, not dispatched, until a dispatcher releases it.
    pub fn hold(&self) -> bool {
        self.hold
    }

    pub fn duplicate_of(&self) -> Option<IncidentId> {
        self.duplicate_of
    }

    /// The phone system's call this incident was recorded from.
    pub fn call_id(&self) -> Option<&CallId> {
        self.call_id.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> IncidentDraft<'static> {
        IncidentDraft {
            category: IncidentCategory::TrafficAccident,
            priority: Priority::High,
            location: GeoPoint::new("location", -7.97, 112.63).expect("point"),
            required_kinds: Vec::new(),
            caller_phone: "0812 3456 7890",
            caller_id_withheld: false,
            caller_name: " Budi ",
            address: "Jl. Ijen",
            description: "two motorbikes",
            request_id: "",
            duplicate_of: "",
            call_id: "",
            hold: false,
        }
    }

    #[test]
    fn a_draft_is_normalised_and_gets_its_categorys_kinds() {
        let incident = NewIncident::parse(draft()).expect("valid");
        assert_eq!(incident.caller_phone(), "+6281234567890");
        assert_eq!(incident.caller_name(), "Budi");
        assert_eq!(
            incident.required_kinds(),
            IncidentCategory::TrafficAccident.default_kinds()
        );
        assert_eq!(incident.request_id(), None);
        assert_eq!(incident.duplicate_of(), None);
    }

    #[test]
    fn repeated_kinds_count_once_and_bad_fields_are_named() {
        let mut repeated = draft();
        repeated.required_kinds = vec![UnitKind::Police, UnitKind::Police, UnitKind::Ambulance];
        assert_eq!(
            NewIncident::parse(repeated)
                .expect("valid")
                .required_kinds(),
            [UnitKind::Police, UnitKind::Ambulance]
        );
        for (field, mutate) in [
            (
                "caller_phone",
                (|d: &mut IncidentDraft| d.caller_phone = "tidak tahu") as fn(&mut IncidentDraft),
            ),
            ("caller_phone", |d| d.caller_id_withheld = true),
            ("duplicate_of", |d| d.duplicate_of = "not-a-uuid"),
            ("description", |d| d.description = "\u{0}"),
        ] {
            let mut bad = draft();
            mutate(&mut bad);
            assert_eq!(NewIncident::parse(bad).expect_err(field).field, field);
        }
    }
}
