//! NENA EIDO (NENA-STA-021.1b) export: one Emergency Incident Data Object
//! in JSON for an incident, so that it can be handed to a hospital, a
//! provincial centre or another city's CAD. Built from the store's records;
//! timestamps are RFC 3339 in WIB (+07:00); locations travel as PIDF-LO by
//! value with a `gml:Point` in EPSG:4326.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use ngalam112_core::{AssignmentStatus, GeoPoint, IncidentCategory, IncidentStatus, UnitKind};
use ngalam112_store::{IncidentRecord, TimelineRecord, UnitRecord};
use serde_json::{Value, json};

/// The Ngalam 112 command centre (Balai Kota, Jl. Tugu 1).
pub const AGENCY_ID: &str = "ngalam112.malangkota.go.id";
const ISSUING_ELEMENT: &str = "cad.ngalam112.malangkota.go.id";

fn wib() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset")
}

fn time(at: DateTime<Utc>) -> String {
    at.with_timezone(&wib())
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// PIDF-LO (RFC 4119 / RFC 5491) by value: a point in EPSG:4326 (with its
/// uncertainty circle when known) and the address as text.
fn pidf_lo(
    entity: &str,
    point: &GeoPoint,
    radius_m: Option<f64>,
    method: &str,
    address: &str,
) -> String {
    let shape = match radius_m {
        Some(radius) => format!(
            "<gs:Circle xmlns:gs=\"http://www.opengis.net/pidflo/1.0\" srsName=\"urn:ogc:def:crs:EPSG::4326\">\
             <gml:pos>{} {}</gml:pos><gs:radius uom=\"urn:ogc:def:uom:EPSG::9001\">{radius:.0}</gs:radius></gs:Circle>",
            point.lat(),
            point.lon()
        ),
        None => format!(
            "<gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>{} {}</gml:pos></gml:Point>",
            point.lat(),
            point.lon()
        ),
    };
    let civic = if address.is_empty() {
        String::new()
    } else {
        format!(
            "<ca:civicAddress xmlns:ca=\"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr\">\
             <ca:country>ID</ca:country><ca:A1>Jawa Timur</ca:A1><ca:A2>Kota Malang</ca:A2>\
             <ca:A3>Malang</ca:A3><ca:LOC>{}</ca:LOC></ca:civicAddress>",
            xml_escape(address)
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
         xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\" xmlns:gml=\"http://www.opengis.net/gml\" \
         xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" entity=\"{}\"><dm:device id=\"location\">\
         <gp:geopriv><gp:location-info>{shape}{civic}</gp:location-info><gp:method>{}</gp:method>\
         </gp:geopriv></dm:device></presence>",
        xml_escape(entity),
        xml_escape(method)
    )
}

fn incident_type_registry_text(category: IncidentCategory) -> &'static str {
    match category {
        IncidentCategory::Medical => "Medical",
        IncidentCategory::Fire => "Fire",
        IncidentCategory::TrafficAccident => "Traffic Collision",
        IncidentCategory::Crime => "Law Enforcement",
        IncidentCategory::Rescue => "Rescue",
        IncidentCategory::Disaster => "Disaster",
        IncidentCategory::Other => "Other",
    }
}

fn incident_status_registry_text(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Pending => "Pending",
        IncidentStatus::Dispatched => "Dispatched",
        IncidentStatus::OnScene => "OnScene",
        IncidentStatus::Resolved => "Closed",
        IncidentStatus::Cancelled => "Cancelled",
    }
}

fn resource_type_registry_text(kind: UnitKind) -> &'static str {
    match kind {
        UnitKind::Ambulance => "Ambulance",
        UnitKind::FireEngine => "Engine",
        UnitKind::Police => "Law Enforcement",
        UnitKind::Rescue => "Rescue",
    }
}

fn unit_status_registry_text(status: AssignmentStatus) -> &'static str {
    match status {
        AssignmentStatus::Offered => "Assigned",
        AssignmentStatus::Accepted => "Acknowledged",
        AssignmentStatus::EnRoute => "Enroute",
        AssignmentStatus::OnScene => "OnScene",
        AssignmentStatus::Completed => "Cleared",
        AssignmentStatus::Declined => "Declined",
        AssignmentStatus::TimedOut => "NoResponse",
        AssignmentStatus::Cancelled => "Cancelled",
    }
}

/// The fields every EIDO component starts with.
fn prologue(id: &str, updated: DateTime<Utc>) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("$id".to_owned(), json!(id));
    map.insert("lastUpdateTimeStamp".to_owned(), json!(time(updated)));
    map.insert(
        "updatedByAgencyReference".to_owned(),
        json!({ "$ref": AGENCY_ID }),
    );
    map
}

fn component(id: &str, updated: DateTime<Utc>, fields: Value) -> Value {
    let mut map = prologue(id, updated);
    if let Value::Object(fields) = fields {
        map.extend(fields);
    }
    Value::Object(map)
}

/// The identifiers of one incident's EIDO components.
struct Uids {
    incident: String,
    call: String,
    callback: String,
    location: String,
    device: String,
}

impl Uids {
    fn of(incident: &IncidentRecord) -> Self {
        let id = incident.id;
        Self {
            incident: format!("urn:emergency:uid:incidentid:{id}:{AGENCY_ID}"),
            call: format!("urn:emergency:uid:callid:{id}:{AGENCY_ID}"),
            callback: format!("urn:ngalam112:callback:{id}"),
            location: format!("urn:ngalam112:location:incident:{id}"),
            device: format!("urn:ngalam112:location:device:{id}"),
        }
    }
}

/// The EIDO document of an incident, with its timeline and the units of its
/// assignments (for their positions).
pub fn export(
    incident: &IncidentRecord,
    timeline: &[TimelineRecord],
    units: &[UnitRecord],
) -> Value {
    let uids = Uids::of(incident);
    let (mut locations, call_locations) = incident_locations(incident, &uids);
    let resources = resources(incident, units, &uids, &mut locations);
    let notes = notes(incident, timeline);
    let note_references: Vec<Value> = notes
        .iter()
        .map(|note| json!({ "$ref": note["$id"] }))
        .collect();

    let mut document = prologue(&uids.incident, incident.updated_at);
    let mut call = call_fields(incident, call_locations);
    if let Some(callback) = callback_component(incident, &uids) {
        call["callBackReference"] = json!({ "$ref": uids.callback });
        document.insert("callbackComponent".to_owned(), json!([callback]));
    }
    document.insert("eidoVersion".to_owned(), json!("1.0"));
    document.insert(
        "issuingElementIdentification".to_owned(),
        json!(ISSUING_ELEMENT),
    );
    document.insert(
        "incidentComponent".to_owned(),
        incident_component(incident, &uids, note_references),
    );
    document.insert(
        "callComponent".to_owned(),
        json!([component(&uids.call, incident.created_at, call)]),
    );
    document.insert("locationComponent".to_owned(), Value::Array(locations));
    document.insert(
        "emergencyResourceComponent".to_owned(),
        Value::Array(resources),
    );
    document.insert("notesComponent".to_owned(), Value::Array(notes));
    document.insert(
        "agencyComponent".to_owned(),
        Value::Array(agencies(incident)),
    );
    Value::Object(document)
}

/// The entered location, and the handset's fix when there is one; with the
/// references the call component makes to them.
fn incident_locations(incident: &IncidentRecord, uids: &Uids) -> (Vec<Value>, Vec<Value>) {
    let mut locations = vec![component(
        &uids.location,
        incident.updated_at,
        json!({
            "locationTypeDescriptionRegistryText": "Incident",
            "locationByValue": pidf_lo(&uids.incident, &incident.location, None, "Manual", &incident.address),
            "locationDescriptionText": incident.address,
        }),
    )];
    let mut call_locations = vec![json!({ "$ref": uids.location })];
    if let Some(device) = &incident.device_location {
        locations.push(component(
            &uids.device,
            device.received_at,
            json!({
                "locationTypeDescriptionRegistryText": "Caller",
                "locationByValue": pidf_lo(
                    &uids.incident,
                    &device.fix.location,
                    Some(device.fix.radius_m),
                    device.fix.method.as_str(),
                    "",
                ),
                "locationDescriptionText": format!(
                    "handset {} fix ±{:.0} m ({} %) at {}{}",
                    device.fix.method.as_str(),
                    device.fix.radius_m,
                    device.fix.confidence_pct,
                    time(device.fix.fix_time),
                    if incident.location_disagrees { "; disagrees with the entered location" } else { "" }
                ),
            }),
        ));
        call_locations.push(json!({ "$ref": uids.device }));
    }
    (locations, call_locations)
}

/// One resource component per assignment; the unit's last position goes
/// into `locations`.
fn resources(
    incident: &IncidentRecord,
    units: &[UnitRecord],
    uids: &Uids,
    locations: &mut Vec<Value>,
) -> Vec<Value> {
    incident
        .assignments
        .iter()
        .map(|assignment| {
            let unit = units.iter().find(|unit| unit.id == assignment.unit_id);
            let mut fields = json!({
                "agentReference": [{ "$ref": AGENCY_ID }],
                "emergencyResourceTypeCommonRegistryText": resource_type_registry_text(assignment.unit_kind),
                "emergencyResourceTypeInternalText": assignment.unit_kind.as_str(),
                "emergencyResourceName": assignment.unit_call_sign,
                "resourceAttributeRegistryText": [],
                "primaryUnitStatusRegistryText": unit_status_registry_text(assignment.status),
                "secondaryUnitStatusRegistryText": [],
                "unitStatusInternal": [assignment.status.as_str()],
                "activeOnIncidentId": uids.incident,
            });
            if let Some(unit) = unit {
                let unit_location_uid = format!("urn:ngalam112:location:unit:{}:{}", unit.id, assignment.id);
                locations.push(component(
                    &unit_location_uid,
                    unit.location_updated_at,
                    json!({
                        "locationTypeDescriptionRegistryText": "Unit",
                        "locationByValue": pidf_lo(&unit.call_sign, &unit.location, None, "GPS", ""),
                        "locationDescriptionText": format!("{} last reported position", unit.call_sign),
                    }),
                ));
                fields["unitLocationReference"] = json!({ "$ref": unit_location_uid });
            }
            component(&format!("urn:ngalam112:resource:{}", assignment.id), assignment.updated_at, fields)
        })
        .collect()
}

/// The timeline, one note per event.
fn notes(incident: &IncidentRecord, timeline: &[TimelineRecord]) -> Vec<Value> {
    let id = incident.id;
    timeline
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let detail = if event.detail.is_empty() { String::new() } else { format!(": {}", event.detail) };
            component(
                &format!("urn:ngalam112:note:{id}:{}", index + 1),
                event.at,
                json!({
                    "notesActionComments": format!("{} {} by {}{detail}", time(event.at), event.kind, event.actor),
                }),
            )
        })
        .collect()
}

fn incident_component(
    incident: &IncidentRecord,
    uids: &Uids,
    note_references: Vec<Value>,
) -> Value {
    let mut fields = json!({
        "incidentTypeInternalCode": incident.category.as_str(),
        "incidentTypeInternalText": incident_type_registry_text(incident.category),
        "incidentTypeCommonRegistryText": incident_type_registry_text(incident.category),
        "incidentStatusInternalText": [incident.status.as_str()],
        "incidentStatusCommonRegistryText": [incident_status_registry_text(incident.status)],
        "internalIncidentId": incident.id.to_string(),
        "incidentPriorityInternalText": incident.priority.as_str(),
        "incidentCommonPriorityNumber": incident.priority.rank(),
        "locationReference": [{ "$ref": uids.location }],
        "notesReference": note_references,
    });
    if !incident.description.is_empty() {
        fields["documentIdentification"] = json!([incident.description]);
    }
    component(
        &format!("urn:ngalam112:incident:{}", incident.id),
        incident.updated_at,
        fields,
    )
}

fn call_fields(incident: &IncidentRecord, call_locations: Vec<Value>) -> Value {
    json!({
        "standardPrimaryCallType": "emergency",
        "direction": "incoming",
        "callStartTimestamp": time(incident.created_at),
        "answerDate": time(incident.created_at),
        "callStateRegistryText": "callAnswered",
        "queueIdentifier": "112@ngalam112.malangkota.go.id",
        "locationReference": call_locations,
        "agencyReference": [{ "$ref": AGENCY_ID }],
    })
}

/// The caller's number (and name), unless withheld.
fn callback_component(incident: &IncidentRecord, uids: &Uids) -> Option<Value> {
    if incident.caller_phone.is_empty() {
        return None;
    }
    let mut callback =
        json!({ "callBackInformationUri": [format!("tel:{}", incident.caller_phone)] });
    if !incident.caller_name.is_empty() {
        callback["updatedCbn"] = component(
            &format!("urn:ngalam112:callback:{}:caller", incident.id),
            incident.created_at,
            json!({
                "updatedCbnIdentifierUri": format!("tel:{}", incident.caller_phone),
                "updatedCbnCallerDescription": incident.caller_name,
            }),
        );
    }
    Some(component(&uids.callback, incident.created_at, callback))
}

/// The command centre, and the partner agencies the incident was referred
/// to (their answers are in the notes: the timeline's referral events).
fn agencies(incident: &IncidentRecord) -> Vec<Value> {
    let mut agencies = vec![component(
        AGENCY_ID,
        incident.updated_at,
        json!({
            "agencyRoleDescriptionRegistryText": ["CallReceiving", "Dispatching"],
            "agencyType": ["psap"],
            "incidentOwningAgencyIndicator": true,
            "agencyJcard": "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Ngalam 112 — Command Centre, Balai Kota Malang\"],[\"adr\",{},\"text\",[\"\",\"\",\"Jl. Tugu No. 1\",\"Malang\",\"Jawa Timur\",\"65119\",\"Indonesia\"]],[\"geo\",{},\"uri\",\"geo:-7.9770,112.6340\"]]]",
        }),
    )];
    for referral in &incident.referrals {
        let vcard = json!([
            "vcard",
            [
                ["version", {}, "text", "4.0"],
                ["fn", {}, "text", referral.agency_short_name]
            ]
        ]);
        agencies.push(component(
            &format!("urn:ngalam112:agency:{}", referral.agency_id),
            referral.updated_at,
            json!({
                "agencyRoleDescriptionRegistryText": ["Responding"],
                "agencyType": ["other"],
                "incidentOwningAgencyIndicator": false,
                "agencyJcard": vcard.to_string(),
            }),
        ));
    }
    agencies
}
