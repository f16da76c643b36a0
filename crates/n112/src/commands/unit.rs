//! `n112 unit …`: the fleet.

use clap::Subcommand;
use ngalam112_proto::v1 as proto;

use crate::args::{Kind, UnitStatusArg};
use crate::connect::Api;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum UnitCommand {
    /// Register a unit (admin), AVAILABLE at once.
    Register {
        #[arg(long)]
        call_sign: String,
        #[arg(long, value_enum)]
        kind: Kind,
        #[arg(long, default_value = "")]
        agency: String,
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
    },
    /// Units by call sign.
    List {
        #[arg(long = "status", value_enum)]
        statuses: Vec<UnitStatusArg>,
        #[arg(long = "kind", value_enum)]
        kinds: Vec<Kind>,
    },
    Show {
        id: String,
    },
    /// Take a unit out of service (--out) or put it back (--in).
    Service {
        id: String,
        #[arg(
            long = "in",
            conflicts_with = "out_of_service",
            required_unless_present = "out_of_service"
        )]
        in_service: bool,
        #[arg(long = "out")]
        out_of_service: bool,
    },
}

pub async fn run(api: &mut Api, output: Output, command: UnitCommand) -> anyhow::Result<()> {
    match command {
        UnitCommand::Register {
            call_sign,
            kind,
            agency,
            lat,
            lon,
        } => {
            let unit = api
                .units
                .register_unit(proto::RegisterUnitRequest {
                    call_sign,
                    kind: proto::UnitKind::from(kind).into(),
                    agency,
                    location: Some(proto::GeoPoint { lat, lon }),
                })
                .await?
                .into_inner();
            output.unit(&unit);
        }
        UnitCommand::List { statuses, kinds } => {
            let units = api
                .units
                .list_units(proto::ListUnitsRequest {
                    statuses: statuses
                        .into_iter()
                        .map(|s| proto::UnitStatus::from(s).into())
                        .collect(),
                    kinds: kinds
                        .into_iter()
                        .map(|k| proto::UnitKind::from(k).into())
                        .collect(),
                })
                .await?
                .into_inner()
                .units;
            output.units(&units);
        }
        UnitCommand::Show { id } => {
            let unit = api
                .units
                .get_unit(proto::GetUnitRequest { id })
                .await?
                .into_inner();
            output.unit(&unit);
        }
        UnitCommand::Service { id, in_service, .. } => {
            let unit = api
                .units
                .set_unit_in_service(proto::SetUnitInServiceRequest {
                    unit_id: id,
                    in_service,
                })
                .await?
                .into_inner();
            output.unit(&unit);
        }
    }
    Ok(())
}
