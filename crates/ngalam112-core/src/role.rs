//! Who a token or a person speaks for. What each role may call is the
//! server's role table (`src/auth.rs`); the role itself is a domain value.

use crate::{AgencyId, UnitId};

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Operator,
    /// A crew's device, bound to one unit.
    Unit(UnitId),
    /// The telco's AML gateway: may only send device locations.
    Gateway,
    /// A partner agency's liaison, bound to one agency.
    Agency(AgencyId),
}

impl Role {
    /// The role's stored name (and the name `ngalam112 token issue`
    /// takes).
    pub fn name(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Unit(_) => "unit",
            Role::Gateway => "gateway",
            Role::Agency(_) => "agency",
        }
    }

    /// The unit a crew's role is bound to.
    pub fn unit_id(&self) -> Option<UnitId> {
        match self {
            Role::Unit(unit) => Some(*unit),
            _ => None,
        }
    }

    /// The agency a liaison's role is bound to.
    pub fn agency_id(&self) -> Option<AgencyId> {
        match self {
            Role::Agency(agency) => Some(*agency),
            _ => None,
        }
    }

    /// A role from its stored name and the unit or agency it is bound to;
    /// None for a name this binary does not know, or a binding missing.
    pub fn from_stored(
        name: &str,
        unit_id: Option<UnitId>,
        agency_id: Option<AgencyId>,
    ) -> Option<Role> {
        Some(match (name, unit_id, agency_id) {
            ("admin", _, _) => Role::Admin,
            ("operator", _, _) => Role::Operator,
            ("unit", Some(unit), _) => Role::Unit(unit),
            ("gateway", _, _) => Role::Gateway,
            ("agency", _, Some(agency)) => Role::Agency(agency),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_role_needs_its_binding_and_reads_back_as_stored() {
        let unit = UnitId::new_random();
        let role = Role::from_stored("unit", Some(unit), None).expect("a unit role");
        assert_eq!((role.name(), role.unit_id()), ("unit", Some(unit)));
        assert_eq!(Role::from_stored("unit", None, None), None);
        assert_eq!(Role::from_stored("agency", Some(unit), None), None);
        assert_eq!(Role::from_stored("root", None, None), None);
        assert_eq!(Role::from_stored("admin", None, None), Some(Role::Admin));
    }
}
