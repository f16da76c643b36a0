// The words for every enum value and timeline kind, one catalogue per
// language. Each catalogue is typed by the enum itself: a value without a
// word (a new category, a new timeline kind) is a compile error, never an
// English proto name on an Indonesian screen.

import {
  AssignmentStatus,
  CallState,
  IncidentCategory,
  IncidentStatus,
  Priority,
  ReferralStatus,
  ResolutionCode,
  Role,
  UnitKind,
  UnitStatus,
} from "./gen/ngalam112/v1/dispatch_pb";
import { language } from "./i18n";

/** A word for every value of an enum but UNSPECIFIED. */
type Words<E extends number> = Record<Exclude<E, 0>, string>;

/** The timeline's event kinds, as the server stores and sends them. The
 *  server's own list (`EventKind` in the core) is checked against this
 *  one by a test. */
export const EVENT_KINDS = [
  "incident_created",
  "call_received",
  "caller_added",
  "hold_released",
  "status_changed",
  "device_location",
  "incident_resolved",
  "incident_cancelled",
  "assignment_offered",
  "assignment_accepted",
  "assignment_declined",
  "assignment_timed_out",
  "assignment_en_route",
  "assignment_on_scene",
  "assignment_completed",
  "assignment_cancelled",
  "referral_sent",
  "referral_acknowledged",
  "referral_accepted",
  "referral_rejected",
  "referral_done",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

interface EnumWords {
  category: Words<IncidentCategory>;
  priority: Words<Priority>;
  incidentStatus: Words<IncidentStatus>;
  unitKind: Words<UnitKind>;
  unitStatus: Words<UnitStatus>;
  assignmentStatus: Words<AssignmentStatus>;
  resolution: Words<ResolutionCode>;
  referralStatus: Words<ReferralStatus>;
  role: Words<Role>;
  callState: Words<CallState>;
  event: Record<EventKind, string>;
}

const id: EnumWords = {
  category: {
    [IncidentCategory.MEDICAL]: "Medis",
    [IncidentCategory.FIRE]: "Kebakaran",
    [IncidentCategory.TRAFFIC_ACCIDENT]: "Kecelakaan lalu lintas",
    [IncidentCategory.CRIME]: "Kejahatan",
    [IncidentCategory.RESCUE]: "Penyelamatan",
    [IncidentCategory.DISASTER]: "Bencana",
    [IncidentCategory.OTHER]: "Lainnya",
  },
  priority: {
    [Priority.CRITICAL]: "KRITIS",
    [Priority.HIGH]: "TINGGI",
    [Priority.NORMAL]: "SEDANG",
    [Priority.LOW]: "RENDAH",
  },
  incidentStatus: {
    [IncidentStatus.PENDING]: "menunggu unit",
    [IncidentStatus.DISPATCHED]: "unit dikirim",
    [IncidentStatus.ON_SCENE]: "di lokasi",
    [IncidentStatus.RESOLVED]: "selesai",
    [IncidentStatus.CANCELLED]: "dibatalkan",
  },
  unitKind: {
    [UnitKind.AMBULANCE]: "Ambulans",
    [UnitKind.FIRE_ENGINE]: "Pemadam",
    [UnitKind.POLICE]: "Polisi",
    [UnitKind.RESCUE]: "Penyelamat",
  },
  unitStatus: {
    [UnitStatus.AVAILABLE]: "siaga",
    [UnitStatus.ASSIGNED]: "bertugas",
    [UnitStatus.OUT_OF_SERVICE]: "nonaktif",
  },
  assignmentStatus: {
    [AssignmentStatus.OFFERED]: "ditawari",
    [AssignmentStatus.ACCEPTED]: "menerima",
    [AssignmentStatus.EN_ROUTE]: "berangkat",
    [AssignmentStatus.ON_SCENE]: "di lokasi",
    [AssignmentStatus.COMPLETED]: "tuntas",
    [AssignmentStatus.DECLINED]: "menolak",
    [AssignmentStatus.TIMED_OUT]: "tak menjawab",
    [AssignmentStatus.CANCELLED]: "dibatalkan",
  },
  resolution: {
    [ResolutionCode.HANDLED]: "Tertangani",
    [ResolutionCode.TRANSPORTED]: "Dibawa ke rumah sakit",
    [ResolutionCode.FALSE_ALARM]: "Alarm palsu",
    [ResolutionCode.PRANK]: "Iseng",
    [ResolutionCode.REFERRED]: "Dirujuk",
    [ResolutionCode.DUPLICATE]: "Ganda",
    [ResolutionCode.OTHER]: "Lainnya",
  },
  referralStatus: {
    [ReferralStatus.SENT]: "terkirim",
    [ReferralStatus.ACKNOWLEDGED]: "dibaca",
    [ReferralStatus.ACCEPTED]: "diterima",
    [ReferralStatus.REJECTED]: "ditolak",
    [ReferralStatus.DONE]: "tuntas",
  },
  role: {
    [Role.ADMIN]: "admin",
    [Role.OPERATOR]: "operator",
    [Role.UNIT]: "kru unit",
    [Role.GATEWAY]: "gerbang telko",
    [Role.AGENCY]: "penghubung instansi",
  },
  callState: {
    [CallState.RINGING]: "berdering",
    [CallState.ANSWERED]: "diangkat",
    [CallState.ENDED]: "berakhir",
    [CallState.ABANDONED]: "ditutup sebelum diangkat",
  },
  event: {
    incident_created: "kejadian dicatat",
    call_received: "panggilan 112 masuk",
    caller_added: "penelepon tambahan",
    hold_released: "ditahan → dikirim",
    status_changed: "status berubah",
    device_location: "lokasi ponsel",
    incident_resolved: "kejadian selesai",
    incident_cancelled: "kejadian dibatalkan",
    assignment_offered: "unit ditawari",
    assignment_accepted: "unit menerima",
    assignment_declined: "unit menolak",
    assignment_timed_out: "unit tidak menjawab",
    assignment_en_route: "unit berangkat",
    assignment_on_scene: "unit tiba di lokasi",
    assignment_completed: "unit tuntas",
    assignment_cancelled: "penugasan dibatalkan",
    referral_sent: "dirujuk ke instansi",
    referral_acknowledged: "instansi membaca",
    referral_accepted: "instansi menerima",
    referral_rejected: "instansi menolak",
    referral_done: "instansi tuntas",
  },
};

const en: EnumWords = {
  category: {
    [IncidentCategory.MEDICAL]: "Medical",
    [IncidentCategory.FIRE]: "Fire",
    [IncidentCategory.TRAFFIC_ACCIDENT]: "Traffic accident",
    [IncidentCategory.CRIME]: "Crime",
    [IncidentCategory.RESCUE]: "Rescue",
    [IncidentCategory.DISASTER]: "Disaster",
    [IncidentCategory.OTHER]: "Other",
  },
  priority: {
    [Priority.CRITICAL]: "CRITICAL",
    [Priority.HIGH]: "HIGH",
    [Priority.NORMAL]: "NORMAL",
    [Priority.LOW]: "LOW",
  },
  incidentStatus: {
    [IncidentStatus.PENDING]: "waiting for a unit",
    [IncidentStatus.DISPATCHED]: "dispatched",
    [IncidentStatus.ON_SCENE]: "on scene",
    [IncidentStatus.RESOLVED]: "resolved",
    [IncidentStatus.CANCELLED]: "cancelled",
  },
  unitKind: {
    [UnitKind.AMBULANCE]: "Ambulance",
    [UnitKind.FIRE_ENGINE]: "Fire engine",
    [UnitKind.POLICE]: "Police",
    [UnitKind.RESCUE]: "Rescue",
  },
  unitStatus: {
    [UnitStatus.AVAILABLE]: "available",
    [UnitStatus.ASSIGNED]: "assigned",
    [UnitStatus.OUT_OF_SERVICE]: "out of service",
  },
  assignmentStatus: {
    [AssignmentStatus.OFFERED]: "offered",
    [AssignmentStatus.ACCEPTED]: "accepted",
    [AssignmentStatus.EN_ROUTE]: "en route",
    [AssignmentStatus.ON_SCENE]: "on scene",
    [AssignmentStatus.COMPLETED]: "completed",
    [AssignmentStatus.DECLINED]: "declined",
    [AssignmentStatus.TIMED_OUT]: "no answer",
    [AssignmentStatus.CANCELLED]: "cancelled",
  },
  resolution: {
    [ResolutionCode.HANDLED]: "Handled",
    [ResolutionCode.TRANSPORTED]: "Taken to hospital",
    [ResolutionCode.FALSE_ALARM]: "False alarm",
    [ResolutionCode.PRANK]: "Prank",
    [ResolutionCode.REFERRED]: "Referred",
    [ResolutionCode.DUPLICATE]: "Duplicate",
    [ResolutionCode.OTHER]: "Other",
  },
  referralStatus: {
    [ReferralStatus.SENT]: "sent",
    [ReferralStatus.ACKNOWLEDGED]: "read",
    [ReferralStatus.ACCEPTED]: "accepted",
    [ReferralStatus.REJECTED]: "rejected",
    [ReferralStatus.DONE]: "done",
  },
  role: {
    [Role.ADMIN]: "admin",
    [Role.OPERATOR]: "operator",
    [Role.UNIT]: "unit crew",
    [Role.GATEWAY]: "telco gateway",
    [Role.AGENCY]: "agency liaison",
  },
  callState: {
    [CallState.RINGING]: "ringing",
    [CallState.ANSWERED]: "answered",
    [CallState.ENDED]: "ended",
    [CallState.ABANDONED]: "hung up before answered",
  },
  event: {
    incident_created: "incident recorded",
    call_received: "112 call received",
    caller_added: "another caller",
    hold_released: "hold released",
    status_changed: "status changed",
    device_location: "handset location",
    incident_resolved: "incident resolved",
    incident_cancelled: "incident cancelled",
    assignment_offered: "unit offered",
    assignment_accepted: "unit accepted",
    assignment_declined: "unit declined",
    assignment_timed_out: "unit did not answer",
    assignment_en_route: "unit en route",
    assignment_on_scene: "unit on scene",
    assignment_completed: "unit finished",
    assignment_cancelled: "assignment cancelled",
    referral_sent: "referred to an agency",
    referral_acknowledged: "agency read it",
    referral_accepted: "agency accepted",
    referral_rejected: "agency rejected",
    referral_done: "agency done",
  },
};

const catalogues = { id, en };

function pick<E extends number>(words: Words<E>, value: E): string {
  return (words as Record<number, string>)[value] ?? "—";
}

/** The word for each enum value, in the reader's language. */
export const say = {
  category: (value: IncidentCategory) => pick(catalogues[language()].category, value),
  priority: (value: Priority) => pick(catalogues[language()].priority, value),
  incidentStatus: (value: IncidentStatus) => pick(catalogues[language()].incidentStatus, value),
  unitKind: (value: UnitKind) => pick(catalogues[language()].unitKind, value),
  unitStatus: (value: UnitStatus) => pick(catalogues[language()].unitStatus, value),
  assignmentStatus: (value: AssignmentStatus) => pick(catalogues[language()].assignmentStatus, value),
  resolution: (value: ResolutionCode) => pick(catalogues[language()].resolution, value),
  referralStatus: (value: ReferralStatus) => pick(catalogues[language()].referralStatus, value),
  role: (value: Role) => pick(catalogues[language()].role, value),
  callState: (value: CallState) => pick(catalogues[language()].callState, value),
  /** A timeline kind this page does not know yet (a newer server) reads
   *  as a neutral word, never as the stored name. */
  event: (kind: string) => {
    const events: Record<string, string> = catalogues[language()].event;
    return events[kind] ?? (language() === "id" ? "peristiwa" : "event");
  },
};

/** `<option>`s of an enum (every value but UNSPECIFIED): the proto name as
 *  the value (the hooks' contract), the word as the label. */
export function options<E extends number>(
  words: Words<E>,
  name: (value: E) => string,
): { name: string; label: string; value: E }[] {
  return Object.entries(words as Record<number, string>).map(([value, label]) => ({
    name: name(Number(value) as E),
    label,
    value: Number(value) as E,
  }));
}

/** The current language's catalogue (for `options`). */
export function words(): EnumWords {
  return catalogues[language()];
}
